/* ops.h - the layers of the "custom" model, each a forward/backward pair
 * written by hand (style.md, principle 1).
 *
 * Conventions, the same for every pair:
 *   - forward:  outputs first, then inputs, then weights, then dimensions;
 *   - backward: the gradients of the inputs and weights first (d<in>), then
 *     d<out>, then what the forward saw, then dimensions;
 *   - backward ACCUMULATES (+=) into every d<in> and never zeroes: a tensor
 *     used twice (the tied token embedding, a residual stream) simply
 *     receives both contributions; zeroing is the caller's job.  A d<in>
 *     pointer may be NULL when that gradient is not wanted.
 *   - everything is row-major fp32; results do not depend on the number of
 *     threads except through OpenBLAS's GEMM blocking (every reduction we
 *     write ourselves has a fixed order), so a run is repeatable bit for bit.
 *
 * Dimension legend:
 *   N rows (= B*T positions), C width, OC output width of a linear layer,
 *   B batch, T sequence length, NH heads, hs = C / NH head size, V vocabulary.
 *
 * Files: ops_embed.c (embedding), ops_norm.c (layernorm), ops_linear.c
 * (linear = matmul + bias, through cblas_sgemm), attention.c (causal
 * self-attention, plain and tiled, and the KV-cache step; its own header
 * attention.h, included below), ops_pointwise.c (gelu, residual),
 * ops_loss.c (softmax + cross-entropy, also chunked: every level's loss).
 * The optimizer is optim.h.
 */
#ifndef TFS_OPS_H
#define TFS_OPS_H

#include <stdint.h>

/* ---- embedding: out[b,t,:] = wte[inp[b,t], :] + wpe[t, :] ---- */
void embedding_forward(float *out, const uint32_t *inp, const float *wte, const float *wpe,
                       int B, int T, int C);
void embedding_backward(float *dwte, float *dwpe, const float *dout, const uint32_t *inp,
                        int B, int T, int C);

/* ---- layernorm over the last dimension, with gain w and bias b ----
 * out = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + 1e-5); mean and
 * rstd (N) are saved for the backward pass. */
#define LAYERNORM_EPS 1e-5f
void layernorm_forward(float *out, float *mean, float *rstd,
                       const float *inp, const float *w, const float *b, int N, int C);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean, const float *rstd,
                        int N, int C);

/* ---- linear: out = inp @ W^T + b, W stored (OC, C) as nn.Linear; b may
 * be NULL (then db must be NULL too). */
void linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int C, int OC);
/* out = res + (inp @ W^T + b): a linear layer added to a residual stream
 * (ops_linear.c), its backward is linear_backward's with d out. */
void linear_forward_residual(float *out, const float *res, const float *inp, const float *W, const float *b,
                             int N, int C, int OC);
void linear_backward(float *dinp, float *dW, float *db, const float *dout,
                     const float *inp, const float *W, int N, int C, int OC);

/* ---- causal multi-head self-attention: kernels/attention.h ---- */
#include "kernels/attention.h"

/* ---- pointwise ---- */
/* GELU, tanh form: out = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void gelu_forward(float *out, const float *inp, long n);
/* With dinp == dout the backward works in place: dinp = dout * dy/dx (the
 * values of adding into a zeroed dinp). */
void gelu_backward(float *dinp, const float *dout, const float *inp, long n);
/* The same GELU, keeping its derivative for the backward pass: out =
 * gelu(inp) and slope = d out / d inp (slope may be inp: in place);
 * then dinp += dout * slope (dinp == dout: in place, dinp = dout * slope).
 * The same values as gelu_forward and gelu_backward, one tanh instead of two. */
void gelu_forward_slope(float *out, float *slope, const float *inp, long n);
void gelu_backward_slope(float *dinp, const float *dout, const float *slope, long n);
/* residual: out = a + b */
void residual_forward(float *out, const float *a, const float *b, long n);
void residual_backward(float *da, float *db, const float *dout, long n);

/* ---- softmax + cross-entropy ----
 * losses[n] = -log softmax(logits[n])[targets[n]] = lse[n] - logits[n, y];
 * lse (N) = log sum_v exp(logits[n, v]) is saved so the backward pass never
 * stores the probabilities (targets NULL: lse only).  dlosses (N) is the
 * gradient of whatever the caller made of the losses (1/N each for the
 * mean).  With dlogits == logits the backward works in place: the logits'
 * gradient replaces the logits (the values of adding into a zeroed dlogits). */
void crossentropy_forward(float *losses, float *lse, const float *logits, const uint32_t *targets, int N, int V);
void crossentropy_backward(float *dlogits, const float *dlosses, const float *logits, const float *lse,
                           const uint32_t *targets, int N, int V);
/* The same with the output projection in front, in row chunks, so that
 * the (N, V) logits z = x @ W^T (W: (V, C), no bias) never exist whole:
 * only a (CE_CHUNK, V) block at a time, in the caller's scratch z (kept by
 * the caller: a fresh buffer each call would be paged in again each call).
 * The backward recomputes each chunk's logits (one more GEMM), forms
 *   dz = (softmax(z) - onehot(y)) * dloss   (dloss = d(total)/d(loss_n), the same for every row)
 * and accumulates dx += dz @ W, dW += dz^T @ x. */
enum { CE_CHUNK = 256 };
void crossentropy_chunked_forward(float *losses, float *z, const float *x, const float *W, const uint32_t *targets,
                                  int N, int C, int V);
void crossentropy_chunked_backward(float *dx, float *dW, float *z, const float *x, const float *W,
                                   const uint32_t *targets, float dloss, int N, int C, int V);

#endif
