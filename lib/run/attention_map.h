/* attention_map.h - tfs-eval --attention: where each token looks.
 *
 * One layer's causal self-attention (attention.h) turns the tokens of a
 * short text into, for every head h, a (T, T) matrix
 *     P[i][j] = softmax_j(q_i . k_j / sqrt(hs)),   j <= i,
 * the weight that the token at position i (the query) gives to the token
 * at position j (the key) when it mixes their values.  Each row sums to 1
 * and everything above the diagonal is 0: no token sees the future.
 * model_attention (model.h) computes it for the custom and baseline levels.
 *
 * Output: the matrix file (its format is in tfs-eval(1), ATTENTION MATRIX
 * FILE) and, when asked, a PNG heat map drawn by gnuplot with the tokens on
 * both axes.
 */
#ifndef TFS_ATTENTION_MAP_H
#define TFS_ATTENTION_MAP_H

#include "model/model.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tokenizer;

/* Parse "LAYER" or "LAYER:HEAD" (both counted from 0); head is -1 when
 * not given (the mean over the heads).  Returns 0 on success, -1 when arg
 * is malformed (the caller reports the usage error). */
int attention_parse(const char *arg, int *layer, int *head);

/* The attention of layer (0-based) for ids[0 .. n), n <= context: one
 * head, or the mean over heads when head < 0.  Writes the matrix file to
 * out; when png is given, draws the heat map into it with gnuplot (dies
 * with a clear message when gnuplot is missing or fails; the PNG is
 * written under a temporary name and renamed when complete).  tok, when
 * given, adds the tokens' text; what names the source in the header. */
void attention_map(struct model *m, const struct tokenizer *tok, const uint32_t *ids, size_t n,
                   int layer, int head, const char *what, FILE *out, const char *png);

#endif
