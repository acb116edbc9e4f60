/* llama_ckpt.c - the baseline model's tensors under Hugging Face Llama
 * names (the table is in llama_ckpt.h), config.json, export and load. */
#include "llama/llama_ckpt.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/xio.h"

/* One HF tensor: where it starts in a block, and its shape. */
struct hf_tensor {
    char name[96];
    size_t off;
    int ndim;
    int64_t shape[2];
};

/* The HF tensors of m in block order; returns how many (at most
 * 3 + 9 L).  Free the array. */
static struct hf_tensor *hf_tensors(const struct llama *m, int *count)
{
    const struct llama_config *c = &m->cfg;
    int64_t V = c->vocab, C = c->dim, F = c->hidden, L = c->layers;
    int64_t KVD = (int64_t)c->kv_heads * (C / c->heads), QKV = C + 2 * KVD;
    struct hf_tensor *t = xcalloc((size_t)(3 + 9 * L), sizeof *t);
    int n = 0;
#define OFF(i) ((size_t)(m->p[i] - m->params))
#define ADD(off_, r, cols, ...) do { struct hf_tensor *x_ = &t[n++]; \
        snprintf(x_->name, sizeof x_->name, __VA_ARGS__); x_->off = (off_); \
        x_->ndim = (cols) ? 2 : 1; x_->shape[0] = (r); x_->shape[1] = (cols); } while (0)
    ADD(OFF(LP_EMBED), V, C, "model.embed_tokens.weight");
    for (int64_t l = 0; l < L; l++) {
        size_t q = OFF(LP_WQKV) + (size_t)(l * QKV * C), gu = OFF(LP_WGU) + (size_t)(l * 2 * F * C);
        ADD(OFF(LP_ATTN_NORM) + (size_t)(l * C), C, 0, "model.layers.%d.input_layernorm.weight", (int)l);
        ADD(q, C, C, "model.layers.%d.self_attn.q_proj.weight", (int)l);
        ADD(q + (size_t)(C * C), KVD, C, "model.layers.%d.self_attn.k_proj.weight", (int)l);
        ADD(q + (size_t)((C + KVD) * C), KVD, C, "model.layers.%d.self_attn.v_proj.weight", (int)l);
        ADD(OFF(LP_WO) + (size_t)(l * C * C), C, C, "model.layers.%d.self_attn.o_proj.weight", (int)l);
        ADD(OFF(LP_MLP_NORM) + (size_t)(l * C), C, 0, "model.layers.%d.post_attention_layernorm.weight", (int)l);
        ADD(gu, F, C, "model.layers.%d.mlp.gate_proj.weight", (int)l);
        ADD(gu + (size_t)(F * C), F, C, "model.layers.%d.mlp.up_proj.weight", (int)l);
        ADD(OFF(LP_WDOWN) + (size_t)(l * C * F), C, F, "model.layers.%d.mlp.down_proj.weight", (int)l);
    }
    ADD(OFF(LP_NORM), C, 0, "model.norm.weight");
    if (!c->tied) ADD(OFF(LP_HEAD), V, C, "lm_head.weight");
#undef ADD
#undef OFF
    *count = n;
    return t;
}

void llama_st_add(struct st_writer *w, const struct llama *m, const float *block, const char *prefix)
{
    int n;
    struct hf_tensor *t = hf_tensors(m, &n);
    char name[160];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, t[i].name);
        st_add(w, name, block + t[i].off, t[i].ndim, t[i].shape);
    }
    free(t);
}

void llama_st_read(const struct st_file *f, const struct llama *m, float *block, const char *prefix)
{
    int n;
    struct hf_tensor *t = hf_tensors(m, &n);
    char name[160];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, t[i].name);
        const float *src = st_expect(f, name, t[i].ndim, t[i].shape);
        size_t cnt = (size_t)t[i].shape[0] * (t[i].ndim == 2 ? (size_t)t[i].shape[1] : 1);
        memcpy(block + t[i].off, src, cnt * sizeof *src);
    }
    free(t);
}

float *llama_hf_tensor(const struct llama *m, float *block, const char *name, size_t *n)
{
    int cnt;
    struct hf_tensor *t = hf_tensors(m, &cnt);
    float *p = NULL;
    for (int i = 0; i < cnt && !p; i++)
        if (!strcmp(t[i].name, name)) {
            p = block + t[i].off;
            *n = (size_t)t[i].shape[0] * (t[i].ndim == 2 ? (size_t)t[i].shape[1] : 1);
        }
    free(t);
    return p;
}

char *llama_hf_config_json(const struct llama *m, long eot)
{
    const struct llama_config *c = &m->cfg;
    /* LlamaConfig's fields (transformers, configuration_llama.py); SwiGLU's
     * activation is "silu"; no biases; rope without scaling. */
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    json_object_set_new(j, "model_type", json_string("llama"));
    json_object_set_new(j, "vocab_size", json_integer(c->vocab));
    json_object_set_new(j, "hidden_size", json_integer(c->dim));
    json_object_set_new(j, "intermediate_size", json_integer(c->hidden));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->layers));
    json_object_set_new(j, "num_attention_heads", json_integer(c->heads));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->kv_heads));
    json_object_set_new(j, "head_dim", json_integer(c->dim / c->heads));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->context));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "rms_norm_eps", json_real(c->norm_eps));
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "rope_scaling", json_null());
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "mlp_bias", json_false());
    json_object_set_new(j, "attention_dropout", json_real(0));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "tie_word_embeddings", c->tied ? json_true() : json_false());
    json_object_set_new(j, "torch_dtype", json_string("float32"));
    if (eot >= 0) {
        json_object_set_new(j, "bos_token_id", json_integer(eot));
        json_object_set_new(j, "eos_token_id", json_integer(eot));
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(j);
    return s;
}

void llama_export_hf(const char *dir, const struct llama *m, long eot)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die_errno("cannot create directory '%s'", dir);
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);
    char *js = llama_hf_config_json(m, eot);
    snprintf(path, n, "%s/config.json", dir);
    struct outfile o;
    FILE *f = outfile_open(&o, path);
    fprintf(f, "%s\n", js);
    outfile_commit(&o);
    free(js);
    struct st_writer *w = st_writer_new();
    llama_st_add(w, m, m->params, "");
    st_meta(w, "format", "pt");     /* transformers refuses files without it */
    st_meta(w, "tfs.arch", "llama");
    snprintf(path, n, "%s/model.safetensors", dir);
    st_write(w, path);
    st_writer_free(w);
    free(path);
}

static int cfg_int(json_t *j, const char *key, const char *path, int def)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) {
        if (def >= 0) return def;
        die("%s: no \"%s\" in the config", path, key);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 30))
        die("%s: \"%s\" is not a positive integer", path, key);
    return (int)json_integer_value(v);
}

static double cfg_num(json_t *j, const char *key, double def)
{
    json_t *v = json_object_get(j, key);
    return v && json_is_number(v) ? json_number_value(v) : def;
}

void llama_load_hf(const char *dir, struct llama *m)
{
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);
    snprintf(path, n, "%s/config.json", dir);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) die("%s:%d: %s", path, err.line, err.text);
    struct llama_config c = { 0 };
    c.vocab = cfg_int(j, "vocab_size", path, -1);
    c.dim = cfg_int(j, "hidden_size", path, -1);
    c.hidden = cfg_int(j, "intermediate_size", path, -1);
    c.layers = cfg_int(j, "num_hidden_layers", path, -1);
    c.heads = cfg_int(j, "num_attention_heads", path, -1);
    c.kv_heads = cfg_int(j, "num_key_value_heads", path, c.heads);
    c.context = cfg_int(j, "max_position_embeddings", path, -1);
    c.norm_eps = (float)cfg_num(j, "rms_norm_eps", 1e-6);
    c.rope_theta = (float)cfg_num(j, "rope_theta", 10000);
    json_t *tie = json_object_get(j, "tie_word_embeddings");
    c.tied = tie ? json_is_true(tie) : 1;
    json_t *hd = json_object_get(j, "head_dim");
    if (hd && json_is_integer(hd) && json_integer_value(hd) != c.dim / c.heads)
        die("%s: head_dim %lld is not hidden_size / num_attention_heads", path, (long long)json_integer_value(hd));
    json_decref(j);
    const char *e = llama_config_error(&c);
    if (e) die("%s: %s", path, e);
    llama_init(m, &c);
    snprintf(path, n, "%s/model.safetensors", dir);
    struct st_file *f = st_open(path);
    llama_st_read(f, m, m->params, "");
    st_close(f);
    free(path);
}
