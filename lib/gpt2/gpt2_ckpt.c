/* gpt2_ckpt.c - the custom level's table of Hugging Face GPT-2 names (the
 * names and shapes are listed in gpt2_ckpt.h) and its config.json. */
#include "gpt2/gpt2_ckpt.h"

#include <jansson.h>

void gpt2_st_table(const struct gpt2 *m, struct st_table *t)
{
    const struct gpt2_config *c = &m->cfg;
    size_t C = (size_t)c->dim;
    int64_t V = c->vocab, P = c->context, iC = c->dim;
#define AT(i) ((size_t)(m->p[i] - m->params))
    /* name, offset, stride per layer, the file's shape, transposed?  The
     * four matrices are ours (out, in), the file's (in, out). */
    const struct st_pattern pat[] = {
        { "transformer.wte.weight",              AT(P_WTE),      0,         V,      iC,     0 },
        { "transformer.wpe.weight",              AT(P_WPE),      0,         P,      iC,     0 },
        { "transformer.h.%d.ln_1.weight",        AT(P_LN1W),     C,         iC,     0,      0 },
        { "transformer.h.%d.ln_1.bias",          AT(P_LN1B),     C,         iC,     0,      0 },
        { "transformer.h.%d.attn.c_attn.weight", AT(P_QKVW),     3 * C * C, iC,     3 * iC, 1 },
        { "transformer.h.%d.attn.c_attn.bias",   AT(P_QKVB),     3 * C,     3 * iC, 0,      0 },
        { "transformer.h.%d.attn.c_proj.weight", AT(P_ATTPROJW), C * C,     iC,     iC,     1 },
        { "transformer.h.%d.attn.c_proj.bias",   AT(P_ATTPROJB), C,         iC,     0,      0 },
        { "transformer.h.%d.ln_2.weight",        AT(P_LN2W),     C,         iC,     0,      0 },
        { "transformer.h.%d.ln_2.bias",          AT(P_LN2B),     C,         iC,     0,      0 },
        { "transformer.h.%d.mlp.c_fc.weight",    AT(P_FCW),      4 * C * C, iC,     4 * iC, 1 },
        { "transformer.h.%d.mlp.c_fc.bias",      AT(P_FCB),      4 * C,     4 * iC, 0,      0 },
        { "transformer.h.%d.mlp.c_proj.weight",  AT(P_FCPROJW),  4 * C * C, 4 * iC, iC,     1 },
        { "transformer.h.%d.mlp.c_proj.bias",    AT(P_FCPROJB),  C,         iC,     0,      0 },
        { "transformer.ln_f.weight",             AT(P_LNFW),     0,         iC,     0,      0 },
        { "transformer.ln_f.bias",               AT(P_LNFB),     0,         iC,     0,      0 },
    };
#undef AT
    st_table_build(t, pat, (int)(sizeof pat / sizeof pat[0]), c->layers);
}

char *gpt2_hf_config_json(const struct gpt2_config *c, long eot)
{
    /* GPT2Config's fields (transformers, configuration_gpt2.py).  We train
     * without dropout; "gelu_new" is the tanh approximation we use. */
    json_t *j = st_hf_config("GPT2LMHeadModel", "gpt2");
    json_object_set_new(j, "vocab_size", json_integer(c->vocab));
    json_object_set_new(j, "n_positions", json_integer(c->context));
    json_object_set_new(j, "n_ctx", json_integer(c->context));
    json_object_set_new(j, "n_embd", json_integer(c->dim));
    json_object_set_new(j, "n_layer", json_integer(c->layers));
    json_object_set_new(j, "n_head", json_integer(c->heads));
    json_object_set_new(j, "n_inner", json_null());
    json_object_set_new(j, "activation_function", json_string("gelu_new"));
    json_object_set_new(j, "layer_norm_epsilon", json_real(1e-5));
    json_object_set_new(j, "resid_pdrop", json_real(0));
    json_object_set_new(j, "embd_pdrop", json_real(0));
    json_object_set_new(j, "attn_pdrop", json_real(0));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "tie_word_embeddings", json_true());
    return st_hf_config_dump(j, eot, 10);
}
