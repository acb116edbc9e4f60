/* checkpoint.c - GPT-2 checkpoints as safetensors with Hugging Face names
 * (see checkpoint.h for the names, shapes and metadata). */
#include "model/checkpoint.h"
#include "llama/llama_ckpt.h"
#include "core/safetensors.h"
#include "core/xio.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ARCH "gpt2"

/* ---- the tensor table ----------------------------------------------------
 * One entry per tensor of the file: which parameter of our block it comes
 * from, where in it (layer offset), its Hugging Face shape, and whether it
 * is a Conv1D matrix stored transposed relative to ours. */
struct hf_tensor {
    char name[96];
    enum gpt2_param p;
    size_t off;             /* float offset inside m->p[p] */
    int ndim;
    int64_t shape[2];       /* Hugging Face shape; ours is (shape[1], shape[0]) if transpose */
    int transpose;
};

/* Per-block tensors: suffix after "transformer.h.{i}.", our parameter, and
 * the Hugging Face shape in units of C (rows, cols; cols 0 = a vector). */
static const struct { const char *suffix; enum gpt2_param p; int rows, cols, transpose; } BLOCK[] = {
    { "ln_1.weight",        P_LN1W,     1, 0, 0 },
    { "ln_1.bias",          P_LN1B,     1, 0, 0 },
    { "attn.c_attn.weight", P_QKVW,     1, 3, 1 },  /* ours (3C, C) */
    { "attn.c_attn.bias",   P_QKVB,     3, 0, 0 },
    { "attn.c_proj.weight", P_ATTPROJW, 1, 1, 1 },  /* ours (C, C) */
    { "attn.c_proj.bias",   P_ATTPROJB, 1, 0, 0 },
    { "ln_2.weight",        P_LN2W,     1, 0, 0 },
    { "ln_2.bias",          P_LN2B,     1, 0, 0 },
    { "mlp.c_fc.weight",    P_FCW,      1, 4, 1 },  /* ours (4C, C) */
    { "mlp.c_fc.bias",      P_FCB,      4, 0, 0 },
    { "mlp.c_proj.weight",  P_FCPROJW,  4, 1, 1 },  /* ours (C, 4C) */
    { "mlp.c_proj.bias",    P_FCPROJB,  1, 0, 0 },
};
#define NBLOCK ((int)(sizeof BLOCK / sizeof BLOCK[0]))

static int hf_tensors(const struct gpt2_config *c, struct hf_tensor **out)
{
    int n = 4 + NBLOCK * c->layers, k = 0;
    struct hf_tensor *t = xcalloc((size_t)n, sizeof *t);
    int64_t C = c->dim;
    t[k++] = (struct hf_tensor){ "transformer.wte.weight", P_WTE, 0, 2, { c->vocab, C }, 0 };
    t[k++] = (struct hf_tensor){ "transformer.wpe.weight", P_WPE, 0, 2, { c->context, C }, 0 };
    for (int l = 0; l < c->layers; l++)
        for (int j = 0; j < NBLOCK; j++) {
            struct hf_tensor *e = &t[k++];
            snprintf(e->name, sizeof e->name, "transformer.h.%d.%s", l, BLOCK[j].suffix);
            e->p = BLOCK[j].p;
            e->ndim = BLOCK[j].cols ? 2 : 1;
            e->shape[0] = BLOCK[j].rows * C;
            e->shape[1] = BLOCK[j].cols * C;
            e->transpose = BLOCK[j].transpose;
            size_t per = (size_t)e->shape[0] * (size_t)(e->ndim == 2 ? e->shape[1] : 1);
            e->off = (size_t)l * per;
        }
    t[k++] = (struct hf_tensor){ "transformer.ln_f.weight", P_LNFW, 0, 1, { C, 0 }, 0 };
    t[k++] = (struct hf_tensor){ "transformer.ln_f.bias", P_LNFB, 0, 1, { C, 0 }, 0 };
    *out = t;
    return n;
}

static size_t numel(const struct hf_tensor *e)
{
    return (size_t)e->shape[0] * (size_t)(e->ndim == 2 ? e->shape[1] : 1);
}

/* dst (cols, rows) = src (rows, cols) transposed. */
static void transpose(float *dst, const float *src, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

/* ---- metadata ------------------------------------------------------------ */
static char *dump(json_t *j)
{
    /* 17 significant digits: every double survives the round trip exactly. */
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s) die("out of memory writing checkpoint metadata");
    return s;
}

static char *config_json(const struct gpt2_config *c)
{
    return dump(json_pack("{s:i, s:i, s:i, s:i, s:i}", "vocab", c->vocab, "context", c->context,
                          "layers", c->layers, "heads", c->heads, "dim", c->dim));
}

static char *hex64(uint64_t v)
{
    char *s = xmalloc(17);
    snprintf(s, 17, "%016" PRIx64, v);
    return s;
}

static char *state_json(const struct train_state *st)
{
    json_t *rng = json_array();
    for (int i = 0; i < 4; i++) {
        char *h = hex64(st->rng.s[i]);
        json_array_append_new(rng, json_string(h));
        free(h);
    }
    json_t *j = json_object();
    json_object_set_new(j, "step", json_integer((json_int_t)st->step));
    json_object_set_new(j, "updates", json_integer((json_int_t)st->updates));
    json_object_set_new(j, "tokens", json_integer((json_int_t)st->tokens));
    json_object_set_new(j, "data_pos", json_integer((json_int_t)st->data_pos));
    json_object_set_new(j, "rng", rng);
    json_object_set_new(j, "skipped", json_integer((json_int_t)st->skipped));
    json_object_set_new(j, "best_val", isfinite(st->best_val) ? json_real(st->best_val) : json_null());
    json_object_set_new(j, "best_step", json_integer((json_int_t)st->best_step));
    json_object_set_new(j, "elapsed", json_real(st->elapsed));
    json_object_set_new(j, "flops", json_real(st->flops));
    return dump(j);
}

static uint64_t parse_hex64(const char *path, const char *what, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 16);
    if (!*s || *end || errno) die("%s: bad %s '%s' in the metadata", path, what, s);
    return (uint64_t)v;
}

static int64_t get_int(const char *path, json_t *obj, const char *key, const char *what)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) die("%s: %s: '%s' is missing or not an integer", path, what, key);
    return (int64_t)json_integer_value(v);
}

static double get_real(const char *path, json_t *obj, const char *key, const char *what)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_null(v)) return INFINITY;
    if (!json_is_number(v)) die("%s: %s: '%s' is missing or not a number", path, what, key);
    return json_number_value(v);
}

static json_t *parse_meta(const char *path, const struct st_file *f, const char *key)
{
    const char *s = st_meta_get(f, key);
    if (!s) die("%s: the metadata has no %s (not a tfs checkpoint, or a damaged one)", path, key);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    if (!j || !json_is_object(j)) die("%s: metadata %s is not a JSON object", path, key);
    return j;
}

static void read_state(const char *path, json_t *j, struct train_state *st)
{
    const char *w = "tfs.state";
    memset(st, 0, sizeof *st);
    st->step = (uint64_t)get_int(path, j, "step", w);
    st->updates = (uint64_t)get_int(path, j, "updates", w);
    st->tokens = (uint64_t)get_int(path, j, "tokens", w);
    st->data_pos = (uint64_t)get_int(path, j, "data_pos", w);
    st->skipped = (uint64_t)get_int(path, j, "skipped", w);
    st->best_step = (uint64_t)get_int(path, j, "best_step", w);
    st->best_val = get_real(path, j, "best_val", w);
    st->elapsed = get_real(path, j, "elapsed", w);
    st->flops = get_real(path, j, "flops", w);
    json_t *rng = json_object_get(j, "rng");
    if (!json_is_array(rng) || json_array_size(rng) != 4) die("%s: tfs.state: 'rng' is not 4 words", path);
    for (int i = 0; i < 4; i++) {
        const char *h = json_string_value(json_array_get(rng, (size_t)i));
        if (!h) die("%s: tfs.state: 'rng' is not 4 words", path);
        st->rng.s[i] = parse_hex64(path, "rng word", h);
    }
}

/* ---- save ---------------------------------------------------------------- */
/* Add the tensors of one parameter-shaped block (weights or a moment). */
static void add_block(struct st_writer *w, const struct hf_tensor *t, int n, const struct gpt2 *m,
                      const float *block, const char *prefix, float **bufs, int *nbufs)
{
    for (int i = 0; i < n; i++) {
        const struct hf_tensor *e = &t[i];
        const float *src = block + (m->p[e->p] - m->params) + e->off;
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        if (e->transpose) {
            /* ours (out, in) = (shape[1], shape[0]); the file wants (in, out) */
            float *b = xmalloc(numel(e) * sizeof *b);
            transpose(b, src, (size_t)e->shape[1], (size_t)e->shape[0]);
            bufs[(*nbufs)++] = b;
            src = b;
        }
        st_add(w, name, src, e->ndim, e->shape);
    }
}

void ckpt_save(const char *path, const struct gpt2 *m, uint64_t fingerprint,
               const struct train_state *st, const char *options)
{
    struct hf_tensor *t;
    int n = hf_tensors(&m->cfg, &t);
    float **bufs = xcalloc((size_t)(3 * n), sizeof *bufs);
    int nbufs = 0;
    struct st_writer *w = st_writer_new();
    add_block(w, t, n, m, m->params, "", bufs, &nbufs);
    if (st) {
        if (!m->m || !m->v) die("internal error: saving a training checkpoint without AdamW moments");
        add_block(w, t, n, m, m->m, "optimizer.m.", bufs, &nbufs);
        add_block(w, t, n, m, m->v, "optimizer.v.", bufs, &nbufs);
    }
    char *cfg = config_json(&m->cfg), *fp = hex64(fingerprint), *sj = st ? state_json(st) : NULL;
    st_meta(w, "format", "pt");
    st_meta(w, "tfs.arch", ARCH);
    st_meta(w, "tfs.config", cfg);
    st_meta(w, "tfs.tokenizer", fp);
    if (sj) st_meta(w, "tfs.state", sj);
    if (options) st_meta(w, "tfs.options", options);
    st_write(w, path);
    st_writer_free(w);
    for (int i = 0; i < nbufs; i++) free(bufs[i]);
    free(bufs); free(t); free(cfg); free(fp); free(sj);
}

/* ---- load ---------------------------------------------------------------- */
static void load_block(const struct st_file *f, const struct hf_tensor *t, int n, const struct gpt2 *m,
                       float *block, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        const struct hf_tensor *e = &t[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        const float *src = st_expect(f, name, e->ndim, e->shape);
        float *dst = block + (m->p[e->p] - m->params) + e->off;
        if (e->transpose) transpose(dst, src, (size_t)e->shape[0], (size_t)e->shape[1]);
        else memcpy(dst, src, numel(e) * sizeof *dst);
    }
}

void ckpt_load(const char *path, struct gpt2 *m, struct ckpt_info *info, int want_state)
{
    struct ckpt_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    struct st_file *f = st_open(path);
    const char *name = path_name(path);
    const char *arch = st_meta_get(f, "tfs.arch");
    if (!arch) die("%s: not a tfs checkpoint (its metadata has no tfs.arch); "
                   "create one with tfs-train", name);
    if (strcmp(arch, ARCH) != 0)
        die("%s: a checkpoint of architecture '%s'; this program reads '%s'", name, arch, ARCH);

    json_t *cj = parse_meta(name, f, "tfs.config");
    struct gpt2_config *c = &info->cfg;
    c->vocab = (int)get_int(name, cj, "vocab", "tfs.config");
    c->context = (int)get_int(name, cj, "context", "tfs.config");
    c->layers = (int)get_int(name, cj, "layers", "tfs.config");
    c->heads = (int)get_int(name, cj, "heads", "tfs.config");
    c->dim = (int)get_int(name, cj, "dim", "tfs.config");
    json_decref(cj);
    if (c->vocab < 1 || c->context < 1 || c->layers < 1 || c->heads < 1 || c->dim < 1 ||
        c->dim % c->heads || c->vocab > (1 << 24) || c->context > (1 << 20) ||
        c->layers > 1024 || c->dim > (1 << 16))
        die("%s: tfs.config describes an impossible model (vocab %d, context %d, layers %d, heads %d, dim %d)",
            name, c->vocab, c->context, c->layers, c->heads, c->dim);
    const char *fp = st_meta_get(f, "tfs.tokenizer");
    info->fingerprint = fp ? parse_hex64(name, "tokenizer fingerprint", fp) : 0;

    gpt2_init(m, c);
    struct hf_tensor *t;
    int n = hf_tensors(c, &t);
    load_block(f, t, n, m, m->params, "");

    const char *sj = st_meta_get(f, "tfs.state");
    if (sj) {
        info->has_state = 1;
        json_t *j = parse_meta(name, f, "tfs.state");
        read_state(name, j, &info->st);
        json_decref(j);
    }
    const char *opt = st_meta_get(f, "tfs.options");
    if (opt) info->options = xstrdup(opt);
    if (want_state && info->has_state) {
        if (!m->m) m->m = xcalloc(m->nparams, sizeof *m->m);
        if (!m->v) m->v = xcalloc(m->nparams, sizeof *m->v);
        load_block(f, t, n, m, m->m, "optimizer.m.");
        load_block(f, t, n, m, m->v, "optimizer.v.");
    }
    free(t);
    st_close(f);
}

/* ---- either level ---------------------------------------------------------- */
static char *llama_config_json(const struct llama_config *c)
{
    return dump(json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:f, s:f}", "vocab", c->vocab,
                          "context", c->context, "layers", c->layers, "heads", c->heads,
                          "kv_heads", c->kv_heads, "dim", c->dim, "hidden", c->hidden, "tied", c->tied,
                          "rope_theta", (double)c->rope_theta, "norm_eps", (double)c->norm_eps));
}

void ckpt_save_model(const char *path, const struct model *m, uint64_t fingerprint,
                     const struct train_state *st, const char *options)
{
    if (m->arch != MODEL_BASELINE) { ckpt_save(path, &m->gpt2, fingerprint, st, options); return; }
    const struct llama *l = &m->llama;
    struct st_writer *w = st_writer_new();
    llama_st_add(w, l, l->params, "");
    if (st) {
        if (!l->m || !l->v) die("internal error: saving a training checkpoint without AdamW moments");
        llama_st_add(w, l, l->m, "optimizer.m.");
        llama_st_add(w, l, l->v, "optimizer.v.");
    }
    char *cfg = llama_config_json(&l->cfg), *fp = hex64(fingerprint), *sj = st ? state_json(st) : NULL;
    st_meta(w, "format", "pt");
    st_meta(w, "tfs.arch", model_arch_tag(MODEL_BASELINE));
    st_meta(w, "tfs.config", cfg);
    st_meta(w, "tfs.tokenizer", fp);
    if (sj) st_meta(w, "tfs.state", sj);
    if (options) st_meta(w, "tfs.options", options);
    st_write(w, path);
    st_writer_free(w);
    free(cfg); free(fp); free(sj);
}

void ckpt_load_model(const char *path, struct model *m, struct ckpt_info *info, int want_state)
{
    struct ckpt_info local;
    if (!info) info = &local;
    memset(m, 0, sizeof *m);
    struct st_file *f = st_open(path);
    const char *name = path_name(path);
    const char *arch = st_meta_get(f, "tfs.arch");
    if (!arch || strcmp(arch, model_arch_tag(MODEL_BASELINE)) != 0) {
        /* a custom model, or not a checkpoint: ckpt_load says which */
        st_close(f);
        m->arch = MODEL_CUSTOM;
        ckpt_load(path, &m->gpt2, info, want_state);
        info->model = model_config_of(m);
        if (info == &local) ckpt_info_free(&local);
        return;
    }
    memset(info, 0, sizeof *info);
    json_t *cj = parse_meta(name, f, "tfs.config");
    const char *w = "tfs.config";
    struct llama_config c = {
        .vocab = (int)get_int(name, cj, "vocab", w), .context = (int)get_int(name, cj, "context", w),
        .layers = (int)get_int(name, cj, "layers", w), .heads = (int)get_int(name, cj, "heads", w),
        .kv_heads = (int)get_int(name, cj, "kv_heads", w), .dim = (int)get_int(name, cj, "dim", w),
        .hidden = (int)get_int(name, cj, "hidden", w), .tied = json_is_true(json_object_get(cj, "tied")),
        .rope_theta = (float)get_real(name, cj, "rope_theta", w),
        .norm_eps = (float)get_real(name, cj, "norm_eps", w),
    };
    json_decref(cj);
    const char *e = llama_config_error(&c);
    if (!e && (c.vocab > (1 << 24) || c.context > (1 << 20) || c.layers > 1024 || c.dim > (1 << 16) ||
               c.hidden > (1 << 20)))
        e = "a size is out of range";
    if (e) die("%s: tfs.config describes an impossible model: %s", name, e);
    const char *fp = st_meta_get(f, "tfs.tokenizer");
    info->fingerprint = fp ? parse_hex64(name, "tokenizer fingerprint", fp) : 0;
    m->arch = MODEL_BASELINE;
    llama_init(&m->llama, &c);
    llama_st_read(f, &m->llama, m->llama.params, "");
    if (st_meta_get(f, "tfs.state")) {
        info->has_state = 1;
        json_t *j = parse_meta(name, f, "tfs.state");
        read_state(name, j, &info->st);
        json_decref(j);
    }
    const char *opt = st_meta_get(f, "tfs.options");
    if (opt) info->options = xstrdup(opt);
    if (want_state && info->has_state) {
        m->llama.m = xcalloc(m->llama.nparams, sizeof(float));
        m->llama.v = xcalloc(m->llama.nparams, sizeof(float));
        llama_st_read(f, &m->llama, m->llama.m, "optimizer.m.");
        llama_st_read(f, &m->llama, m->llama.v, "optimizer.v.");
    }
    info->cfg = (struct gpt2_config){ .vocab = c.vocab, .context = c.context, .layers = c.layers,
                                      .heads = c.heads, .dim = c.dim };
    info->model = model_config_of(m);
    st_close(f);
    if (info == &local) ckpt_info_free(&local);
}

char *ckpt_options(const char *path)
{
    struct st_file *f = st_open(path);
    const char *arch = st_meta_get(f, "tfs.arch");
    if (!arch || (strcmp(arch, ARCH) != 0 && strcmp(arch, model_arch_tag(MODEL_BASELINE)) != 0))
        die("%s: not a tfs %s checkpoint; create one with tfs-train", path_name(path), ARCH);
    const char *s = st_meta_get(f, "tfs.options");
    char *r = s ? xstrdup(s) : NULL;
    st_close(f);
    return r;
}

void ckpt_info_free(struct ckpt_info *info)
{
    free(info->options);
    info->options = NULL;
}

void ckpt_check_stream(const char *ckpt_name, const struct ckpt_info *info,
                       const char *stream_name, uint32_t vocab, uint64_t fingerprint)
{
    if ((int64_t)vocab != info->cfg.vocab)
        die("%s: vocabulary size %u, but %s was trained on %d (use the tokenizer of the checkpoint)",
            stream_name, vocab, ckpt_name, info->cfg.vocab);
    if (fingerprint && info->fingerprint && fingerprint != info->fingerprint)
        die("%s: encoded by tokenizer %016" PRIx64 ", but %s was trained with tokenizer %016" PRIx64
            " (re-encode the text with that tokenizer)",
            stream_name, fingerprint, ckpt_name, info->fingerprint);
}

/* ---- Hugging Face export ------------------------------------------------- */
void ckpt_export_hf(const char *dir, const struct gpt2 *m, uint64_t fingerprint, long eot)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die_errno("cannot create directory '%s'", dir);
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);
    /* GPT2Config's fields (transformers, configuration_gpt2.py).  We train
     * without dropout; "gelu_new" is the tanh approximation we use. */
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", "GPT2LMHeadModel"));
    json_object_set_new(j, "model_type", json_string("gpt2"));
    json_object_set_new(j, "vocab_size", json_integer(m->cfg.vocab));
    json_object_set_new(j, "n_positions", json_integer(m->cfg.context));
    json_object_set_new(j, "n_ctx", json_integer(m->cfg.context));
    json_object_set_new(j, "n_embd", json_integer(m->cfg.dim));
    json_object_set_new(j, "n_layer", json_integer(m->cfg.layers));
    json_object_set_new(j, "n_head", json_integer(m->cfg.heads));
    json_object_set_new(j, "n_inner", json_null());
    json_object_set_new(j, "activation_function", json_string("gelu_new"));
    json_object_set_new(j, "layer_norm_epsilon", json_real(1e-5));
    json_object_set_new(j, "resid_pdrop", json_real(0));
    json_object_set_new(j, "embd_pdrop", json_real(0));
    json_object_set_new(j, "attn_pdrop", json_real(0));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "tie_word_embeddings", json_true());
    json_object_set_new(j, "torch_dtype", json_string("float32"));
    if (eot >= 0) {
        json_object_set_new(j, "bos_token_id", json_integer(eot));
        json_object_set_new(j, "eos_token_id", json_integer(eot));
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(j);
    snprintf(path, n, "%s/config.json", dir);
    struct outfile o;
    FILE *f = outfile_open(&o, path);
    fprintf(f, "%s\n", s);
    outfile_commit(&o);
    free(s);
    snprintf(path, n, "%s/model.safetensors", dir);
    ckpt_save(path, m, fingerprint, NULL, NULL);
    free(path);
}
