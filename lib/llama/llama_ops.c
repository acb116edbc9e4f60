/* llama_ops.c - forward/backward pairs for the baseline model's layers.
 * The math of each layer is in llama_ops.h; here each backward restates the
 * forward line it differentiates.  Dimension legend: see llama_ops.h.
 *
 * This file is compiled twice: as part of libtfs over float, and by
 * tests/unit/test_llama_ops.c over double for the finite-difference checks
 * (the convention: kernels/real.h).
 *
 * Parallelism: every loop over rows is an OpenMP loop; the GEMMs run on
 * OpenBLAS's OpenMP build, which uses the same libgomp thread team.
 */
#include "llama/llama_ops.h"    /* the float prototypes */
#include "kernels/real.h"       /* real: float, or double in the test build */
#include "kernels/isa.h"          /* ISA_DISPATCH: after real.h */

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/xio.h"

/* ======================================================================
 * RMSNorm
 * ==================================================================== */

/* One row: y = x * rstd * g; returns rstd.  Sums in double: C values. */
static real OPS(rmsnorm_row)(real *y, const real *x, const real *g, int C, real eps)
{
    double ss = 0;
    for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
    real rstd = (real)(1.0 / sqrt(ss / C + eps));
    for (int c = 0; c < C; c++) y[c] = x[c] * rstd * g[c];
    return rstd;
}

void OPS(rmsnorm_forward)(real *y, real *rstd, const real *x, const real *g, int N, int C, real eps)
{
    ISA_DISPATCH(rmsnorm_forward, y, rstd, x, g, N, C, eps);
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        rstd[n] = OPS(rmsnorm_row)(y + (size_t)n * C, x + (size_t)n * C, g, C, eps);
}

void OPS(residual_rmsnorm_forward)(real *xout, real *y, real *rstd, const real *x, const real *delta,
                                   const real *g, int N, int C, real eps)
{
    ISA_DISPATCH(residual_rmsnorm_forward, xout, y, rstd, x, delta, g, N, C, eps);
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        real *xo = xout + (size_t)n * C;
        const real *xi = x + (size_t)n * C, *di = delta + (size_t)n * C;
        for (int c = 0; c < C; c++) xo[c] = xi[c] + di[c];     /* still in cache for the norm */
        rstd[n] = OPS(rmsnorm_row)(y + (size_t)n * C, xo, g, C, eps);
    }
}

void OPS(rmsnorm_backward)(real *dx, real *dg, const real *dy, const real *x, const real *g,
                           const real *rstd, int N, int C)
{
    ISA_DISPATCH(rmsnorm_backward, dx, dg, dy, x, g, rstd, N, C);
    /* forward: xhat = x rstd, y = xhat g, rstd = (mean x^2 + eps)^(-1/2)
     *   dg    += sum_n dy xhat
     *   dxhat  = dy g
     *   dx    += rstd (dxhat - xhat mean_c(dxhat xhat))
     * (the second term is d rstd / dx = -rstd^3 x / C, chained through xhat) */
    /* dg: each thread sums its rows into its own row of `part`, then the
     * rows are added in thread order, so the result does not depend on
     * timing (resumed runs must be bit-identical). */
    real *part = NULL;
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        #pragma omp single
        part = xcalloc((size_t)nt * C, sizeof *part);
        real *dg_local = part + (size_t)id * C;
        #pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const real *xr = x + (size_t)n * C, *dyr = dy + (size_t)n * C;
            real *dxr = dx + (size_t)n * C, r = rstd[n];
            double dot = 0;     /* sum_c dxhat xhat */
            for (int c = 0; c < C; c++) {
                real xhat = xr[c] * r;
                dot += (double)dyr[c] * g[c] * xhat;
                dg_local[c] += dyr[c] * xhat;
            }
            real mean = (real)(dot / C);
            for (int c = 0; c < C; c++) dxr[c] += r * (dyr[c] * g[c] - xr[c] * r * mean);
        }
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < nt; k++) dg[c] += part[(size_t)k * C + c];
    }
    free(part);
}

/* ======================================================================
 * rotary position embedding
 * ==================================================================== */

void OPS(rope_tables)(real *cos_t, real *sin_t, int context, int hs, real theta)
{
    int h2 = hs / 2;
    for (int t = 0; t < context; t++)
        for (int i = 0; i < h2; i++) {
            /* HF: inv_freq_i = 1 / theta^(2i / hs), angle = t inv_freq_i */
            double a = t / pow((double)theta, 2.0 * i / hs);
            cos_t[(size_t)t * h2 + i] = (real)cos(a);
            sin_t[(size_t)t * h2 + i] = (real)sin(a);
        }
}

/* Rotate every q and k head of one row by the angles of (cs, sn); dir = +1
 * forward, -1 for the transpose (backward). */
static void OPS(rope_row)(real *row, const real *cs, const real *sn, int nheads, int hs, real dir)
{
    int h2 = hs / 2;
    for (int h = 0; h < nheads; h++) {
        real *x1 = row + (size_t)h * hs, *x2 = x1 + h2;
        for (int i = 0; i < h2; i++) {
            real a = x1[i], b = x2[i], s = dir * sn[i];
            x1[i] = a * cs[i] - b * s;
            x2[i] = b * cs[i] + a * s;
        }
    }
}

void OPS(rope_forward)(real *qkv, const real *cos_t, const real *sin_t, int B, int T, int pos0,
                       int NH, int NKV, int hs)
{
    ISA_DISPATCH(rope_forward, qkv, cos_t, sin_t, B, T, pos0, NH, NKV, hs);
    size_t D = (size_t)(NH + 2 * NKV) * hs;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < B * T; n++) {
        size_t t = (size_t)(pos0 + n % T) * (hs / 2);
        OPS(rope_row)(qkv + n * D, cos_t + t, sin_t + t, NH + NKV, hs, 1);   /* q and k heads are adjacent */
    }
}

void OPS(rope_backward)(real *dqkv, const real *cos_t, const real *sin_t, int B, int T, int pos0,
                        int NH, int NKV, int hs)
{
    ISA_DISPATCH(rope_backward, dqkv, cos_t, sin_t, B, T, pos0, NH, NKV, hs);
    /* forward: out = R(a) x with R(a) = [[cos, -sin], [sin, cos]] per pair
     *   =>   dx = R(a)^T dout = R(-a) dout */
    size_t D = (size_t)(NH + 2 * NKV) * hs;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < B * T; n++) {
        size_t t = (size_t)(pos0 + n % T) * (hs / 2);
        OPS(rope_row)(dqkv + n * D, cos_t + t, sin_t + t, NH + NKV, hs, -1);
    }
}

/* ======================================================================
 * SwiGLU
 * ==================================================================== */

void OPS(swiglu_forward)(real *act, const real *gu, int N, int F)
{
    ISA_DISPATCH(swiglu_forward, act, gu, N, F);
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *g = gu + (size_t)n * 2 * F, *u = g + F;
        real *a = act + (size_t)n * F;
        for (int f = 0; f < F; f++) a[f] = g[f] / (1 + exp(-g[f])) * u[f];
    }
}

void OPS(swiglu_backward)(real *dgu, const real *dact, const real *gu, int N, int F)
{
    ISA_DISPATCH(swiglu_backward, dgu, dact, gu, N, F);
    /* forward: a = silu(g) u,  silu(g) = g s,  s = sigmoid(g)
     *   du += da silu(g)
     *   dg += da u silu'(g),   silu'(g) = s + g s (1 - s) = s (1 + g (1 - s)) */
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *g = gu + (size_t)n * 2 * F, *u = g + F, *da = dact + (size_t)n * F;
        real *dg = dgu + (size_t)n * 2 * F, *du = dg + F;
        for (int f = 0; f < F; f++) {
            real s = 1 / (1 + exp(-g[f]));
            du[f] += da[f] * g[f] * s;
            dg[f] += da[f] * u[f] * s * (1 + g[f] * (1 - s));
        }
    }
}

