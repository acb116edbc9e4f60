/* attention.h - causal self-attention (Vaswani et al., "Attention Is All
 * You Need", 2017, section 3.2), the one implementation every model level
 * calls: the custom GPT-2 (lib/gpt2/gpt2.c), the baseline Llama
 * (lib/llama/llama.c) and, for its softmax, the autograd level
 * (lib/autograd/ag_ops.c, ag_grad.c).  Code: attention.c.
 *
 * Conventions as in ops.h: outputs first; every backward ACCUMULATES (+=)
 * into dqkv and never zeroes it.
 *
 * Dimension legend: B batch, T positions, NH query heads, NKV key/value
 * heads (NH a multiple of NKV: grouped-query attention when NKV < NH,
 * query head h reads kv head h / (NH/NKV), HF's repeat_kv), hs head size,
 * C = NH hs.
 *
 * Layout: qkv (B, T, D), D = (NH + 2 NKV) hs, each row [q heads | k heads |
 * v heads], head h taking hs adjacent columns of its part.  GPT-2's fused
 * c_attn output (q | k | v, each C wide) is the case NKV = NH.  out and
 * dout are (B, T, C), the heads' outputs side by side.
 *
 * Two versions of the same function, checked against each other in
 * tests/unit/test_llama_ops.c:
 *  - plain: the (T, T) probabilities att (B, NH, T, T) are kept for the
 *    backward pass (zero above the diagonal), which needs a scratch buffer
 *    of the same size.  The readable reference (both levels' `plain` flag).
 *  - tiled: flash-attention's algorithm (Dao et al., 2022): keys are
 *    visited in 64 x 64 tiles with an online softmax, so only
 *    lse (B, NH, T) = log sum_j exp(s_ij) is kept, memory linear in T.
 *    The path both levels, custom and baseline, train with.
 *
 * The source is written over the type `real` (float here).  The unit tests
 * compile attention.c a second time with real = double and every name
 * suffixed _f64 (tests/unit/test_llama_ops.c, test_autograd_ops.c), for
 * the finite-difference checks.
 */
#ifndef TFS_ATTENTION_H
#define TFS_ATTENTION_H

/* ---- training: the whole (B, T) batch ---- */
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int hs);
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                        int B, int T, int NH, int NKV, int hs);
void attention_tiled_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int NKV, int hs);
void attention_tiled_backward(float *dqkv, const float *dout, const float *out, const float *lse,
                              const float *qkv, int B, int T, int NH, int NKV, int hs);

/* ---- generation: the KV-cache step ----
 * One new position attending to the `len` cached positions (itself
 * included, already written to the caches): q (C), kcache and vcache
 * (len, NKV hs) row by row, out (C), scratch (NH len). */
void attention_step(float *out, float *scratch, const float *q, const float *kcache, const float *vcache,
                    int len, int NH, int NKV, int hs);

/* ---- looking inside (tfs-eval --attention) ----
 * The probabilities P (NH, T, T) of one sequence from its qkv (T, D), as
 * attention_forward computes them: row i holds head h's weights over the
 * keys j <= i (summing to 1), zeros above the diagonal. */
void attention_probs(float *P, const float *qkv, int T, int NH, int NKV, int hs);

/* ---- the softmax of one row, and its backward ----
 * softmax_prefix: in place, over the first `valid` of n entries (the keys
 * j <= i of a causal row; valid = n for a whole row), the rest set to 0.
 * softmax_prefix_backward: p = softmax(x), dp = d(loss)/dp  =>
 *   dx_j = p_j (dp_j - sum_k p_k dp_k),
 * added to dx when accumulate is set, written over dx when not (then dx
 * may be dp itself).  Entries with p_j = 0 (masked) get 0. */
void softmax_prefix(float *row, int valid, int n);
void softmax_prefix_backward(float *dx, const float *p, const float *dp, int n, int accumulate);

#endif
