/* test_gpt2.c - the whole model (lib/gpt2/gpt2.c): gradient check of every
 * parameter on a tiny config, gradient accumulation over micro-batches,
 * KV-cache generation against the full forward pass, AdamW, determinism,
 * sizes, and the errors for bad input.  (The layer-by-layer checks are in
 * test_ops.c; the comparison with PyTorch in tests/torch/.) */
#include "unit.h"
#include "gpt2/gpt2.h"
#include "core/rng.h"
#include "core/xio.h"

#include <omp.h>
#include <stdint.h>

static const struct gpt2_config TINY = {.vocab = 11, .context = 8, .layers = 2, .heads = 2, .dim = 8};

/* Weights large enough that every path carries a visible gradient (GPT-2's
 * N(0, 0.02) would leave most of them near zero). */
static void big_weights(struct gpt2 *m, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        int gain = i == P_LN1W || i == P_LN2W || i == P_LNFW;
        for (size_t k = 0; k < m->param_sizes[i]; k++)
            m->p[i][k] = (float)((gain ? 1 : 0) + 0.3 * rng_normal(&r));
    }
}

static void random_tokens(uint32_t *t, int n, int V, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) t[i] = (uint32_t)rng_below(&r, (uint64_t)V);
}

static const char *PNAMES[GPT2_NPARAMS] = {"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw",
    "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

/* Central differences of the mean loss against every parameter:
 * g_num = (L(p + h) - L(p - h)) / (2h), the losses summed in double.
 * Run on both paths (gpt2.h, plain). */
static void gradcheck_whole_model(int plain)
{
    enum { B = 2, T = 5 };
    struct gpt2 m;
    gpt2_init(&m, &TINY);
    m.plain = plain;
    big_weights(&m, 7);
    uint32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, TINY.vocab, 1);
    random_tokens(tg, B * T, TINY.vocab, 2);
    gpt2_forward(&m, in, tg, B, T);
    gpt2_zero_grad(&m);
    gpt2_backward(&m, 1.0f);
    const double h = 1e-2;
    int total_bad = 0;
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        double maxerr = 0, maxg = 0;
        int bad = 0;
        /* every element, except a sample of the larger tensors under ASan */
        size_t stride = getenv("TFS_ASAN") && m.param_sizes[i] > 64 ? 7 : 1;
        for (size_t k = 0; k < m.param_sizes[i]; k += stride) {
            float *p = &m.p[i][k], v = *p, xp = (float)(v + h), xm = (float)(v - h);
            double Lp, Lm;
            *p = xp; gpt2_forward(&m, in, tg, B, T);
            Lp = 0; for (int n = 0; n < B * T; n++) Lp += m.losses[n];
            *p = xm; gpt2_forward(&m, in, tg, B, T);
            Lm = 0; for (int n = 0; n < B * T; n++) Lm += m.losses[n];
            *p = v;
            double num = (Lp - Lm) / (B * T) / ((double)xp - xm);
            double ana = m.grads[(size_t)(m.p[i] - m.params) + k], err = fabs(num - ana);
            if (err > maxerr) maxerr = err;
            if (fabs(num) > maxg) maxg = fabs(num);
            if (err > 1e-4 + 5e-3 * fabs(num) && bad++ < 3)
                fprintf(stderr, "  d%s[%zu]: numeric %.6g, backward %.6g\n", PNAMES[i], k, num, ana);
        }
        printf("# %s d%-9s max |num - ana| = %.3g (max |grad| %.3g)\n", plain ? "plain" : "fast ", PNAMES[i],
               maxerr, maxg);
        CHECK(maxg > 1e-3);         /* the check saw real gradients */
        total_bad += bad;
    }
    CHECK(total_bad == 0);
    gpt2_free(&m);
}

TEST(gradcheck_whole_model_fast) { gradcheck_whole_model(0); }
TEST(gradcheck_whole_model_plain) { gradcheck_whole_model(1); }

/* The fast path (tiled attention, split batch, chunked loss) against the
 * plain one, the readable reference, at a shape where they matter: T = 150
 * is three 64-key tiles.  The same math in another order: equal to float
 * rounding.  With V = 53 the fast path keeps the small logits whole
 * (gpt2.c, loss_is_whole); with V = 3,500 and B = 4 each half batch of
 * 300 rows has too many (300 x 3,500 > 2^20), so the loss goes in two
 * chunks of CE_CHUNK = 256 rows. */
static void fast_matches_plain(int V, int B)
{
    struct gpt2_config cfg = {.vocab = V, .context = 160, .layers = 2, .heads = 4, .dim = 32};
    enum { T = 150 };
    struct gpt2 m[2];
    uint32_t *in = xmalloc(B * T * sizeof *in), *tg = xmalloc(B * T * sizeof *tg);
    random_tokens(in, B * T, cfg.vocab, 21);
    random_tokens(tg, B * T, cfg.vocab, 22);
    float loss[2], *logits[2];
    for (int k = 0; k < 2; k++) {
        gpt2_init(&m[k], &cfg);
        big_weights(&m[k], 5);
        m[k].plain = k;
        gpt2_forward(&m[k], in, NULL, B, T);        /* whole logits on both paths */
        logits[k] = xmalloc((size_t)B * T * cfg.vocab * sizeof(float));
        memcpy(logits[k], m[k].logits, (size_t)B * T * cfg.vocab * sizeof(float));
        loss[k] = gpt2_forward(&m[k], in, tg, B, T);
        gpt2_zero_grad(&m[k]);
        gpt2_backward(&m[k], 1.0f);
        gpt2_forward(&m[k], in + T, tg + T, 1, T);  /* a second micro-batch, another shape */
        gpt2_backward(&m[k], 0.5f);
    }
    CHECK(m[0].logits == NULL && m[1].logits != NULL);  /* fast: no whole logits with targets */
    double el = 0, maxl = 0, eg = 0, maxg = 0;
    for (size_t i = 0; i < (size_t)B * T * cfg.vocab; i++) {
        el = fmax(el, fabs(logits[0][i] - logits[1][i]));
        maxl = fmax(maxl, fabs(logits[1][i]));
    }
    for (size_t i = 0; i < m[0].nparams; i++) {
        eg = fmax(eg, fabs(m[0].grads[i] - m[1].grads[i]));
        maxg = fmax(maxg, fabs(m[1].grads[i]));
    }
    printf("# fast vs plain: loss %.8g vs %.8g, max |logit diff| %.3g (of %.3g), max |grad diff| %.3g (of %.3g)\n",
           loss[0], loss[1], el, maxl, eg, maxg);
    CHECK(maxl > 1 && maxg > 1e-2);
    CHECK_NEAR(loss[0], loss[1], 1e-5 * loss[1]);
    CHECK(el <= 1e-5 * maxl);
    CHECK(eg <= 1e-4 * maxg);
    for (int k = 0; k < 2; k++) { free(logits[k]); gpt2_free(&m[k]); }
    free(in);
    free(tg);
}

TEST(fast_matches_plain) { fast_matches_plain(53, 2); }
TEST(fast_matches_plain_chunked_loss) { fast_matches_plain(3500, 4); }

/* The batch split (gpt2.h, shards): a batch cut into two halves that run
 * side by side gives the unsplit pass's losses (row for row, in batch
 * order) and gradients to float rounding, and the SAME bits whatever the
 * thread count; layer_done still hears of every block, once. */
static int layers_done;
static void count_layer(void *ctx, int l) { (void)ctx; (void)l; layers_done++; }

TEST(split_matches_whole)
{
    struct gpt2_config cfg = {.vocab = 37, .context = 40, .layers = 3, .heads = 2, .dim = 16};
    enum { B = 4, T = 33, RUNS = 3 };
    uint32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, cfg.vocab, 31);
    random_tokens(tg, B * T, cfg.vocab, 32);
    /* run 0: unsplit; run 1: split on one thread; run 2: split on two */
    struct gpt2 m[RUNS];
    float loss[RUNS], *losses[RUNS];
    int threads = omp_get_max_threads();
    for (int k = 0; k < RUNS; k++) {
        gpt2_init(&m[k], &cfg);
        big_weights(&m[k], 9);
        m[k].shards = k ? 2 : 1;
        omp_set_num_threads(k == 1 ? 1 : 2);
        layers_done = 0;
        m[k].layer_done = count_layer;
        loss[k] = gpt2_forward(&m[k], in, tg, B, T);
        losses[k] = xmalloc(B * T * sizeof(float));
        memcpy(losses[k], m[k].losses, B * T * sizeof(float));
        gpt2_zero_grad(&m[k]);
        gpt2_backward(&m[k], 0.5f);
        gpt2_forward(&m[k], in, tg, B / 2, T);     /* a second micro-batch: the split accumulates */
        gpt2_backward(&m[k], 0.5f);
        CHECK(layers_done == 2 * cfg.layers);
    }
    omp_set_num_threads(threads);
    double el = 0, eg = 0, maxg = 0;
    for (int n = 0; n < B * T; n++) el = fmax(el, fabs(losses[1][n] - losses[0][n]));
    for (size_t i = 0; i < m[0].nparams; i++) {
        eg = fmax(eg, fabs(m[1].grads[i] - m[0].grads[i]));
        maxg = fmax(maxg, fabs(m[0].grads[i]));
    }
    printf("# split vs whole: loss %.8g vs %.8g, max |row loss diff| %.3g, max |grad diff| %.3g (of %.3g)\n",
           loss[1], loss[0], el, eg, maxg);
    CHECK(maxg > 1e-2);
    CHECK_NEAR(loss[1], loss[0], 1e-6 * loss[0]);
    CHECK(el <= 1e-5 * loss[0]);
    CHECK(eg <= 1e-5 * maxg);
    /* the split did happen: the weight gradients' sums over rows ran in another order */
    CHECK(memcmp(m[0].grads, m[1].grads, m[0].nparams * sizeof(float)));
    /* one thread or two: bit for bit */
    CHECK(loss[1] == loss[2]);
    CHECK(!memcmp(losses[1], losses[2], B * T * sizeof(float)));
    CHECK(!memcmp(m[1].grads, m[2].grads, m[1].nparams * sizeof(float)));
    for (int k = 0; k < RUNS; k++) { free(losses[k]); gpt2_free(&m[k]); }
}

/* backward(scale 1/2) on each half of a batch == backward(1) on the batch. */
TEST(micro_batches_accumulate)
{
    enum { B = 4, T = 6 };
    struct gpt2 m;
    gpt2_init(&m, &TINY);
    big_weights(&m, 3);
    uint32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, TINY.vocab, 5);
    random_tokens(tg, B * T, TINY.vocab, 6);
    float full = gpt2_forward(&m, in, tg, B, T);
    gpt2_zero_grad(&m);
    gpt2_backward(&m, 1.0f);
    float *g1 = xmalloc(m.nparams * sizeof *g1);
    memcpy(g1, m.grads, m.nparams * sizeof *g1);

    gpt2_zero_grad(&m);
    float l0 = gpt2_forward(&m, in, tg, B / 2, T);
    gpt2_backward(&m, 0.5f);
    float l1 = gpt2_forward(&m, in + B / 2 * T, tg + B / 2 * T, B / 2, T);
    gpt2_backward(&m, 0.5f);
    CHECK_NEAR((l0 + l1) / 2, full, 1e-6);
    double maxg = 0, maxerr = 0;
    for (size_t i = 0; i < m.nparams; i++) {
        maxg = fmax(maxg, fabs(g1[i]));
        maxerr = fmax(maxerr, fabs(g1[i] - m.grads[i]));
    }
    printf("# two half batches vs one: max |diff| %.3g (max |grad| %.3g)\n", maxerr, maxg);
    CHECK(maxerr <= 1e-6 * maxg);
    free(g1);
    gpt2_free(&m);
}

/* Feeding tokens one at a time through the KV cache gives, at every
 * position, the logits of the full forward pass over the sequence. */
TEST(kv_cache_matches_forward)
{
    struct gpt2_config cfg = TINY;
    cfg.vocab = 37; cfg.context = 16; cfg.dim = 16; cfg.heads = 4;
    struct gpt2 m;
    gpt2_init(&m, &cfg);
    big_weights(&m, 11);
    enum { B = 2 };
    uint32_t in[B * 16];
    random_tokens(in, B * 16, cfg.vocab, 9);
    gpt2_forward(&m, in, NULL, B, 16);
    CHECK(m.mean_loss == -1);
    float *full = xmalloc((size_t)B * 16 * cfg.vocab * sizeof *full);
    memcpy(full, m.logits, (size_t)B * 16 * cfg.vocab * sizeof *full);
    struct gpt2_kv *kv = gpt2_kv_new(&m);
    double maxerr = 0;
    for (int b = 0; b < B; b++) {
        gpt2_kv_reset(kv);
        for (int t = 0; t < 16; t++) {
            CHECK(gpt2_kv_len(kv) == t);
            const float *lg = gpt2_kv_step(&m, kv, in[b * 16 + t]);
            for (int v = 0; v < cfg.vocab; v++)
                maxerr = fmax(maxerr, fabs(lg[v] - full[((size_t)b * 16 + t) * cfg.vocab + v]));
        }
    }
    printf("# KV cache vs full forward: max |logit diff| %.3g\n", maxerr);
    CHECK(maxerr < 1e-4);
    EXPECT_DIE(gpt2_kv_step(&m, kv, 1), "gpt2_kv_step: the context of 16 positions is full");
    gpt2_kv_reset(kv);
    EXPECT_DIE(gpt2_kv_step(&m, kv, 37), "token id 37 is outside the model's vocabulary of 37");
    gpt2_kv_free(kv);
    free(full);
    gpt2_free(&m);
}

/* One AdamW step against the formula evaluated in double, for a decayed
 * matrix element and a bias (no decay); and its bias correction at t = 1
 * making the first step about lr * sign(g). */
TEST(adamw_step)
{
    struct gpt2 m;
    gpt2_init(&m, &TINY);
    gpt2_init_weights(&m, 1);
    gpt2_zero_grad(&m);
    for (size_t i = 0; i < m.nparams; i++) m.grads[i] = (float)((int)(i % 7) - 3) * 0.01f;
    float w0 = m.p[P_QKVW][5], b0 = m.p[P_LN1B][3], gw = m.grads[m.p[P_QKVW] - m.params + 5];
    float gb = m.grads[m.p[P_LN1B] - m.params + 3];
    const double lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, gs = 0.5;
    gpt2_adamw_step(&m, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd, (float)gs, 1);
    for (int k = 0; k < 2; k++) {
        double p = k ? b0 : w0, g = (k ? gb : gw) * gs, decay = k ? 0 : wd;
        double mm = (1 - b1) * g, vv = (1 - b2) * g * g;
        double want = p - lr * (mm / (1 - b1) / (sqrt(vv / (1 - b2)) + eps) + decay * p);
        CHECK_NEAR(k ? m.p[P_LN1B][3] : m.p[P_QKVW][5], want, 1e-7);
    }
    CHECK(gpt2_param_decays(P_WTE) && gpt2_param_decays(P_FCPROJW) && !gpt2_param_decays(P_LNFW) && !gpt2_param_decays(P_FCB));
    EXPECT_DIE(gpt2_adamw_step(&m, 1e-3f, 0.9f, 0.95f, 1e-8f, 0, 1, 0), "steps count from 1");
    gpt2_free(&m);
}

/* Two identical training steps give bit-identical weights (a resumed run
 * depends on this), and the loss at GPT-2's initialisation is about ln V. */
TEST(deterministic_and_sane_init)
{
    struct gpt2_config cfg = {.vocab = 64, .context = 16, .layers = 2, .heads = 2, .dim = 32};
    struct gpt2 a, b;
    enum { B = 3, T = 16 };
    uint32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, cfg.vocab, 1);
    random_tokens(tg, B * T, cfg.vocab, 2);
    struct gpt2 *ms[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        gpt2_init(ms[k], &cfg);
        gpt2_init_weights(ms[k], 42);
        for (int step = 1; step <= 3; step++) {
            float loss = gpt2_forward(ms[k], in, tg, B, T);
            if (step == 1) CHECK_NEAR(loss, log(64.0), 0.05);
            gpt2_zero_grad(ms[k]);
            gpt2_backward(ms[k], 1.0f);
            gpt2_adamw_step(ms[k], 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, step);
        }
    }
    CHECK(!memcmp(a.params, b.params, a.nparams * sizeof(float)));
    CHECK(!memcmp(a.m, b.m, a.nparams * sizeof(float)));
    CHECK(gpt2_grad_norm(&a) == gpt2_grad_norm(&b) && gpt2_grad_norm(&a) > 0);
    /* init: LayerNorm gains 1, biases 0, matrices with std near 0.02 */
    CHECK(a.p[P_LN1W][0] != 0);
    gpt2_init_weights(&a, 42);
    double s = 0;
    for (size_t i = 0; i < a.param_sizes[P_FCW]; i++) s += (double)a.p[P_FCW][i] * a.p[P_FCW][i];
    CHECK_NEAR(sqrt(s / a.param_sizes[P_FCW]), 0.02, 0.002);
    CHECK(a.p[P_LN2W][3] == 1 && a.p[P_FCB][3] == 0 && a.p[P_LNFB][0] == 0);
    gpt2_free(&a);
    gpt2_free(&b);
}

TEST(sizes_and_flops)
{
    struct gpt2 m;
    gpt2_init(&m, &TINY);
    size_t V = 11, P = 8, L = 2, C = 8;
    CHECK(m.nparams == V * C + P * C + L * (12 * C * C + 13 * C) + 2 * C);
    CHECK(gpt2_nparams_nonpos(&m) == m.nparams - P * C);
    CHECK_NEAR(gpt2_flops_per_token(&m, 4), 6.0 * gpt2_nparams_nonpos(&m) + 12.0 * L * 4 * C, 0);
    CHECK(m.p[P_LNFB] + C == m.params + m.nparams);
    gpt2_free(&m);
    if (!getenv("TFS_ASAN")) {
        /* GPT-2 small: 124,439,808 parameters (weights untouched: calloc'd) */
        struct gpt2_config g = {.vocab = 50257, .context = 1024, .layers = 12, .heads = 12, .dim = 768};
        gpt2_init(&m, &g);
        CHECK(m.nparams == 124439808);
        gpt2_free(&m);
    }
}

TEST(bad_input)
{
    struct gpt2 m;
    gpt2_init(&m, &TINY);
    gpt2_init_weights(&m, 1);
    uint32_t in[4] = {1, 2, 3, 11}, ok[4] = {1, 2, 3, 4};
    EXPECT_DIE(gpt2_forward(&m, in, NULL, 1, 4), "token id 11 at position 3 is outside the model's vocabulary of 11");
    EXPECT_DIE(gpt2_forward(&m, ok, in, 1, 4), "target id 11 at position 3 is outside the model's vocabulary of 11");
    EXPECT_DIE(gpt2_forward(&m, ok, NULL, 1, 9), "does not fit the model (context 8)");
    gpt2_forward(&m, ok, NULL, 1, 4);
    EXPECT_DIE(gpt2_backward(&m, 1), "the last forward pass had no targets");
    struct gpt2_config bad = TINY;
    bad.heads = 3;
    EXPECT_DIE(gpt2_init(&m, &bad), "dim 8 is not a multiple of heads 3");
    gpt2_free(&m);
}

int main(void)
{
    tfs_set_prog("test_gpt2");
    RUN(gradcheck_whole_model_fast);
    RUN(gradcheck_whole_model_plain);
    RUN(fast_matches_plain);
    RUN(fast_matches_plain_chunked_loss);
    RUN(split_matches_whole);
    RUN(micro_batches_accumulate);
    RUN(kv_cache_matches_forward);
    RUN(adamw_step);
    RUN(deterministic_and_sane_init);
    RUN(sizes_and_flops);
    RUN(bad_input);
    return unit_summary();
}
