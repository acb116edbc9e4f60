/* llama_ops.h - the layers of the baseline (Llama-style) model, each an
 * adjacent forward/backward pair (style.md, 1): outputs first, then inputs
 * and weights, then dimensions; every backward ACCUMULATES (+=) into its
 * d<input> buffers and never zeroes them.
 *
 * Dimension legend:
 *   N rows (= B*T tokens), C model width, F SwiGLU hidden width,
 *   B batch, T sequence length, NH query heads, NKV key/value heads
 *   (NH a multiple of NKV: grouped-query attention when NKV < NH),
 *   hs head size (C = NH*hs), V vocabulary.
 *
 * Linear weights are stored (out, in), row-major, as nn.Linear does:
 * y = x @ W^T, with no bias anywhere in this model.  The projections
 * themselves, the residual add and the softmax + cross-entropy (plain, and
 * chunked with the output projection) are the shared kernels of
 * kernels/ops.h (linear_*, residual_*, crossentropy_*); causal attention,
 * plain and tiled, with grouped-query heads, and the KV-cache step, is
 * kernels/attention.h; AdamW and the gradient norm are kernels/optim.h.
 *
 * The source is written over the type `real` (float here).  The unit tests
 * compile the same file a second time with real = double and every name
 * suffixed _f64 (see tests/unit/test_llama_ops.c), so each backward is
 * checked against central finite differences in double precision, without
 * a second copy of the math.
 */
#ifndef TFS_LLAMA_OPS_H
#define TFS_LLAMA_OPS_H

#include <stdint.h>

/* ---- RMSNorm (Zhang and Sennrich, 2019) ----
 *   rstd = 1 / sqrt(mean_c x^2 + eps),  y = x * rstd * g   */
void rmsnorm_forward(float *y, float *rstd, const float *x, const float *g, int N, int C, float eps);
void rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *g,
                      const float *rstd, int N, int C);
/* Fused residual add + RMSNorm, one pass over memory:
 *   xout = x + delta,  y = rmsnorm(xout) * g.
 * Its backward is rmsnorm_backward accumulating into the residual gradient,
 * which then flows unchanged to both x and delta. */
void residual_rmsnorm_forward(float *xout, float *y, float *rstd, const float *x, const float *delta,
                              const float *g, int N, int C, float eps);

/* ---- rotary position embedding, Hugging Face Llama convention ----
 * Head vector x (hs), split in halves x1 = x[:hs/2], x2 = x[hs/2:]; at
 * position t, with angle a_i = t * theta^(-2i/hs):
 *   out1 = x1 cos a - x2 sin a,   out2 = x2 cos a + x1 sin a
 * (HF's q*cos + rotate_half(q)*sin).  cos, sin: (context, hs/2) tables.
 * Applied in place to the q and k parts of qkv (N = B*T rows laid out
 * [q (NH*hs) | k (NKV*hs) | v (NKV*hs)]), at positions pos0 + t. */
void rope_tables(float *cos_t, float *sin_t, int context, int hs, float theta);
void rope_forward(float *qkv, const float *cos_t, const float *sin_t, int B, int T, int pos0,
                  int NH, int NKV, int hs);
/* The rotation is orthogonal, so the backward rotates the gradient by the
 * opposite angle.  In place: dqkv holds d(rotated q,k) on entry and
 * d(q,k before rotation) on return (the v part is left alone). */
void rope_backward(float *dqkv, const float *cos_t, const float *sin_t, int B, int T, int pos0,
                   int NH, int NKV, int hs);

/* ---- SwiGLU (Shazeer, 2020), fused ----
 * gu: (N, 2F) = [gate | up] rows;  act = silu(gate) * up, silu(z) = z sigmoid(z). */
void swiglu_forward(float *act, const float *gu, int N, int F);
void swiglu_backward(float *dgu, const float *dact, const float *gu, int N, int F);


#endif
