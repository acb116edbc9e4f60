/* tokfilter.h - the two directions of bpe-encode, as library calls:
 *   JSONL (or raw text) -> token stream      bpe_encode_run
 *   token stream -> JSONL (or raw bytes)     bpe_decode_run
 * Errors in the data die with "prog: FILE: what" (exit 1). */
#ifndef TFS_TOKFILTER_H
#define TFS_TOKFILTER_H

#include "tok/tokenizer.h"

struct encode_opts {
    const char *tokenizer;      /* tok.bin, .tiktoken or tokenizer.json */
    char **inputs;              /* JSONL (or raw) files, or token streams for decoding */
    int ninputs;                /* 0 = stdin */
    const char *output;         /* "-" = stdout */
    const char *field;          /* JSON field of the text */
    int raw;                    /* encode: each input is one document of raw bytes;
                                 * decode: write bytes, not JSONL */
    int zstd;                   /* compress the token stream */
    uint64_t shard_size;        /* cut it into shards of this many tokens (0: one stream) */
    int threads;
    int allow_special;          /* special tokens' text in the input becomes their id */
    int no_special;             /* ... not even for a tokenizer.json (where it is the default) */
    int bos, eos, no_sep;       /* what separates documents: BOS before, EOS after, nothing;
                                 * none set: end-of-text before each */
    struct tok_load_opts load;  /* pattern and special tokens of a rank file */
    int quiet, force, skip_bad;
};

int bpe_encode_run(const struct encode_opts *o);
int bpe_decode_run(const struct encode_opts *o);

#endif
