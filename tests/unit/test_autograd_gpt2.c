/* test_autograd_gpt2.c - the autograd GPT-2 (lib/ag_gpt2.c): the rules of
 * the library at model scale, and a dump for the PyTorch comparison.
 *
 *   test_autograd_gpt2                 run the unit tests
 *   test_autograd_gpt2 --torch DIR     write DIR/ag.bin (config, weights,
 *                                      batch, loss, gradients, losses of 5
 *                                      AdamW steps) for tests/autograd/torch_gpt2.py
 *
 * ag.bin is a list of named arrays, all little-endian:
 *   "TFSAGDMP"  uint32 count, then per array:
 *   uint32 name length, name bytes, uint32 dtype (0 = float32, 1 = uint32),
 *   uint32 ndim, ndim x uint32 dims, the elements row-major.
 */
#include "ag_gpt2.h"

#include <stdint.h>

#include "rng.h"
#include "unit.h"
#include "xio.h"

static const struct gpt2_config TINY = { .vocab = 37, .context = 16, .layers = 2, .heads = 2, .dim = 16 };

/* The parameter block of gpt2.h for cfg, sized and pointed by hand (the
 * shapes in gpt2.h's enum comments), with weights drawn so that every
 * parameter, biases and gains included, takes part with a nonzero value. */
static const char *const PNAME[GPT2_NPARAMS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};
static void model_new(struct gpt2 *m, const struct gpt2_config *cfg, uint64_t seed)
{
    size_t V = (size_t)cfg->vocab, P = (size_t)cfg->context, L = (size_t)cfg->layers, C = (size_t)cfg->dim;
    size_t sz[GPT2_NPARAMS] = { V * C, P * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
                                L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C };
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    for (int i = 0; i < GPT2_NPARAMS; i++) m->nparams += m->param_sizes[i] = sz[i];
    m->params = xcalloc(m->nparams, sizeof *m->params);
    float *p = m->params;
    for (int i = 0; i < GPT2_NPARAMS; i++) { m->p[i] = p; p += sz[i]; }
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        int gain = i == P_LN1W || i == P_LN2W || i == P_LNFW;
        int bias = i == P_LN1B || i == P_LN2B || i == P_LNFB || i == P_QKVB || i == P_ATTPROJB || i == P_FCB || i == P_FCPROJB;
        for (size_t k = 0; k < sz[i]; k++)
            m->p[i][k] = gain ? 1 + 0.1f * (float)rng_normal(&r) : bias ? 0.02f * (float)rng_normal(&r) : 0.1f * (float)rng_normal(&r);
    }
}
static void model_free(struct gpt2 *m)
{
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
}

static void batch(uint32_t *x, uint32_t *y, int n, int V, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) { x[i] = (uint32_t)rng_below(&r, (uint64_t)V); y[i] = (uint32_t)rng_below(&r, (uint64_t)V); }
}

/* max |a - b| / max |b| */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > s) s = fabs((double)b[i]);
    }
    return s > 0 ? d / s : d;
}

TEST(initial_loss_is_near_log_vocab)
{
    struct gpt2 m;
    model_new(&m, &TINY, 1);
    for (size_t i = 0; i < m.nparams; i++) m.params[i] *= 0.01f;     /* near-uniform predictions */
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[2 * 8], y[2 * 8];
    batch(x, y, 16, TINY.vocab, 2);
    float loss = ag_gpt2_forward(g, x, y, 2, 8);
    CHECK_NEAR(loss, logf((float)TINY.vocab), 0.01);
    ag_gpt2_free(g);
    model_free(&m);
}

/* Gradient accumulation: two micro-batches of B with scale 1/2 give the
 * gradient of one batch of 2B (the mean over all 2BT positions). */
TEST(two_micro_batches_accumulate_to_one_double_batch)
{
    enum { B = 2, T = 8 };
    struct gpt2 m;
    model_new(&m, &TINY, 3);
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[2 * B * T], y[2 * B * T];
    batch(x, y, 2 * B * T, TINY.vocab, 4);

    ag_gpt2_zero_grad(g);
    float whole = ag_gpt2_forward(g, x, y, 2 * B, T);
    ag_gpt2_backward(g, 1);
    float *ref = xmalloc(m.nparams * sizeof *ref);
    memcpy(ref, m.grads, m.nparams * sizeof *ref);

    ag_gpt2_zero_grad(g);
    float l1 = ag_gpt2_forward(g, x, y, B, T);
    ag_gpt2_backward(g, 0.5f);
    float l2 = ag_gpt2_forward(g, x + B * T, y + B * T, B, T);
    ag_gpt2_backward(g, 0.5f);
    CHECK_NEAR((l1 + l2) / 2, whole, 1e-5);
    double d = rel_diff(m.grads, ref, m.nparams);
    printf("# accumulated vs whole batch: max relative gradient difference %.2g\n", d);
    CHECK(d < 1e-5);
    /* and without zero_grad the next backward adds on top */
    ag_gpt2_backward(g, 0.5f);
    CHECK(rel_diff(m.grads, ref, m.nparams) > 0.1);
    free(ref);
    ag_gpt2_free(g);
    model_free(&m);
}

TEST(training_steps_allocate_nothing_after_the_first_and_learn)
{
    enum { B = 2, T = 16 };
    struct gpt2 m;
    model_new(&m, &TINY, 5);
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[B * T], y[B * T];
    batch(x, y, B * T, TINY.vocab, 6);
    float first = 0, last = 0;
    size_t mallocs = 0;
    for (int t = 1; t <= 30; t++) {
        last = ag_gpt2_forward(g, x, y, B, T);
        if (t == 1) first = last;
        ag_gpt2_zero_grad(g);
        ag_gpt2_backward(g, 1);
        ag_gpt2_adamw_step(g, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, t);
        if (t == 2) mallocs = ag_ctx_mallocs(g->ctx);
        if (t > 2) CHECK(ag_ctx_mallocs(g->ctx) == mallocs);
    }
    printf("# one batch, 30 AdamW steps: loss %.4f -> %.4f, arena %zu bytes\n", first, last, ag_ctx_bytes(g->ctx));
    CHECK(last < 0.5f * first);
    ag_gpt2_free(g);
    model_free(&m);
}

TEST(backward_after_an_optimizer_step_is_refused)
{
    struct gpt2 m;
    model_new(&m, &TINY, 7);
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[8], y[8];
    batch(x, y, 8, TINY.vocab, 8);
    ag_gpt2_forward(g, x, y, 1, 8);
    ag_gpt2_backward(g, 1);
    ag_gpt2_adamw_step(g, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1);
    EXPECT_DIE(ag_gpt2_backward(g, 1), "was changed in place after");
    ag_gpt2_forward(g, x, NULL, 1, 8);
    EXPECT_DIE(ag_gpt2_backward(g, 1), "the last forward pass had no targets");
    EXPECT_DIE(ag_gpt2_forward(g, x, y, 1, 17), "sequence length 17 is not in 1..16");
    ag_gpt2_free(g);
    model_free(&m);
}

/* ---- the dump for tests/autograd/torch_gpt2.py ---- */
static void put(FILE *f, const char *name, uint32_t dtype, int ndim, const uint32_t *dims, const void *data)
{
    uint32_t len = (uint32_t)strlen(name), nd = (uint32_t)ndim;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    xfwrite(&len, 4, 1, f);
    xfwrite(name, 1, len, f);
    xfwrite(&dtype, 4, 1, f);
    xfwrite(&nd, 4, 1, f);
    xfwrite(dims, 4, (size_t)ndim, f);
    xfwrite(data, 4, n, f);
}

static int torch_dump(const char *dir)
{
    enum { B = 3, T = 12, STEPS = 5 };
    struct gpt2 m;
    model_new(&m, &TINY, 11);
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[B * T], y[B * T];
    batch(x, y, B * T, TINY.vocab, 12);
    char path[4096];
    snprintf(path, sizeof path, "%s/ag.bin", dir);
    FILE *f = xfopen(path, "wb");
    uint32_t count = 4 + 2 * GPT2_NPARAMS + 2;
    xfwrite("TFSAGDMP", 1, 8, f);
    xfwrite(&count, 4, 1, f);
    uint32_t cfg[7] = { (uint32_t)TINY.vocab, (uint32_t)TINY.context, (uint32_t)TINY.layers,
                        (uint32_t)TINY.heads, (uint32_t)TINY.dim, B, T };
    put(f, "config", 1, 1, (uint32_t[]){ 7 }, cfg);
    put(f, "inputs", 1, 2, (uint32_t[]){ B, T }, x);
    put(f, "targets", 1, 2, (uint32_t[]){ B, T }, y);
    for (int i = 0; i < GPT2_NPARAMS; i++)
        put(f, PNAME[i], 0, 1, (uint32_t[]){ (uint32_t)m.param_sizes[i] }, m.p[i]);
    ag_gpt2_zero_grad(g);
    float loss = ag_gpt2_forward(g, x, y, B, T);
    ag_gpt2_backward(g, 1);
    put(f, "loss", 0, 1, (uint32_t[]){ 1 }, &loss);
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%s", PNAME[i]);
        put(f, name, 0, 1, (uint32_t[]){ (uint32_t)m.param_sizes[i] }, m.grads + (m.p[i] - m.params));
    }
    /* AdamW: lr 1e-2, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices */
    float losses[STEPS];
    for (int t = 1; t <= STEPS; t++) {
        if (t > 1) {
            losses[t - 1] = ag_gpt2_forward(g, x, y, B, T);
            ag_gpt2_zero_grad(g);
            ag_gpt2_backward(g, 1);
        } else losses[0] = loss;
        ag_gpt2_adamw_step(g, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, t);
    }
    put(f, "adamw_losses", 0, 1, (uint32_t[]){ STEPS }, losses);
    xfclose(f);
    ag_gpt2_free(g);
    model_free(&m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--torch") == 0) return torch_dump(argv[2]);
    RUN(initial_loss_is_near_log_vocab);
    RUN(two_micro_batches_accumulate_to_one_double_batch);
    RUN(training_steps_allocate_nothing_after_the_first_and_learn);
    RUN(backward_after_an_optimizer_step_is_refused);
    return unit_summary();
}
