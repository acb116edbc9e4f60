/* model.c - the model levels behind one interface (see model.h). */
#include "model/model.h"
#include "core/xio.h"
#include "kernels/attention.h"

#include <stdlib.h>
#include <string.h>

const char *model_arch_name(enum model_arch a)
{
    return a == MODEL_BASELINE ? "baseline" : a == MODEL_AUTOGRAD ? "autograd" : "custom";
}

const char *model_arch_tag(enum model_arch a) { return a == MODEL_BASELINE ? "llama" : "gpt2"; }

int model_arch_parse(const char *s)
{
    if (!strcmp(s, "custom")) return MODEL_CUSTOM;
    if (!strcmp(s, "autograd")) return MODEL_AUTOGRAD;
    if (!strcmp(s, "baseline")) return MODEL_BASELINE;
    return -1;
}

void model_set_arch(struct model *m, enum model_arch a)
{
    if (m->arch == a) return;
    if (m->arch == MODEL_BASELINE || a == MODEL_BASELINE)
        die("internal error: only the custom and autograd levels share a model");
    if (a == MODEL_AUTOGRAD) m->ag = ag_gpt2_new(&m->gpt2);
    else { ag_gpt2_free(m->ag); m->ag = NULL; }
    m->arch = a;
}

struct llama_config model_llama_config(const struct model_config *c)
{
    struct llama_config l = llama_config_default(c->vocab, c->context, c->layers, c->heads, c->dim);
    if (c->kv_heads) l.kv_heads = c->kv_heads;
    if (c->hidden) l.hidden = c->hidden;
    l.head_dim = c->head_dim;
    l.tied = !c->untied;
    return l;
}

const char *model_config_error(const struct model_config *c)
{
    if (c->arch == MODEL_BASELINE) {
        struct llama_config l = model_llama_config(c);
        return llama_config_error(&l);
    }
    if (c->heads < 1 || c->dim % c->heads) return "dim must be a multiple of heads";
    return NULL;
}

void model_init(struct model *m, const struct model_config *c)
{
    memset(m, 0, sizeof *m);
    m->arch = c->arch;
    const char *e = model_config_error(c);
    if (e) die("bad model config: %s", e);
    if (c->arch == MODEL_BASELINE) {
        struct llama_config l = model_llama_config(c);
        llama_init(&m->llama, &l);
    } else {
        struct gpt2_config g = { .vocab = c->vocab, .context = c->context, .layers = c->layers,
                                 .heads = c->heads, .dim = c->dim };
        gpt2_init(&m->gpt2, &g);
        if (c->arch == MODEL_AUTOGRAD) m->ag = ag_gpt2_new(&m->gpt2);
    }
}

void model_init_weights(struct model *m, uint64_t seed)
{
    if (m->arch == MODEL_BASELINE) llama_init_weights(&m->llama, seed);
    else gpt2_init_weights(&m->gpt2, seed);
}

void model_free(struct model *m)
{
    if (m->arch == MODEL_BASELINE) llama_free(&m->llama);
    else { ag_gpt2_free(m->ag); m->ag = NULL; gpt2_free(&m->gpt2); }
}

struct model_config model_config_of(const struct model *m)
{
    struct model_config c = { .arch = m->arch };   /* custom and autograd: the gpt2 branch */
    if (m->arch == MODEL_BASELINE) {
        const struct llama_config *l = &m->llama.cfg;
        c.vocab = l->vocab; c.context = l->context; c.layers = l->layers; c.heads = l->heads;
        c.dim = l->dim; c.kv_heads = l->kv_heads; c.hidden = l->hidden; c.untied = !l->tied;
        c.head_dim = l->head_dim;
    } else {
        const struct gpt2_config *g = &m->gpt2.cfg;
        c.vocab = g->vocab; c.context = g->context; c.layers = g->layers; c.heads = g->heads; c.dim = g->dim;
    }
    return c;
}

size_t model_nparams(const struct model *m)
{
    return m->arch == MODEL_BASELINE ? m->llama.nparams : m->gpt2.nparams;
}

double model_flops_per_token(const struct model *m, int T)
{
    return m->arch == MODEL_BASELINE ? llama_flops_per_token(&m->llama, T) : gpt2_flops_per_token(&m->gpt2, T);
}

float model_forward(struct model *m, const uint32_t *inputs, const uint32_t *targets, int B, int T)
{
    if (m->arch == MODEL_AUTOGRAD) return ag_gpt2_forward(m->ag, inputs, targets, B, T);
    return m->arch == MODEL_BASELINE ? llama_forward(&m->llama, inputs, targets, B, T)
                                     : gpt2_forward(&m->gpt2, inputs, targets, B, T);
}

const float *model_losses(const struct model *m)
{
    if (m->arch == MODEL_AUTOGRAD) return NULL;
    return m->arch == MODEL_BASELINE ? m->llama.losses : m->gpt2.losses;
}

void model_zero_grad(struct model *m)
{
    if (m->arch == MODEL_BASELINE) llama_zero_grad(&m->llama);
    else if (m->arch == MODEL_AUTOGRAD) ag_gpt2_zero_grad(m->ag);
    else gpt2_zero_grad(&m->gpt2);
}

void model_backward(struct model *m, float scale)
{
    if (m->arch == MODEL_BASELINE) llama_backward(&m->llama, scale);
    else if (m->arch == MODEL_AUTOGRAD) ag_gpt2_backward(m->ag, scale);
    else gpt2_backward(&m->gpt2, scale);
}

float model_grad_norm(const struct model *m)
{
    return m->arch == MODEL_BASELINE ? llama_grad_norm(&m->llama) : gpt2_grad_norm(&m->gpt2);
}

void model_adamw_step(struct model *m, float lr, float beta1, float beta2, float eps,
                      float weight_decay, float grad_scale, int t)
{
    if (m->arch == MODEL_BASELINE)
        llama_adamw_step(&m->llama, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    else if (m->arch == MODEL_AUTOGRAD)
        ag_gpt2_adamw_step(m->ag, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    else
        gpt2_adamw_step(&m->gpt2, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
}

/* ---- the parameter block ---- */
struct model_block model_block_of(struct model *m)
{
    struct model_block b;
    if (m->arch == MODEL_BASELINE) {
        struct llama *l = &m->llama;
        if (!l->grads) llama_zero_grad(l);
        b = (struct model_block){ l->params, l->grads, &l->m, &l->v, l->nparams };
    } else {
        struct gpt2 *g = &m->gpt2;
        if (!g->grads) gpt2_zero_grad(g);
        b = (struct model_block){ g->params, g->grads, &g->m, &g->v, g->nparams };
    }
    return b;
}

int model_optim_tensors(const struct model *m, struct optim_tensor *ts)
{
    return m->arch == MODEL_BASELINE ? llama_optim_tensors(&m->llama, ts) : gpt2_optim_tensors(&m->gpt2, ts);
}

/* Per-block tensors are (L, ...): block l's part is the l-th of L equal ones. */
void model_layer_grads(struct model *m, int l, float **start, size_t *len, int *count)
{
    int k = 0;
    if (m->arch == MODEL_BASELINE) {
        struct llama *x = &m->llama;
        size_t L = (size_t)x->cfg.layers;
        for (int i = 0; i < LLAMA_NPARAMS; i++) {
            int per_layer = i >= LP_ATTN_NORM && i <= LP_WDOWN;
            if (!x->param_sizes[i] || per_layer != (l >= 0)) continue;
            size_t n = per_layer ? x->param_sizes[i] / L : x->param_sizes[i];
            start[k] = x->grads + (x->p[i] - x->params) + (per_layer ? (size_t)l * n : 0);
            len[k++] = n;
        }
    } else {
        struct gpt2 *x = &m->gpt2;
        size_t L = (size_t)x->cfg.layers;
        for (int i = 0; i < GPT2_NPARAMS; i++) {
            int per_layer = i >= P_LN1W && i <= P_FCPROJB;
            if (per_layer != (l >= 0)) continue;
            size_t n = per_layer ? x->param_sizes[i] / L : x->param_sizes[i];
            start[k] = x->grads + (x->p[i] - x->params) + (per_layer ? (size_t)l * n : 0);
            len[k++] = n;
        }
    }
    *count = k;
}

int model_on_layer_done(struct model *m, void (*fn)(void *ctx, int l), void *ctx)
{
    if (m->arch == MODEL_AUTOGRAD) return 0;
    if (m->arch == MODEL_BASELINE) { m->llama.layer_done = fn; m->llama.layer_ctx = ctx; }
    else { m->gpt2.layer_done = fn; m->gpt2.layer_ctx = ctx; }
    return 1;
}

/* ---- KV cache ---- */
struct model_kv {
    enum model_arch arch;
    struct gpt2_kv *gpt2;
    struct llama_kv *llama;
};

struct model_kv *model_kv_new(const struct model *m)
{
    struct model_kv *kv = xcalloc(1, sizeof *kv);
    kv->arch = m->arch;
    if (m->arch == MODEL_BASELINE) kv->llama = llama_kv_new(&m->llama);
    else kv->gpt2 = gpt2_kv_new(&m->gpt2);
    return kv;
}

void model_kv_free(struct model_kv *kv)
{
    if (!kv) return;
    if (kv->llama) llama_kv_free(kv->llama);
    if (kv->gpt2) gpt2_kv_free(kv->gpt2);
    free(kv);
}

void model_kv_reset(struct model_kv *kv)
{
    if (kv->llama) llama_kv_reset(kv->llama);
    else gpt2_kv_reset(kv->gpt2);
}

int model_kv_len(const struct model_kv *kv)
{
    return kv->llama ? llama_kv_len(kv->llama) : gpt2_kv_len(kv->gpt2);
}

const float *model_kv_step(struct model *m, struct model_kv *kv, uint32_t token)
{
    return kv->llama ? llama_kv_step(&m->llama, kv->llama, token) : gpt2_kv_step(&m->gpt2, kv->gpt2, token);
}

const float *model_kv_prefill(struct model *m, struct model_kv *kv, const uint32_t *tokens, int n)
{
    return kv->llama ? llama_kv_prefill(&m->llama, kv->llama, tokens, n) : gpt2_kv_prefill(&m->gpt2, kv->gpt2, tokens, n);
}

/* ---- looking inside ---- */
void model_attention(struct model *m, const uint32_t *ids, int T, int layer, float *P)
{
    struct model_config c = model_config_of(m);
    int hs = c.head_dim ? c.head_dim : c.dim / c.heads, NKV = c.kv_heads ? c.kv_heads : c.heads;
    const float *qkv;
    if (m->arch == MODEL_BASELINE) {
        /* every layer's qkv must be kept: no recomputation for this pass */
        int rec = m->llama.recompute;
        m->llama.recompute = 0;
        llama_forward(&m->llama, ids, NULL, 1, T);
        qkv = llama_layer_qkv(&m->llama, layer);
        m->llama.recompute = rec;
    } else {
        /* the autograd level shares the custom level's weights */
        gpt2_forward(&m->gpt2, ids, NULL, 1, T);
        qkv = gpt2_layer_qkv(&m->gpt2, layer);
        NKV = c.heads;
    }
    attention_probs(P, qkv, T, c.heads, NKV, hs);
}
