/* test_sample.c - the sampler: greedy, temperature, top-k, top-p,
 * determinism; and the learning-rate schedule of the training loop. */
#include "run/sample.h"
#include "run/train.h"
#include "unit.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include <math.h>

#define V 6
/* logits whose softmax is p = (0.4, 0.3, 0.15, 0.1, 0.05, 0) roughly */
static const float LOGITS[V] = { 2.0f, 1.7f, 1.0f, 0.6f, -0.1f, -30.0f };

static void softmax(double *p, double temp)
{
    double s = 0;
    for (int i = 0; i < V; i++) s += p[i] = exp(LOGITS[i] / temp);
    for (int i = 0; i < V; i++) p[i] /= s;
}

/* Empirical frequencies of n draws. */
static void draw(struct sampler *s, int n, double *freq)
{
    for (int i = 0; i < V; i++) freq[i] = 0;
    for (int k = 0; k < n; k++) freq[sampler_next(s, LOGITS)] += 1.0 / n;
}

TEST(greedy_takes_the_largest_logit)
{
    struct sampler s;
    sampler_init(&s, V, 0, 0, 1, 1);
    for (int k = 0; k < 10; k++) CHECK(sampler_next(&s, LOGITS) == 0);
    sampler_free(&s);
}

TEST(frequencies_follow_the_softmax_with_temperature)
{
    const int n = 40000;
    double p[V], f[V];
    for (double temp = 0.5; temp <= 2.0; temp *= 2) {
        struct sampler s;
        sampler_init(&s, V, temp, 0, 1, 7);
        softmax(p, temp);
        draw(&s, n, f);
        /* a binomial frequency has standard deviation sqrt(p(1-p)/n) <= 0.0025 */
        for (int i = 0; i < V; i++) CHECK_NEAR(f[i], p[i], 0.012);
        sampler_free(&s);
    }
}

TEST(top_k_keeps_the_k_most_likely_renormalised)
{
    double p[V], f[V];
    struct sampler s;
    sampler_init(&s, V, 1, 2, 1, 3);
    softmax(p, 1);
    draw(&s, 20000, f);
    CHECK_NEAR(f[0], p[0] / (p[0] + p[1]), 0.015);
    CHECK_NEAR(f[1], p[1] / (p[0] + p[1]), 0.015);
    for (int i = 2; i < V; i++) CHECK(f[i] == 0);
    sampler_free(&s);
}

TEST(top_p_keeps_the_smallest_set_reaching_p)
{
    double p[V], f[V];
    softmax(p, 1);
    /* p0 + p1 < 0.8 <= p0 + p1 + p2: three tokens stay */
    CHECK(p[0] + p[1] < 0.8 && p[0] + p[1] + p[2] >= 0.8);
    struct sampler s;
    sampler_init(&s, V, 1, 0, 0.8, 5);
    draw(&s, 20000, f);
    double kept = p[0] + p[1] + p[2];
    for (int i = 0; i < 3; i++) CHECK_NEAR(f[i], p[i] / kept, 0.015);
    for (int i = 3; i < V; i++) CHECK(f[i] == 0);
    sampler_free(&s);
    /* a tiny p keeps only the most likely token */
    sampler_init(&s, V, 1, 0, 1e-6, 5);
    draw(&s, 100, f);
    CHECK_NEAR(f[0], 1, 1e-9);
    sampler_free(&s);
}

TEST(same_seed_same_draws)
{
    struct sampler a, b;
    sampler_init(&a, V, 1, 4, 0.9, 42);
    sampler_init(&b, V, 1, 4, 0.9, 42);
    int same = 1;
    for (int k = 0; k < 1000; k++) same &= sampler_next(&a, LOGITS) == sampler_next(&b, LOGITS);
    CHECK(same);
    sampler_free(&a); sampler_free(&b);
}

TEST(learning_rate_schedule)
{
    struct train_opts o = { .lr = 1e-3, .min_lr = 1e-4, .warmup = 10, .decay = DECAY_COSINE };
    CHECK_NEAR(train_lr(&o, 1, 110), 1e-4, 1e-12);          /* warmup: lr * s / W */
    CHECK_NEAR(train_lr(&o, 10, 110), 1e-3, 1e-12);
    CHECK_NEAR(train_lr(&o, 60, 110), 5.5e-4, 1e-12);       /* halfway: the mean of lr and min_lr */
    CHECK_NEAR(train_lr(&o, 110, 110), 1e-4, 1e-12);        /* the end: min_lr */
    o.decay = DECAY_LINEAR;
    CHECK_NEAR(train_lr(&o, 35, 110), 1e-3 - 0.25 * 9e-4, 1e-12);
    o.decay = DECAY_CONSTANT;
    CHECK_NEAR(train_lr(&o, 100, 110), 1e-3, 1e-12);
    o.warmup = 0;
    o.decay = DECAY_COSINE;
    CHECK_NEAR(train_lr(&o, 1, 1), 1e-4, 1e-12);
}

TEST(best_checkpoint_path)
{
    char *p = train_best_path("run/m.safetensors");
    CHECK(strcmp(p, "run/m.best.safetensors") == 0);
    free(p);
    p = train_best_path("model.st");
    CHECK(strcmp(p, "model.st.best") == 0);
    free(p);
}

/* The prefill (one batched forward pass into the KV cache) gives the
 * logits that feeding the same tokens one at a time gives, for both
 * levels, and leaves the cache in the same state: the next step agrees. */
static void prefill_matches_steps(enum model_arch arch)
{
    struct model m;
    struct model_config c = { .arch = arch, .vocab = 50, .context = 24, .layers = 2, .heads = 4, .dim = 32,
                              .kv_heads = arch == MODEL_BASELINE ? 2 : 0 };
    model_init(&m, &c);
    model_init_weights(&m, 3);
    uint32_t ids[17];
    for (int i = 0; i < 17; i++) ids[i] = (uint32_t)(i * 7 + 3) % 50;
    struct model_kv *a = model_kv_new(&m), *b = model_kv_new(&m);
    float *la = malloc(50 * sizeof *la), *lb = malloc(50 * sizeof *lb);
    const float *z = NULL;
    for (int i = 0; i < 16; i++) z = model_kv_step(&m, a, ids[i]);
    memcpy(la, z, 50 * sizeof *la);
    memcpy(lb, model_kv_prefill(&m, b, ids, 16), 50 * sizeof *lb);
    CHECK(model_kv_len(a) == 16 && model_kv_len(b) == 16);
    double err = 0, scale = 0;
    for (int v = 0; v < 50; v++) { err = fmax(err, fabs(la[v] - lb[v])); scale = fmax(scale, fabs(la[v])); }
    CHECK(err <= 1e-4 * scale);
    memcpy(la, model_kv_step(&m, a, ids[16]), 50 * sizeof *la);
    memcpy(lb, model_kv_step(&m, b, ids[16]), 50 * sizeof *lb);
    err = 0;
    for (int v = 0; v < 50; v++) err = fmax(err, fabs(la[v] - lb[v]));
    CHECK(err <= 1e-4 * scale);
    free(la); free(lb);
    model_kv_free(a); model_kv_free(b);
    model_free(&m);
}

TEST(prefill_matches_steps_custom) { prefill_matches_steps(MODEL_CUSTOM); }
TEST(prefill_matches_steps_baseline) { prefill_matches_steps(MODEL_BASELINE); }

/* Generation past the context slides the cache instead of stopping. */
static void count(void *ctx, uint32_t id) { (void)id; (*(size_t *)ctx)++; }

TEST(generation_runs_past_the_context)
{
    for (int arch = 0; arch < 2; arch++) {
        struct model m;
        struct model_config c = { .arch = arch ? MODEL_BASELINE : MODEL_CUSTOM, .vocab = 30, .context = 8,
                                  .layers = 1, .heads = 2, .dim = 16 };
        model_init(&m, &c);
        model_init_weights(&m, 1);
        struct sampler s;
        sampler_init(&s, 30, 1.0, 0, 1.0, 5);
        uint32_t prompt[11] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };   /* longer than the context */
        size_t n = 0;
        CHECK(generate(&m, &s, prompt, 11, 40, -1, count, &n) == 40 && n == 40);
        sampler_free(&s);
        model_free(&m);
    }
}

int main(void)
{
    RUN(greedy_takes_the_largest_logit);
    RUN(frequencies_follow_the_softmax_with_temperature);
    RUN(top_k_keeps_the_k_most_likely_renormalised);
    RUN(top_p_keeps_the_smallest_set_reaching_p);
    RUN(same_seed_same_draws);
    RUN(learning_rate_schedule);
    RUN(best_checkpoint_path);
    RUN(prefill_matches_steps_custom);
    RUN(prefill_matches_steps_baseline);
    RUN(generation_runs_past_the_context);
    return unit_summary();
}
