/* tokenizer.h - a byte-level BPE tokenizer: load, encode, decode, train.
 *
 * Where it sits:   JSONL --bpe-train--> tok.bin --bpe-encode--> token stream
 *
 * A tokenizer maps any byte string to ids and back, losslessly:
 *   - every single byte is a token, so no input needs an "unknown" token;
 *   - text is first cut into pieces by a regular expression (pretok.h), and
 *     merges never cross a piece boundary;
 *   - inside a piece, adjacent tokens are merged, lowest rank first, as
 *     tiktoken does: "lower" = (l,o,w,e,r) -> (lo,w,e,r) -> (low,e,r)
 *     -> (low,er) -> (lower) when those are the ranks' order;
 *   - special tokens (<|endoftext|> ...) are never made by merges; their
 *     text in the input is matched only when the caller allows it.
 *
 * Ids: in a tokenizer trained by tfs, 0..255 are the bytes 0x00..0xFF,
 * 256..256+M-1 the M merges in the order they were learned, and the special
 * tokens follow (the first is end-of-text).  So the vocabulary of size k is
 * simply the first k-256-S merges: tok_truncate().
 *
 * Files (tok_load detects which): tfs's own tok.bin (tfs-tokenizer(5)), a
 * tiktoken rank file (base64 token, space, rank, per line), or a Hugging
 * Face tokenizer.json holding a byte-level BPE model.
 */
#ifndef TFS_TOKENIZER_H
#define TFS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TOK_MAX_VOCAB (1u << 24)        /* ids fit in 24 bits; plenty */
#define TOK_DEFAULT_EOT "<|endoftext|>"
#define TOK_NO_ID UINT32_MAX            /* "no such token" */

struct tokenizer;
struct tok_encoder;

enum tok_kind { TOK_TFS, TOK_TIKTOKEN, TOK_HF };

/* ---- loading and saving ---- */
/* What a tiktoken rank file does not hold (tiktoken keeps it in code):
 * needed for a rank file that is not one of OpenAI's, refused for the
 * other formats, which carry their own. */
struct tok_load_opts {
    const char *pattern;        /* pre-tokenization: a pretok name or a PCRE2 regex */
    const char *const *special; /* special tokens, each "TEXT=ID" */
    int nspecial;
    const char *special_file;   /* a JSON object {"TEXT": ID, ...} of special tokens */
};
/* Load a tokenizer file of any supported kind; dies with "PATH: what is
 * wrong" (exit 1) on a missing, truncated, corrupt or foreign file. */
struct tokenizer *tok_load(const char *path);
/* The same, returning NULL and a message in err instead of dying. */
struct tokenizer *tok_load_err(const char *path, char *err, size_t errlen);
/* Either, with options (o may be NULL). */
struct tokenizer *tok_load_with(const char *path, const struct tok_load_opts *o, char *err, size_t errlen);
void tok_free(struct tokenizer *t);
/* Write tok.bin (only tokenizers trained by tfs: TOK_TFS).  Atomic. */
void tok_save(const struct tokenizer *t, const char *path);
/* Write a Hugging Face tokenizer.json that encodes identically. */
void tok_save_hf(const struct tokenizer *t, const char *path);
/* Write a human-readable listing, one token per line in id order:
 *   id <tab> left+right ids (merges) <tab> the bytes, escaped */
void tok_dump(const struct tokenizer *t, FILE *f);

/* ---- properties ---- */
uint32_t tok_vocab_size(const struct tokenizer *t);     /* every id is < this */
uint32_t tok_eot(const struct tokenizer *t);            /* end-of-text id, or TOK_NO_ID */
/* The token a document starts with / ends with: a tokenizer.json's
 * post-processor (or tokenizer_config.json beside it) names them; other
 * files have end-of-text for both.  TOK_NO_ID when there is none. */
uint32_t tok_bos(const struct tokenizer *t);
uint32_t tok_eos(const struct tokenizer *t);
uint64_t tok_fingerprint(const struct tokenizer *t);    /* never 0 */
enum tok_kind tok_kind(const struct tokenizer *t);
const char *tok_pattern(const struct tokenizer *t);
uint32_t tok_num_merges(const struct tokenizer *t);     /* TOK_TFS: ids 256.. */
uint32_t tok_num_special(const struct tokenizer *t);
/* The i-th added token's text and id: special tokens, and the tokens a
 * tokenizer.json adds without marking them special (matched by their text
 * like special tokens, but always: they are vocabulary, not control). */
const char *tok_special(const struct tokenizer *t, uint32_t i, size_t *len, uint32_t *id);
/* The bytes of token id (a special token's text), or NULL when id names no
 * token (out of range, or a hole in a tiktoken vocabulary). */
const unsigned char *tok_token(const struct tokenizer *t, uint32_t id, size_t *len);
int tok_is_special(const struct tokenizer *t, uint32_t id);
/* The two ids merged into id (TOK_TFS, 256 <= id < 256+M), else -1. */
int tok_merge_of(const struct tokenizer *t, uint32_t id, uint32_t *left, uint32_t *right);

/* A copy holding only the first k-256-S merges, so its vocabulary has
 * size k (S = number of special tokens, renumbered after the merges).
 * TOK_TFS only; k must be in [256+S, tok_vocab_size]. */
struct tokenizer *tok_truncate(const struct tokenizer *t, uint32_t k);

/* ---- encoding (one encoder per thread; the tokenizer is shared) ---- */
struct tok_encoder *tok_encoder_new(const struct tokenizer *t);
void tok_encoder_free(struct tok_encoder *e);
/* Encode text[0..len) (any bytes).  With allow_special, the text of a
 * special token becomes its id; otherwise it is ordinary text.  The text of
 * an added token that is not special always becomes its id.  Returns the
 * ids in a buffer owned by the encoder, valid until its next call. */
const uint32_t *tok_encode(struct tok_encoder *e, const char *text, size_t len, int allow_special, size_t *n);

/* Encode with the simple reference algorithms from now on (on = 1), or
 * with the fast ones (0, the default): the PCRE2 pre-tokenizer instead of
 * the hand-written ones (pretok.h), the rank-ordered merge of every piece
 * instead of the longest-match encoder.  The ids are the same. */
void tok_use_reference(int on);

/* ---- decoding ---- */
struct tok_bytes { char *p; size_t len, cap; };
/* Append the bytes of ids[0..n) to out.  Returns n, or the index of the
 * first id that names no token (nothing of it is appended). */
size_t tok_decode(const struct tokenizer *t, const uint32_t *ids, size_t n, struct tok_bytes *out);

/* ---- training (bpe_train.c) ----
 *   struct bpe_trainer *tr = bpe_trainer_new(&opt);
 *   for each batch of documents: bpe_trainer_add(tr, texts, lens, n);
 *   struct tokenizer *t = bpe_trainer_finish(tr);     // frees tr
 */
struct bpe_train_opts {
    uint32_t vocab_size;        /* final size, bytes and specials included */
    uint64_t min_frequency;     /* stop when the best pair is rarer (>= 1) */
    const char *pattern;        /* name or PCRE2 regex; NULL = gpt2 */
    const char *const *special; /* special tokens; the first is end-of-text */
    int nspecial;               /* 0 = just TOK_DEFAULT_EOT */
    int threads;                /* pre-tokenizing and counting threads (>= 1) */
    int verbose;                /* print each merge to stderr */
    int quiet;                  /* no progress display */
    uint64_t sample;            /* bpe_train_jsonl: train on this many documents drawn
                                 * uniformly at random (0: all of them) */
};
struct bpe_trainer;
/* Dies with a usage-style message on a bad pattern (check it first with
 * pretok_new when the message must be a usage error). */
struct bpe_trainer *bpe_trainer_new(const struct bpe_train_opts *o);
/* Count the pre-tokens of n documents (in parallel with o->threads). */
void bpe_trainer_add(struct bpe_trainer *tr, const char *const *texts, const size_t *lens, size_t n);
/* Learn the merges, build the tokenizer, free the trainer. */
struct tokenizer *bpe_trainer_finish(struct bpe_trainer *tr);

/* Train from JSONL files (NULL/0 = stdin), reading `field` of each object. */
struct tokenizer *bpe_train_jsonl(char **paths, int npaths, const char *field, int skip_bad,
                                  const struct bpe_train_opts *o);

/* Build a TOK_TFS tokenizer from its merges (used by the trainer and the
 * tok.bin loader): merges[i] = {left, right} makes id 256+i. */
struct tokenizer *tok_from_merges(const char *pattern, const uint32_t (*merges)[2], uint32_t nmerges,
                                  const char *const *special, const size_t *special_len, uint32_t nspecial);

#endif
