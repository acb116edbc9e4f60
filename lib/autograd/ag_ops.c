/* ag_ops.c - the autograd operations, forward: each computes its output
 * and, through ag_op_result (ag.c), records itself for the backward pass.
 * Their chain rules are in ag_grad.c; the ideas and rules in ag.h.
 *
 * Notation in the comments: shapes use the names of the arguments; rows is
 * the product of all dimensions but the last.
 */
#include "autograd/ag.h"
#include "autograd/ag_internal.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xio.h"

/* The BLAS routine for ag_real: single or double precision GEMM. */
void ag_gemm(int ta, int tb, int M, int N, int K, const ag_real *A, int lda,
             const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc)
{
    /* C (M, N) = op(A) (M, K) @ op(B) (K, N) + beta * C, row-major */
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
#ifdef AG_DOUBLE
    cblas_dgemm(CblasRowMajor, TA, TB, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
#endif
}

/* ===================================================================== */
/* Operations (forward)                                                  */
/* ===================================================================== */

/* b broadcasts over a when b's shape is a's last b->ndim dimensions. */
static size_t broadcast_inner(const char *op, const struct ag_tensor *a, const struct ag_tensor *b)
{
    int ok = b->ndim <= a->ndim;
    for (int i = 0; ok && i < b->ndim; i++) ok = b->shape[i] == a->shape[a->ndim - b->ndim + i];
    if (!ok) {
        char sa[64], sb[64];
        die("%s: shapes %s and %s do not broadcast (the second must match the last dimensions "
            "of the first)", op, ag_shape_str(a, sa, sizeof sa), ag_shape_str(b, sb, sizeof sb));
    }
    return b->n;
}

struct ag_tensor *ag_add(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b)
{
    size_t nb = broadcast_inner("ag_add", a, b), outer = a->n / nb;
    struct ag_tensor *y = ag_op_result(ctx, AG_ADD, a->ndim, a->shape, a, b, NULL);
    const ag_real *A = a->data, *Bv = b->data;
    ag_real *Y = y->data;
    /* y[o, i] = a[o, i] + b[i] */
    #pragma omp parallel for if (a->n > 65536)
    for (size_t o = 0; o < outer; o++)
        #pragma omp simd
        for (size_t i = 0; i < nb; i++) Y[o * nb + i] = A[o * nb + i] + Bv[i];
    return y;
}

struct ag_tensor *ag_mul(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b)
{
    size_t nb = broadcast_inner("ag_mul", a, b), outer = a->n / nb;
    struct ag_tensor *y = ag_op_result(ctx, AG_MUL, a->ndim, a->shape, a, b, NULL);
    const ag_real *A = a->data, *Bv = b->data;
    ag_real *Y = y->data;
    /* y[o, i] = a[o, i] * b[i] */
    #pragma omp parallel for if (a->n > 65536)
    for (size_t o = 0; o < outer; o++)
        #pragma omp simd
        for (size_t i = 0; i < nb; i++) Y[o * nb + i] = A[o * nb + i] * Bv[i];
    return y;
}

struct ag_tensor *ag_scale(struct ag_ctx *ctx, struct ag_tensor *a, ag_real s)
{
    struct ag_tensor *y = ag_op_result(ctx, AG_SCALE, a->ndim, a->shape, a, NULL, NULL);
    y->farg = s;
    const ag_real *A = a->data;
    ag_real *Y = y->data;
    #pragma omp parallel for simd if (a->n > 65536)
    for (size_t i = 0; i < a->n; i++) Y[i] = s * A[i];
    return y;
}

struct mm_dims ag_mm_dims(const struct ag_tensor *a, const struct ag_tensor *b, int tb)
{
    char sa[64], sb[64];
    struct mm_dims d = { 1, 0, 0, 0, b->ndim == 2, tb };
    if (a->ndim < 2 || b->ndim < 2) die("ag_matmul: operands must have at least 2 dimensions, got %s and %s",
                                        ag_shape_str(a, sa, sizeof sa), ag_shape_str(b, sb, sizeof sb));
    d.M = a->shape[a->ndim - 2];
    d.K = a->shape[a->ndim - 1];
    int bk = tb ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
    d.N = tb ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
    int ok = bk == d.K;
    if (!d.shared) {
        ok = ok && b->ndim == a->ndim;
        for (int i = 0; ok && i < a->ndim - 2; i++) ok = a->shape[i] == b->shape[i];
    }
    if (!ok) die("ag_matmul%s: shapes %s and %s do not multiply", tb ? "_t" : "",
                 ag_shape_str(a, sa, sizeof sa), ag_shape_str(b, sb, sizeof sb));
    for (int i = 0; i < a->ndim - 2; i++) d.batch *= a->shape[i];
    if (d.shared) { d.M *= d.batch; d.batch = 1; }
    return d;
}

static struct ag_tensor *matmul(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b, int tb)
{
    struct mm_dims d = ag_mm_dims(a, b, tb);
    int shape[AG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = d.N;
    struct ag_tensor *y = ag_op_result(ctx, AG_MATMUL, a->ndim, shape, a, b, NULL);
    y->iarg[0] = tb;
    size_t sa = (size_t)d.M * d.K, sb = d.shared ? 0 : (size_t)d.K * d.N, sy = (size_t)d.M * d.N;
    /* y = a @ op(b): one GEMM, or one per matrix of the batch */
    #pragma omp parallel for if (d.batch > 1)
    for (int i = 0; i < d.batch; i++)
        ag_gemm(0, tb, d.M, d.N, d.K, a->data + i * sa, d.K, b->data + i * sb, tb ? d.K : d.N,
             0, y->data + i * sy, d.N);
    return y;
}

struct ag_tensor *ag_matmul(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b) { return matmul(ctx, a, b, 0); }
struct ag_tensor *ag_matmul_t(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b) { return matmul(ctx, a, b, 1); }

struct ag_tensor *ag_reshape(struct ag_ctx *ctx, struct ag_tensor *x, int ndim, const int *shape)
{
    int s[AG_MAX_DIMS], infer = -1;
    size_t known = 1;
    if (ndim < 0 || ndim > AG_MAX_DIMS) die("ag_reshape: %d dimensions; at most %d are supported", ndim, AG_MAX_DIMS);
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) infer = i;
        else known *= (size_t)(s[i] > 0 ? s[i] : 0);
    }
    if (infer >= 0 && known > 0 && x->n % known == 0) s[infer] = (int)(x->n / known);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)(s[i] > 0 ? s[i] : 0);
    if (n != x->n) {
        char sx[64];
        die("ag_reshape: cannot view %s (%zu elements) with the requested shape", ag_shape_str(x, sx, sizeof sx), x->n);
    }
    struct ag_tensor *y = ag_op_result(ctx, AG_RESHAPE, ndim, s, x, NULL, NULL);
    y->data = x->data;          /* a view: the same elements */
    return y;
}

/* Copy between x and its transpose y = x.transpose(d0, d1), both seen as 4-d
 * (leading 1s).  With acc, add y's values back into x's positions
 * (the backward pass); otherwise copy x's into y. */
void ag_transpose_loop(ag_real *x, ag_real *y, const struct ag_tensor *xt, int d0, int d1, int acc)
{
    int off = AG_MAX_DIMS - xt->ndim, sh[AG_MAX_DIMS];
    size_t st[AG_MAX_DIMS];                     /* x's strides, then permuted to y's order */
    for (int i = 0; i < AG_MAX_DIMS; i++) sh[i] = i < off ? 1 : xt->shape[i - off];
    st[AG_MAX_DIMS - 1] = 1;
    for (int i = AG_MAX_DIMS - 2; i >= 0; i--) st[i] = st[i + 1] * (size_t)sh[i + 1];
    d0 += off; d1 += off;
    int ysh[AG_MAX_DIMS];
    size_t yst[AG_MAX_DIMS];
    for (int i = 0; i < AG_MAX_DIMS; i++) { ysh[i] = sh[i]; yst[i] = st[i]; }
    ysh[d0] = sh[d1]; ysh[d1] = sh[d0];
    yst[d0] = st[d1]; yst[d1] = st[d0];        /* y[i0,i1,i2,i3] = x[sum i_k * yst[k]] */
    #pragma omp parallel for collapse(2) if (xt->n > 65536)
    for (int i0 = 0; i0 < ysh[0]; i0++)
        for (int i1 = 0; i1 < ysh[1]; i1++)
            for (int i2 = 0; i2 < ysh[2]; i2++) {
                size_t yo = (((size_t)i0 * ysh[1] + i1) * ysh[2] + i2) * ysh[3];
                size_t xo = i0 * yst[0] + i1 * yst[1] + i2 * yst[2];
                for (int i3 = 0; i3 < ysh[3]; i3++) {
                    if (acc) x[xo + i3 * yst[3]] += y[yo + i3];
                    else y[yo + i3] = x[xo + i3 * yst[3]];
                }
            }
}

static int norm_dim(const char *op, const struct ag_tensor *x, int d)
{
    if (d < 0) d += x->ndim;
    if (d < 0 || d >= x->ndim) die("%s: dimension %d is out of range for a %d-d tensor", op, d, x->ndim);
    return d;
}

struct ag_tensor *ag_transpose(struct ag_ctx *ctx, struct ag_tensor *x, int d0, int d1)
{
    d0 = norm_dim("ag_transpose", x, d0);
    d1 = norm_dim("ag_transpose", x, d1);
    int shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d0] = x->shape[d1];
    shape[d1] = x->shape[d0];
    struct ag_tensor *y = ag_op_result(ctx, AG_TRANSPOSE, x->ndim, shape, x, NULL, NULL);
    y->iarg[0] = d0;
    y->iarg[1] = d1;
    ag_transpose_loop(x->data, y->data, x, d0, d1, 0);
    return y;
}

struct ag_tensor *ag_narrow(struct ag_ctx *ctx, struct ag_tensor *x, int dim, int start, int len)
{
    dim = norm_dim("ag_narrow", x, dim);
    if (start < 0 || len <= 0 || start + len > x->shape[dim])
        die("ag_narrow: [%d, %d) is not inside dimension %d of size %d", start, start + len, dim, x->shape[dim]);
    int shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = len;
    struct ag_tensor *y = ag_op_result(ctx, AG_NARROW, x->ndim, shape, x, NULL, NULL);
    y->iarg[0] = dim;
    y->iarg[1] = start;
    /* x seen as (outer, D, inner): y[o, j, :] = x[o, start + j, :] */
    size_t inner = 1, outer = 1, D = (size_t)x->shape[dim];
    for (int i = dim + 1; i < x->ndim; i++) inner *= (size_t)x->shape[i];
    for (int i = 0; i < dim; i++) outer *= (size_t)x->shape[i];
    for (size_t o = 0; o < outer; o++)
        memcpy(y->data + o * len * inner, x->data + (o * D + (size_t)start) * inner, len * inner * sizeof *y->data);
    return y;
}

struct ag_tensor *ag_embedding(struct ag_ctx *ctx, struct ag_tensor *weight, const uint32_t *ids,
                               int ndim, const int *shape)
{
    if (weight->ndim != 2) die("ag_embedding: the weight must be 2-d (V, C)");
    if (ndim + 1 > AG_MAX_DIMS) die("ag_embedding: ids have too many dimensions (%d)", ndim);
    int V = weight->shape[0], C = weight->shape[1], s[AG_MAX_DIMS];
    memcpy(s, shape, (size_t)ndim * sizeof *s);
    s[ndim] = C;
    struct ag_tensor *y = ag_op_result(ctx, AG_EMBEDDING, ndim + 1, s, weight, NULL, NULL);
    size_t rows = y->n / (size_t)C;
    y->ids = ag_alloc(ctx, rows * sizeof *y->ids);
    memcpy(y->ids, ids, rows * sizeof *ids);
    /* y[r, :] = weight[ids[r], :] */
    for (size_t r = 0; r < rows; r++) {
        if (ids[r] >= (uint32_t)V) die("ag_embedding: id %u at position %zu is not below the table size %d", ids[r], r, V);
        memcpy(y->data + r * C, weight->data + (size_t)ids[r] * C, (size_t)C * sizeof *y->data);
    }
    return y;
}

struct ag_tensor *ag_layer_norm(struct ag_ctx *ctx, struct ag_tensor *x, struct ag_tensor *w,
                                struct ag_tensor *b, ag_real eps)
{
    int C = x->shape[x->ndim - 1];
    if (w->ndim != 1 || w->shape[0] != C || b->ndim != 1 || b->shape[0] != C)
        die("ag_layer_norm: weight and bias must have shape (%d), the last dimension of the input", C);
    struct ag_tensor *y = ag_op_result(ctx, AG_LAYERNORM, x->ndim, x->shape, x, w, b);
    size_t rows = x->n / (size_t)C;
    y->farg = eps;
    y->saved = ag_alloc(ctx, 2 * rows * sizeof *y->saved);     /* (rows) mean, then (rows) rstd */
    #pragma omp parallel for if (rows > 64)
    for (size_t r = 0; r < rows; r++) {
        const ag_real *xr = x->data + r * C;
        ag_real mean = 0, var = 0;
        for (int i = 0; i < C; i++) mean += xr[i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;                                   /* the biased variance, as PyTorch uses */
        ag_real rstd = 1 / sqrt(var + eps);
        /* y = (x - mean) * rstd * w + b */
        const ag_real *wv = w->data, *bv = b->data;
        ag_real *yr = y->data + r * C;
        #pragma omp simd
        for (int i = 0; i < C; i++) yr[i] = (xr[i] - mean) * rstd * wv[i] + bv[i];
        y->saved[r] = mean;
        y->saved[rows + r] = rstd;
    }
    return y;
}

struct ag_tensor *ag_gelu(struct ag_ctx *ctx, struct ag_tensor *x)
{
    struct ag_tensor *y = ag_op_result(ctx, AG_GELU, x->ndim, x->shape, x, NULL, NULL);
    /* y = x/2 * (1 + tanh(k (x + a x^3))) */
    const ag_real *X = x->data;
    ag_real *Y = y->data;
    #pragma omp parallel for simd if (x->n > 65536)
    for (size_t i = 0; i < x->n; i++) {
        ag_real v = X[i];
        Y[i] = (ag_real)0.5 * v * (1 + ag_tanh(GELU_K * (v + GELU_A * v * v * v)));
    }
    return y;
}

struct ag_tensor *ag_softmax(struct ag_ctx *ctx, struct ag_tensor *x, int causal)
{
    if (causal && x->ndim < 2) die("ag_softmax: a causal softmax needs at least 2 dimensions");
    struct ag_tensor *y = ag_op_result(ctx, AG_SOFTMAX, x->ndim, x->shape, x, NULL, NULL);
    y->iarg[0] = causal;
    size_t D = (size_t)x->shape[x->ndim - 1], rows = x->n / D;
    size_t T = causal ? (size_t)x->shape[x->ndim - 2] : 1;
    #pragma omp parallel for if (rows > 64)
    for (size_t r = 0; r < rows; r++) {
        /* row i of its (T, D) matrix sees columns 0..i when causal;
         * y_j = exp(x_j - max) / sum_k exp(x_k - max), masked columns 0
         * (the attention kernels' row softmax, kernels/attention.c) */
        size_t valid = causal ? r % T + 1 : D;
        if (valid > D) valid = D;
        memcpy(y->data + r * D, x->data + r * D, D * sizeof *y->data);
        AG_KERNEL(softmax_prefix)(y->data + r * D, (int)valid, (int)D);
    }
    return y;
}

struct ag_tensor *ag_cross_entropy(struct ag_ctx *ctx, struct ag_tensor *logits, const uint32_t *targets)
{
    struct ag_tensor *y = ag_op_result(ctx, AG_CROSS_ENTROPY, 0, NULL, logits, NULL, NULL);
    size_t V = (size_t)logits->shape[logits->ndim - 1], rows = logits->n / V;
    y->ids = ag_alloc(ctx, rows * sizeof *y->ids);
    memcpy(y->ids, targets, rows * sizeof *targets);
    /* (rows) log-sum-exp of each row, then (rows) the losses of the rows,
     * a slot the backward pass reuses for d loss / d (row loss) */
    y->saved = ag_alloc(ctx, 2 * rows * sizeof *y->saved);
    for (size_t r = 0; r < rows; r++)
        if (targets[r] >= V) die("ag_cross_entropy: target %u at row %zu is not below the vocabulary size %zu", targets[r], r, V);
    /* loss = (1/rows) sum_r [ log sum_j exp(z_rj) - z_r,target ], the row
     * terms from the shared kernel (kernels/ops_loss.c) */
    ag_real *losses = y->saved + rows;
    AG_KERNEL(crossentropy_forward)(losses, y->saved, logits->data, targets, (int)rows, (int)V);
    double total = 0;
    for (size_t r = 0; r < rows; r++) total += losses[r];
    y->data[0] = (ag_real)(total / (double)rows);
    return y;
}

struct ag_tensor *ag_sum(struct ag_ctx *ctx, struct ag_tensor *x)
{
    struct ag_tensor *y = ag_op_result(ctx, AG_SUM, 0, NULL, x, NULL, NULL);
    double s = 0;
    for (size_t i = 0; i < x->n; i++) s += x->data[i];
    y->data[0] = (ag_real)s;
    return y;
}

struct ag_tensor *ag_mean(struct ag_ctx *ctx, struct ag_tensor *x)
{
    struct ag_tensor *y = ag_op_result(ctx, AG_MEAN, 0, NULL, x, NULL, NULL);
    double s = 0;
    for (size_t i = 0; i < x->n; i++) s += x->data[i];
    y->data[0] = (ag_real)(s / (double)x->n);
    return y;
}

