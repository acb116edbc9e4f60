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
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        rstd[n] = OPS(rmsnorm_row)(y + (size_t)n * C, x + (size_t)n * C, g, C, eps);
}

void OPS(residual_rmsnorm_forward)(real *xout, real *y, real *rstd, const real *x, const real *delta,
                                   const real *g, int N, int C, real eps)
{
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
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *g = gu + (size_t)n * 2 * F, *u = g + F;
        real *a = act + (size_t)n * F;
        for (int f = 0; f < F; f++) a[f] = g[f] / (1 + exp(-g[f])) * u[f];
    }
}

void OPS(swiglu_backward)(real *dgu, const real *dact, const real *gu, int N, int F)
{
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

/* ======================================================================
 * attention
 * ==================================================================== */

/* Tiles of TILE queries x TILE keys: a score tile S = Q K^T and the
 * products P V, P^T dO, dO V^T, dS K, dS^T Q are small GEMMs on strided
 * rows of qkv (called from inside the parallel loop, OpenBLAS runs them on
 * the calling thread).  The tiles (TILE x TILE) stay in L1/L2. */
enum { TILE = 64 };

static real OPS(dot)(const real *a, const real *b, int n)
{
    real s = 0;
    #pragma omp simd reduction(+:s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void OPS(axpy)(real *y, real a, const real *x, int n)
{
    #pragma omp simd
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

void OPS(flash_attention_forward)(real *out, real *lse, const real *qkv, int B, int T, int NH, int NKV, int hs)
{
    size_t D = (size_t)(NH + 2 * NKV) * hs, C = (size_t)NH * hs;
    int group = NH / NKV, ntiles = (T + TILE - 1) / TILE;
    real scale = 1 / sqrt((real)hs);
    /* causal: query tile t does t+1 key tiles, so hand out tasks dynamically */
    #pragma omp parallel for collapse(3) schedule(dynamic)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int it = 0; it < ntiles; it++) {
                real S[TILE * TILE], m[TILE], l[TILE];
                const real *base = qkv + (size_t)b * T * D;
                const real *K = base + C + (size_t)(h / group) * hs, *Vv = K + (size_t)NKV * hs;
                int i0 = it * TILE, nq = T - i0 < TILE ? T - i0 : TILE;
                const real *Q = base + (size_t)i0 * D + (size_t)h * hs;
                real *O = out + ((size_t)b * T + i0) * C + (size_t)h * hs;   /* the accumulator */
                for (int r = 0; r < nq; r++) { m[r] = -INFINITY; l[r] = 0; memset(O + r * C, 0, hs * sizeof *O); }
                /* online softmax: after each key tile, m = max of the row's
                 * scores so far, l = sum exp(s - m), O = sum exp(s - m) v;
                 * old sums are rescaled by exp(m_old - m_new) when m grows. */
                for (int j0 = 0; j0 < i0 + nq; j0 += TILE) {
                    int nk = i0 + nq - j0 < TILE ? i0 + nq - j0 : TILE;
                    /* S = scale Q K^T  (nq, nk) */
                    OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hs, scale, Q, (int)D,
                             K + (size_t)j0 * D, (int)D, 0, S, TILE);
                    for (int r = 0; r < nq; r++) {
                        real *sr = S + r * TILE, mt = m[r], sum = 0;
                        int jn = i0 + r - j0 + 1 < nk ? i0 + r - j0 + 1 : nk;  /* keys j <= i */
                        for (int j = 0; j < jn; j++) if (sr[j] > mt) mt = sr[j];
                        real corr = exp(m[r] - mt);     /* exp(-inf) = 0 on the first tile */
                        for (int j = 0; j < jn; j++) { sr[j] = exp(sr[j] - mt); sum += sr[j]; }
                        for (int j = jn; j < nk; j++) sr[j] = 0;   /* masked: p = 0 */
                        l[r] = l[r] * corr + sum;
                        m[r] = mt;
                        if (corr != 1) for (int d = 0; d < hs; d++) O[r * C + d] *= corr;
                    }
                    /* O += P V  (nq, hs) */
                    OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hs, nk, 1, S, TILE,
                             Vv + (size_t)j0 * D, (int)D, 1, O, (int)C);
                }
                for (int r = 0; r < nq; r++) {
                    for (int d = 0; d < hs; d++) O[r * C + d] /= l[r];
                    lse[((size_t)b * NH + h) * T + i0 + r] = m[r] + log(l[r]);
                }
            }
}

void OPS(flash_attention_backward)(real *dqkv, const real *dout, const real *out, const real *lse,
                                   const real *qkv, int B, int T, int NH, int NKV, int hs)
{
    /* forward: s_ij = scale q_i.k_j (j <= i),  p_ij = exp(s_ij - lse_i),  o_i = sum_j p_ij v_j
     *   dv_j  += sum_i p_ij do_i                  dV += P^T dO
     *   dp_ij  = do_i . v_j                       dP  = dO V^T
     *   ds_ij  = p_ij (dp_ij - D_i),  D_i = sum_j p_ij dp_ij = do_i . o_i  (softmax backward)
     *   dq_i  += scale sum_j ds_ij k_j            dQ += scale dS K
     *   dk_j  += scale sum_i ds_ij q_i            dK += scale dS^T Q
     * P is recomputed tile by tile from the saved lse.  One task per
     * (b, kv head): it owns that head's dk, dv and the dq of its query
     * heads, so no two threads write the same gradient. */
    size_t D = (size_t)(NH + 2 * NKV) * hs, C = (size_t)NH * hs;
    int group = NH / NKV, ntiles = (T + TILE - 1) / TILE;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel
    {
        real *Di = xmalloc((size_t)T * sizeof *Di);
        real *P = xmalloc(2 * TILE * TILE * sizeof *P), *dS = P + TILE * TILE;
        #pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++)
            for (int kh = 0; kh < NKV; kh++) {
                const real *base = qkv + (size_t)b * T * D;
                real *dbase = dqkv + (size_t)b * T * D;
                size_t koff = C + (size_t)kh * hs, voff = koff + (size_t)NKV * hs;
                for (int h = kh * group; h < (kh + 1) * group; h++) {
                    const real *L = lse + ((size_t)b * NH + h) * T;
                    const real *dO = dout + (size_t)b * T * C + (size_t)h * hs;
                    for (int i = 0; i < T; i++) Di[i] = OPS(dot)(dO + i * C, out + ((size_t)b * T + i) * C + (size_t)h * hs, hs);
                    for (int jt = 0; jt < ntiles; jt++) {
                        int j0 = jt * TILE, nk = T - j0 < TILE ? T - j0 : TILE;
                        for (int it = jt; it < ntiles; it++) {
                            int i0 = it * TILE, nq = T - i0 < TILE ? T - i0 : TILE;
                            const real *Q = base + (size_t)i0 * D + (size_t)h * hs;
                            /* S = scale Q K^T, then P = exp(S - lse), 0 where j > i */
                            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hs, scale, Q, (int)D,
                                     base + (size_t)j0 * D + koff, (int)D, 0, P, TILE);
                            for (int r = 0; r < nq; r++) {
                                int jn = i0 + r - j0 + 1 < nk ? i0 + r - j0 + 1 : nk;
                                for (int j = 0; j < jn; j++) P[r * TILE + j] = exp(P[r * TILE + j] - L[i0 + r]);
                                for (int j = jn; j < nk; j++) P[r * TILE + j] = 0;
                            }
                            /* dV += P^T dO */
                            OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hs, nq, 1, P, TILE,
                                     dO + (size_t)i0 * C, (int)C, 1, dbase + (size_t)j0 * D + voff, (int)D);
                            /* dP = dO V^T, then dS = P (dP - D) */
                            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hs, 1, dO + (size_t)i0 * C,
                                     (int)C, base + (size_t)j0 * D + voff, (int)D, 0, dS, TILE);
                            for (int r = 0; r < nq; r++)
                                for (int j = 0; j < nk; j++)
                                    dS[r * TILE + j] = P[r * TILE + j] * (dS[r * TILE + j] - Di[i0 + r]);
                            /* dQ += scale dS K,  dK += scale dS^T Q */
                            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hs, nk, scale, dS, TILE,
                                     base + (size_t)j0 * D + koff, (int)D, 1, dbase + (size_t)i0 * D + (size_t)h * hs, (int)D);
                            OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hs, nq, scale, dS, TILE,
                                     Q, (int)D, 1, dbase + (size_t)j0 * D + koff, (int)D);
                        }
                    }
                }
            }
        free(Di);
        free(P);
    }
}

void OPS(attention_plain_forward)(real *out, real *att, const real *qkv, int B, int T, int NH, int NKV, int hs)
{
    size_t D = (size_t)(NH + 2 * NKV) * hs, C = (size_t)NH * hs;
    int group = NH / NKV;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const real *base = qkv + (size_t)b * T * D;
            size_t koff = C + (size_t)(h / group) * hs, voff = koff + (size_t)NKV * hs;
            for (int i = 0; i < T; i++) {
                real *a = att + (((size_t)b * NH + h) * T + i) * T, mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    a[j] = j <= i ? scale * OPS(dot)(base + i * D + (size_t)h * hs, base + j * D + koff, hs) : -INFINITY;
                    if (a[j] > mx) mx = a[j];
                }
                for (int j = 0; j < T; j++) { a[j] = exp(a[j] - mx); sum += a[j]; }
                real *o = out + ((size_t)b * T + i) * C + (size_t)h * hs;
                memset(o, 0, hs * sizeof *o);
                for (int j = 0; j < T; j++) { a[j] /= sum; OPS(axpy)(o, a[j], base + j * D + voff, hs); }
            }
        }
}

void OPS(attention_plain_backward)(real *dqkv, const real *dout, const real *att, const real *qkv,
                                   int B, int T, int NH, int NKV, int hs)
{
    /* the same derivatives as attention_backward, with p_ij read from att
     * and D_i = sum_j p_ij dp_ij computed directly.  Serial: it is a reference. */
    size_t D = (size_t)(NH + 2 * NKV) * hs, C = (size_t)NH * hs;
    int group = NH / NKV;
    real scale = 1 / sqrt((real)hs);
    real *dp = xmalloc((size_t)T * sizeof *dp);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const real *base = qkv + (size_t)b * T * D;
            real *dbase = dqkv + (size_t)b * T * D;
            size_t koff = C + (size_t)(h / group) * hs, voff = koff + (size_t)NKV * hs;
            for (int i = 0; i < T; i++) {
                const real *p = att + (((size_t)b * NH + h) * T + i) * T;
                const real *dO = dout + ((size_t)b * T + i) * C + (size_t)h * hs;
                real Dsum = 0;
                for (int j = 0; j <= i; j++) {
                    dp[j] = OPS(dot)(dO, base + j * D + voff, hs);
                    Dsum += p[j] * dp[j];
                    OPS(axpy)(dbase + j * D + voff, p[j], dO, hs);
                }
                for (int j = 0; j <= i; j++) {
                    real ds = p[j] * (dp[j] - Dsum);
                    OPS(axpy)(dbase + i * D + (size_t)h * hs, scale * ds, base + j * D + koff, hs);
                    OPS(axpy)(dbase + j * D + koff, scale * ds, base + i * D + (size_t)h * hs, hs);
                }
            }
        }
    free(dp);
}
