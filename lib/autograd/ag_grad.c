/* ag_grad.c - the chain rules of the autograd operations (ag_ops.c): for
 * each op, how the output's gradient flows into its inputs' gradients.
 * ag_backward (ag.c) calls ag_backward_op once per tensor, outputs before
 * inputs; it dispatches on the op to one function per family of ops.
 *
 * Notation in the comments: for an op y = f(a, b), g is d(loss)/dy (the
 * output's grad, y->grad), and each case adds g * dy/da into a->grad
 * ("ga += ...") and g * dy/db into b->grad.  An input that does not
 * require grad has no grad buffer: its pointer is NULL and it is skipped.
 */
#include "autograd/ag.h"
#include "autograd/ag_internal.h"

#include <stddef.h>

#include "core/xio.h"

/* y = a + b, a * b, s a, gelu(a): elementwise, b broadcast over a's leading dimensions */
static void grad_pointwise(const struct ag_tensor *y, const ag_real *g, ag_real *ga, ag_real *gb)
{
    const struct ag_tensor *a = y->src[0], *b = y->src[1];
    switch (y->op) {
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
    default:
        break;
    }
}

/* y = a @ b or a @ b^T, batched */
static void grad_matmul(const struct ag_tensor *y, const ag_real *g, ag_real *ga, ag_real *gb)
{
    const struct ag_tensor *a = y->src[0], *b = y->src[1];
    /* y = a @ op(b)   =>  ga += g @ op(b)^T;  g op(b) += a^T @ g */
    struct mm_dims d = ag_mm_dims(a, b, y->iarg[0]);
    size_t sa = (size_t)d.M * d.K, sb = d.shared ? 0 : (size_t)d.K * d.N, sy = (size_t)d.M * d.N;
    int M = d.M, N = d.N, K = d.K;
    if (ga) {
        /* ga (M, K) += g (M, N) @ op(b)^T: b^T when b is (K, N), b itself when it is (N, K) */
        #pragma omp parallel for if (d.batch > 1)
        for (int i = 0; i < d.batch; i++)
            ag_gemm(0, !d.tb, M, K, N, g + i * sy, N, b->data + i * sb, d.tb ? K : N, 1, ga + i * sa, K);
    }
    if (gb) {
        /* b (K, N): gb += a^T (K, M) @ g (M, N);   b (N, K): gb += g^T (N, M) @ a (M, K).
         * A shared b sums over the batch: a's batch was folded into M, so one GEMM does it. */
        #pragma omp parallel for if (d.batch > 1)
        for (int i = 0; i < d.batch; i++) {
            if (d.tb) ag_gemm(1, 0, N, K, M, g + i * sy, N, a->data + i * sa, K, 1, gb + i * sb, K);
            else ag_gemm(1, 0, K, N, M, a->data + i * sa, K, g + i * sy, N, 1, gb + i * sb, N);
        }
    }
}

/* the ops that only move elements: reshape, transpose, narrow, embedding */
static void grad_layout(const struct ag_tensor *y, const ag_real *g, ag_real *ga)
{
    const struct ag_tensor *a = y->src[0];
    switch (y->op) {
    case AG_RESHAPE: {  /* the same elements   =>  ga += g */
        size_t n = a->n;
        if (ga)
            #pragma omp parallel for simd if (n > 65536)
            for (size_t i = 0; i < n; i++) ga[i] += g[i];
        break;
    }

    case AG_TRANSPOSE:  /* y = a.transpose(d0, d1)   =>  ga += g.transpose(d0, d1) */
        if (ga) ag_transpose_loop(ga, (ag_real *)g, a, y->iarg[0], y->iarg[1], 1);
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
    default:
        break;
    }
}

/* y = layer_norm(x, w, b) */
static void grad_layernorm(const struct ag_tensor *y, const ag_real *g, ag_real *ga, ag_real *gb, ag_real *gc)
{
    const struct ag_tensor *a = y->src[0], *b = y->src[1];
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
}

/* y = softmax(x) per row, optionally causal: the attention kernels' row
 * backward (kernels/attention.c) */
static void grad_softmax(const struct ag_tensor *y, const ag_real *g, ag_real *ga)
{
    /* y = softmax(x) per row   =>  gx_j += y_j (g_j - sum_k g_k y_k)
     * (masked entries have y_j = 0, so they get nothing) */
    const struct ag_tensor *a = y->src[0];
    size_t D = (size_t)a->shape[a->ndim - 1], rows = a->n / D;
    if (ga) {
        #pragma omp parallel for if (rows > 64)
        for (size_t r = 0; r < rows; r++)
            AG_KERNEL(softmax_prefix_backward)(ga + r * D, y->data + r * D, g + r * D, (int)D, 1);
    }
}

/* the ops with a scalar output: cross-entropy, sum, mean */
static void grad_reduce(const struct ag_tensor *y, const ag_real *g, ag_real *ga)
{
    const struct ag_tensor *a = y->src[0];
    switch (y->op) {
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
    default:
        break;
    }
}

/* The chain rule for one op: y's grad g flows into its inputs' grads. */
void ag_backward_op(struct ag_tensor *y)
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
    case AG_ADD: case AG_MUL: case AG_SCALE: case AG_GELU:
        grad_pointwise(y, g, ga, gb);
        break;
    case AG_MATMUL:
        grad_matmul(y, g, ga, gb);
        break;
    case AG_RESHAPE: case AG_TRANSPOSE: case AG_NARROW: case AG_EMBEDDING:
        grad_layout(y, g, ga);
        break;
    case AG_LAYERNORM:
        grad_layernorm(y, g, ga, gb, gc);
        break;
    case AG_SOFTMAX:
        grad_softmax(y, g, ga);
        break;
    case AG_CROSS_ENTROPY: case AG_SUM: case AG_MEAN:
        grad_reduce(y, g, ga);
        break;
    case AG_NUM_OPS:
        die("autograd: tensor with an invalid op");
    }
}
