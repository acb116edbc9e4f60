/* tokenizer_impl.h - the inside of struct tokenizer, shared by the files
 * that implement tokenizer.h: tokenizer.c (the object), the file formats
 * tok_bin.c, tok_tiktoken.c and tok_hf.c, tok_load.c (which picks the
 * format), bpe_encode.c and bpe_train.c.  Programs use tokenizer.h only. */
#ifndef TFS_TOKENIZER_IMPL_H
#define TFS_TOKENIZER_IMPL_H

#include "tok/bytemap.h"
#include "tok/pretok.h"
#include "tok/stok.h"
#include "tok/tokenizer.h"

#define TOK_NONE UINT32_MAX     /* len[] of an id that names no token */

/* is_special[id]: what kind of token id is */
enum {
    TOK_REGULAR = 0,            /* made by merges (or a byte) */
    TOK_SPECIAL = 1,            /* control token: its text matched only with allow_special */
    TOK_ADDED = 2,              /* tokenizer.json added token, not special: its text always matched */
    TOK_ADDED_VOCAB = 3,        /* the same, also in model.vocab (merges may make it) */
    TOK_BYTE = 4,               /* byte_fallback token <0xXX>: the byte of a character not in the vocabulary */
};

/* A text rewrite a tokenizer.json applies to each span of text between
 * added tokens, before pre-tokenization (its normalizer, and the
 * replacing and prepending of a Metaspace pre-tokenizer). */
struct tok_rewrite {
    enum {
        TOK_PREPEND,            /* normalizer Prepend: a before a non-empty span */
        TOK_REPLACE,            /* normalizer Replace: every a becomes b */
        TOK_META_ALWAYS,        /* Metaspace: a before each span not starting with it */
        TOK_META_FIRST,         /* ... only before the span that starts the text */
        TOK_NFC,                /* normalizer NFC: the span in Unicode NFC (unorm.h) */
        TOK_NFKC,               /* normalizer NFKC: ... in NFKC */
        TOK_NFD,                /* ... in NFD */
        TOK_NFKD,               /* ... in NFKD */
    } op;
    char *a, *b;
    size_t al, bl;
};
/* special_flags[i]: how an added token's text is matched (tokenizer.json) */
enum { TOK_LSTRIP = 1, TOK_RSTRIP = 2, TOK_NORMALIZED = 4 };

struct tokenizer {
    enum tok_kind kind;
    uint32_t vocab;             /* every id is < vocab */
    char *pattern;
    struct pretok *pre;
    /* token id -> its bytes: blob[off[id] .. off[id] + len[id]) */
    char *blob;
    size_t blob_len, blob_cap;
    uint64_t *off;              /* (vocab) */
    uint32_t *len;              /* (vocab)  TOK_NONE for a hole */
    unsigned char *is_special;  /* (vocab) TOK_REGULAR, TOK_SPECIAL, TOK_ADDED, TOK_ADDED_VOCAB */
    uint32_t nspecial;          /* added tokens, special or not */
    uint32_t *special_ids;      /* (nspecial) in file order */
    unsigned char *special_flags; /* (nspecial) TOK_LSTRIP | TOK_RSTRIP | TOK_NORMALIZED */
    uint32_t eot, bos, eos;     /* TOK_NO_ID when there is none */
    uint32_t unk;               /* tokenizer.json: id of a byte without a token, or TOK_NO_ID: dropped */
    int fuse_unk;               /* consecutive unknown bytes give one unk */
    int prefix_space;           /* ByteLevel add_prefix_space: a ' ' before each text span */
    int char_level;             /* tokenizer.json without ByteLevel: BPE starts from characters,
                                 * a character not in the vocabulary from its bytes' <0xXX> tokens */
    uint32_t fallback_id[256];  /* the <0xXX> token of each byte, or TOK_NONE */
    struct tok_rewrite *rw;     /* (nrw) applied in order */
    int nrw;
    char *space_sym;            /* decoding shows these bytes (Metaspace's U+2581) as a space */
    size_t space_sym_len;
    /* TOK_TFS: merges[i] = {left, right} made id 256+i (learning order).
     * TOK_HF: the tokenizer.json merge list, whose order is the rank. */
    uint32_t nmerges;
    uint32_t (*merges)[2];
    int merge_list;             /* 1: only listed pairs merge, rank = list index (HF);
                                 * 0: any pair whose concatenation is a token merges,
                                 *    rank = that token's id (tiktoken) */
    int whole_piece;            /* a piece that is itself a token is emitted as is */
    uint32_t byte_id[256];      /* id of each one-byte token */
    struct bytemap ids;         /* regular token bytes -> id */
    struct stok_table stok;     /* the same for the tokens of at most STOK_MAX bytes */
    uint32_t *pair2;            /* (65536) the regular token of the two bytes a | b << 8, or TOK_NONE */
    struct u64map pairs;        /* left << 32 | right -> rank << 32 | merged id */
    uint64_t fingerprint;
};

/* Allocate the per-id arrays for vocab ids, all holes. */
struct tokenizer *tok_alloc(enum tok_kind kind, uint32_t vocab, const char *pattern);
/* Give id its bytes (copied into the blob); special: TOK_REGULAR ... */
void tok_set_token(struct tokenizer *t, uint32_t id, const void *bytes, size_t len, int special);
/* After every token is set: byte table, lookup tables, pattern, fingerprint.
 * Returns NULL or what is wrong (the tokenizer is then unusable). */
const char *tok_finish(struct tokenizer *t, char *err, size_t errlen);

/* bpe_encode.c: pieces longer than this use the O(n log n) heap merge
 * instead of the quadratic scan (a variable so tests can compare the two). */
extern size_t tok_long_piece;
/* bpe_encode.c: set by tok_use_reference: every piece through merge_piece */
extern int tok_reference;

/* bpe_learn.c: bpe-train's merge loop.  wc holds each distinct word with
 * its count in the corpus (wordtab.h; it is freed).  Merges the most frequent pair
 * (ties: smaller left id, then smaller right id) until there are `target`
 * ids, no pair is left, or the best pair occurs fewer than
 * o->min_frequency times.  Returns the merges (malloc'd; merge i made id
 * 256 + i) and their number in *nmerges. */
struct wordtab;
uint32_t (*bpe_learn(struct wordtab *wc, const struct bpe_train_opts *o, uint32_t target, uint32_t *nmerges))[2];

/* Write the message into err and return err: how the building and
 * loading functions report what is wrong. */
const char *tok_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A tokenizer file format, for tok_load (tok_load.c), which tries them in
 * turn.  match: whether the non-empty file d[0..n) looks like this format;
 * load: the tokenizer, or NULL with what is wrong in err. */
struct tok_format {
    int (*match)(const char *d, size_t n);
    struct tokenizer *(*load)(const char *path, const char *d, size_t n, const struct tok_load_opts *o,
                              char *err, size_t errlen);
};
extern const struct tok_format tok_format_bin;         /* tok_bin.c */
extern const struct tok_format tok_format_hf;          /* tok_hf.c */
extern const struct tok_format tok_format_tiktoken;    /* tok_tiktoken.c */

#endif
