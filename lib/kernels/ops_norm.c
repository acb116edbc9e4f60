/* ops_norm.c - layer normalisation (Ba, Kiros and Hinton, 2016) over the
 * last dimension, with a gain and a bias (see ops.h for the conventions).
 *
 * Dimension legend: N rows, C width.
 *   inp, out, dout, dinp  (N, C)     w, b, dw, db  (C)     mean, rstd  (N)
 */
#include "kernels/ops.h"
#include "kernels/isa.h"

#include <math.h>
#include <stddef.h>

#define COLS 32     /* columns per task of the parameter-gradient sums */

void layernorm_forward(float *out, float *mean, float *rstd,
                       const float *inp, const float *w, const float *b, int N, int C)
{
    ISA_DISPATCH(layernorm_forward, out, mean, rstd, inp, w, b, N, C);
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        /* Two passes (mean, then the variance around it): one-pass
         * E[x^2] - E[x]^2 loses digits when |mean| >> std. */
        float m = 0;
        #pragma omp simd reduction(+ : m)
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        float var = 0;
        #pragma omp simd reduction(+ : var)
        for (int c = 0; c < C; c++) var += (x[c] - m) * (x[c] - m);
        var /= C;                       /* biased variance, as nn.LayerNorm */
        float s = 1.0f / sqrtf(var + LAYERNORM_EPS);
        #pragma omp simd
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

/* forward:  xhat = (x - mean) * rstd,   out = xhat * w + b
 * =>  db += sum_n dout                  dw += sum_n dout * xhat
 *     dxhat = dout * w
 *     mean and rstd depend on x too; differentiating through both gives the
 *     compact form (mean_c taken over the C columns of the row):
 *     dx = rstd * (dxhat - mean_c(dxhat) - xhat * mean_c(dxhat * xhat)) */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean, const float *rstd,
                        int N, int C)
{
    ISA_DISPATCH(layernorm_backward, dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    if (dinp) {
        #pragma omp parallel for
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C, m = mean[n], s = rstd[n];
            float mean_dxhat = 0, mean_dxhat_xhat = 0;
            #pragma omp simd reduction(+ : mean_dxhat, mean_dxhat_xhat)
            for (int c = 0; c < C; c++) {
                float xhat = (x[c] - m) * s, dxhat = d[c] * w[c];
                mean_dxhat += dxhat;
                mean_dxhat_xhat += dxhat * xhat;
            }
            mean_dxhat /= C;
            mean_dxhat_xhat /= C;
            #pragma omp simd
            for (int c = 0; c < C; c++) {
                float xhat = (x[c] - m) * s, dxhat = d[c] * w[c];
                dx[c] += s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
            }
        }
    }
    /* The parameter gradients sum over rows: each task owns a slice of
     * columns and walks all rows in order (no races, a fixed order). */
    #pragma omp parallel for
    for (int c0 = 0; c0 < C; c0 += COLS) {
        int c1 = c0 + COLS < C ? c0 + COLS : C;
        float sw[COLS] = {0}, sb[COLS] = {0};
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float m = mean[n], s = rstd[n];
            #pragma omp simd
            for (int c = c0; c < c1; c++) {
                sw[c - c0] += d[c] * (x[c] - m) * s;
                sb[c - c0] += d[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            if (dw) dw[c] += sw[c - c0];
            if (db) db[c] += sb[c - c0];
        }
    }
}
