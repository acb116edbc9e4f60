/* hf_import.c - a Hugging Face model directory into the custom (GPT-2) or
 * baseline (Llama) level; what is read and what is refused: hf_import.h.
 *
 *   open DIR -> config.json -> which architecture -> its config, checked
 *   key by key -> the level's table of HF names (gpt2_ckpt.c,
 *   llama_ckpt.c) -> every tensor of the file either loaded by that table
 *   or a known buffer to skip, else refused by name.
 *
 * Facts used (transformers' configuration_gpt2.py and configuration_llama.py,
 * their defaults when a key is absent): GPT2Config activation_function
 * "gelu_new", layer_norm_epsilon 1e-5, scale_attn_weights true,
 * tie_word_embeddings true; LlamaConfig hidden_act "silu", rms_norm_eps
 * 1e-6, rope_theta 10000, num_key_value_heads = num_attention_heads,
 * tie_word_embeddings false, rope_scaling null.
 */
#include "model/hf_import.h"
#include "gpt2/gpt2_ckpt.h"
#include "llama/llama_ckpt.h"
#include "tok/tokenizer.h"
#include "core/xio.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the directory -------------------------------------------------------- */
struct hf {
    char *dir;          /* the model directory */
    char *config;       /* DIR/config.json, for messages */
    char *weights;      /* the safetensors file or index to open */
    json_t *cfg;
};

static int is_dir(const char *p) { struct stat sb; return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode); }
static int is_file(const char *p) { struct stat sb; return stat(p, &sb) == 0 && S_ISREG(sb.st_mode); }

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The directory of a file path ("." for a bare name). */
static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s) return xstrdup(".");
    size_t n = (size_t)(s - path);
    char *d = xmalloc(n + 2);
    memcpy(d, path, n ? n : 1);
    d[n ? n : 1] = 0;
    return d;
}

int hf_is_model(const char *path)
{
    char *dir = is_dir(path) ? xstrdup(path) : dir_of(path), *cfg = join(dir, "config.json");
    int yes = is_file(cfg);
    free(dir);
    free(cfg);
    if (!yes || is_dir(path)) return yes;
    /* a file beside a config.json: Hugging Face's unless it is one of ours
     * (a baseline export has tfs.arch but no tfs.config); the header alone */
    char *arch = st_peek_meta(path, "tfs.arch"), *tcfg = st_peek_meta(path, "tfs.config");
    yes = !arch || !tcfg;
    free(arch);
    free(tcfg);
    return yes;
}

static void hf_open(struct hf *h, const char *path)
{
    memset(h, 0, sizeof *h);
    if (is_dir(path)) {
        h->dir = xstrdup(path);
        char *idx = join(path, "model.safetensors.index.json"), *one = join(path, "model.safetensors");
        if (is_file(one)) { h->weights = one; free(idx); }
        else if (is_file(idx)) { h->weights = idx; free(one); }
        else die("%s: no model.safetensors or model.safetensors.index.json (only safetensors weights "
                 "are read; pytorch_model.bin is not)", path);
    } else {
        h->dir = dir_of(path);
        h->weights = xstrdup(path);
    }
    h->config = join(h->dir, "config.json");
    json_error_t err;
    h->cfg = json_load_file(h->config, 0, &err);
    if (!h->cfg) die("%s:%d: %s", h->config, err.line, err.text);
    if (!json_is_object(h->cfg)) die("%s: not a JSON object", h->config);
}

static void hf_close(struct hf *h)
{
    json_decref(h->cfg);
    free(h->dir); free(h->config); free(h->weights);
}

/* ---- config.json ---------------------------------------------------------- */
static int cfg_int(const struct hf *h, const char *key, int def)
{
    json_t *v = json_object_get(h->cfg, key);
    if (!v || json_is_null(v)) {
        if (def > 0) return def;
        die("%s: no \"%s\"", h->config, key);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 30))
        die("%s: \"%s\" is not a positive integer", h->config, key);
    return (int)json_integer_value(v);
}

static double cfg_num(const struct hf *h, const char *key, double def)
{
    json_t *v = json_object_get(h->cfg, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_number(v)) die("%s: \"%s\" is not a number", h->config, key);
    return json_number_value(v);
}

static int cfg_bool(const struct hf *h, const char *key, int def)
{
    json_t *v = json_object_get(h->cfg, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_boolean(v)) die("%s: \"%s\" is not true or false", h->config, key);
    return json_is_true(v);
}

static const char *cfg_str(const struct hf *h, const char *key, const char *def)
{
    json_t *v = json_object_get(h->cfg, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_string(v)) die("%s: \"%s\" is not a string", h->config, key);
    return json_string_value(v);
}

/* Refuse key's value (as JSON) because the level lacks `what`. */
static _Noreturn void refuse(const struct hf *h, const char *key, const char *what)
{
    char *v = json_dumps(json_object_get(h->cfg, key), JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
    die("%s: \"%s\": %s is not supported: %s", h->config, key, v ? v : "?", what);
}

/* "gpt2", "llama", or die naming the architecture. */
static const char *architecture(const struct hf *h)
{
    json_t *a = json_object_get(h->cfg, "architectures");
    const char *name = json_string_value(json_array_get(a, 0));
    const char *type = cfg_str(h, "model_type", NULL);
    if (name) {
        if (!strcmp(name, "GPT2LMHeadModel") || !strcmp(name, "GPT2Model")) return "gpt2";
        /* Mistral is Llama's architecture plus a sliding attention window */
        if (!strcmp(name, "LlamaForCausalLM") || !strcmp(name, "LlamaModel") ||
            !strcmp(name, "MistralForCausalLM") || !strcmp(name, "MistralModel"))
            return "llama";
        die("%s: architecture %s is not supported (GPT2LMHeadModel, GPT2Model, LlamaForCausalLM, "
            "LlamaModel, MistralForCausalLM and MistralModel are)", h->config, name);
    }
    if (type && (!strcmp(type, "gpt2") || !strcmp(type, "llama"))) return type;
    if (type && !strcmp(type, "mistral")) return "llama";
    die("%s: model_type %s is not supported (gpt2, llama and mistral are)", h->config, type ? type : "(none)");
}

static void gpt2_config_of(const struct hf *h, struct gpt2_config *c)
{
    c->vocab = cfg_int(h, "vocab_size", 0);
    c->context = cfg_int(h, "n_positions", 0);
    c->dim = cfg_int(h, "n_embd", 0);
    c->layers = cfg_int(h, "n_layer", 0);
    c->heads = cfg_int(h, "n_head", 0);
    if (c->dim % c->heads) die("%s: n_embd %d is not a multiple of n_head %d", h->config, c->dim, c->heads);
    json_t *inner = json_object_get(h->cfg, "n_inner");
    if (inner && !json_is_null(inner) && !(json_is_integer(inner) && json_integer_value(inner) == 4 * c->dim))
        refuse(h, "n_inner", "the MLP is 4 n_embd wide");
    const char *act = cfg_str(h, "activation_function", "gelu_new");
    if (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        refuse(h, "activation_function", "the MLP uses GELU's tanh form (gelu_new)");
    if (fabs(cfg_num(h, "layer_norm_epsilon", 1e-5) - 1e-5) > 1e-12)
        refuse(h, "layer_norm_epsilon", "LayerNorm's epsilon is 1e-5");
    if (!cfg_bool(h, "scale_attn_weights", 1)) refuse(h, "scale_attn_weights", "attention is scaled by 1/sqrt(head size)");
    if (cfg_bool(h, "scale_attn_by_inverse_layer_idx", 0))
        refuse(h, "scale_attn_by_inverse_layer_idx", "attention is not scaled by layer");
    if (cfg_bool(h, "add_cross_attention", 0)) refuse(h, "add_cross_attention", "there is no cross-attention");
}

/* rope_scaling: Llama 3's ("rope_type" or, in older files, "type"
 * "llama3") is computed (llama.h); any other kind is refused. */
static void rope_scaling(const struct hf *h, json_t *v, struct llama_config *c)
{
    json_t *t = json_object_get(v, "rope_type");
    const char *type = json_string_value(t ? t : json_object_get(v, "type"));
    json_t *f = json_object_get(v, "factor"), *lo = json_object_get(v, "low_freq_factor"),
           *hi = json_object_get(v, "high_freq_factor"), *orig = json_object_get(v, "original_max_position_embeddings");
    if (!type || strcmp(type, "llama3") || !json_is_number(f) || !json_is_number(lo) || !json_is_number(hi) ||
        !json_is_integer(orig) || json_integer_value(orig) < 1 || json_integer_value(orig) > (1 << 30))
        refuse(h, "rope_scaling", "only rope_type llama3 (factor, low_freq_factor, high_freq_factor, "
                                  "original_max_position_embeddings) is computed");
    c->rope_factor = (float)json_number_value(f);
    c->rope_low_freq = (float)json_number_value(lo);
    c->rope_high_freq = (float)json_number_value(hi);
    c->rope_orig_context = (int)json_integer_value(orig);
}

static void llama_config_of(const struct hf *h, struct llama_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab = cfg_int(h, "vocab_size", 0);
    c->dim = cfg_int(h, "hidden_size", 0);
    c->hidden = cfg_int(h, "intermediate_size", 0);
    c->layers = cfg_int(h, "num_hidden_layers", 0);
    c->heads = cfg_int(h, "num_attention_heads", 0);
    c->kv_heads = cfg_int(h, "num_key_value_heads", c->heads);
    c->context = cfg_int(h, "max_position_embeddings", 0);
    c->norm_eps = (float)cfg_num(h, "rms_norm_eps", 1e-6);
    c->rope_theta = (float)cfg_num(h, "rope_theta", 10000);
    c->tied = cfg_bool(h, "tie_word_embeddings", 0);
    json_t *v = json_object_get(h->cfg, "rope_scaling");
    if (v && !json_is_null(v)) rope_scaling(h, v, c);
    if (cfg_bool(h, "attention_bias", 0)) refuse(h, "attention_bias", "q, k, v and o projections have no biases");
    if (cfg_bool(h, "mlp_bias", 0)) refuse(h, "mlp_bias", "the MLP has no biases");
    /* A sliding window of W keys is the whole context when the context is
     * at most W: then the context is W (Mistral 7B v0.1: 4096), so that
     * the numbers stay exact.  Llama has no such key. */
    v = json_object_get(h->cfg, "sliding_window");
    if (v && !json_is_null(v)) {
        const char *type = cfg_str(h, "model_type", "");
        if (strcmp(type, "mistral") || !json_is_integer(v) || json_integer_value(v) < 1)
            refuse(h, "sliding_window", "attention sees the whole context");
        if (json_integer_value(v) < c->context) c->context = (int)json_integer_value(v);
    }
    if (strcmp(cfg_str(h, "hidden_act", "silu"), "silu")) refuse(h, "hidden_act", "the MLP is SwiGLU (silu)");
    /* head_dim (LlamaConfig's, default hidden_size / num_attention_heads):
     * q_proj (heads head_dim, hidden), o_proj (hidden, heads head_dim) */
    c->head_dim = cfg_int(h, "head_dim", c->dim % c->heads ? 0 : c->dim / c->heads);
    if (c->dim % c->heads == 0 && c->head_dim == c->dim / c->heads) c->head_dim = 0;
    const char *e = llama_config_error(c);
    if (e) die("%s: %s", h->config, e);
}

void hf_peek_config(const char *path, struct model_config *mc)
{
    struct hf h;
    hf_open(&h, path);
    memset(mc, 0, sizeof *mc);
    if (!strcmp(architecture(&h), "gpt2")) {
        struct gpt2_config c;
        gpt2_config_of(&h, &c);
        *mc = (struct model_config){ .arch = MODEL_CUSTOM, .vocab = c.vocab, .context = c.context,
                                     .layers = c.layers, .heads = c.heads, .dim = c.dim };
    } else {
        struct llama_config c;
        llama_config_of(&h, &c);
        *mc = (struct model_config){ .arch = MODEL_BASELINE, .vocab = c.vocab, .context = c.context,
                                     .layers = c.layers, .heads = c.heads, .dim = c.dim,
                                     .kv_heads = c.kv_heads, .hidden = c.hidden, .untied = !c.tied,
                                     .head_dim = c.head_dim };
    }
    hf_close(&h);
}

/* ---- the tensors ---------------------------------------------------------- */
/* Load every tensor of table t into block, each looked up under its name
 * less `strip` when it starts with it; `used` marks the file's tensors
 * taken.  The entry named `short_name` may hold more rows in the file
 * (file_rows): its first rows are taken (a shorter context). */
static void load_table(const struct st_file *f, const struct st_table *t, float *block, const char *strip,
                       char *used, const char *short_name, int64_t file_rows)
{
    size_t ns = strlen(strip);
    for (int i = 0; i < t->n; i++) {
        const struct st_entry *e = &t->e[i];
        const char *name = strncmp(e->name, strip, ns) ? e->name : e->name + ns;
        int64_t shape[2] = { e->shape[0], e->shape[1] };
        if (short_name && !strcmp(e->name, short_name)) shape[0] = file_rows;
        const float *src = st_expect(f, name, e->ndim, shape);
        used[st_find(f, name) - f->tensors] = 1;
        float *dst = block + e->off;
        size_t rows = (size_t)e->shape[0], cols = e->ndim == 2 ? (size_t)e->shape[1] : 1;
        if (!e->transpose) { memcpy(dst, src, rows * cols * sizeof *dst); continue; }
        /* Conv1D: the file's (in, out) = shape is the transpose of our (out, in) */
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
    }
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Every tensor of the file is loaded, a buffer we may skip, or refused. */
static void check_all_used(const struct hf *h, const struct st_file *f, const char *used, const char *level)
{
    for (int i = 0; i < f->ntensors; i++) {
        const char *n = f->tensors[i].name;
        if (used[i] || ends_with(n, ".attn.bias") || ends_with(n, ".attn.masked_bias") ||
            ends_with(n, ".rotary_emb.inv_freq"))
            continue;
        die("%s: tensor %s is not part of the %s model we build (a feature we lack?); refusing rather "
            "than ignoring it", h->weights, n, level);
    }
}

static void load_gpt2(const struct hf *h, const struct st_file *f, struct gpt2 *m, int context)
{
    struct gpt2_config c;
    gpt2_config_of(h, &c);
    int file_ctx = c.context;
    if (context > 0) c.context = context;
    gpt2_init(m, &c);
    struct st_table t;
    gpt2_st_table(m, &t);
    char *used = xcalloc((size_t)f->ntensors + 1, 1);
    const char *strip = st_find(f, "transformer.wte.weight") ? "" : "transformer.";
    load_table(f, &t, m->params, strip, used, "transformer.wpe.weight", file_ctx);
    st_table_free(&t);
    /* our output projection is the token embedding: a separate lm_head must equal it */
    const struct st_tensor *head = st_find(f, "lm_head.weight");
    int tied = cfg_bool(h, "tie_word_embeddings", 1);
    if (head) {
        const float *w = st_expect(f, "lm_head.weight", 2, (int64_t[]){ c.vocab, c.dim });
        if (!tied && memcmp(w, m->p[P_WTE], (size_t)c.vocab * (size_t)c.dim * sizeof *w))
            die("%s: lm_head.weight differs from the token embedding: an untied GPT-2 is not supported "
                "(the custom level ties its output projection)", h->weights);
        used[head - f->tensors] = 1;
    } else if (!tied) {
        die("%s: tie_word_embeddings is false but there is no lm_head.weight", h->weights);
    }
    check_all_used(h, f, used, "GPT-2");
    free(used);
}

static void load_llama(const struct hf *h, const struct st_file *f, struct llama *m, int context)
{
    struct llama_config c;
    llama_config_of(h, &c);
    if (context > 0) c.context = context;      /* only the size of the rotary tables */
    llama_init(m, &c);
    struct st_table t;
    llama_st_table(m, &t);
    char *used = xcalloc((size_t)f->ntensors + 1, 1);
    const char *strip = st_find(f, "model.embed_tokens.weight") ? "" : "model.";
    if (!c.tied && !st_find(f, "lm_head.weight"))
        die("%s: tie_word_embeddings is false but there is no lm_head.weight", h->weights);
    load_table(f, &t, m->params, strip, used, NULL, 0);
    st_table_free(&t);
    /* tied: HF ignores a stored lm_head (it is the embedding), so do we */
    const struct st_tensor *head = st_find(f, "lm_head.weight");
    if (c.tied && head) used[head - f->tensors] = 1;
    check_all_used(h, f, used, "Llama");
    free(used);
}

void hf_load_model(const char *path, struct model *m, struct ckpt_info *info, int context)
{
    struct hf h;
    hf_open(&h, path);
    memset(m, 0, sizeof *m);
    const char *arch = architecture(&h);
    struct st_file *f = st_open_any(h.weights);
    struct model_config full;
    hf_peek_config(path, &full);
    if (context > full.context)
        die("%s: context %d is longer than the model's %d", h.config, context, full.context);
    if (!strcmp(arch, "gpt2")) {
        m->arch = MODEL_CUSTOM;
        load_gpt2(&h, f, &m->gpt2, context);
    } else {
        m->arch = MODEL_BASELINE;
        load_llama(&h, f, &m->llama, context);
    }
    st_close(f);
    info->model = model_config_of(m);
    info->cfg = (struct gpt2_config){ .vocab = info->model.vocab, .context = info->model.context,
                                      .layers = info->model.layers, .heads = info->model.heads,
                                      .dim = info->model.dim };
    info->has_state = 0;
    info->imported = 1;
    /* the tokenizer beside it, when we can read it: the streams must match it */
    char *tp = join(h.dir, "tokenizer.json"), err[256];
    struct tokenizer *tok = is_file(tp) ? tok_load_err(tp, err, sizeof err) : NULL;
    info->fingerprint = tok ? tok_fingerprint(tok) : 0;
    if (tok) tok_free(tok);
    free(tp);
    hf_close(&h);
}
