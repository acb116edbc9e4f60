/* fuzz_tok.c - the tokenizer files (tok/tok_load.c and the formats it
 * tries: tok.bin, tokenizer.json, .tiktoken).  A file that loads then
 * encodes and decodes a short text, which walks its merges and vocabulary. */
#include "fuzz.h"
#include "tok/tokenizer.h"

#include <stdlib.h>

void fuzz_target(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file("tokenizer", data, n);
    char err[512];
    struct tokenizer *t = tok_load_err(path, err, sizeof err);
    if (!t) return;
    static const char text[] = "Once upon a time, <|endoftext|> 12345 caf\xc3\xa9\n\n  the end.";
    struct tok_encoder *e = tok_encoder_new(t);
    size_t k;
    const uint32_t *ids = tok_encode(e, text, sizeof text - 1, 1, &k);
    struct tok_bytes b = { 0 };
    tok_decode(t, ids, k, &b);
    free(b.p);
    tok_encoder_free(e);
    tok_free(t);
}
