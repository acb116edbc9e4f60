/* checkpoint.c - checkpoints of either level as safetensors with Hugging
 * Face names (see checkpoint.h for the metadata): the level-independent
 * part.  Each level's tensor table is its own (gpt2/gpt2_ckpt.c,
 * llama/llama_ckpt.c); core/st_table.c walks them. */
#include "model/checkpoint.h"
#include "model/hf_import.h"
#include "gpt2/gpt2_ckpt.h"
#include "llama/llama_ckpt.h"
#include "core/xio.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ARCH "gpt2"

/* ---- metadata ------------------------------------------------------------ */
static char *dump(json_t *j)
{
    /* 17 significant digits: every double survives the round trip exactly. */
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s) die("out of memory writing checkpoint metadata");
    return s;
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

/* ---- the config of each level (tfs.config) -------------------------------- */
static char *gpt2_config_json(const struct gpt2_config *c)
{
    return dump(json_pack("{s:i, s:i, s:i, s:i, s:i}", "vocab", c->vocab, "context", c->context,
                          "layers", c->layers, "heads", c->heads, "dim", c->dim));
}

static char *llama_config_json(const struct llama_config *c)
{
    json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:f, s:f}", "vocab", c->vocab,
                          "context", c->context, "layers", c->layers, "heads", c->heads,
                          "kv_heads", c->kv_heads, "dim", c->dim, "hidden", c->hidden, "tied", c->tied,
                          "rope_theta", (double)c->rope_theta, "norm_eps", (double)c->norm_eps);
    /* the head size, always written; files from before it read as dim / heads */
    json_object_set_new(j, "head_dim", json_integer(llama_head_dim(c)));
    if (c->rope_factor != 0)        /* Llama 3's rope scaling: only when set, so older files read the same */
        json_object_set_new(j, "rope_scaling", json_pack("{s:f, s:f, s:f, s:i}", "factor", (double)c->rope_factor,
                            "low_freq_factor", (double)c->rope_low_freq, "high_freq_factor",
                            (double)c->rope_high_freq, "original_context", c->rope_orig_context));
    return dump(j);
}

static void read_gpt2_config(const char *name, const struct st_file *f, struct gpt2_config *c)
{
    json_t *cj = parse_meta(name, f, "tfs.config");
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
}

static void read_llama_config(const char *name, const struct st_file *f, struct llama_config *c)
{
    json_t *cj = parse_meta(name, f, "tfs.config");
    const char *w = "tfs.config";
    *c = (struct llama_config){
        .vocab = (int)get_int(name, cj, "vocab", w), .context = (int)get_int(name, cj, "context", w),
        .layers = (int)get_int(name, cj, "layers", w), .heads = (int)get_int(name, cj, "heads", w),
        .kv_heads = (int)get_int(name, cj, "kv_heads", w), .dim = (int)get_int(name, cj, "dim", w),
        .hidden = (int)get_int(name, cj, "hidden", w), .tied = json_is_true(json_object_get(cj, "tied")),
        .rope_theta = (float)get_real(name, cj, "rope_theta", w),
        .norm_eps = (float)get_real(name, cj, "norm_eps", w),
    };
    if (json_object_get(cj, "head_dim")) {
        int64_t hd = get_int(name, cj, "head_dim", w);
        c->head_dim = hd < 1 || hd > (1 << 16) ? -1 : (int)hd;    /* -1: refused below */
        if (c->heads > 0 && c->dim % c->heads == 0 && c->head_dim == c->dim / c->heads) c->head_dim = 0;
    }
    json_t *rs = json_object_get(cj, "rope_scaling");
    if (rs) {
        c->rope_factor = (float)get_real(name, rs, "factor", w);
        c->rope_low_freq = (float)get_real(name, rs, "low_freq_factor", w);
        c->rope_high_freq = (float)get_real(name, rs, "high_freq_factor", w);
        c->rope_orig_context = (int)get_int(name, rs, "original_context", w);
    }
    json_decref(cj);
    const char *e = llama_config_error(c);
    if (!e && (c->vocab > (1 << 24) || c->context > (1 << 20) || c->layers > 1024 || c->dim > (1 << 16) ||
               c->hidden > (1 << 20)))
        e = "a size is out of range";
    if (e) die("%s: tfs.config describes an impossible model: %s", name, e);
}

/* ---- save ---------------------------------------------------------------- */
/* A checkpoint's metadata in file order (key, value, ..., NULL; at most 12
 * strings and the NULL); state and options may be NULL. */
static void ckpt_meta(const char **kv, const char *arch, const char *cfg, const char *fp,
                      const char *state, const char *options)
{
    int k = 0;
    kv[k++] = "format";         /* transformers refuses files without it */
    kv[k++] = "pt";
    kv[k++] = "tfs.arch";
    kv[k++] = arch;
    kv[k++] = "tfs.config";
    kv[k++] = cfg;
    kv[k++] = "tfs.tokenizer";
    kv[k++] = fp;
    if (state) { kv[k++] = "tfs.state"; kv[k++] = state; }
    if (options) { kv[k++] = "tfs.options"; kv[k++] = options; }
    kv[k] = NULL;
}

/* Write the weights of a level (its table t over its blocks), with st the
 * moments mm and vv too, and the metadata; cfg is its tfs.config. */
static void save(const char *path, struct st_table *t, const float *params, const float *mm,
                 const float *vv, const char *arch, const char *cfg, uint64_t fingerprint,
                 const struct train_state *st, const char *options)
{
    struct st_writer *w = st_writer_new();
    st_table_save(w, t, params, "");
    if (st) {
        if (!mm || !vv) die("internal error: saving a training checkpoint without AdamW moments");
        st_table_save(w, t, mm, "optimizer.m.");
        st_table_save(w, t, vv, "optimizer.v.");
    }
    char *fp = hex64(fingerprint), *sj = st ? state_json(st) : NULL;
    const char *kv[13];
    ckpt_meta(kv, arch, cfg, fp, sj, options);
    for (const char **p = kv; *p; p += 2) st_meta(w, p[0], p[1]);
    st_write(w, path);
    st_writer_free(w);
    free(fp); free(sj);
}

void ckpt_save(const char *path, const struct gpt2 *m, uint64_t fingerprint,
               const struct train_state *st, const char *options)
{
    struct st_table t;
    gpt2_st_table(m, &t);
    char *cfg = gpt2_config_json(&m->cfg);
    save(path, &t, m->params, m->m, m->v, ARCH, cfg, fingerprint, st, options);
    free(cfg);
    st_table_free(&t);
}

void ckpt_save_model(const char *path, const struct model *m, uint64_t fingerprint,
                     const struct train_state *st, const char *options)
{
    if (m->arch != MODEL_BASELINE) { ckpt_save(path, &m->gpt2, fingerprint, st, options); return; }
    const struct llama *l = &m->llama;
    struct st_table t;
    llama_st_table(l, &t);
    char *cfg = llama_config_json(&l->cfg);
    save(path, &t, l->params, l->m, l->v, model_arch_tag(MODEL_BASELINE), cfg, fingerprint, st, options);
    free(cfg);
    st_table_free(&t);
}

/* ---- load ---------------------------------------------------------------- */
/* Open a checkpoint; its tfs.arch in *arch.  Dies for a file without one. */
static struct st_file *open_ckpt(const char *path, const char **arch)
{
    struct st_file *f = st_open(path);
    *arch = st_meta_get(f, "tfs.arch");
    if (!*arch) die("%s: not a tfs checkpoint (its metadata has no tfs.arch); "
                    "create one with tfs-train", path_name(path));
    return f;
}

static uint64_t read_fingerprint(const char *name, const struct st_file *f)
{
    const char *fp = st_meta_get(f, "tfs.tokenizer");
    return fp ? parse_hex64(name, "tokenizer fingerprint", fp) : 0;
}

/* After the config: the weights (table t) into params, the state and the
 * options into info, and with want_state and a training checkpoint the
 * moments into *mm and *vv (n floats each, allocated here). */
static void load_blocks(const char *name, const struct st_file *f, const struct st_table *t, float *params,
                        float **mm, float **vv, size_t n, struct ckpt_info *info, int want_state)
{
    st_table_load(f, t, params, "");
    if (st_meta_get(f, "tfs.state")) {
        info->has_state = 1;
        json_t *j = parse_meta(name, f, "tfs.state");
        read_state(name, j, &info->st);
        json_decref(j);
    }
    const char *opt = st_meta_get(f, "tfs.options");
    if (opt) info->options = xstrdup(opt);
    if (want_state && info->has_state) {
        *mm = xcalloc(n, sizeof(float));
        *vv = xcalloc(n, sizeof(float));
        st_table_load(f, t, *mm, "optimizer.m.");
        st_table_load(f, t, *vv, "optimizer.v.");
    }
}

static void load_gpt2(const char *name, const struct st_file *f, struct gpt2 *m,
                      struct ckpt_info *info, int want_state)
{
    read_gpt2_config(name, f, &info->cfg);
    info->fingerprint = read_fingerprint(name, f);
    gpt2_init(m, &info->cfg);
    struct st_table t;
    gpt2_st_table(m, &t);
    load_blocks(name, f, &t, m->params, &m->m, &m->v, m->nparams, info, want_state);
    st_table_free(&t);
}

static void load_llama(const char *name, const struct st_file *f, struct llama *m,
                       struct ckpt_info *info, int want_state)
{
    struct llama_config c;
    read_llama_config(name, f, &c);
    info->fingerprint = read_fingerprint(name, f);
    llama_init(m, &c);
    struct st_table t;
    llama_st_table(m, &t);
    load_blocks(name, f, &t, m->params, &m->m, &m->v, m->nparams, info, want_state);
    st_table_free(&t);
    info->cfg = (struct gpt2_config){ .vocab = c.vocab, .context = c.context, .layers = c.layers,
                                      .heads = c.heads, .dim = c.dim };
}

static void refuse_arch(const char *name, const char *arch)
{
    if (strcmp(arch, ARCH) != 0)
        die("%s: a checkpoint of architecture '%s'; this program reads '%s'", name, arch, ARCH);
}

void ckpt_load(const char *path, struct gpt2 *m, struct ckpt_info *info, int want_state)
{
    struct ckpt_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    const char *arch;
    struct st_file *f = open_ckpt(path, &arch);
    refuse_arch(path_name(path), arch);
    load_gpt2(path_name(path), f, m, info, want_state);
    st_close(f);
    if (info == &local) ckpt_info_free(&local);
}

void ckpt_load_model(const char *path, struct model *m, struct ckpt_info *info, int want_state)
{
    struct ckpt_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    memset(m, 0, sizeof *m);
    const char *arch, *name = path_name(path);
    struct st_file *f = open_ckpt(path, &arch);
    if (!strcmp(arch, model_arch_tag(MODEL_BASELINE))) {
        m->arch = MODEL_BASELINE;
        load_llama(name, f, &m->llama, info, want_state);
    } else {
        refuse_arch(name, arch);
        m->arch = MODEL_CUSTOM;
        load_gpt2(name, f, &m->gpt2, info, want_state);
    }
    info->model = model_config_of(m);
    st_close(f);
    if (info == &local) ckpt_info_free(&local);
}

/* A directory that is not a Hugging Face model: say so, not "not a file". */
static void refuse_plain_dir(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && !hf_is_model(path))
        die("%s: a directory without config.json (neither a checkpoint nor a Hugging Face model)", path);
}

void ckpt_load_any(const char *path, struct model *m, struct ckpt_info *info, int want_state, int context)
{
    refuse_plain_dir(path);
    if (!hf_is_model(path)) {
        ckpt_load_model(path, m, info, want_state);
        if (context > 0 && context != info->model.context)
            die("%s: a tfs checkpoint of context %d; its context cannot change (only a Hugging Face "
                "model's can)", path_name(path), info->model.context);
        return;
    }
    memset(info, 0, sizeof *info);
    hf_load_model(path, m, info, context);
}

void ckpt_peek_model(const char *path, struct model_config *mc)
{
    refuse_plain_dir(path);
    if (hf_is_model(path)) { hf_peek_config(path, mc); return; }
    struct st_file *f = st_open(path);
    const char *arch = st_meta_get(f, "tfs.arch"), *name = path_name(path);
    if (!arch) die("%s: not a tfs checkpoint (its metadata has no tfs.arch) and no config.json beside it", name);
    memset(mc, 0, sizeof *mc);
    if (!strcmp(arch, model_arch_tag(MODEL_BASELINE))) {
        struct llama_config c;
        read_llama_config(name, f, &c);
        *mc = (struct model_config){ .arch = MODEL_BASELINE, .vocab = c.vocab, .context = c.context,
                                     .layers = c.layers, .heads = c.heads, .dim = c.dim,
                                     .kv_heads = c.kv_heads, .hidden = c.hidden, .untied = !c.tied,
                                     .head_dim = c.head_dim };
    } else {
        refuse_arch(name, arch);
        struct gpt2_config c;
        read_gpt2_config(name, f, &c);
        *mc = (struct model_config){ .arch = MODEL_CUSTOM, .vocab = c.vocab, .context = c.context,
                                     .layers = c.layers, .heads = c.heads, .dim = c.dim };
    }
    st_close(f);
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
    int padded = (int64_t)vocab < info->cfg.vocab && fingerprint && fingerprint == info->fingerprint;
    if ((int64_t)vocab != info->cfg.vocab && !padded)
        die("%s: vocabulary size %u, but %s was trained on %d (use the tokenizer of the checkpoint)",
            stream_name, vocab, ckpt_name, info->cfg.vocab);
    if (fingerprint && info->fingerprint && fingerprint != info->fingerprint)
        die("%s: encoded by tokenizer %016" PRIx64 ", but %s was trained with tokenizer %016" PRIx64
            " (re-encode the text with that tokenizer)",
            stream_name, fingerprint, ckpt_name, info->fingerprint);
}

/* ---- Hugging Face export ------------------------------------------------- */
void ckpt_export_hf(const char *dir, const struct gpt2 *m, uint64_t fingerprint, long eot, enum st_dtype dtype)
{
    /* model.safetensors is a weights-only checkpoint: the tfs metadata too */
    struct st_table t;
    gpt2_st_table(m, &t);
    char *js = gpt2_hf_config_json(&m->cfg, eot), *cfg = gpt2_config_json(&m->cfg), *fp = hex64(fingerprint);
    const char *kv[13];
    ckpt_meta(kv, ARCH, cfg, fp, NULL, NULL);
    st_table_export(dir, js, &t, m->params, kv, dtype);
    free(js); free(cfg); free(fp);
    st_table_free(&t);
}

void ckpt_export_hf_model(const char *dir, const struct model *m, uint64_t fingerprint, long eot,
                          enum st_dtype dtype)
{
    if (m->arch == MODEL_BASELINE) llama_export_hf(dir, &m->llama, eot, dtype);   /* LlamaForCausalLM */
    else ckpt_export_hf(dir, &m->gpt2, fingerprint, eot, dtype);                 /* GPT2LMHeadModel */
}
