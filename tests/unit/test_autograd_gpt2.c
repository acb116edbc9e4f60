/* test_autograd_gpt2.c - the autograd GPT-2 (lib/autograd/ag_gpt2.c): the rules of
 * the library at model scale, and the comparison with the custom level.
 *
 * The custom level (lib/gpt2/gpt2.c, hand-written backward) is the reference for
 * the loss, every gradient, 20 AdamW steps and checkpoints; PyTorch is the
 * second, independent one (tests/70-autograd.bats, with the driver
 * tests/torch/gpt2_dump.c --autograd and tests/torch/gpt2_reference.py).
 */
#include "autograd/ag_gpt2.h"
#include "model/checkpoint.h"

#include <stdint.h>

#include "core/rng.h"
#include "unit.h"
#include "core/xio.h"

static const struct gpt2_config TINY = { .vocab = 37, .context = 16, .layers = 2, .heads = 2, .dim = 16 };

/* gpt2_init's parameter block with weights drawn so that every parameter,
 * biases and gains included, takes part with a nonzero value (GPT-2's own
 * initialisation, gpt2_init_weights, starts biases at 0 and gains at 1). */
static const char *const PNAME[GPT2_NPARAMS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};
static void gpt2_model_new(struct gpt2 *m, const struct gpt2_config *cfg, uint64_t seed)
{
    gpt2_init(m, cfg);
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        int gain = i == P_LN1W || i == P_LN2W || i == P_LNFW;
        float sd = gpt2_param_decays(i) ? 0.1f : 0.02f;       /* matrices, or biases and gains */
        for (size_t k = 0; k < m->param_sizes[i]; k++) m->p[i][k] = (gain ? 1 : 0) + sd * (float)rng_normal(&r);
    }
}
static void gpt2_model_free(struct gpt2 *m) { gpt2_free(m); }

/* A second model with the same weights. */
static void gpt2_model_copy(struct gpt2 *dst, const struct gpt2 *src)
{
    gpt2_init(dst, &src->cfg);
    memcpy(dst->params, src->params, src->nparams * sizeof *dst->params);
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
    gpt2_model_new(&m, &TINY, 1);
    for (size_t i = 0; i < m.nparams; i++) m.params[i] *= 0.01f;     /* near-uniform predictions */
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[2 * 8], y[2 * 8];
    batch(x, y, 16, TINY.vocab, 2);
    float loss = ag_gpt2_forward(g, x, y, 2, 8);
    CHECK_NEAR(loss, logf((float)TINY.vocab), 0.01);
    ag_gpt2_free(g);
    gpt2_model_free(&m);
}

/* Gradient accumulation: two micro-batches of B with scale 1/2 give the
 * gradient of one batch of 2B (the mean over all 2BT positions). */
TEST(two_micro_batches_accumulate_to_one_double_batch)
{
    enum { B = 2, T = 8 };
    struct gpt2 m;
    gpt2_model_new(&m, &TINY, 3);
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
    /* a graph is back-propagated once */
    EXPECT_DIE(ag_gpt2_backward(g, 0.5f), "was already back-propagated");
    /* and without zero_grad the next forward and backward add on top */
    ag_gpt2_forward(g, x, y, 2 * B, T);
    ag_gpt2_backward(g, 1);
    for (size_t i = 0; i < m.nparams; i++) ref[i] *= 2;
    CHECK(rel_diff(m.grads, ref, m.nparams) < 1e-5);
    free(ref);
    ag_gpt2_free(g);
    gpt2_model_free(&m);
}

TEST(training_steps_allocate_nothing_after_the_first_and_learn)
{
    enum { B = 2, T = 16 };
    struct gpt2 m;
    gpt2_model_new(&m, &TINY, 5);
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
    gpt2_model_free(&m);
}

TEST(backward_after_an_optimizer_step_is_refused)
{
    struct gpt2 m;
    gpt2_model_new(&m, &TINY, 7);
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    uint32_t x[8], y[8];
    batch(x, y, 8, TINY.vocab, 8);
    ag_gpt2_forward(g, x, y, 1, 8);
    ag_gpt2_backward(g, 1);
    ag_gpt2_forward(g, x, y, 1, 8);         /* a graph recorded before the step */
    ag_gpt2_adamw_step(g, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1);
    EXPECT_DIE(ag_gpt2_backward(g, 1), "was changed in place after");
    ag_gpt2_forward(g, x, NULL, 1, 8);
    EXPECT_DIE(ag_gpt2_backward(g, 1), "the last forward pass had no targets");
    EXPECT_DIE(ag_gpt2_forward(g, x, y, 1, 17), "sequence length 17 is not in 1..16");
    ag_gpt2_free(g);
    gpt2_model_free(&m);
}

/* ---- the autograd level against the custom level ---- */

/* The enum gpt2_param a parameter tensor views. */
static int param_of(const struct gpt2 *m, const struct ag_tensor *t)
{
    for (int i = 0; i < GPT2_NPARAMS; i++)
        if (t->data >= m->p[i] && t->data < m->p[i] + m->param_sizes[i]) return i;
    return -1;
}

TEST(parameter_views_tile_the_block_and_decay_as_the_custom_level)
{
    struct gpt2 m;
    gpt2_model_new(&m, &TINY, 1);
    struct ag_gpt2 *g = ag_gpt2_new(&m);
    CHECK(g->nparams == 2 + 12 * TINY.layers + 2);
    size_t next = 0;                /* the views run through the block once, in order */
    for (int k = 0; k < g->nparams; k++) {
        CHECK((size_t)(g->params[k]->data - m.params) == next);
        CHECK(g->params[k]->grad - m.grads == g->params[k]->data - m.params);
        next += g->params[k]->n;
    }
    CHECK(next == m.nparams);
    uint32_t x[8], y[8];
    batch(x, y, 8, TINY.vocab, 1);
    ag_gpt2_forward(g, x, y, 1, 8);
    ag_gpt2_backward(g, 1);
    ag_gpt2_adamw_step(g, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1);
    for (int k = 0; k < g->nparams; k++) CHECK(g->opt.decay[k] == gpt2_param_decays(param_of(&m, g->params[k])));
    ag_gpt2_free(g);
    gpt2_model_free(&m);
}

/* loss and every gradient tensor within 1e-5 relative of the custom level */
static void compare_gradients(const char *what, struct gpt2 *c, int B, int T, uint64_t seed)
{
    struct gpt2 a;
    gpt2_model_copy(&a, c);
    struct ag_gpt2 *g = ag_gpt2_new(&a);
    uint32_t *x = xmalloc((size_t)B * T * sizeof *x), *y = xmalloc((size_t)B * T * sizeof *y);
    batch(x, y, B * T, c->cfg.vocab, seed);
    gpt2_zero_grad(c);
    float lc = gpt2_forward(c, x, y, B, T);
    gpt2_backward(c, 1);
    ag_gpt2_zero_grad(g);
    float la = ag_gpt2_forward(g, x, y, B, T);
    ag_gpt2_backward(g, 1);
    printf("# %s: loss custom %.7f autograd %.7f\n", what, lc, la);
    CHECK(fabsf(la - lc) <= 1e-5f * fabsf(lc));
    double worst = 0;
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        size_t off = (size_t)(c->p[i] - c->params);
        double d = rel_diff(a.grads + off, c->grads + off, c->param_sizes[i]);
        if (d > 1e-5) fprintf(stderr, "  %s: gradient of %s differs by %.3g relative\n", what, PNAME[i], d);
        CHECK(d <= 1e-5);
        if (d > worst) worst = d;
    }
    printf("# %s: max relative gradient difference over the %d tensors %.2g\n", what, GPT2_NPARAMS, worst);
    free(x);
    free(y);
    ag_gpt2_free(g);
    gpt2_model_free(&a);
}

TEST(same_loss_and_gradients_as_the_custom_level)
{
    struct gpt2 c;
    gpt2_model_new(&c, &TINY, 21);
    compare_gradients("random weights, B=3 T=12", &c, 3, 12, 22);
    compare_gradients("random weights, B=2 T=16", &c, 2, 16, 23);
    gpt2_model_free(&c);
    struct gpt2_config cfg = { .vocab = 50, .context = 12, .layers = 3, .heads = 4, .dim = 24 };
    gpt2_init(&c, &cfg);
    gpt2_init_weights(&c, 24);
    compare_gradients("GPT-2 init, L=3 NH=4", &c, 2, 12, 25);
    gpt2_model_free(&c);
}

/* ag_AdamW does the custom level's arithmetic: from the same gradients and
 * moments, one step gives the same weights bit for bit. */
TEST(one_adamw_step_updates_bit_for_bit_as_the_custom_level)
{
    struct gpt2 c, a;
    gpt2_model_new(&c, &TINY, 51);
    gpt2_model_copy(&a, &c);
    struct ag_gpt2 *g = ag_gpt2_new(&a);
    gpt2_zero_grad(&c);
    struct rng r;
    rng_seed(&r, 52);
    for (size_t i = 0; i < c.nparams; i++) c.grads[i] = a.grads[i] = 0.01f * (float)rng_normal(&r);
    for (int t = 1; t <= 3; t++) {
        gpt2_adamw_step(&c, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, t);
        ag_gpt2_adamw_step(g, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, t);
    }
    CHECK(memcmp(a.params, c.params, c.nparams * sizeof *c.params) == 0);
    CHECK(memcmp(a.m, c.m, c.nparams * sizeof *c.m) == 0 && memcmp(a.v, c.v, c.nparams * sizeof *c.v) == 0);
    ag_gpt2_free(g);
    gpt2_model_free(&a);
    gpt2_model_free(&c);
}

/* One training step of either level with global-norm clipping at 1, as
 * tfs-train does; returns the loss. */
static float train_step(struct gpt2 *m, struct ag_gpt2 *g, int step, int B, int T)
{
    uint32_t x[64], y[64];
    batch(x, y, B * T, m->cfg.vocab, 1000 + (uint64_t)step);
    float loss;
    if (g) { ag_gpt2_zero_grad(g); loss = ag_gpt2_forward(g, x, y, B, T); ag_gpt2_backward(g, 1); }
    else { gpt2_zero_grad(m); loss = gpt2_forward(m, x, y, B, T); gpt2_backward(m, 1); }
    float norm = gpt2_grad_norm(m), scale = norm > 1 ? 1 / norm : 1;
    if (g) ag_gpt2_adamw_step(g, 3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, scale, step);
    else gpt2_adamw_step(m, 3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, scale, step);
    return loss;
}

TEST(twenty_adamw_steps_follow_the_custom_levels_loss_trajectory)
{
    enum { B = 2, T = 16, STEPS = 20 };
    struct gpt2 c, a;
    gpt2_model_new(&c, &TINY, 31);
    gpt2_model_copy(&a, &c);
    struct ag_gpt2 *g = ag_gpt2_new(&a);
    double worst = 0;
    float lc = 0, la = 0;
    for (int t = 1; t <= STEPS; t++) {
        lc = train_step(&c, NULL, t, B, T);
        la = train_step(&a, g, t, B, T);
        if (fabsf(la - lc) > worst) worst = fabsf(la - lc);
    }
    printf("# 20 AdamW steps: final loss custom %.6f autograd %.6f, max |difference| %.2g\n", lc, la, worst);
    CHECK(worst <= 1e-4);
    /* and the weights agree, except the key bias: q . (k + b) - q . k = q . b
     * is the same for every key of a query, so softmax cancels it and its
     * true gradient is 0.  Both levels compute rounding noise of about 1e-9
     * there, which Adam's g / sqrt(v) turns into lr-sized random steps. */
    int C = TINY.dim;
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        size_t off = (size_t)(c.p[i] - c.params);
        if (i != P_QKVB) CHECK(rel_diff(a.params + off, c.params + off, c.param_sizes[i]) < 1e-5);
        else
            for (int l = 0; l < TINY.layers; l++) {     /* (L, 3C): the q and v thirds of each layer */
                CHECK(rel_diff(a.p[i] + l * 3 * C, c.p[i] + l * 3 * C, (size_t)C) < 1e-5);
                CHECK(rel_diff(a.p[i] + l * 3 * C + 2 * C, c.p[i] + l * 3 * C + 2 * C, (size_t)C) < 1e-5);
            }
    }
    ag_gpt2_free(g);
    gpt2_model_free(&a);
    gpt2_model_free(&c);
}

/* Train 3 steps with one level, save a training checkpoint, resume it with
 * the other level for 3 more: the same losses as the first level going on. */
static void resume_across(int first_is_autograd)
{
    enum { B = 2, T = 16 };
    const char *path = unit_tmp("resume.safetensors");
    struct gpt2 m, r;
    gpt2_model_new(&m, &TINY, 41);
    struct ag_gpt2 *g = first_is_autograd ? ag_gpt2_new(&m) : NULL;
    for (int t = 1; t <= 3; t++) train_step(&m, g, t, B, T);
    struct train_state st = { .step = 3, .updates = 3, .best_val = INFINITY };
    ckpt_save(path, &m, 0, &st, NULL);
    struct ckpt_info info;
    ckpt_load(path, &r, &info, 1);
    CHECK(info.has_state && info.st.updates == 3);
    struct ag_gpt2 *h = first_is_autograd ? NULL : ag_gpt2_new(&r);
    double worst = 0;
    for (int t = 4; t <= 6; t++) {
        float go_on = train_step(&m, g, t, B, T), resumed = train_step(&r, h, t, B, T);
        if (fabsf(go_on - resumed) > worst) worst = fabsf(go_on - resumed);
    }
    printf("# trained with %s, resumed with %s: max |loss difference| %.2g over 3 steps\n",
           first_is_autograd ? "autograd" : "custom", first_is_autograd ? "custom" : "autograd", worst);
    CHECK(worst <= 1e-4);
    ckpt_info_free(&info);
    ag_gpt2_free(g);
    ag_gpt2_free(h);
    gpt2_model_free(&m);
    gpt2_model_free(&r);
}

TEST(checkpoints_are_interchangeable)
{
    resume_across(0);
    resume_across(1);
}

int main(void)
{
    RUN(initial_loss_is_near_log_vocab);
    RUN(two_micro_batches_accumulate_to_one_double_batch);
    RUN(training_steps_allocate_nothing_after_the_first_and_learn);
    RUN(backward_after_an_optimizer_step_is_refused);
    RUN(parameter_views_tile_the_block_and_decay_as_the_custom_level);
    RUN(same_loss_and_gradients_as_the_custom_level);
    RUN(one_adamw_step_updates_bit_for_bit_as_the_custom_level);
    RUN(twenty_adamw_steps_follow_the_custom_levels_loss_trajectory);
    RUN(checkpoints_are_interchangeable);
    return unit_summary();
}
