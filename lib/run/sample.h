/* sample.h - drawing the next token from the model's logits, and text
 * generation with the KV cache (model.h).
 *
 * From logits z (V): p_i = exp(z_i / temperature) / sum_j exp(z_j / temperature).
 * Temperature 0 means greedy: always the most likely token.  Then, in this
 * order, the candidates are cut down to
 *   top-k: the k most probable tokens (k = 0: no cut);
 *   top-p: the smallest set of most probable tokens whose probabilities sum
 *          to at least p ("nucleus sampling", Holtzman et al. 2019; p = 1:
 *          no cut),
 * renormalised, and one is drawn with the suite's RNG (rng.h).  Ties in
 * probability are ordered by id, so a seed always gives the same text.
 */
#ifndef TFS_SAMPLE_H
#define TFS_SAMPLE_H

#include "model/model.h"
#include "core/rng.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tokenizer;

struct sampler {
    int V;
    double temperature;     /* >= 0 */
    int top_k;              /* 0 = all */
    double top_p;           /* (0, 1] */
    struct rng rng;
    double *probs;          /* (V) */
    uint32_t *order;        /* (V) ids sorted by probability */
};

void sampler_init(struct sampler *s, int V, double temperature, int top_k, double top_p, uint64_t seed);
void sampler_free(struct sampler *s);
uint32_t sampler_next(struct sampler *s, const float *logits);

/* Generate after a prompt: feed prompt[0 .. np) (np >= 1) into the KV
 * cache in one batched forward pass (the prefill), then draw up to n
 * tokens, calling emit for each, and stop early when the model draws eot
 * (which is not emitted; eot < 0: never stop).  When the cache is full
 * (context tokens), it slides: it is rebuilt in one batched pass from the
 * text's first token (a kept prefix) and the most recent tokens, half a
 * context in all, so generation can run past the context length.
 * Returns the number of tokens emitted. */
size_t generate(struct model *m, struct sampler *s, const uint32_t *prompt, size_t np, size_t n,
                long eot, void (*emit)(void *ctx, uint32_t id), void *ctx);

/* ---- text ----
 * A document in a token stream starts after an end-of-text token, so the
 * model is fed end-of-text + the encoded prompt, and continues from there. */

/* The tokenizer's beginning-of-text (else its end-of-text; else nothing,
 * and then the prompt must not be empty) + the ids of prompt, in a buffer
 * the caller frees; *np gets their number. */
uint32_t *prompt_ids(const struct tokenizer *tok, const char *prompt, size_t *np);

/* Write prompt and up to n generated tokens of text to out, decoding each
 * token as it comes (flushed, so a terminal shows the text growing).
 * Returns the number of tokens generated. */
size_t generate_text(struct model *m, const struct tokenizer *tok, struct sampler *s,
                     const char *prompt, size_t n, FILE *out);

/* The interactive loop of tfs-eval --chat: each line read from in
 * continues the conversation (kept in the context: the first line starts a
 * text, later ones follow the model's answers on a new line; /reset starts
 * over); lines starting with '/' are commands (/help lists them).  Ends at
 * /quit or end of input. */
void chat_loop(struct model *m, const struct tokenizer *tok, struct sampler *s, size_t n,
               FILE *in, FILE *out);

#endif
