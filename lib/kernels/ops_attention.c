/* ops_attention.c - causal multi-head self-attention (Vaswani et al.,
 * "Attention Is All You Need", 2017, section 3.2), forward and backward,
 * plus the single-position step used with a KV cache (see ops.h for the
 * conventions).
 *
 * Dimension legend: B batch, T positions, C width, NH heads, hs = C/NH.
 *   qkv, dqkv (B, T, 3C)   out, dout (B, T, C)   att, scratch (B, NH, T, T)
 * For one (b, h), Q, K and V are (T, hs) matrices inside qkv with a row
 * stride of 3C, and the head's output is a (T, hs) block of out with a row
 * stride of C, so every product below is one cblas_sgemm on strided views.
 *
 * The backward pass costs O(T^2 hs) per head, like the forward: it uses the
 * softmax Jacobian in its closed form (dS = P * (dP - rowsum(P * dP)))
 * rather than looping over it element by element, which would be O(T^3).
 *
 * Parallelism: one task per (b, h) pair.  OpenBLAS's OpenMP build sees that
 * it is called inside a parallel region and runs each GEMM on the calling
 * thread, so the tasks do not oversubscribe the cores.
 */
#include "kernels/ops.h"
#include "kernels/fastmath.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>

/* Row t of a causal score matrix: softmax over j <= t, zero for j > t. */
static void causal_softmax_row(float *row, int t, int T)
{
    float mx = row[0];
    #pragma omp simd reduction(max : mx)
    for (int j = 1; j <= t; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0;
    /* exp(s - max) <= 1 cannot overflow; exp_neg: fastmath.h */
    #pragma omp simd reduction(+ : sum)
    for (int j = 0; j <= t; j++) { row[j] = exp_neg(mx - row[j]); sum += row[j]; }
    float inv = 1.0f / sum;
    #pragma omp simd
    for (int j = 0; j <= t; j++) row[j] *= inv;
    for (int j = t + 1; j < T; j++) row[j] = 0;
}

/* S = Q K^T / sqrt(hs);  P = softmax over each row, keys j <= t only;  O = P V */
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *P = att + ((size_t)b * NH + h) * T * T;
            float *o = out + (size_t)b * T * C + h * hs;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs,
                        scale, q, C3, k, C3, 0.0f, P, T);
            for (int t = 0; t < T; t++) causal_softmax_row(P + (size_t)t * T, t, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
                        1.0f, P, T, v, C3, 0.0f, o, C);
        }
}

/* forward:  S = s Q K^T (s = 1/sqrt(hs)),  P = causal_softmax(S),  O = P V
 * =>  dV += P^T dO                       (T, hs)
 *     dP  = dO V^T                       (T, T), into scratch
 *     softmax: P[t,j] = exp(S[t,j]) / sum_k exp(S[t,k]), so
 *         dS[t,j] = sum_k dP[t,k] P[t,k] ([j = k] - P[t,j])
 *                 = P[t,j] (dP[t,j] - sum_k P[t,k] dP[t,k])
 *     (masked entries have P = 0, so they get dS = 0 by themselves)
 *     dQ += s dS K,   dK += s dS^T Q */
void attention_backward(float *dqkv, float *scratch, const float *dout,
                        const float *qkv, const float *att, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t qo = (size_t)b * T * C3 + h * hs;
            const float *q = qkv + qo, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + qo, *dk = dq + C, *dv = dq + 2 * C;
            const float *P = att + ((size_t)b * NH + h) * T * T;
            float *dS = scratch + ((size_t)b * NH + h) * T * T;
            const float *dO = dout + (size_t)b * T * C + h * hs;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T,
                        1.0f, P, T, dO, C, 1.0f, dv, C3);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs,
                        1.0f, dO, C, v, C3, 0.0f, dS, T);
            for (int t = 0; t < T; t++) {
                const float *p = P + (size_t)t * T;
                float *d = dS + (size_t)t * T, dot = 0;
                #pragma omp simd reduction(+ : dot)
                for (int j = 0; j <= t; j++) dot += p[j] * d[j];
                #pragma omp simd
                for (int j = 0; j <= t; j++) d[j] = p[j] * (d[j] - dot);
                for (int j = t + 1; j < T; j++) d[j] = 0;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
                        scale, dS, T, k, C3, 1.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T,
                        scale, dS, T, q, C3, 1.0f, dk, C3);
        }
}

/* The same computation for the last row only (t = len - 1): the new
 * query against every cached key, no mask needed. */
void attention_step(float *out, float *scratch, const float *q, const float *kcache, const float *vcache,
                    int len, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for if (len * C > 32768)
    for (int h = 0; h < NH; h++) {
        const float *qh = q + h * hs;
        float *s = scratch + (size_t)h * len, *o = out + h * hs;
        for (int j = 0; j < len; j++) {
            const float *kj = kcache + (size_t)j * C + h * hs;
            float dot = 0;
            #pragma omp simd reduction(+ : dot)
            for (int i = 0; i < hs; i++) dot += qh[i] * kj[i];
            s[j] = dot * scale;
        }
        causal_softmax_row(s, len - 1, len);
        for (int i = 0; i < hs; i++) o[i] = 0;
        for (int j = 0; j < len; j++) {
            const float *vj = vcache + (size_t)j * C + h * hs;
            #pragma omp simd
            for (int i = 0; i < hs; i++) o[i] += s[j] * vj[i];
        }
    }
}
