/* test_llama.c - the baseline model as a whole (lib/llama/llama.c,
 * lib/llama/llama_ckpt.c).  (The comparison with PyTorch is tests/80-baseline.bats.)
 *
 * Unit tests: the optimised path (flash attention, fused residual+norm,
 * chunked cross-entropy) against the plain one; recomputation against
 * stored activations; two micro-batches against one batch; tied against
 * untied weights; the KV cache against the full forward; a whole-model
 * finite-difference spot check; the Hugging Face export read back.  All
 * but the config checks run twice: with the head size dim / heads, and
 * with head_dim 8 != 16 / 4, where q and the attention output are
 * NH hs = 32 wide, not C = 16 (Wq (32, 16), Wo (16, 32)).
 */
#include "llama/llama.h"
#include "llama/llama_ckpt.h"
#include "model/hf_import.h"
#include "core/rng.h"
#include "unit.h"
#include "core/xio.h"

static int head_dim;    /* tiny()'s head_dim: 0 (dim / heads = 4), or 8 */

static struct llama_config tiny(int tied)
{
    struct llama_config c = llama_config_default(23, 16, 2, 4, 16);
    c.kv_heads = 2;     /* grouped-query: 2 query heads per kv head */
    c.hidden = 24;
    c.tied = tied;
    c.head_dim = head_dim;
    return c;
}

static void batch(uint32_t *in, uint32_t *tg, int n, int V, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) { in[i] = (uint32_t)rng_below(&r, V); tg[i] = (uint32_t)rng_below(&r, V); }
}

/* max |a - b| / max |b| over n floats */
static double relerr(const float *a, const float *b, size_t n)
{
    double e = 0, mb = 0;
    for (size_t i = 0; i < n; i++) { e = fmax(e, fabs(a[i] - b[i])); mb = fmax(mb, fabs(b[i])); }
    return mb > 0 ? e / mb : e;
}

static float *copy(const float *p, size_t n)
{
    float *q = xmalloc(n * sizeof *q);
    memcpy(q, p, n * sizeof *q);
    return q;
}

/* ---- optimised vs plain ---- */

TEST(optimised_matches_plain)
{
    for (int tied = 0; tied <= 1; tied++) {
        struct llama_config c = tiny(tied);
        struct llama m;
        llama_init(&m, &c);
        llama_init_weights(&m, 7);
        int B = 3, T = 16;
        uint32_t in[48], tg[48];
        batch(in, tg, B * T, c.vocab, 1);
        float l1 = llama_forward(&m, in, tg, B, T);
        float *los1 = copy(m.losses, (size_t)B * T);
        llama_zero_grad(&m);
        llama_backward(&m, 1);
        float *g1 = copy(m.grads, m.nparams);
        m.plain = 1;
        float l2 = llama_forward(&m, in, tg, B, T);
        llama_zero_grad(&m);
        llama_backward(&m, 1);
        CHECK_NEAR(l1, l2, 1e-6);
        CHECK(relerr(los1, m.losses, (size_t)B * T) < 1e-6);
        for (int i = 0; i < LLAMA_NPARAMS; i++) {
            if (!m.param_sizes[i]) continue;
            size_t off = (size_t)(m.p[i] - m.params);
            double e = relerr(g1 + off, m.grads + off, m.param_sizes[i]);
            if (e >= 1e-5) printf("# tied=%d %s: rel err %.3g\n", tied, llama_param_name(i), e);
            CHECK(e < 1e-5);
        }
        free(los1); free(g1);
        llama_free(&m);
    }
}

/* ---- recomputation gives the same numbers ---- */

TEST(recompute_matches_stored)
{
    struct llama_config c = tiny(1);
    struct llama m;
    llama_init(&m, &c);
    llama_init_weights(&m, 3);
    uint32_t in[32], tg[32];
    batch(in, tg, 32, c.vocab, 2);
    float l1 = llama_forward(&m, in, tg, 2, 16);
    llama_zero_grad(&m);
    llama_backward(&m, 1);
    float *g1 = copy(m.grads, m.nparams);
    m.recompute = 1;
    float l2 = llama_forward(&m, in, tg, 2, 16);
    llama_zero_grad(&m);
    llama_backward(&m, 1);
    CHECK(l1 == l2);
    CHECK(relerr(m.grads, g1, m.nparams) == 0);
    free(g1);
    llama_free(&m);
}

/* ---- gradient accumulation: two halves with scale 1/2 == the whole batch ---- */

TEST(micro_batches_accumulate)
{
    struct llama_config c = tiny(0);
    struct llama m;
    llama_init(&m, &c);
    llama_init_weights(&m, 5);
    uint32_t in[64], tg[64];
    batch(in, tg, 64, c.vocab, 3);
    llama_forward(&m, in, tg, 4, 16);
    llama_zero_grad(&m);
    llama_backward(&m, 1);
    float *g1 = copy(m.grads, m.nparams);
    llama_zero_grad(&m);
    llama_forward(&m, in, tg, 2, 16);
    llama_backward(&m, 0.5f);
    llama_forward(&m, in + 32, tg + 32, 2, 16);
    llama_backward(&m, 0.5f);
    double e = relerr(m.grads, g1, m.nparams);
    printf("# two micro-batches vs one batch: rel err %.3g\n", e);
    CHECK(e < 1e-5);
    free(g1);
    llama_free(&m);
}

/* ---- tied == untied with head = embed; d(tied embed) = d embed + d head ---- */

TEST(tied_equals_untied_copy)
{
    struct llama_config ct = tiny(1), cu = tiny(0);
    struct llama t, u;
    llama_init(&t, &ct);
    llama_init(&u, &cu);
    llama_init_weights(&t, 9);
    memcpy(u.params, t.params, t.nparams * sizeof(float));     /* same layout up to the head */
    memcpy(u.p[LP_HEAD], t.p[LP_EMBED], t.param_sizes[LP_EMBED] * sizeof(float));
    uint32_t in[32], tg[32];
    batch(in, tg, 32, ct.vocab, 4);
    float lt = llama_forward(&t, in, tg, 2, 16), lu = llama_forward(&u, in, tg, 2, 16);
    CHECK_NEAR(lt, lu, 1e-6);
    llama_zero_grad(&t); llama_backward(&t, 1);
    llama_zero_grad(&u); llama_backward(&u, 1);
    size_t ne = t.param_sizes[LP_EMBED];
    float *sum = copy(u.grads, ne);
    const float *dh = u.grads + (u.p[LP_HEAD] - u.params);
    for (size_t i = 0; i < ne; i++) sum[i] += dh[i];
    CHECK(relerr(sum, t.grads, ne) < 1e-5);
    CHECK(relerr(u.grads + ne, t.grads + ne, t.nparams - ne) < 1e-5);
    free(sum);
    llama_free(&t); llama_free(&u);
}

/* ---- KV cache == full forward, position by position ---- */

TEST(kv_cache_matches_forward)
{
    struct llama_config c = tiny(1);
    struct llama m;
    llama_init(&m, &c);
    llama_init_weights(&m, 11);
    uint32_t in[16], tg[16];
    batch(in, tg, 16, c.vocab, 5);
    llama_forward(&m, in, NULL, 1, 16);
    float *full = copy(m.logits, (size_t)16 * c.vocab);
    struct llama_kv *kv = llama_kv_new(&m);
    double e = 0;
    for (int t = 0; t < 16; t++) {
        const float *lg = llama_kv_step(&m, kv, in[t]);
        e = fmax(e, relerr(lg, full + (size_t)t * c.vocab, c.vocab));
    }
    CHECK(llama_kv_len(kv) == 16);
    printf("# KV cache vs forward: rel err %.3g\n", e);
    CHECK(e < 1e-5);
    EXPECT_DIE(llama_kv_step(&m, kv, in[0]), "context of 16 tokens is full");
    llama_kv_reset(kv);
    CHECK(relerr(llama_kv_step(&m, kv, in[0]), full, c.vocab) < 1e-5);
    /* the batched prefill of 10 tokens fills the same cache: the steps after it agree */
    llama_kv_reset(kv);
    CHECK(relerr(llama_kv_prefill(&m, kv, in, 10), full + (size_t)9 * c.vocab, c.vocab) < 1e-5);
    for (int t = 10; t < 16; t++)
        CHECK(relerr(llama_kv_step(&m, kv, in[t]), full + (size_t)t * c.vocab, c.vocab) < 1e-5);
    llama_kv_free(kv);
    free(full);
    llama_free(&m);
}

/* ---- whole model: finite differences on a sample of parameters ----
 * In float the model allows h = 1e-2 at best; each layer is checked in
 * double by test_llama_ops, this catches wiring errors between them. */

TEST(model_finite_differences)
{
    struct llama_config c = tiny(1);
    struct llama m;
    llama_init(&m, &c);
    llama_init_weights(&m, 13);
    for (size_t i = 0; i < m.nparams; i++) m.params[i] *= 2;   /* larger weights: larger gradients */
    uint32_t in[16], tg[16];
    batch(in, tg, 16, c.vocab, 6);
    llama_forward(&m, in, tg, 1, 16);
    llama_zero_grad(&m);
    llama_backward(&m, 1);
    struct rng r;
    rng_seed(&r, 1);
    int bad = 0, checked = 0;
    for (int i = 0; i < LLAMA_NPARAMS; i++) {
        for (int k = 0; k < 6 && m.param_sizes[i]; k++) {
            size_t j = (size_t)(m.p[i] - m.params) + rng_below(&r, m.param_sizes[i]);
            float save = m.params[j], h = 1e-2f;
            m.params[j] = save + h; double lp = llama_forward(&m, in, tg, 1, 16);
            m.params[j] = save - h; double lm = llama_forward(&m, in, tg, 1, 16);
            m.params[j] = save;
            double num = (lp - lm) / (2 * h), ana = m.grads[j];
            checked++;
            if (fabs(num - ana) > 2e-3 + 2e-2 * fabs(num)) {
                bad++;
                printf("# %s[%zu]: numeric %.6g analytic %.6g\n", llama_param_name(i), j, num, ana);
            }
        }
    }
    CHECK(checked > 40);
    CHECK(bad == 0);
    llama_free(&m);
}

TEST(config_errors)
{
    struct llama_config c = tiny(1);
    c.head_dim = 6;     /* even, and dim need not be heads head_dim */
    CHECK(llama_config_error(&c) == NULL);
    c.head_dim = 5;
    CHECK(strcmp(llama_config_error(&c), "head_dim must be even for rotary embeddings") == 0);
    c.dim = 18; c.head_dim = 8;     /* 18 not a multiple of 4: fine with head_dim */
    CHECK(llama_config_error(&c) == NULL);
    c.head_dim = 0;
    CHECK(strcmp(llama_config_error(&c), "dim must be a multiple of heads") == 0);
    c = tiny(1);
    c.head_dim = 4;     /* = dim / heads: the default, spelled 0 */
    struct llama d;
    llama_init(&d, &c);
    CHECK(d.cfg.head_dim == 0 && llama_head_dim(&d.cfg) == 4);
    llama_free(&d);
    c = tiny(1);
    c.kv_heads = 3;
    CHECK(strcmp(llama_config_error(&c), "heads must be a multiple of kv-heads") == 0);
    c = tiny(1);
    c.heads = 8;    /* head size 2: fine */
    CHECK(llama_config_error(&c) == NULL);
    c.dim = 24; c.heads = 8;    /* head size 3: odd */
    CHECK(strcmp(llama_config_error(&c), "head size (dim / heads) must be even for rotary embeddings") == 0);
    struct llama m;
    EXPECT_DIE(llama_init(&m, &c), "bad model config: head size");
    c = tiny(1);
    llama_init(&m, &c);
    uint32_t in[2] = {1, 23}, tg[2] = {0, 0};
    EXPECT_DIE(llama_forward(&m, in, tg, 1, 2), "token id 23 out of range for vocabulary 23");
    llama_free(&m);
}

/* ---- Hugging Face export and load: the same model back ---- */

TEST(export_hf_round_trip)
{
    for (int tied = 0; tied <= 1; tied++) {
        struct llama_config c = tiny(tied);
        struct llama m;
        llama_init(&m, &c);
        llama_init_weights(&m, 31);
        char name[32];
        snprintf(name, sizeof name, "hf-%s-hd%d", tied ? "tied" : "untied", head_dim);
        const char *dir = unit_tmp(name);
        llama_export_hf(dir, &m, 5, ST_F32);
        /* back through the importer tfs-train --init-from and tfs-eval use */
        struct model back;
        struct ckpt_info info;
        hf_load_model(dir, &back, &info, 0);
        CHECK(back.arch == MODEL_BASELINE);
        struct llama r = back.llama;
        CHECK(r.nparams == m.nparams);
        CHECK(memcmp(&r.cfg, &m.cfg, sizeof r.cfg) == 0);
        CHECK(r.nparams == m.nparams && memcmp(r.params, m.params, m.nparams * sizeof(float)) == 0);
        size_t n = 0, hs = head_dim ? (size_t)head_dim : 4, QD = 4 * hs, KVD = 2 * hs;
        const float *k1 = llama_hf_tensor(&m, m.params, "model.layers.1.self_attn.k_proj.weight", &n);
        CHECK(n == KVD * 16);   /* (NKV hs, C) */
        CHECK(k1 == m.p[LP_WQKV] + (QD + 2 * KVD) * 16 + QD * 16);   /* layer 1, after its q rows */
        const float *o0 = llama_hf_tensor(&m, m.params, "model.layers.0.self_attn.o_proj.weight", &n);
        CHECK(o0 == m.p[LP_WO] && n == 16 * QD);   /* (C, NH hs) */
        /* config.json names the head size */
        char *js = llama_hf_config_json(&m, -1), want[64];
        snprintf(want, sizeof want, "\"head_dim\": %zu,", hs);
        CHECK(strstr(js, want) != NULL);
        free(js);
        CHECK(llama_hf_tensor(&m, m.params, "lm_head.weight", &n) == (tied ? NULL : m.p[LP_HEAD]));
        model_free(&back);
        llama_free(&m);
    }
}

int main(void)
{
    tfs_set_prog("test_llama");
    RUN(optimised_matches_plain);
    RUN(recompute_matches_stored);
    RUN(micro_batches_accumulate);
    RUN(tied_equals_untied_copy);
    RUN(kv_cache_matches_forward);
    RUN(model_finite_differences);
    RUN(config_errors);
    RUN(export_hf_round_trip);
    head_dim = 8;       /* the same with heads wider than dim / heads */
    RUN(optimised_matches_plain);
    RUN(recompute_matches_stored);
    RUN(micro_batches_accumulate);
    RUN(tied_equals_untied_copy);
    RUN(kv_cache_matches_forward);
    RUN(model_finite_differences);
    RUN(export_hf_round_trip);
    return unit_summary();
}
