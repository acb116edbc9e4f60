/* test_checkpoint.c - checkpoints round-trip bit for bit, use Hugging
 * Face's names and (in, out) shapes, and refuse what does not fit. */
#include "model/checkpoint.h"
#include "core/safetensors.h"
#include "unit.h"
#include "core/xio.h"

#include <math.h>

static const struct gpt2_config CFG = { .vocab = 11, .context = 5, .layers = 2, .heads = 2, .dim = 4 };

static void make_model(struct gpt2 *m)
{
    gpt2_init(m, &CFG);
    gpt2_init_weights(m, 3);
    struct rng r;
    rng_seed(&r, 9);
    m->m = xmalloc(m->nparams * sizeof(float));
    m->v = xmalloc(m->nparams * sizeof(float));
    for (size_t i = 0; i < m->nparams; i++) {
        m->params[i] += (float)rng_normal(&r);     /* biases and gains not 0 or 1 */
        m->m[i] = (float)rng_normal(&r);
        m->v[i] = (float)rng_uniform(&r);
    }
}

static struct train_state make_state(void)
{
    struct train_state st = { .step = 17, .updates = 15, .tokens = 12345, .data_pos = 678,
                              .skipped = 2, .best_val = 1.0 / 3.0, .best_step = 12,
                              .elapsed = 12.5, .flops = 1.5e12 };
    rng_seed(&st.rng, 77);
    return st;
}

TEST(round_trip_is_bit_exact)
{
    struct gpt2 a, b;
    make_model(&a);
    struct train_state st = make_state();
    const char *path = unit_tmp("a.safetensors");
    ckpt_save(path, &a, 0x1234abcd5678ef90ull, &st, "{\"lr\":\"0.1\"}");
    struct ckpt_info info;
    ckpt_load(path, &b, &info, 1);
    CHECK(memcmp(&info.cfg, &CFG, sizeof CFG) == 0);
    CHECK(b.nparams == a.nparams);
    CHECK(memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0);
    CHECK(b.m && memcmp(a.m, b.m, a.nparams * sizeof(float)) == 0);
    CHECK(b.v && memcmp(a.v, b.v, a.nparams * sizeof(float)) == 0);
    CHECK(info.fingerprint == 0x1234abcd5678ef90ull);
    CHECK(info.has_state);
    CHECK(info.st.step == 17 && info.st.updates == 15 && info.st.tokens == 12345);
    CHECK(info.st.data_pos == 678 && info.st.skipped == 2 && info.st.best_step == 12);
    CHECK(info.st.best_val == 1.0 / 3.0);          /* doubles survive exactly */
    CHECK(info.st.elapsed == 12.5 && info.st.flops == 1.5e12);
    CHECK(memcmp(&info.st.rng, &st.rng, sizeof st.rng) == 0);
    CHECK(info.options && strcmp(info.options, "{\"lr\":\"0.1\"}") == 0);
    char *opt = ckpt_options(path);
    CHECK(opt && strcmp(opt, "{\"lr\":\"0.1\"}") == 0);
    free(opt);
    ckpt_info_free(&info);
    gpt2_free(&b);
    /* weights only: no moments, no state; best_val infinity is kept as null */
    st.best_val = INFINITY;
    ckpt_save(path, &a, 0, &st, NULL);
    ckpt_load(path, &b, &info, 1);
    CHECK(isinf(info.st.best_val));
    gpt2_free(&b);
    ckpt_save(path, &a, 0, NULL, NULL);
    ckpt_load(path, &b, &info, 1);
    CHECK(!info.has_state && !b.m && !info.options);
    gpt2_free(&b);
    gpt2_free(&a);
}

TEST(hugging_face_names_and_transposed_matrices)
{
    struct gpt2 a;
    make_model(&a);
    const char *path = unit_tmp("hf.safetensors");
    ckpt_save(path, &a, 0, NULL, NULL);
    struct st_file *f = st_open(path);
    int C = CFG.dim;
    CHECK(f->ntensors == 4 + 12 * CFG.layers);
    /* Conv1D (in, out): file[i][j] = ours[j][i], ours (out, in) per layer */
    const float *w = st_expect(f, "transformer.h.1.attn.c_attn.weight", 2, (int64_t[]){ C, 3 * C });
    const float *ours = a.p[P_QKVW] + 3 * C * C;
    int ok = 1;
    for (int i = 0; i < C; i++)
        for (int j = 0; j < 3 * C; j++) ok &= w[i * 3 * C + j] == ours[j * C + i];
    CHECK(ok);
    w = st_expect(f, "transformer.h.0.mlp.c_proj.weight", 2, (int64_t[]){ 4 * C, C });
    ours = a.p[P_FCPROJW];
    ok = 1;
    for (int i = 0; i < 4 * C; i++)
        for (int j = 0; j < C; j++) ok &= w[i * C + j] == ours[j * 4 * C + i];
    CHECK(ok);
    w = st_expect(f, "transformer.h.1.ln_2.bias", 1, (int64_t[]){ C });
    CHECK(memcmp(w, a.p[P_LN2B] + C, C * sizeof(float)) == 0);
    w = st_expect(f, "transformer.wte.weight", 2, (int64_t[]){ CFG.vocab, C });
    CHECK(memcmp(w, a.p[P_WTE], (size_t)CFG.vocab * C * sizeof(float)) == 0);
    CHECK(st_expect(f, "transformer.ln_f.bias", 1, (int64_t[]){ C }) != NULL);
    CHECK(strcmp(st_meta_get(f, "format"), "pt") == 0);
    CHECK(strcmp(st_meta_get(f, "tfs.arch"), "gpt2") == 0);
    CHECK(st_find(f, "optimizer.m.transformer.wte.weight") == NULL);
    st_close(f);
    gpt2_free(&a);
}

TEST(refuses_what_does_not_fit)
{
    struct gpt2 a, b;
    make_model(&a);
    char *good = xstrdup(unit_tmp("good.safetensors"));
    ckpt_save(good, &a, 0, NULL, NULL);
    /* a file with our names but another architecture */
    char *other = xstrdup(unit_tmp("other.safetensors"));
    struct st_writer *w = st_writer_new();
    st_add(w, "transformer.wte.weight", a.params, 2, (int64_t[]){ CFG.vocab, CFG.dim });
    st_meta(w, "tfs.arch", "llama");
    st_write(w, other);
    st_writer_free(w);
    EXPECT_DIE(ckpt_load(other, &b, NULL, 0), "a checkpoint of architecture 'llama'; this program reads 'gpt2'");
    /* the config promises a tensor the file lacks */
    w = st_writer_new();
    st_add(w, "transformer.wte.weight", a.params, 2, (int64_t[]){ CFG.vocab, CFG.dim });
    st_meta(w, "tfs.arch", "gpt2");
    st_meta(w, "tfs.config", "{\"vocab\":11,\"context\":5,\"layers\":2,\"heads\":2,\"dim\":4}");
    st_write(w, other);
    st_writer_free(w);
    EXPECT_DIE(ckpt_load(other, &b, NULL, 0), "transformer.wpe.weight");
    /* an impossible config */
    w = st_writer_new();
    st_meta(w, "tfs.arch", "gpt2");
    st_meta(w, "tfs.config", "{\"vocab\":11,\"context\":5,\"layers\":2,\"heads\":3,\"dim\":4}");
    st_write(w, other);
    st_writer_free(w);
    EXPECT_DIE(ckpt_load(other, &b, NULL, 0), "describes an impossible model");
    /* a training checkpoint was asked for moments that a weights-only file lacks: fine */
    ckpt_load(good, &b, NULL, 1);
    CHECK(b.m == NULL);
    gpt2_free(&b);
    struct ckpt_info info = { .cfg = CFG, .fingerprint = 5 };
    EXPECT_DIE(ckpt_check_stream("c", &info, "s", 12, 5), "s: vocabulary size 12, but c was trained on 11");
    EXPECT_DIE(ckpt_check_stream("c", &info, "s", 11, 6), "s: encoded by tokenizer 0000000000000006, but c was trained with tokenizer 0000000000000005");
    ckpt_check_stream("c", &info, "s", 11, 0);     /* unknown fingerprints pass */
    free(good); free(other);
    gpt2_free(&a);
}

int main(void)
{
    RUN(round_trip_is_bit_exact);
    RUN(hugging_face_names_and_transposed_matrices);
    RUN(refuses_what_does_not_fit);
    return unit_summary();
}
