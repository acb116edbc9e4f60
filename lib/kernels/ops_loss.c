/* ops_loss.c - softmax + cross-entropy, fused, for every model level (see
 * ops.h for the conventions): the custom and baseline levels (gpt2/gpt2.c,
 * llama/llama.c) in row chunks together with the output projection, or on
 * whole logits in their plain reference paths, the autograd level's
 * cross_entropy op
 * (autograd/ag.c) forward and backward.  Fusing softmax and loss avoids
 * ever storing the probabilities: the forward pass keeps only lse, the log
 * of each row's normaliser, and the backward pass recomputes
 * p = exp(z - lse) as it goes.
 *
 * Like llama/llama_ops.c, this file is written over the type `real` and
 * compiled twice: over float as part of libtfs, and over double with
 * names suffixed _f64 (kernels/real.h) by the double-precision gradient
 * checks, tests/unit/test_llama_ops.c and the
 * AG_DOUBLE build of autograd/ag.c.
 *
 * Dimension legend: N rows (positions), C width, V vocabulary.
 *   logits, dlogits (N, V)    targets, losses, dlosses, lse (N)
 *   x, dx (N, C)   W, dW (V, C) the output projection, z (CE_CHUNK, V) scratch
 */
#include "kernels/ops.h"
#include "kernels/fastmath.h"
#include "kernels/real.h"
#include "kernels/isa.h"          /* ISA_DISPATCH: after real.h */

#include <stddef.h>

/* Up to this many rows the loops stay on the calling thread: a thread team
 * costs more than a few rows, and a process forked after the team was made
 * (a test's EXPECT_DIE child) could not start one. */
enum { CE_SERIAL_ROWS = 16 };

/* e^-a for a >= 0: fastmath.h's vectorizable one in float, libm's in
 * double (the finite-difference checks need double precision).  The test
 * is on a constant: the compiler keeps one branch. */
static inline real OPS(ce_exp_neg)(real a)
{
    return sizeof(real) == sizeof(float) ? (real)exp_neg((float)a) : exp(-a);
}

/* loss = -log p[y] = -log(exp(z[y]) / sum_v exp(z[v])) = lse - z[y], with
 * lse = m + log sum_v exp(z[v] - m) for the row maximum m (no overflow).
 * targets may be NULL: then only lse is computed. */
void OPS(crossentropy_forward)(real *losses, real *lse, const real *logits, const uint32_t *targets,
                               int N, int V)
{
    ISA_DISPATCH(crossentropy_forward, losses, lse, logits, targets, N, V);
    #pragma omp parallel for if (N > CE_SERIAL_ROWS)
    for (int n = 0; n < N; n++) {
        const real *z = logits + (size_t)n * V;
        real m = z[0];
        #pragma omp simd reduction(max : m)
        for (int v = 1; v < V; v++) m = z[v] > m ? z[v] : m;
        real sum = 0;
        #pragma omp simd reduction(+ : sum)
        for (int v = 0; v < V; v++) sum += OPS(ce_exp_neg)(m - z[v]);
        lse[n] = m + log(sum);
        if (targets) losses[n] = lse[n] - z[targets[n]];
    }
}

/* One row of the backward pass.
 * forward:  loss = lse(z) - z[y]
 * =>        dloss/dz[v] = exp(z[v] - lse) - [v = y] = p[v] - onehot(y)[v]
 *           dz[v] += dl * (p[v] - [v = y])
 * With in_place, dz is z itself and receives the gradient instead of the
 * logits (from zero, the same values as adding into a zeroed dz). */
static void OPS(ce_row_backward)(real *dz, const real *z, real lse, uint32_t y, real dl, int V, int in_place)
{
    if (in_place) {
        #pragma omp simd
        for (int v = 0; v < V; v++) dz[v] = dl * OPS(ce_exp_neg)(lse - z[v]);    /* lse >= z[v] */
    } else {
        #pragma omp simd
        for (int v = 0; v < V; v++) dz[v] += dl * OPS(ce_exp_neg)(lse - z[v]);
    }
    dz[y] -= dl;
}

/* dlogits == logits: in place (ops.h), each element read before it is written */
void OPS(crossentropy_backward)(real *dlogits, const real *dlosses, const real *logits, const real *lse,
                                const uint32_t *targets, int N, int V)
{
    ISA_DISPATCH(crossentropy_backward, dlogits, dlosses, logits, lse, targets, N, V);
    int in_place = dlogits == logits;
    #pragma omp parallel for if (N > CE_SERIAL_ROWS)
    for (int n = 0; n < N; n++)
        OPS(ce_row_backward)(dlogits + (size_t)n * V, logits + (size_t)n * V, lse[n], targets[n], dlosses[n],
                             V, in_place);
}

/* ---- in row chunks, with the output projection ---- */

/* The projection z = x @ W^T without bias, over `real` (in float the same
 * GEMMs as linear_forward/backward, ops_linear.c; the double build needs
 * its own). */
static void OPS(proj_forward)(real *y, const real *x, const real *W, int N, int Din, int Dout)
{
    /* y (N, Dout) = x (N, Din) @ W^T, W (Dout, Din) */
    OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, Dout, Din, 1, x, Din, W, Din, 0, y, Dout);
}

static void OPS(proj_backward)(real *dx, real *dW, const real *dy, const real *x, const real *W,
                               int N, int Din, int Dout)
{
    /* forward: y = x W^T   =>   dx += dy W,   dW += dy^T x */
    OPS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Din, Dout, 1, dy, Dout, W, Din, 1, dx, Din);
    OPS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, Dout, Din, N, 1, dy, Dout, x, Din, 1, dW, Din);
}

void OPS(crossentropy_chunked_forward)(real *losses, real *z, const real *x, const real *W,
                                       const uint32_t *targets, int N, int C, int V)
{
    ISA_DISPATCH(crossentropy_chunked_forward, losses, z, x, W, targets, N, C, V);
    real lse[CE_CHUNK];
    for (int n0 = 0; n0 < N; n0 += CE_CHUNK) {
        int rows = N - n0 < CE_CHUNK ? N - n0 : CE_CHUNK;
        OPS(proj_forward)(z, x + (size_t)n0 * C, W, rows, C, V);
        OPS(crossentropy_forward)(losses + n0, lse, z, targets + n0, rows, V);
    }
}

/* Each chunk: its logits again (one more GEMM), their lse, the logits'
 * gradient in place of the logits, then the projection's backward. */
void OPS(crossentropy_chunked_backward)(real *dx, real *dW, real *z, const real *x, const real *W,
                                        const uint32_t *targets, real dloss, int N, int C, int V)
{
    ISA_DISPATCH(crossentropy_chunked_backward, dx, dW, z, x, W, targets, dloss, N, C, V);
    real lse[CE_CHUNK];
    for (int n0 = 0; n0 < N; n0 += CE_CHUNK) {
        int rows = N - n0 < CE_CHUNK ? N - n0 : CE_CHUNK;
        OPS(proj_forward)(z, x + (size_t)n0 * C, W, rows, C, V);
        OPS(crossentropy_forward)(NULL, lse, z, NULL, rows, V);
        #pragma omp parallel for if (rows > CE_SERIAL_ROWS)
        for (int r = 0; r < rows; r++)
            OPS(ce_row_backward)(z + (size_t)r * V, z + (size_t)r * V, lse[r], targets[n0 + r], dloss, V, 1);
        OPS(proj_backward)(dx + (size_t)n0 * C, dW, z, x + (size_t)n0 * C, W, rows, C, V);
    }
}
