/* token_loss.h - tfs-eval --token-loss: how surprised the model is by each
 * token of a text, and what it expected there instead.
 *
 * The tokens are cut into windows exactly as evaluate.h scores a stream
 * (windows of T + 1 tokens overlapping by one), so the losses written here
 * average to tfs-eval's loss on the same tokens.  Each window is run one
 * token at a time through the model's KV cache (model.h, model_kv_step),
 * which gives the logits z (V) of every position; the token that follows
 * costs
 *     loss = -ln p(token) = logsumexp(z) - z[token]        (nats)
 * and the K most likely tokens are listed with their probabilities
 * p_i = exp(z_i - logsumexp(z)).
 *
 * Output: one JSON line per predicted token (evaluate.c calls this for
 * tfs-eval), or, for a terminal, the text with each token's background
 * coloured by its loss, like a heat map.
 */
#ifndef TFS_TOKEN_LOSS_H
#define TFS_TOKEN_LOSS_H

#include "model/model.h"
#include "run/evaluate.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tokenizer;

/* Score ids[0 .. n) (every token after the first is predicted once) and
 * write to out: JSON Lines, or the coloured view when view is set (which
 * needs tok).  top: predictions listed per token.  tok, when given, adds
 * each token's text.  The losses are added to acc. */
void token_loss(struct model *m, const struct tokenizer *tok, const uint32_t *ids, size_t n,
                int top, int view, FILE *out, struct eval_sum *acc);

#endif
