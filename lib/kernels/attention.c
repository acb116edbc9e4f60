/* attention.c - causal self-attention, forward and backward, plain and
 * tiled, and the KV-cache step.  The interface, the layout of qkv and the
 * legend are in attention.h; here each backward restates the forward it
 * differentiates.
 *
 * This file is compiled twice: as part of libtfs over float, and by the
 * unit tests over double (kernels/real.h, as for lib/llama/llama_ops.c).
 *
 * Every product is a GEMM on strided views of qkv: for one head, Q, K and V
 * are (T, hs) matrices with a row stride of D, its output a (T, hs) block
 * of out with a row stride of C.  The backward passes cost O(T^2 hs) per
 * head, like the forward: they use the softmax Jacobian in its closed form
 * (dS = P * (dP - rowsum(P * dP))), never element by element.
 *
 * Parallelism: one task per (b, head) or per (b, query tile).  OpenBLAS's
 * OpenMP build sees that it is called inside a parallel region and runs
 * each GEMM on the calling thread, so the tasks do not oversubscribe the
 * cores.  A backward task owns one kv head, so with grouped-query attention
 * the query heads that share its dk and dv run in the same task, and no
 * two threads write the same gradient.
 */
#include "kernels/attention.h"      /* the float prototypes */
#include "kernels/fastmath.h"
#ifndef OPS_REAL
#define OPS_EXP_NEG exp_neg         /* e^-a, vectorizable (fastmath.h) */
#endif
#include "kernels/real.h"           /* real: float here, double in the checks */
#include "kernels/isa.h"          /* ISA_DISPATCH: after real.h */
#ifndef OPS_EXP_NEG
#define OPS_EXP_NEG(a) exp(-(a))    /* the double build: libm */
#endif

#include <stdlib.h>
#include <string.h>

#include "core/xio.h"

/* ======================================================================
 * the softmax of one row
 * ==================================================================== */

void OPS(softmax_prefix)(real *row, int valid, int n)
{
    ISA_DISPATCH(softmax_prefix, row, valid, n);
    real mx = row[0];
    #pragma omp simd reduction(max : mx)
    for (int j = 1; j < valid; j++) mx = row[j] > mx ? row[j] : mx;
    real sum = 0;
    /* exp(s - max) <= 1 cannot overflow */
    #pragma omp simd reduction(+ : sum)
    for (int j = 0; j < valid; j++) { row[j] = OPS_EXP_NEG(mx - row[j]); sum += row[j]; }
    real inv = 1 / sum;
    #pragma omp simd
    for (int j = 0; j < valid; j++) row[j] *= inv;
    for (int j = valid; j < n; j++) row[j] = 0;
}

void OPS(softmax_prefix_backward)(real *dx, const real *p, const real *dp, int n, int accumulate)
{
    ISA_DISPATCH(softmax_prefix_backward, dx, p, dp, n, accumulate);
    /* p_j = exp(x_j) / sum_k exp(x_k), so
     *   dx_j = sum_k dp_k p_k ([j = k] - p_j) = p_j (dp_j - sum_k p_k dp_k) */
    real dot = 0;
    #pragma omp simd reduction(+ : dot)
    for (int j = 0; j < n; j++) dot += p[j] * dp[j];
    if (accumulate) {
        #pragma omp simd
        for (int j = 0; j < n; j++) dx[j] += p[j] * (dp[j] - dot);
    } else {
        #pragma omp simd
        for (int j = 0; j < n; j++) dx[j] = p[j] * (dp[j] - dot);
    }
}

/* ======================================================================
 * plain: the whole (T, T) score matrix of a head at once
 * ==================================================================== */

/* S = s Q K^T (s = 1/sqrt(hs));  P = softmax over each row, keys j <= t only;  O = P V */
void OPS(attention_forward)(real *out, real *att, const real *qkv, int B, int T, int NH, int NKV, int hs)
{
    ISA_DISPATCH(attention_forward, out, att, qkv, B, T, NH, NKV, hs);
    int D = (NH + 2 * NKV) * hs, C = NH * hs, group = NH / NKV;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const real *base = qkv + (size_t)b * T * D, *q = base + h * hs;
            const real *k = base + C + (h / group) * hs, *v = k + NKV * hs;
            real *P = att + ((size_t)b * NH + h) * T * T;
            real *o = out + (size_t)b * T * C + h * hs;
            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, D, k, D, 0, P, T);
            for (int t = 0; t < T; t++) OPS(softmax_prefix)(P + (size_t)t * T, t + 1, T);
            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1, P, T, v, D, 0, o, C);
        }
}

/* forward:  S = s Q K^T,  P = causal_softmax(S),  O = P V
 * =>  dV += P^T dO                       (T, hs)
 *     dP  = dO V^T                       (T, T), into scratch
 *     dS  = P (dP - rowsum(P dP))        softmax_prefix_backward, in place
 *     (masked entries have P = 0, so they get dS = 0 by themselves)
 *     dQ += s dS K,   dK += s dS^T Q */
void OPS(attention_backward)(real *dqkv, real *scratch, const real *dout, const real *qkv, const real *att,
                             int B, int T, int NH, int NKV, int hs)
{
    ISA_DISPATCH(attention_backward, dqkv, scratch, dout, qkv, att, B, T, NH, NKV, hs);
    int D = (NH + 2 * NKV) * hs, C = NH * hs, group = NH / NKV;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int kh = 0; kh < NKV; kh++)
            for (int h = kh * group; h < (kh + 1) * group; h++) {
                size_t bo = (size_t)b * T * D, ko = (size_t)C + (size_t)kh * hs, vo = ko + (size_t)NKV * hs;
                const real *q = qkv + bo + h * hs, *k = qkv + bo + ko, *v = qkv + bo + vo;
                real *dq = dqkv + bo + h * hs, *dk = dqkv + bo + ko, *dv = dqkv + bo + vo;
                const real *P = att + ((size_t)b * NH + h) * T * T;
                real *dS = scratch + ((size_t)b * NH + h) * T * T;
                const real *dO = dout + (size_t)b * T * C + h * hs;
                OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1, P, T, dO, C, 1, dv, D);
                OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1, dO, C, v, D, 0, dS, T);
                for (int t = 0; t < T; t++) {
                    real *d = dS + (size_t)t * T;
                    OPS(softmax_prefix_backward)(d, P + (size_t)t * T, d, t + 1, 0);
                    for (int j = t + 1; j < T; j++) d[j] = 0;
                }
                OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, dS, T, k, D, 1, dq, D);
                OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, dS, T, q, D, 1, dk, D);
            }
}

/* ======================================================================
 * tiled: flash attention
 * ==================================================================== */

/* Tiles of up to TQ queries x up to TK keys: a score tile S = Q K^T and
 * the products P V, P^T dO, dO V^T, dS K, dS^T Q are small GEMMs on
 * strided rows of qkv.  The tiles (at most TQ x TK) stay in L1/L2.
 *
 * At a long T (> TK) the tiles are TQ x TQ, so the memory per task stays
 * O(TQ^2) whatever T is.  At a short T the key tile is the whole sequence
 * (key_tile) and the query tile TQ_SHORT rows (query_tile): 2 + 5 GEMM
 * calls per query tile instead of 2 + 5 per (query tile, key tile) pair,
 * and a query tile never multiplies the keys after its last query, so
 * with thinner query tiles less of the causal triangle's empty half is
 * computed and masked.  At the tiny config (T = 128, hs = 32) attention
 * took about 12% less time (1 thread) with 32-row query tiles than with
 * 64 x 128 tiles, and 16 rows were no better; at T = 512, 32 x 32 tiles
 * were slower than 64 x 64.  The key tile is a multiple of the query
 * tile, so a key tile never starts after its query tile's first query,
 * and every row has at least one key in its first key tile. */
enum { TQ = 64, TK = 128, TQ_SHORT = 32 };

static int key_tile(int T) { return T <= TK ? TK : TQ; }
static int query_tile(int T) { return T <= TK ? TQ_SHORT : TQ; }

static real OPS(dot)(const real *a, const real *b, int n)
{
    real s = 0;
    #pragma omp simd reduction(+:s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Xt = the (n, hs) rows of X (row stride D) transposed: (hs, n), row
 * stride TK.  With K^T stored, S = Q K^T is a plain product (NoTrans,
 * NoTrans) instead of one with its second operand transposed, and
 * OpenBLAS runs that one about 1.5x faster at these sizes: its
 * small-matrix kernel takes it, without packing copies (64 x 64 x 32:
 * 2.5 against 4 microseconds, 1 thread, the Zen 4 of the README).  The
 * copy is n hs floats for a GEMM of nq n hs multiply-adds.  The same for
 * dP = dO V^T in the backward pass. */
static void OPS(transpose_tile)(real *Xt, const real *X, size_t D, int n, int hs)
{
    for (int j = 0; j < n; j++)
        for (int d = 0; d < hs; d++) Xt[(size_t)d * TK + j] = X[(size_t)j * D + d];
}

void OPS(attention_tiled_forward)(real *out, real *lse, const real *qkv, int B, int T, int NH, int NKV, int hs)
{
    ISA_DISPATCH(attention_tiled_forward, out, lse, qkv, B, T, NH, NKV, hs);
    size_t D = (size_t)(NH + 2 * NKV) * hs, C = (size_t)NH * hs;
    int group = NH / NKV, tq = query_tile(T), ntiles = (T + tq - 1) / tq, kt = key_tile(T);
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel
    {
        real *Kt = xmalloc((size_t)hs * TK * sizeof *Kt);   /* a key tile, transposed */
        /* One task per (b, h), its query tiles in order: at a short T every
         * query tile has the one key tile at j0 = 0, and tile t sees the
         * keys of tile t - 1 and more, so Kt keeps the keys already
         * transposed and each key is transposed once per head (T rows,
         * not the 320 of 4 query tiles at T = 128).  The arithmetic of a
         * query tile is the same as with one task per tile. */
        #pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                int kj0 = -1, have = 0;    /* Kt holds keys [kj0, kj0 + have) of this head */
                for (int it = 0; it < ntiles; it++) {
                    real S[TQ * TK], m[TQ], l[TQ];
                    const real *base = qkv + (size_t)b * T * D;
                    const real *K = base + C + (size_t)(h / group) * hs, *Vv = K + (size_t)NKV * hs;
                    int i0 = it * tq, nq = T - i0 < tq ? T - i0 : tq;
                    const real *Q = base + (size_t)i0 * D + (size_t)h * hs;
                    real *O = out + ((size_t)b * T + i0) * C + (size_t)h * hs;   /* the accumulator */
                    for (int r = 0; r < nq; r++) { m[r] = -INFINITY; l[r] = 0; }
                    /* online softmax: after each key tile, m = max of the row's
                     * scores so far, l = sum exp(s - m), O = sum exp(s - m) v;
                     * old sums are rescaled by exp(m_old - m_new) when m grows.
                     * The first key tile starts the sums: O = P V (beta 0), so
                     * O is neither zeroed nor rescaled before it. */
                    for (int j0 = 0; j0 < i0 + nq; j0 += kt) {
                        int nk = i0 + nq - j0 < kt ? i0 + nq - j0 : kt;
                        /* S = scale Q K^T  (nq, nk); only the keys Kt lacks are transposed */
                        if (j0 != kj0) { kj0 = j0; have = 0; }
                        if (nk > have) {
                            OPS(transpose_tile)(Kt + have, K + (size_t)(j0 + have) * D, D, nk - have, hs);
                            have = nk;
                        }
                        OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, nk, hs, scale, Q, (int)D,
                                 Kt, TK, 0, S, TK);
                        for (int r = 0; r < nq; r++) {
                            real *sr = S + r * TK, mt = m[r], sum = 0;
                            int jn = i0 + r - j0 + 1 < nk ? i0 + r - j0 + 1 : nk;  /* keys j <= i */
                            #pragma omp simd reduction(max : mt)
                            for (int j = 0; j < jn; j++) mt = sr[j] > mt ? sr[j] : mt;
                            /* corr = exp(m_old - m_new), 0 on the first tile (m_old = -inf) */
                            real corr = m[r] == -INFINITY ? 0 : OPS_EXP_NEG(mt - m[r]);
                            /* exp(s - m) with s <= m: e^-a for a >= 0, as softmax_prefix */
                            #pragma omp simd reduction(+ : sum)
                            for (int j = 0; j < jn; j++) { sr[j] = OPS_EXP_NEG(mt - sr[j]); sum += sr[j]; }
                            for (int j = jn; j < nk; j++) sr[j] = 0;   /* masked: p = 0 */
                            l[r] = l[r] * corr + sum;
                            m[r] = mt;
                            if (j0 > 0 && corr != 1) {
                                #pragma omp simd
                                for (int d = 0; d < hs; d++) O[r * C + d] *= corr;
                            }
                        }
                        /* O += P V  (nq, hs);  on the first key tile O = P V */
                        OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hs, nk, 1, S, TK,
                                 Vv + (size_t)j0 * D, (int)D, j0 > 0 ? 1 : 0, O, (int)C);
                    }
                    for (int r = 0; r < nq; r++) {
                        real lr = l[r];
                        #pragma omp simd
                        for (int d = 0; d < hs; d++) O[r * C + d] /= lr;
                        lse[((size_t)b * NH + h) * T + i0 + r] = m[r] + log(l[r]);
                    }
                }
            }
        free(Kt);
    }
}

void OPS(attention_tiled_backward)(real *dqkv, const real *dout, const real *out, const real *lse,
                                   const real *qkv, int B, int T, int NH, int NKV, int hs)
{
    ISA_DISPATCH(attention_tiled_backward, dqkv, dout, out, lse, qkv, B, T, NH, NKV, hs);
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
    int group = NH / NKV, kt = key_tile(T), tq = query_tile(T), nqt = (T + tq - 1) / tq;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel
    {
        real *Di = xmalloc((size_t)T * sizeof *Di);
        real *P = xmalloc(2 * TQ * TK * sizeof *P), *dS = P + TQ * TK;
        real *Kt = xmalloc(2 * (size_t)hs * TK * sizeof *Kt), *Vt = Kt + (size_t)hs * TK;  /* transposed tiles */
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
                    for (int j0 = 0; j0 < T; j0 += kt) {
                        /* K^T and V^T of every key of the tile the query tiles can see */
                        int nkmax = T - j0 < kt ? T - j0 : kt;
                        OPS(transpose_tile)(Kt, base + (size_t)j0 * D + koff, D, nkmax, hs);
                        OPS(transpose_tile)(Vt, base + (size_t)j0 * D + voff, D, nkmax, hs);
                        /* the query tiles that see any key of this key tile: i >= j0 */
                        for (int it = j0 / tq; it < nqt; it++) {
                            int i0 = it * tq, nq = T - i0 < tq ? T - i0 : tq;
                            /* keys after the tile's last query are masked for all its rows */
                            int nk = i0 + nq - j0 < kt ? i0 + nq - j0 : kt;
                            const real *Q = base + (size_t)i0 * D + (size_t)h * hs;
                            /* S = scale Q K^T, then P = exp(S - lse), 0 where j > i */
                            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, nk, hs, scale, Q, (int)D,
                                     Kt, TK, 0, P, TK);
                            for (int r = 0; r < nq; r++) {
                                int jn = i0 + r - j0 + 1 < nk ? i0 + r - j0 + 1 : nk;
                                real *pr = P + r * TK, lr = L[i0 + r];
                                /* s <= lse, so exp(s - lse) = e^-(lse - s), a >= 0 */
                                #pragma omp simd
                                for (int j = 0; j < jn; j++) pr[j] = OPS_EXP_NEG(lr - pr[j]);
                                for (int j = jn; j < nk; j++) pr[j] = 0;
                            }
                            /* dV += P^T dO */
                            OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hs, nq, 1, P, TK,
                                     dO + (size_t)i0 * C, (int)C, 1, dbase + (size_t)j0 * D + voff, (int)D);
                            /* dP = dO V^T, then dS = P (dP - D) */
                            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, nk, hs, 1, dO + (size_t)i0 * C,
                                     (int)C, Vt, TK, 0, dS, TK);
                            for (int r = 0; r < nq; r++) {
                                real *dr = dS + r * TK, dd = Di[i0 + r];
                                const real *pr = P + r * TK;
                                #pragma omp simd
                                for (int j = 0; j < nk; j++) dr[j] = pr[j] * (dr[j] - dd);
                            }
                            /* dQ += scale dS K,  dK += scale dS^T Q */
                            OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hs, nk, scale, dS, TK,
                                     base + (size_t)j0 * D + koff, (int)D, 1, dbase + (size_t)i0 * D + (size_t)h * hs, (int)D);
                            OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hs, nq, scale, dS, TK,
                                     Q, (int)D, 1, dbase + (size_t)j0 * D + koff, (int)D);
                        }
                    }
                }
            }
        free(Di);
        free(P);
        free(Kt);
    }
}

/* ======================================================================
 * looking inside: the probabilities of one sequence
 * ==================================================================== */

/* The P of attention_forward for one sequence (B = 1), every head, for
 * tfs-eval --attention: P[h][i][j] = softmax_j(s q_i.k_j), j <= i, with
 * q_i the query of head h and k_j the key of its kv head h / (NH/NKV);
 * zero above the diagonal, so each row sums to 1.  The tiled path never
 * holds P, so this recomputes it from the layer's qkv (T, D). */
void OPS(attention_probs)(real *P, const real *qkv, int T, int NH, int NKV, int hs)
{
    int D = (NH + 2 * NKV) * hs, C = NH * hs, group = NH / NKV;
    real scale = 1 / sqrt((real)hs);
    for (int h = 0; h < NH; h++) {
        real *Ph = P + (size_t)h * T * T;
        /* S = s Q K^T  (T, T), then the causal softmax of each row */
        OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, qkv + h * hs, D,
                 qkv + C + (h / group) * hs, D, 0, Ph, T);
        for (int t = 0; t < T; t++) OPS(softmax_prefix)(Ph + (size_t)t * T, t + 1, T);
    }
}

/* ======================================================================
 * the KV-cache step
 * ==================================================================== */

/* The forward pass's last row only (t = len - 1): the new query against
 * every cached key of its kv head, no mask needed. */
void OPS(attention_step)(real *out, real *scratch, const real *q, const real *kcache, const real *vcache,
                         int len, int NH, int NKV, int hs)
{
    ISA_DISPATCH(attention_step, out, scratch, q, kcache, vcache, len, NH, NKV, hs);
    int KVD = NKV * hs, group = NH / NKV;
    real scale = 1 / sqrt((real)hs);
    #pragma omp parallel for if (len * NH * hs > 32768)
    for (int h = 0; h < NH; h++) {
        const real *qh = q + h * hs, *kh = kcache + (h / group) * hs, *vh = vcache + (h / group) * hs;
        real *s = scratch + (size_t)h * len, *o = out + h * hs;
        for (int j = 0; j < len; j++) s[j] = OPS(dot)(qh, kh + (size_t)j * KVD, hs) * scale;
        OPS(softmax_prefix)(s, len, len);
        for (int i = 0; i < hs; i++) o[i] = 0;
        for (int j = 0; j < len; j++) {
            const real *vj = vh + (size_t)j * KVD;
            #pragma omp simd
            for (int i = 0; i < hs; i++) o[i] += s[j] * vj[i];
        }
    }
}
