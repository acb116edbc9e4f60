/* ag.c - the autograd library: the arena, the tensors, the operations
 * (forward), and ag_backward with its one switch of chain rules.
 * See ag.h for the ideas and the rules; this file has the math.
 *
 * Notation in the comments: for an op y = f(a, b), g is d(loss)/dy (the
 * output's grad, y->grad), and each backward case adds g * dy/da into
 * a->grad ("ga += ...") and g * dy/db into b->grad.  Shapes use the names
 * of the arguments: rows is the product of all dimensions but the last.
 *
 * Sections: arena and context -> tensors -> operations (forward) ->
 * backward (topological sort, then the switch).
 */
#include "autograd/ag.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>     /* exp, log, tanh, sqrt follow ag_real: float or double */

#include "core/xio.h"

/* e^-a (a >= 0) and tanh: in the float build the custom level's
 * vectorizable versions (fastmath.h, a few ulps), in the double build of the
 * gradient check libm's, so that finite differences see double precision. */
#ifdef AG_DOUBLE
static inline ag_real ag_exp_neg(ag_real a) { return exp(-a); }
static inline ag_real ag_tanh(ag_real u) { return tanh(u); }
#else
#include "kernels/fastmath.h"
#define ag_exp_neg exp_neg
#define ag_tanh tanh_fast
#endif

/* The kernels that ops share with the other levels (kernels/ops.h): in the
 * float build libtfs's; in the double build the same source compiled again
 * here over double, its names suffixed _f64. */
#ifdef AG_DOUBLE
#define OPS_REAL double
#define OPS(name) name##_f64
#define OPS_GEMM cblas_dgemm
#include "kernels/ops_loss.c"
#define AG_KERNEL(name) name##_f64
#else
#include "kernels/ops.h"
#define AG_KERNEL(name) name
#endif

/* The BLAS routine for ag_real: single or double precision GEMM. */
static void gemm(int ta, int tb, int M, int N, int K, const ag_real *A, int lda,
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
/* Arena and context                                                     */
/* ===================================================================== */

/* The arena is a list of chunks; allocation bumps a pointer in the newest.
 * When a step overflows the first chunk, ag_ctx_clear replaces all chunks by
 * one as large as everything the step used, so the next step fits. */
struct ag_chunk {
    struct ag_chunk *prev;
    size_t cap, used;
    char *mem;
};

struct ag_ctx {
    struct ag_chunk *cur;       /* newest chunk; ->prev links the older ones */
    size_t mallocs;             /* malloc calls made for chunks */
    int no_grad;
};

#define AG_ALIGN 64
#define AG_FIRST_CHUNK ((size_t)1 << 20)

static struct ag_chunk *chunk_new(struct ag_ctx *ctx, size_t cap, struct ag_chunk *prev)
{
    struct ag_chunk *c = xmalloc(sizeof *c);
    cap = (cap + AG_ALIGN - 1) / AG_ALIGN * AG_ALIGN;  /* aligned_alloc wants a multiple */
    c->prev = prev;
    c->cap = cap;
    c->used = 0;
    c->mem = aligned_alloc(AG_ALIGN, cap);
    if (!c->mem) die("out of memory: the autograd arena needs %zu more bytes", cap);
    ctx->mallocs++;
    return c;
}

struct ag_ctx *ag_ctx_new(void)
{
    struct ag_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->cur = chunk_new(ctx, AG_FIRST_CHUNK, NULL);
    return ctx;
}

static void chunks_free(struct ag_chunk *c)
{
    while (c) {
        struct ag_chunk *p = c->prev;
        free(c->mem);
        free(c);
        c = p;
    }
}

void ag_ctx_free(struct ag_ctx *ctx)
{
    if (!ctx) return;
    chunks_free(ctx->cur);
    free(ctx);
}

void ag_ctx_clear(struct ag_ctx *ctx)
{
    if (ctx->cur->prev) {           /* the step overflowed: make one chunk that holds it all */
        size_t total = 0;
        for (struct ag_chunk *c = ctx->cur; c; c = c->prev) total += c->used;
        chunks_free(ctx->cur);
        ctx->cur = chunk_new(ctx, total + total / 8 + AG_ALIGN, NULL);
    }
    ctx->cur->used = 0;
}

void *ag_alloc(struct ag_ctx *ctx, size_t bytes)
{
    bytes = (bytes + AG_ALIGN - 1) / AG_ALIGN * AG_ALIGN;
    struct ag_chunk *c = ctx->cur;
    if (c->used + bytes > c->cap) {
        size_t cap = 2 * c->cap > bytes ? 2 * c->cap : bytes;
        c = ctx->cur = chunk_new(ctx, cap, c);
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

static void *alloc_zero(struct ag_ctx *ctx, size_t bytes)
{
    void *p = ag_alloc(ctx, bytes);
    memset(p, 0, bytes);
    return p;
}

size_t ag_ctx_mallocs(const struct ag_ctx *ctx) { return ctx->mallocs; }

size_t ag_ctx_bytes(const struct ag_ctx *ctx)
{
    size_t total = 0;
    for (struct ag_chunk *c = ctx->cur; c; c = c->prev) total += c->cap;
    return total;
}

int ag_no_grad(struct ag_ctx *ctx, int on)
{
    int was = ctx->no_grad;
    ctx->no_grad = on;
    return was;
}

/* ===================================================================== */
/* Tensors                                                               */
/* ===================================================================== */

static const char *const OP_NAMES[AG_NUM_OPS] = {
    "leaf", "add", "mul", "scale", "matmul", "reshape", "transpose", "narrow",
    "embedding", "layer_norm", "gelu", "softmax", "cross_entropy", "sum", "mean",
};

const char *ag_op_name(enum ag_op op) { return op < AG_NUM_OPS ? OP_NAMES[op] : "?"; }

/* "(2, 3, 4)" for messages, written into the caller's buffer. */
static const char *shape_str(const struct ag_tensor *t, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < t->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %d" : "%d", t->shape[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
    return buf;
}

static const char *tname(const struct ag_tensor *t)
{
    return t->name ? t->name : ag_op_name(t->op);
}

static struct ag_tensor *tensor_header(struct ag_ctx *ctx, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > AG_MAX_DIMS) die("autograd: %d dimensions; at most %d are supported", ndim, AG_MAX_DIMS);
    struct ag_tensor *t = alloc_zero(ctx, sizeof *t);
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) die("autograd: dimension %d of a new tensor is %d; sizes must be positive", i, shape[i]);
        t->shape[i] = shape[i];
        t->n *= (size_t)shape[i];
    }
    return t;
}

struct ag_tensor *ag_tensor_new(struct ag_ctx *ctx, int ndim, const int *shape, int requires_grad)
{
    struct ag_tensor *t = tensor_header(ctx, ndim, shape);
    t->data = alloc_zero(ctx, t->n * sizeof *t->data);
    if (requires_grad) {
        t->requires_grad = 1;
        t->grad = alloc_zero(ctx, t->n * sizeof *t->grad);
    }
    return t;
}

struct ag_tensor *ag_tensor_wrap(struct ag_ctx *ctx, ag_real *data, ag_real *grad, int ndim, const int *shape)
{
    struct ag_tensor *t = tensor_header(ctx, ndim, shape);
    t->data = data;
    t->grad = grad;
    t->requires_grad = grad != NULL;
    return t;
}

struct ag_tensor *ag_scalar(struct ag_ctx *ctx, ag_real value)
{
    struct ag_tensor *t = ag_tensor_new(ctx, 0, NULL, 0);
    t->data[0] = value;
    return t;
}

ag_real ag_item(const struct ag_tensor *t)
{
    if (t->n != 1) die("ag_item: tensor %s has %zu elements, not one", tname(t), t->n);
    return t->data[0];
}

void ag_copy_(struct ag_tensor *x, const ag_real *src)
{
    if (x->requires_grad)
        die("ag_copy_: tensor '%s' requires grad; changing its data in place would make the "
            "gradients computed through it wrong (write into a tensor made with requires_grad = 0, "
            "or let the optimizer update parameters)", tname(x));
    memcpy(x->data, src, x->n * sizeof *src);
    x->version++;
}

void ag_bump_version(struct ag_tensor *t) { t->version++; }

void ag_zero_grad(struct ag_tensor *const *params, int n)
{
    for (int i = 0; i < n; i++)
        if (params[i]->grad) memset(params[i]->grad, 0, params[i]->n * sizeof *params[i]->grad);
}

/* The output of an op: shape, data, and, when any input requires grad (and
 * no_grad is off), a zeroed grad buffer plus the record of the op.  This is
 * the one place where requires_grad propagates. */
static struct ag_tensor *op_result(struct ag_ctx *ctx, enum ag_op op, int ndim, const int *shape,
                                   struct ag_tensor *a, struct ag_tensor *b, struct ag_tensor *c)
{
    struct ag_tensor *t = tensor_header(ctx, ndim, shape);
    if (op != AG_RESHAPE) t->data = ag_alloc(ctx, t->n * sizeof *t->data);   /* a view has none */
    struct ag_tensor *src[AG_MAX_SRC] = { a, b, c };
    int rg = 0;
    for (int i = 0; i < AG_MAX_SRC; i++) rg |= src[i] && src[i]->requires_grad;
    if (rg && !ctx->no_grad) {
        t->requires_grad = 1;
        t->grad = alloc_zero(ctx, t->n * sizeof *t->grad);
        t->op = op;
        for (int i = 0; i < AG_MAX_SRC; i++) {
            t->src[i] = src[i];
            t->src_version[i] = src[i] ? src[i]->version : 0;
        }
    }
    return t;
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
            "of the first)", op, shape_str(a, sa, sizeof sa), shape_str(b, sb, sizeof sb));
    }
    return b->n;
}

struct ag_tensor *ag_add(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b)
{
    size_t nb = broadcast_inner("ag_add", a, b), outer = a->n / nb;
    struct ag_tensor *y = op_result(ctx, AG_ADD, a->ndim, a->shape, a, b, NULL);
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
    struct ag_tensor *y = op_result(ctx, AG_MUL, a->ndim, a->shape, a, b, NULL);
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
    struct ag_tensor *y = op_result(ctx, AG_SCALE, a->ndim, a->shape, a, NULL, NULL);
    y->farg = s;
    const ag_real *A = a->data;
    ag_real *Y = y->data;
    #pragma omp parallel for simd if (a->n > 65536)
    for (size_t i = 0; i < a->n; i++) Y[i] = s * A[i];
    return y;
}

/* Matrix shapes of a matmul: a is (batch.., M, K), op(b) is (K, N).
 * shared: b is one matrix for the whole batch (then a's batch folds into M). */
struct mm_dims { int batch, M, K, N, shared, tb; };

static struct mm_dims mm_dims(const struct ag_tensor *a, const struct ag_tensor *b, int tb)
{
    char sa[64], sb[64];
    struct mm_dims d = { 1, 0, 0, 0, b->ndim == 2, tb };
    if (a->ndim < 2 || b->ndim < 2) die("ag_matmul: operands must have at least 2 dimensions, got %s and %s",
                                        shape_str(a, sa, sizeof sa), shape_str(b, sb, sizeof sb));
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
                 shape_str(a, sa, sizeof sa), shape_str(b, sb, sizeof sb));
    for (int i = 0; i < a->ndim - 2; i++) d.batch *= a->shape[i];
    if (d.shared) { d.M *= d.batch; d.batch = 1; }
    return d;
}

static struct ag_tensor *matmul(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b, int tb)
{
    struct mm_dims d = mm_dims(a, b, tb);
    int shape[AG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = d.N;
    struct ag_tensor *y = op_result(ctx, AG_MATMUL, a->ndim, shape, a, b, NULL);
    y->iarg[0] = tb;
    size_t sa = (size_t)d.M * d.K, sb = d.shared ? 0 : (size_t)d.K * d.N, sy = (size_t)d.M * d.N;
    /* y = a @ op(b): one GEMM, or one per matrix of the batch */
    #pragma omp parallel for if (d.batch > 1)
    for (int i = 0; i < d.batch; i++)
        gemm(0, tb, d.M, d.N, d.K, a->data + i * sa, d.K, b->data + i * sb, tb ? d.K : d.N,
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
        die("ag_reshape: cannot view %s (%zu elements) with the requested shape", shape_str(x, sx, sizeof sx), x->n);
    }
    struct ag_tensor *y = op_result(ctx, AG_RESHAPE, ndim, s, x, NULL, NULL);
    y->data = x->data;          /* a view: the same elements */
    return y;
}

/* Copy between x and its transpose y = x.transpose(d0, d1), both seen as 4-d
 * (leading 1s).  With acc, add y's values back into x's positions
 * (the backward pass); otherwise copy x's into y. */
static void transpose_loop(ag_real *x, ag_real *y, const struct ag_tensor *xt, int d0, int d1, int acc)
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
    struct ag_tensor *y = op_result(ctx, AG_TRANSPOSE, x->ndim, shape, x, NULL, NULL);
    y->iarg[0] = d0;
    y->iarg[1] = d1;
    transpose_loop(x->data, y->data, x, d0, d1, 0);
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
    struct ag_tensor *y = op_result(ctx, AG_NARROW, x->ndim, shape, x, NULL, NULL);
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
    struct ag_tensor *y = op_result(ctx, AG_EMBEDDING, ndim + 1, s, weight, NULL, NULL);
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
    struct ag_tensor *y = op_result(ctx, AG_LAYERNORM, x->ndim, x->shape, x, w, b);
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

#define GELU_K ((ag_real)0.7978845608028654)    /* sqrt(2 / pi) */
#define GELU_A ((ag_real)0.044715)

struct ag_tensor *ag_gelu(struct ag_ctx *ctx, struct ag_tensor *x)
{
    struct ag_tensor *y = op_result(ctx, AG_GELU, x->ndim, x->shape, x, NULL, NULL);
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
    struct ag_tensor *y = op_result(ctx, AG_SOFTMAX, x->ndim, x->shape, x, NULL, NULL);
    y->iarg[0] = causal;
    size_t D = (size_t)x->shape[x->ndim - 1], rows = x->n / D;
    size_t T = causal ? (size_t)x->shape[x->ndim - 2] : 1;
    #pragma omp parallel for if (rows > 64)
    for (size_t r = 0; r < rows; r++) {
        /* row i of its (T, D) matrix sees columns 0..i when causal */
        size_t valid = causal ? r % T + 1 : D;
        if (valid > D) valid = D;
        const ag_real *xr = x->data + r * D;
        ag_real *yr = y->data + r * D;
        /* y_j = exp(x_j - max) / sum_k exp(x_k - max); masked columns are 0 */
        ag_real mx = xr[0], sum = 0;
        for (size_t j = 1; j < valid; j++) if (xr[j] > mx) mx = xr[j];
        #pragma omp simd reduction(+:sum)
        for (size_t j = 0; j < valid; j++) sum += yr[j] = ag_exp_neg(mx - xr[j]);
        for (size_t j = 0; j < valid; j++) yr[j] /= sum;
        for (size_t j = valid; j < D; j++) yr[j] = 0;
    }
    return y;
}

struct ag_tensor *ag_cross_entropy(struct ag_ctx *ctx, struct ag_tensor *logits, const uint32_t *targets)
{
    struct ag_tensor *y = op_result(ctx, AG_CROSS_ENTROPY, 0, NULL, logits, NULL, NULL);
    size_t V = (size_t)logits->shape[logits->ndim - 1], rows = logits->n / V;
    y->ids = ag_alloc(ctx, rows * sizeof *y->ids);
    memcpy(y->ids, targets, rows * sizeof *targets);
    /* (rows) log-sum-exp of each row, then (rows) the losses of the rows,
     * a slot the backward case reuses for d loss / d (row loss) */
    y->saved = ag_alloc(ctx, 2 * rows * sizeof *y->saved);
    for (size_t r = 0; r < rows; r++)
        if (targets[r] >= V) die("ag_cross_entropy: target %u at row %zu is not below the vocabulary size %zu", targets[r], r, V);
    /* loss = (1/rows) sum_r [ log sum_j exp(z_rj) - z_r,target ], the row
     * terms from the shared kernel (ops_loss.c) */
    ag_real *losses = y->saved + rows;
    AG_KERNEL(crossentropy_forward)(losses, y->saved, logits->data, targets, (int)rows, (int)V);
    double total = 0;
    for (size_t r = 0; r < rows; r++) total += losses[r];
    y->data[0] = (ag_real)(total / (double)rows);
    return y;
}

struct ag_tensor *ag_sum(struct ag_ctx *ctx, struct ag_tensor *x)
{
    struct ag_tensor *y = op_result(ctx, AG_SUM, 0, NULL, x, NULL, NULL);
    double s = 0;
    for (size_t i = 0; i < x->n; i++) s += x->data[i];
    y->data[0] = (ag_real)s;
    return y;
}

struct ag_tensor *ag_mean(struct ag_ctx *ctx, struct ag_tensor *x)
{
    struct ag_tensor *y = op_result(ctx, AG_MEAN, 0, NULL, x, NULL, NULL);
    double s = 0;
    for (size_t i = 0; i < x->n; i++) s += x->data[i];
    y->data[0] = (ag_real)(s / (double)x->n);
    return y;
}

/* ===================================================================== */
/* Backward                                                              */
/* ===================================================================== */

/* Depth-first topological order of the tensors that require grad and that
 * t depends on: every tensor comes after all of its inputs.  With order
 * NULL it only counts.  Recursion depth is the graph's depth (a few hundred
 * for a GPT-2), not its size. */
static size_t topo(struct ag_tensor *t, unsigned mark, struct ag_tensor **order, size_t k)
{
    if (!t || !t->requires_grad || t->mark == mark) return k;
    t->mark = mark;
    for (int i = 0; i < AG_MAX_SRC; i++) k = topo(t->src[i], mark, order, k);
    if (order) order[k] = t;
    return k + 1;
}

/* The chain rule for one op: y's grad g flows into its inputs' grads. */
static void backward_op(struct ag_tensor *y)
{
    struct ag_tensor *a = y->src[0], *b = y->src[1], *c = y->src[2];
    const ag_real *g = y->grad;
    /* an input that does not require grad has no grad buffer: skip it */
    ag_real *ga = a && a->requires_grad ? a->grad : NULL;
    ag_real *gb = b && b->requires_grad ? b->grad : NULL;
    ag_real *gc = c && c->requires_grad ? c->grad : NULL;

    switch (y->op) {
    case AG_LEAF:
        break;

    case AG_ADD: {      /* y[o,i] = a[o,i] + b[i]   =>  ga += g;  gb[i] += sum_o g[o,i] */
        size_t nb = b->n, n = a->n, outer = n / nb;
        if (ga)
            #pragma omp parallel for simd if (n > 65536)
            for (size_t i = 0; i < n; i++) ga[i] += g[i];
        if (gb)
            for (size_t o = 0; o < outer; o++)
                #pragma omp simd
                for (size_t i = 0; i < nb; i++) gb[i] += g[o * nb + i];
        break;
    }
    case AG_MUL: {      /* y[o,i] = a[o,i] * b[i]   =>  ga += g * b;  gb[i] += sum_o g * a */
        size_t nb = b->n, outer = a->n / nb;
        const ag_real *A = a->data, *Bv = b->data;
        if (ga)
            #pragma omp parallel for if (a->n > 65536)
            for (size_t o = 0; o < outer; o++)
                #pragma omp simd
                for (size_t i = 0; i < nb; i++) ga[o * nb + i] += g[o * nb + i] * Bv[i];
        if (gb)
            for (size_t o = 0; o < outer; o++)
                #pragma omp simd
                for (size_t i = 0; i < nb; i++) gb[i] += g[o * nb + i] * A[o * nb + i];
        break;
    }
    case AG_SCALE: {    /* y = s a   =>  ga += s g */
        size_t n = a->n;
        ag_real sc = y->farg;
        if (ga)
            #pragma omp parallel for simd if (n > 65536)
            for (size_t i = 0; i < n; i++) ga[i] += sc * g[i];
        break;
    }

    case AG_MATMUL: {   /* y = a @ op(b)   =>  ga += g @ op(b)^T;  g op(b) += a^T @ g */
        struct mm_dims d = mm_dims(a, b, y->iarg[0]);
        size_t sa = (size_t)d.M * d.K, sb = d.shared ? 0 : (size_t)d.K * d.N, sy = (size_t)d.M * d.N;
        int M = d.M, N = d.N, K = d.K;
        if (ga) {
            /* ga (M, K) += g (M, N) @ op(b)^T: b^T when b is (K, N), b itself when it is (N, K) */
            #pragma omp parallel for if (d.batch > 1)
            for (int i = 0; i < d.batch; i++)
                gemm(0, !d.tb, M, K, N, g + i * sy, N, b->data + i * sb, d.tb ? K : N, 1, ga + i * sa, K);
        }
        if (gb) {
            /* b (K, N): gb += a^T (K, M) @ g (M, N);   b (N, K): gb += g^T (N, M) @ a (M, K).
             * A shared b sums over the batch: a's batch was folded into M, so one GEMM does it. */
            #pragma omp parallel for if (d.batch > 1)
            for (int i = 0; i < d.batch; i++) {
                if (d.tb) gemm(1, 0, N, K, M, g + i * sy, N, a->data + i * sa, K, 1, gb + i * sb, K);
                else gemm(1, 0, K, N, M, a->data + i * sa, K, g + i * sy, N, 1, gb + i * sb, N);
            }
        }
        break;
    }
    case AG_RESHAPE: {  /* the same elements   =>  ga += g */
        size_t n = a->n;
        if (ga)
            #pragma omp parallel for simd if (n > 65536)
            for (size_t i = 0; i < n; i++) ga[i] += g[i];
        break;
    }

    case AG_TRANSPOSE:  /* y = a.transpose(d0, d1)   =>  ga += g.transpose(d0, d1) */
        if (ga) transpose_loop(ga, (ag_real *)g, a, y->iarg[0], y->iarg[1], 1);
        break;

    case AG_NARROW: {   /* y[o,j,:] = a[o,start+j,:]   =>  ga[o,start+j,:] += g[o,j,:] */
        int dim = y->iarg[0];
        size_t inner = 1, outer = 1, D = (size_t)a->shape[dim], len = (size_t)y->shape[dim];
        for (int i = dim + 1; i < a->ndim; i++) inner *= (size_t)a->shape[i];
        for (int i = 0; i < dim; i++) outer *= (size_t)a->shape[i];
        if (ga)
            for (size_t o = 0; o < outer; o++)
                for (size_t k = 0; k < len * inner; k++)
                    ga[(o * D + (size_t)y->iarg[1]) * inner + k] += g[o * len * inner + k];
        break;
    }
    case AG_EMBEDDING: {    /* y[r,:] = W[ids[r],:]   =>  gW[ids[r],:] += g[r,:] (a row used twice gets both) */
        size_t C = (size_t)a->shape[1], rows = y->n / C;
        if (ga)
            for (size_t r = 0; r < rows; r++)
                for (size_t i = 0; i < C; i++) ga[y->ids[r] * C + i] += g[r * C + i];
        break;
    }
    case AG_LAYERNORM: {
        /* forward: xhat = (x - mean) * rstd,  y = xhat * w + b
         * =>  gw += sum_rows g * xhat;  gb += sum_rows g;
         *     with dxhat = g * w:  gx += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
         * (the two means are the paths through mean and through rstd). */
        size_t C = (size_t)a->shape[a->ndim - 1], rows = a->n / C;
        const ag_real *mean = y->saved, *rstd = y->saved + rows, *w = b->data;
        #pragma omp parallel for if (rows > 64)
        for (size_t r = 0; r < rows; r++) {
            const ag_real *x = a->data + r * C, *gr = g + r * C;
            ag_real m1 = 0, m2 = 0;
            for (size_t i = 0; i < C; i++) {
                ag_real xhat = (x[i] - mean[r]) * rstd[r], dxhat = gr[i] * w[i];
                m1 += dxhat;
                m2 += dxhat * xhat;
            }
            m1 /= (ag_real)C;
            m2 /= (ag_real)C;
            if (ga)
                for (size_t i = 0; i < C; i++) {
                    ag_real xhat = (x[i] - mean[r]) * rstd[r];
                    ga[r * C + i] += rstd[r] * (gr[i] * w[i] - m1 - xhat * m2);
                }
        }
        ag_real *gw = gb, *gbias = gc;      /* src = {x, w, b} */
        const ag_real *X = a->data;
        for (size_t r = 0; r < rows; r++) {
            const ag_real *xr = X + r * C, *gr = g + r * C;
            ag_real mu = mean[r], rs = rstd[r];
            if (gw)
                #pragma omp simd
                for (size_t i = 0; i < C; i++) gw[i] += gr[i] * (xr[i] - mu) * rs;
            if (gbias)
                #pragma omp simd
                for (size_t i = 0; i < C; i++) gbias[i] += gr[i];
        }
        break;
    }
    case AG_GELU:       /* y = x/2 (1 + tanh u), u = k (x + a x^3)
                         * =>  gx += g * [ (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 a x^2) ] */
        if (ga) {
            const ag_real *X = a->data;
            #pragma omp parallel for simd if (a->n > 65536)
            for (size_t i = 0; i < a->n; i++) {
                ag_real x = X[i], t = ag_tanh(GELU_K * (x + GELU_A * x * x * x));
                ag_real dy = (ag_real)0.5 * (1 + t) + (ag_real)0.5 * x * (1 - t * t) * GELU_K * (1 + 3 * GELU_A * x * x);
                ga[i] += g[i] * dy;
            }
        }
        break;

    case AG_SOFTMAX: {  /* y = softmax(x) per row   =>  gx_j += y_j (g_j - sum_k g_k y_k)
                         * (masked entries have y_j = 0, so they get nothing) */
        size_t D = (size_t)a->shape[a->ndim - 1], rows = a->n / D;
        if (ga) {
            #pragma omp parallel for if (rows > 64)
            for (size_t r = 0; r < rows; r++) {
                const ag_real *yr = y->data + r * D, *gr = g + r * D;
                ag_real dot = 0;
                for (size_t j = 0; j < D; j++) dot += gr[j] * yr[j];
                for (size_t j = 0; j < D; j++) ga[r * D + j] += yr[j] * (gr[j] - dot);
            }
        }
        break;
    }
    case AG_CROSS_ENTROPY: {    /* loss = mean_r (lse_r - z_r,t)   =>  gz_rj += g (softmax(z_r)_j - [j = t]) / rows */
        size_t V = (size_t)a->shape[a->ndim - 1], rows = a->n / V;
        if (ga) {
            ag_real *dl = y->saved + rows;      /* d loss / d (row loss) = g / rows, each row */
            for (size_t r = 0; r < rows; r++) dl[r] = g[0] / (ag_real)rows;
            AG_KERNEL(crossentropy_backward)(ga, dl, a->data, y->saved, y->ids, (int)rows, (int)V);
        }
        break;
    }
    case AG_SUM:        /* y = sum x   =>  gx += g */
        if (ga) for (size_t i = 0; i < a->n; i++) ga[i] += g[0];
        break;

    case AG_MEAN:       /* y = sum x / n   =>  gx += g / n */
        if (ga) for (size_t i = 0; i < a->n; i++) ga[i] += g[0] / (ag_real)a->n;
        break;

    case AG_NUM_OPS:
        die("autograd: tensor with an invalid op");
    }
}

void ag_backward(struct ag_ctx *ctx, struct ag_tensor *loss)
{
    char s[64];
    static unsigned marks;      /* a fresh mark per sort, shared by all contexts */
    if (loss->n != 1)
        die("ag_backward: the loss must be a scalar, got shape %s (reduce it with ag_mean or ag_sum first)",
            shape_str(loss, s, sizeof s));
    if (!loss->requires_grad)
        die("ag_backward: the loss does not require grad: no input of its graph has requires_grad set "
            "(did you create the parameters with requires_grad = 1, or record the graph under ag_no_grad?)");
    size_t n = topo(loss, ++marks, NULL, 0);
    struct ag_tensor **order = ag_alloc(ctx, n * sizeof *order);
    topo(loss, ++marks, order, 0);

    loss->grad[0] += 1;                 /* d loss / d loss = 1 */
    for (size_t i = n; i-- > 0;) {      /* reverse topological order: outputs before inputs */
        struct ag_tensor *y = order[i];
        for (int k = 0; k < AG_MAX_SRC; k++)
            if (y->src[k] && y->src[k]->version != y->src_version[k])
                die("ag_backward: '%s', an input of %s, was changed in place after %s used it; its "
                    "gradient would be wrong (run the forward pass again after changing it)",
                    tname(y->src[k]), ag_op_name(y->op), ag_op_name(y->op));
        if (y->op != AG_LEAF) {
            if (y->used)
                die("ag_backward: the graph through %s (%s) was already back-propagated; its "
                    "intermediate gradients are spent (run the forward pass again)", tname(y), ag_op_name(y->op));
            y->used = 1;
        }
        backward_op(y);
    }
}
