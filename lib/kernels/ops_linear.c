/* ops_linear.c - the linear layer, out = inp @ W^T + b, as nn.Linear
 * stores it (see ops.h for the conventions).  All the work is in three
 * GEMMs, done by OpenBLAS (cblas_sgemm); the build links its OpenMP
 * variant so these GEMMs and our `omp parallel` loops share one libgomp
 * thread team (Makefile, README "Building blocks").
 *
 * Dimension legend: N rows, C input width, OC output width.
 *   inp, dinp (N, C)    W, dW (OC, C)    b, db (OC)    out, dout (N, OC)
 */
#include "kernels/ops.h"
#include "kernels/isa.h"

#include <cblas.h>
#include <stddef.h>
#include <string.h>

#define COLS 64     /* columns per task of the bias-gradient sum */

void linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int C, int OC)
{
    ISA_DISPATCH(linear_forward, out, inp, W, b, N, C, OC);
    /* Start from the bias in every row, then out += inp (N, C) @ W^T (C, OC). */
    float beta = 0;
    if (b) {
        #pragma omp parallel for
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof *b);
        beta = 1;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C,
                1.0f, inp, C, W, C, beta, out, OC);
}

/* A linear layer whose output is added to a residual stream, as GPT-2's
 * two projections are (x2 = x + proj(...)):  out = res + b + inp @ W^T,
 * with out (N, OC) and res (N, OC).  One pass starts each row of out at
 * res + b, and the GEMM adds into it: neither the layer's own output nor
 * the bias broadcast is written separately, and no second pass adds the
 * residual.  The backward pass is linear_backward's: d out reaches both
 * res and the layer unchanged.  out may be res (in place). */
void linear_forward_residual(float *out, const float *res, const float *inp, const float *W, const float *b,
                             int N, int C, int OC)
{
    ISA_DISPATCH(linear_forward_residual, out, res, inp, W, b, N, C, OC);
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
        const float *r = res + (size_t)n * OC;
        #pragma omp simd
        for (int k = 0; k < OC; k++) o[k] = r[k] + b[k];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C,
                1.0f, inp, C, W, C, 1.0f, out, OC);
}

/* forward:  out[n,o] = sum_c inp[n,c] W[o,c] + b[o]
 * =>  dinp[n,c] += sum_o dout[n,o] W[o,c]      dinp += dout (N, OC) @ W (OC, C)
 *     dW[o,c]   += sum_n dout[n,o] inp[n,c]    dW   += dout^T (OC, N) @ inp (N, C)
 *     db[o]     += sum_n dout[n,o] */
void linear_backward(float *dinp, float *dW, float *db, const float *dout,
                     const float *inp, const float *W, int N, int C, int OC)
{
    ISA_DISPATCH(linear_backward, dinp, dW, db, dout, inp, W, N, C, OC);
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC,
                    1.0f, dout, OC, W, C, 1.0f, dinp, C);
    if (dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N,
                    1.0f, dout, OC, inp, C, 1.0f, dW, C);
    if (db) {
        #pragma omp parallel for
        for (int o0 = 0; o0 < OC; o0 += COLS) {
            int o1 = o0 + COLS < OC ? o0 + COLS : OC;
            float s[COLS] = {0};
            for (int n = 0; n < N; n++) {
                const float *d = dout + (size_t)n * OC;
                #pragma omp simd
                for (int o = o0; o < o1; o++) s[o - o0] += d[o];
            }
            for (int o = o0; o < o1; o++) db[o] += s[o - o0];
        }
    }
}
