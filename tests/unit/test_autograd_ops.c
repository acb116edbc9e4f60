/* test_autograd_ops.c - every autograd op's backward against finite
 * differences, in double precision, plus the library's rules.
 *
 * The library is compiled a second time into this test with AG_DOUBLE, so
 * ag_real is double here (the float build in libtfs.a is not linked: every
 * ag_ symbol this test uses is defined by the includes below), and with it
 * the kernel its softmax calls (lib/kernels/attention.c, names _f64).
 *
 * The check, as torch.autograd.gradcheck does it: for an op y = f(x1, x2..)
 * take a fixed random R of y's shape and the scalar L = sum(y * R), so that
 * dL/dx is the full vector-Jacobian product R^T J.  Then for every element
 * x[i] of every input,
 *     g_num = (L(x + h e_i) - L(x - h e_i)) / 2h        (h = 1e-6)
 * must equal the analytic x->grad[i] within 1e-7 + 1e-5 |g_num|.
 */
#define AG_DOUBLE 1
#define OPS_REAL double
#define OPS(name) name##_f64
#define OPS_GEMM cblas_dgemm
#include "kernels/attention.c"
#include "kernels/ops_loss.c"
#include "autograd/ag.c"
#include "autograd/ag_ops.c"
#include "autograd/ag_grad.c"

#include <fcntl.h>

#include "core/rng.h"
#include "unit.h"

static struct rng R;
static int covered[AG_NUM_OPS];     /* which ops the checks exercised */

/* A test case: fills inputs (leaves with requires_grad) and builds y. */
typedef struct ag_tensor *(*build_fn)(struct ag_ctx *ctx, struct ag_tensor **in);

static void mark_ops(struct ag_tensor *t)
{
    if (!t) return;
    covered[t->op] = 1;
    for (int i = 0; i < AG_MAX_SRC; i++) mark_ops(t->src[i]);
}

/* L = sum(y * r) over a freshly recorded graph. */
static struct ag_tensor *objective(struct ag_ctx *ctx, build_fn f, struct ag_tensor **in, struct ag_tensor *r)
{
    struct ag_tensor *y = f(ctx, in);
    return ag_sum(ctx, ag_mul(ctx, y, ag_reshape(ctx, r, y->ndim, y->shape)));
}

static void random_fill(struct ag_tensor *t, double scale)
{
    for (size_t i = 0; i < t->n; i++) t->data[i] = scale * (2 * rng_uniform(&R) - 1);
}

/* Returns the number of mismatching elements (and prints the worst). */
static int gradcheck(const char *what, build_fn f, struct ag_tensor **in, int nin)
{
    struct ag_ctx *ctx = ag_ctx_new();
    /* shape of y, and a random R of that many elements */
    struct ag_tensor *y0 = f(ctx, in);
    mark_ops(y0);
    struct ag_ctx *keep = ag_ctx_new();
    struct ag_tensor *r = ag_tensor_new(keep, 1, (int[]){ (int)y0->n }, 0);
    random_fill(r, 1);
    ag_ctx_clear(ctx);

    for (int k = 0; k < nin; k++) ag_zero_grad(&in[k], 1);
    ag_backward(ctx, objective(ctx, f, in, r));
    ag_ctx_clear(ctx);

    int bad = 0;
    double worst = 0, h = 1e-6;
    for (int k = 0; k < nin; k++) {
        for (size_t i = 0; i < in[k]->n; i++) {
            double x0 = in[k]->data[i];
            in[k]->data[i] = x0 + h;
            double lp = ag_item(objective(ctx, f, in, r));
            ag_ctx_clear(ctx);
            in[k]->data[i] = x0 - h;
            double lm = ag_item(objective(ctx, f, in, r));
            ag_ctx_clear(ctx);
            in[k]->data[i] = x0;
            double num = (lp - lm) / (2 * h), ana = in[k]->grad[i];
            double err = fabs(num - ana), tol = 1e-7 + 1e-5 * fabs(num);
            if (err > worst) worst = err;
            if (err > tol) {
                if (bad < 3) fprintf(stderr, "  %s: input %d [%zu]: analytic %.10g, numeric %.10g\n", what, k, i, ana, num);
                bad++;
            }
        }
    }
    printf("# %-28s max |analytic - numeric| = %.3g\n", what, worst);
    ag_ctx_free(ctx);
    ag_ctx_free(keep);
    return bad;
}

/* Inputs of the current case, in a context that lives for the case. */
static struct ag_ctx *P;
static struct ag_tensor *leaf(int ndim, const int *shape, double scale)
{
    struct ag_tensor *t = ag_tensor_new(P, ndim, shape, 1);
    random_fill(t, scale);
    return t;
}
#define SHAPE(...) (sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__}

#define GRADCHECK(name, nin, ...) do { \
    P = ag_ctx_new(); struct ag_tensor *in_[] = { __VA_ARGS__ }; \
    CHECK(gradcheck(#name, build_##name, in_, nin) == 0); ag_ctx_free(P); } while (0)

/* ---- the cases ---- */
static struct ag_tensor *build_add(struct ag_ctx *c, struct ag_tensor **in) { return ag_add(c, in[0], in[1]); }
static struct ag_tensor *build_mul(struct ag_ctx *c, struct ag_tensor **in) { return ag_mul(c, in[0], in[1]); }
static struct ag_tensor *build_scale(struct ag_ctx *c, struct ag_tensor **in) { return ag_scale(c, in[0], -1.7); }
static struct ag_tensor *build_matmul(struct ag_ctx *c, struct ag_tensor **in) { return ag_matmul(c, in[0], in[1]); }
static struct ag_tensor *build_matmul_t(struct ag_ctx *c, struct ag_tensor **in) { return ag_matmul_t(c, in[0], in[1]); }
static struct ag_tensor *build_reshape(struct ag_ctx *c, struct ag_tensor **in)
{
    /* a reshape alone is the identity; follow it by a broadcast mul so the
     * new shape matters */
    return ag_mul(c, ag_reshape(c, in[0], 3, (int[]){ 2, -1, 3 }), in[1]);
}
static struct ag_tensor *build_transpose12(struct ag_ctx *c, struct ag_tensor **in) { return ag_transpose(c, in[0], 1, 2); }
static struct ag_tensor *build_transpose02(struct ag_ctx *c, struct ag_tensor **in) { return ag_transpose(c, in[0], 0, -1); }
static struct ag_tensor *build_narrow_last(struct ag_ctx *c, struct ag_tensor **in) { return ag_narrow(c, in[0], -1, 2, 3); }
static struct ag_tensor *build_narrow_mid(struct ag_ctx *c, struct ag_tensor **in) { return ag_narrow(c, in[0], 1, 1, 2); }
static const uint32_t IDS[6] = { 3, 0, 3, 4, 1, 3 };     /* repeats: row 3 gets three gradients */
static struct ag_tensor *build_embedding(struct ag_ctx *c, struct ag_tensor **in) { return ag_embedding(c, in[0], IDS, 2, (int[]){ 2, 3 }); }
static struct ag_tensor *build_layer_norm(struct ag_ctx *c, struct ag_tensor **in) { return ag_layer_norm(c, in[0], in[1], in[2], 1e-5); }
static struct ag_tensor *build_gelu(struct ag_ctx *c, struct ag_tensor **in) { return ag_gelu(c, in[0]); }
static struct ag_tensor *build_softmax(struct ag_ctx *c, struct ag_tensor **in) { return ag_softmax(c, in[0], 0); }
static struct ag_tensor *build_softmax_causal(struct ag_ctx *c, struct ag_tensor **in) { return ag_softmax(c, in[0], 1); }
static struct ag_tensor *build_cross_entropy(struct ag_ctx *c, struct ag_tensor **in) { return ag_cross_entropy(c, in[0], IDS); }
static struct ag_tensor *build_sum(struct ag_ctx *c, struct ag_tensor **in) { return ag_sum(c, in[0]); }
static struct ag_tensor *build_mean(struct ag_ctx *c, struct ag_tensor **in) { return ag_mean(c, in[0]); }
/* One attention head chain: softmax(q k^T / sqrt(d), causal) v, q,k,v cut from one x. */
static struct ag_tensor *build_attention(struct ag_ctx *c, struct ag_tensor **in)
{
    struct ag_tensor *qkv = ag_matmul_t(c, in[0], in[1]);                   /* (2, 4, 6) */
    struct ag_tensor *q = ag_narrow(c, qkv, -1, 0, 2), *k = ag_narrow(c, qkv, -1, 2, 2), *v = ag_narrow(c, qkv, -1, 4, 2);
    struct ag_tensor *att = ag_softmax(c, ag_scale(c, ag_matmul_t(c, q, k), 1 / sqrt(2.0)), 1);
    return ag_matmul(c, att, v);
}

TEST(gradcheck_add)
{
    GRADCHECK(add, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(2, 3, 4), 1));
    GRADCHECK(add, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(4), 1));
    GRADCHECK(add, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(3, 4), 1));
}
TEST(gradcheck_mul)
{
    GRADCHECK(mul, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(2, 3, 4), 1));
    GRADCHECK(mul, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(4), 1));
}
TEST(gradcheck_scale) { GRADCHECK(scale, 1, leaf(SHAPE(3, 5), 1)); }
TEST(gradcheck_matmul)
{
    GRADCHECK(matmul, 2, leaf(SHAPE(3, 4), 1), leaf(SHAPE(4, 5), 1));
    GRADCHECK(matmul, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(4, 5), 1));          /* shared b */
    GRADCHECK(matmul, 2, leaf(SHAPE(2, 2, 3, 4), 1), leaf(SHAPE(2, 2, 4, 5), 1)); /* batched */
    GRADCHECK(matmul_t, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(5, 4), 1));
    GRADCHECK(matmul_t, 2, leaf(SHAPE(2, 3, 4), 1), leaf(SHAPE(2, 5, 4), 1));
}
TEST(gradcheck_reshape) { GRADCHECK(reshape, 2, leaf(SHAPE(6, 2, 2), 1), leaf(SHAPE(4, 3), 1)); }
TEST(gradcheck_transpose)
{
    GRADCHECK(transpose12, 1, leaf(SHAPE(2, 3, 4, 5), 1));
    GRADCHECK(transpose02, 1, leaf(SHAPE(2, 3, 4), 1));
}
TEST(gradcheck_narrow)
{
    GRADCHECK(narrow_last, 1, leaf(SHAPE(2, 3, 6), 1));
    GRADCHECK(narrow_mid, 1, leaf(SHAPE(2, 4, 3), 1));
}
TEST(gradcheck_embedding) { GRADCHECK(embedding, 1, leaf(SHAPE(5, 4), 1)); }
TEST(gradcheck_layer_norm) { GRADCHECK(layer_norm, 3, leaf(SHAPE(2, 3, 8), 2), leaf(SHAPE(8), 1), leaf(SHAPE(8), 1)); }
TEST(gradcheck_gelu) { GRADCHECK(gelu, 1, leaf(SHAPE(4, 6), 3)); }
TEST(gradcheck_softmax)
{
    GRADCHECK(softmax, 1, leaf(SHAPE(3, 5), 2));
    GRADCHECK(softmax_causal, 1, leaf(SHAPE(2, 4, 4), 2));
}
TEST(gradcheck_cross_entropy) { GRADCHECK(cross_entropy, 1, leaf(SHAPE(2, 3, 5), 2)); }
TEST(gradcheck_sum) { GRADCHECK(sum, 1, leaf(SHAPE(3, 4), 1)); }
TEST(gradcheck_mean) { GRADCHECK(mean, 1, leaf(SHAPE(3, 4), 1)); }
TEST(gradcheck_attention) { GRADCHECK(attention, 2, leaf(SHAPE(2, 4, 3), 1), leaf(SHAPE(6, 3), 1)); }

/* The checks above are worth something only if they reached every op. */
TEST(every_op_was_checked)
{
    for (int op = AG_LEAF + 1; op < AG_NUM_OPS; op++) {
        if (!covered[op]) fprintf(stderr, "  op %s has no gradient check\n", ag_op_name(op));
        CHECK(covered[op]);
    }
}

/* A gradcheck that cannot fail is worthless: a wrong backward must be caught.
 * Corrupt GELU's derivative through its input's grad and expect a mismatch. */
static struct ag_tensor *build_wrong(struct ag_ctx *c, struct ag_tensor **in)
{
    /* y = gelu(x) * x, recorded honestly, then the graph is lied about:
     * the mul is relabelled as an add, whose backward is different */
    struct ag_tensor *y = ag_mul(c, ag_gelu(c, in[0]), in[0]);
    y->op = AG_ADD;
    return y;
}
TEST(gradcheck_catches_a_wrong_backward)
{
    P = ag_ctx_new();
    struct ag_tensor *in[] = { leaf(SHAPE(3, 3), 1) };
    printf("# (the next check is expected to report a mismatch)\n");
    fflush(stdout);
    int save = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    int bad = gradcheck("deliberately wrong", build_wrong, in, 1);
    dup2(save, 2);
    close(save);
    close(devnull);
    CHECK(bad > 0);
    ag_ctx_free(P);
}

/* ---- the rules ---- */
TEST(accumulation_is_plus_equals_and_zero_grad_resets)
{
    struct ag_ctx *c = ag_ctx_new();
    struct ag_tensor *x = ag_tensor_new(c, 1, (int[]){ 3 }, 1);
    x->data[0] = 1; x->data[1] = 2; x->data[2] = 3;
    for (int k = 0; k < 2; k++) ag_backward(c, ag_sum(c, ag_mul(c, x, x)));     /* d sum x^2 = 2x */
    CHECK_NEAR(x->grad[1], 2 * 2 * 2.0, 1e-12);          /* two passes added up */
    ag_zero_grad(&x, 1);
    CHECK(x->grad[0] == 0 && x->grad[1] == 0 && x->grad[2] == 0);
    /* one graph, one backward pass: a second would count its paths twice */
    struct ag_tensor *loss = ag_sum(c, ag_mul(c, x, x));
    ag_backward(c, loss);
    EXPECT_DIE(ag_backward(c, loss), "ag_backward: the graph through sum (sum) was already back-propagated");
    ag_ctx_free(c);
}

TEST(grads_never_require_grad_and_no_grad_records_nothing)
{
    struct ag_ctx *c = ag_ctx_new();
    struct ag_tensor *x = ag_tensor_new(c, 1, (int[]){ 3 }, 1), *k = ag_tensor_new(c, 1, (int[]){ 3 }, 0);
    struct ag_tensor *y = ag_mul(c, x, k);
    CHECK(y->requires_grad && y->op == AG_MUL && y->src[0] == x && y->src[1] == k);
    CHECK(ag_mul(c, k, k)->requires_grad == 0);         /* no input requires grad */
    ag_no_grad(c, 1);
    struct ag_tensor *z = ag_mul(c, x, k);
    CHECK(z->requires_grad == 0 && z->op == AG_LEAF && z->src[0] == NULL && z->grad == NULL);
    ag_no_grad(c, 0);
    ag_ctx_free(c);
}

TEST(inplace_change_of_a_tensor_requiring_grad_is_refused)
{
    struct ag_ctx *c = ag_ctx_new();
    struct ag_tensor *x = ag_tensor_new(c, 1, (int[]){ 2 }, 1), *k = ag_tensor_new(c, 1, (int[]){ 2 }, 0);
    x->name = "w";
    double v[2] = { 1, 2 };
    EXPECT_DIE(ag_copy_(x, v), "ag_copy_: tensor 'w' requires grad");
    ag_copy_(k, v);                                     /* fine: k needs no gradient */
    CHECK(k->data[1] == 2 && k->version == 1);
    /* changing an input after the graph used it: backward refuses */
    struct ag_tensor *loss = ag_sum(c, ag_mul(c, x, k));
    ag_copy_(k, v);
    EXPECT_DIE(ag_backward(c, loss), "was changed in place after mul used it");
    ag_ctx_free(c);
}

TEST(backward_needs_a_scalar_that_requires_grad)
{
    struct ag_ctx *c = ag_ctx_new();
    struct ag_tensor *x = ag_tensor_new(c, 2, (int[]){ 2, 2 }, 1), *k = ag_tensor_new(c, 1, (int[]){ 2 }, 0);
    EXPECT_DIE(ag_backward(c, ag_gelu(c, x)), "the loss must be a scalar, got shape (2, 2)");
    EXPECT_DIE(ag_backward(c, ag_sum(c, k)), "the loss does not require grad");
    EXPECT_DIE(ag_matmul(c, x, k), "ag_matmul: operands must have at least 2 dimensions");
    EXPECT_DIE(ag_add(c, k, x), "ag_add: shapes (2) and (2, 2) do not broadcast");
    EXPECT_DIE(ag_embedding(c, x, (uint32_t[]){ 0, 2 }, 1, (int[]){ 2 }), "id 2 at position 1 is not below the table size 2");
    ag_ctx_free(c);
}

TEST(arena_reuses_its_memory_after_the_first_step)
{
    struct ag_ctx *c = ag_ctx_new();
    struct ag_tensor *x = ag_tensor_new(c, 1, (int[]){ 1000 }, 1);
    struct ag_ctx *s = ag_ctx_new();
    size_t first = 0;
    for (int step = 0; step < 4; step++) {
        struct ag_tensor *y = x;
        for (int i = 0; i < 100; i++) y = ag_gelu(s, y);    /* ~1.6 MB: more than the first chunk */
        ag_backward(s, ag_mean(s, y));
        ag_ctx_clear(s);
        if (step == 1) first = ag_ctx_mallocs(s);
        if (step > 1) CHECK(ag_ctx_mallocs(s) == first);
    }
    ag_ctx_free(s);
    ag_ctx_free(c);
}

int main(void)
{
    rng_seed(&R, 7);
    RUN(gradcheck_add);
    RUN(gradcheck_mul);
    RUN(gradcheck_scale);
    RUN(gradcheck_matmul);
    RUN(gradcheck_reshape);
    RUN(gradcheck_transpose);
    RUN(gradcheck_narrow);
    RUN(gradcheck_embedding);
    RUN(gradcheck_layer_norm);
    RUN(gradcheck_gelu);
    RUN(gradcheck_softmax);
    RUN(gradcheck_cross_entropy);
    RUN(gradcheck_sum);
    RUN(gradcheck_mean);
    RUN(gradcheck_attention);
    RUN(every_op_was_checked);
    RUN(gradcheck_catches_a_wrong_backward);
    RUN(accumulation_is_plus_equals_and_zero_grad_resets);
    RUN(grads_never_require_grad_and_no_grad_records_nothing);
    RUN(inplace_change_of_a_tensor_requiring_grad_is_refused);
    RUN(backward_needs_a_scalar_that_requires_grad);
    RUN(arena_reuses_its_memory_after_the_first_step);
    return unit_summary();
}
