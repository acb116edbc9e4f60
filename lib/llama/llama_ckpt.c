/* llama_ckpt.c - the baseline model's table of Hugging Face Llama names
 * (listed in llama_ckpt.h; walked by core/st_table.c), config.json,
 * export and load of a Hugging Face directory. */
#include "llama/llama_ckpt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xio.h"

void llama_st_table(const struct llama *m, struct st_table *t)
{
    const struct llama_config *c = &m->cfg;
    size_t C = (size_t)c->dim, F = (size_t)c->hidden, hs = (size_t)llama_head_dim(c);
    size_t QD = (size_t)c->heads * hs, KVD = (size_t)c->kv_heads * hs, QKV = QD + 2 * KVD;
    int64_t V = c->vocab, iC = c->dim, iF = c->hidden, iQD = (int64_t)QD, iKVD = (int64_t)KVD;
#define AT(i) ((size_t)(m->p[i] - m->params))
    /* name, offset, stride per layer, shape.  q, k, v are row blocks of
     * each layer's wqkv, gate and up of its wgu. */
    const struct st_pattern pat[] = {
        { "model.embed_tokens.weight",                        AT(LP_EMBED),                  0,         V,    iC, 0 },
        { "model.layers.%d.input_layernorm.weight",           AT(LP_ATTN_NORM),              C,         iC,   0,  0 },
        { "model.layers.%d.self_attn.q_proj.weight",          AT(LP_WQKV),                   QKV * C,   iQD,  iC, 0 },
        { "model.layers.%d.self_attn.k_proj.weight",          AT(LP_WQKV) + QD * C,          QKV * C,   iKVD, iC, 0 },
        { "model.layers.%d.self_attn.v_proj.weight",          AT(LP_WQKV) + (QD + KVD) * C,  QKV * C,   iKVD, iC, 0 },
        { "model.layers.%d.self_attn.o_proj.weight",          AT(LP_WO),                     C * QD,    iC,   iQD, 0 },
        { "model.layers.%d.post_attention_layernorm.weight",  AT(LP_MLP_NORM),               C,         iC,   0,  0 },
        { "model.layers.%d.mlp.gate_proj.weight",             AT(LP_WGU),                    2 * F * C, iF,   iC, 0 },
        { "model.layers.%d.mlp.up_proj.weight",               AT(LP_WGU) + F * C,            2 * F * C, iF,   iC, 0 },
        { "model.layers.%d.mlp.down_proj.weight",             AT(LP_WDOWN),                  C * F,     iC,   iF, 0 },
        { "model.norm.weight",                                AT(LP_NORM),                   0,         iC,   0,  0 },
        { "lm_head.weight",                                   AT(LP_HEAD),                   0,         V,    iC, 0 },
    };
#undef AT
    int n = (int)(sizeof pat / sizeof pat[0]);
    st_table_build(t, pat, c->tied ? n - 1 : n, c->layers);    /* tied: no lm_head */
}

void llama_st_add(struct st_writer *w, const struct llama *m, const float *block, const char *prefix)
{
    struct st_table t;
    llama_st_table(m, &t);
    st_table_save(w, &t, block, prefix);
    st_table_free(&t);      /* nothing transposed: w points into block only */
}

float *llama_hf_tensor(const struct llama *m, float *block, const char *name, size_t *n)
{
    struct st_table t;
    llama_st_table(m, &t);
    float *p = st_table_find(&t, block, name, n);
    st_table_free(&t);
    return p;
}

char *llama_hf_config_json(const struct llama *m, long eot)
{
    const struct llama_config *c = &m->cfg;
    /* LlamaConfig's fields (transformers, configuration_llama.py); SwiGLU's
     * activation is "silu"; no biases; rope without scaling. */
    json_t *j = st_hf_config("LlamaForCausalLM", "llama");
    json_object_set_new(j, "vocab_size", json_integer(c->vocab));
    json_object_set_new(j, "hidden_size", json_integer(c->dim));
    json_object_set_new(j, "intermediate_size", json_integer(c->hidden));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->layers));
    json_object_set_new(j, "num_attention_heads", json_integer(c->heads));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->kv_heads));
    json_object_set_new(j, "head_dim", json_integer(llama_head_dim(c)));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->context));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "rms_norm_eps", json_real(c->norm_eps));
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    if (c->rope_factor != 0)
        json_object_set_new(j, "rope_scaling", json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3",
                            "factor", (double)c->rope_factor, "low_freq_factor", (double)c->rope_low_freq,
                            "high_freq_factor", (double)c->rope_high_freq,
                            "original_max_position_embeddings", c->rope_orig_context));
    else json_object_set_new(j, "rope_scaling", json_null());
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "mlp_bias", json_false());
    json_object_set_new(j, "attention_dropout", json_real(0));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "tie_word_embeddings", c->tied ? json_true() : json_false());
    return st_hf_config_dump(j, eot, 9);
}

void llama_export_hf(const char *dir, const struct llama *m, long eot, enum st_dtype dtype)
{
    char *js = llama_hf_config_json(m, eot);
    struct st_table t;
    llama_st_table(m, &t);
    /* "format": transformers refuses files without it */
    st_table_export(dir, js, &t, m->params, (const char *const[]){ "format", "pt", "tfs.arch", "llama", NULL }, dtype);
    st_table_free(&t);
    free(js);
}
