/* ops_embed.c - token + position embedding (see ops.h for the conventions).
 *
 * Dimension legend: B batch, T positions, C width, V vocabulary.
 *   inp  (B, T)  token ids        wte (V, C)  token table
 *   out  (B, T, C)                 wpe (T.., C) position table
 */
#include "kernels/ops.h"
#include "kernels/isa.h"

#include <stddef.h>

/* Columns per parallel task in the backward pass: each task owns a slice
 * of the C columns for all rows, so no two threads ever add to the same
 * gradient element and the order of the additions is fixed. */
#define COLS 32

void embedding_forward(float *out, const uint32_t *inp, const float *wte, const float *wpe,
                       int B, int T, int C)
{
    ISA_DISPATCH(embedding_forward, out, inp, wte, wpe, B, T, C);
    #pragma omp parallel for
    for (int n = 0; n < B * T; n++) {
        const float *e = wte + (size_t)inp[n] * C, *p = wpe + (size_t)(n % T) * C;
        float *o = out + (size_t)n * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}

/* forward:  out[b,t,c] = wte[inp[b,t], c] + wpe[t, c]
 * =>        dwte[inp[b,t], c] += dout[b,t,c]   (a scatter-add: a token that
 *           occurs k times collects k contributions)
 *           dwpe[t, c]        += dout[b,t,c]   summed over the batch */
void embedding_backward(float *dwte, float *dwpe, const float *dout, const uint32_t *inp,
                        int B, int T, int C)
{
    ISA_DISPATCH(embedding_backward, dwte, dwpe, dout, inp, B, T, C);
    #pragma omp parallel for
    for (int c0 = 0; c0 < C; c0 += COLS) {
        int c1 = c0 + COLS < C ? c0 + COLS : C;
        for (int n = 0; n < B * T; n++) {
            const float *d = dout + (size_t)n * C;
            if (dwte) {
                float *e = dwte + (size_t)inp[n] * C;
                #pragma omp simd
                for (int c = c0; c < c1; c++) e[c] += d[c];
            }
            if (dwpe) {
                float *p = dwpe + (size_t)(n % T) * C;
                #pragma omp simd
                for (int c = c0; c < c1; c++) p[c] += d[c];
            }
        }
    }
}
