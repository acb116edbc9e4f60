/* ag_gpt2.c - GPT-2 on the autograd library: the forward pass only.  The
 * backward pass is whatever ag_backward derives from the graph this forward
 * records; compare lib/gpt2/gpt2.c, where every line of it is written by hand.
 *
 * Dimension legend: B batch, T sequence length, C width, NH heads,
 * hs = C / NH head size, V vocabulary, L layers.
 *
 * For a reader who knows PyTorch, each function below is a transcription:
 *
 *   class CausalSelfAttention(nn.Module):
 *       def forward(self, x):
 *           B, T, C = x.size()
 *           q, k, v = self.c_attn(x).split(C, dim=2)
 *           q = q.view(B, T, NH, hs).transpose(1, 2)      # (B, NH, T, hs); same for k, v
 *           att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
 *           att = att.masked_fill(causal_mask == 0, float('-inf')).softmax(dim=-1)
 *           y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
 *           return self.c_proj(y)
 */
#include "autograd/ag_gpt2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xio.h"

/* ===================================================================== */
/* Weights: PyTorch-named tensor views of the custom level's blocks      */
/* ===================================================================== */

/* Parameter i of layer l (or of the model when the tensor has no layer
 * dimension) as a tensor over base's parameter and gradient blocks. */
static struct ag_tensor *view(struct ag_gpt2 *g, enum gpt2_param i, int l, const char *name,
                              int ndim, const int *shape)
{
    struct gpt2 *m = g->base;
    size_t per = 1;
    for (int d = 0; d < ndim; d++) per *= (size_t)shape[d];
    size_t off = (size_t)(m->p[i] - m->params) + (size_t)l * per;
    struct ag_tensor *t = ag_tensor_wrap(g->params_ctx, m->params + off, m->grads + off, ndim, shape);
    t->name = name;
    g->params[g->nparams++] = t;
    return t;
}

struct ag_gpt2 *ag_gpt2_new(struct gpt2 *base)
{
    const struct gpt2_config *c = &base->cfg;
    int V = c->vocab, C = c->dim, L = c->layers;
    struct ag_gpt2 *g = xcalloc(1, sizeof *g);
    g->base = base;
    /* written once (xio.h): the backward adds into them, reading first */
    if (!base->grads) base->grads = xzalloc_written(base->nparams * sizeof *base->grads);
    g->params_ctx = ag_ctx_new();
    g->ctx = ag_ctx_new();
    g->h = xcalloc((size_t)L, sizeof *g->h);
    g->params = xmalloc((size_t)(2 + 12 * L + 2) * sizeof *g->params);
    g->pos = xmalloc((size_t)c->context * sizeof *g->pos);
    for (int t = 0; t < c->context; t++) g->pos[t] = (uint32_t)t;

    /* in block order (gpt2.h), so params[] runs through the block once */
    g->wte.weight = view(g, P_WTE, 0, "wte.weight", 2, (int[]){ V, C });
    g->wpe.weight = view(g, P_WPE, 0, "wpe.weight", 2, (int[]){ c->context, C });
    static const char *const names[12] = {
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    };
    /* parameter by parameter over the layers, as the block is laid out */
    for (int l = 0; l < L; l++) g->h[l].ln_1.weight = view(g, P_LN1W, l, names[0], 1, (int[]){ C });
    for (int l = 0; l < L; l++) g->h[l].ln_1.bias = view(g, P_LN1B, l, names[1], 1, (int[]){ C });
    for (int l = 0; l < L; l++) g->h[l].c_attn.weight = view(g, P_QKVW, l, names[2], 2, (int[]){ 3 * C, C });
    for (int l = 0; l < L; l++) g->h[l].c_attn.bias = view(g, P_QKVB, l, names[3], 1, (int[]){ 3 * C });
    for (int l = 0; l < L; l++) g->h[l].attn_c_proj.weight = view(g, P_ATTPROJW, l, names[4], 2, (int[]){ C, C });
    for (int l = 0; l < L; l++) g->h[l].attn_c_proj.bias = view(g, P_ATTPROJB, l, names[5], 1, (int[]){ C });
    for (int l = 0; l < L; l++) g->h[l].ln_2.weight = view(g, P_LN2W, l, names[6], 1, (int[]){ C });
    for (int l = 0; l < L; l++) g->h[l].ln_2.bias = view(g, P_LN2B, l, names[7], 1, (int[]){ C });
    for (int l = 0; l < L; l++) g->h[l].c_fc.weight = view(g, P_FCW, l, names[8], 2, (int[]){ 4 * C, C });
    for (int l = 0; l < L; l++) g->h[l].c_fc.bias = view(g, P_FCB, l, names[9], 1, (int[]){ 4 * C });
    for (int l = 0; l < L; l++) g->h[l].mlp_c_proj.weight = view(g, P_FCPROJW, l, names[10], 2, (int[]){ C, 4 * C });
    for (int l = 0; l < L; l++) g->h[l].mlp_c_proj.bias = view(g, P_FCPROJB, l, names[11], 1, (int[]){ C });
    g->ln_f.weight = view(g, P_LNFW, 0, "ln_f.weight", 1, (int[]){ C });
    g->ln_f.bias = view(g, P_LNFB, 0, "ln_f.bias", 1, (int[]){ C });
    for (int l = 0; l < L; l++) g->h[l].ln_1.eps = g->h[l].ln_2.eps = 1e-5f;
    g->ln_f.eps = 1e-5f;

    ag_AdamW_init(&g->opt, g->params, g->nparams, 0);
    return g;
}

void ag_gpt2_free(struct ag_gpt2 *g)
{
    if (!g) return;
    ag_AdamW_free(&g->opt);
    ag_ctx_free(g->ctx);
    ag_ctx_free(g->params_ctx);
    free(g->h);
    free(g->params);
    free(g->pos);
    free(g);
}

/* ===================================================================== */
/* Layers                                                                */
/* ===================================================================== */

/* causal self-attention: x (B, T, C) -> (B, T, C) */
static struct ag_tensor *attention(struct ag_ctx *ctx, const struct ag_gpt2_block *h, struct ag_tensor *x, int NH)
{
    int B = x->shape[0], T = x->shape[1], C = x->shape[2], hs = C / NH;
    struct ag_tensor *qkv = ag_Linear_forward(ctx, &h->c_attn, x);                   /* (B, T, 3C) */
    struct ag_tensor *heads[3];                                                      /* q, k, v */
    for (int i = 0; i < 3; i++) {
        struct ag_tensor *t = ag_narrow(ctx, qkv, 2, i * C, C);                     /* (B, T, C) */
        t = ag_reshape(ctx, t, 4, (int[]){ B, T, NH, hs });                          /* (B, T, NH, hs) */
        heads[i] = ag_transpose(ctx, t, 1, 2);                                       /* (B, NH, T, hs) */
    }
    struct ag_tensor *att = ag_matmul_t(ctx, heads[0], heads[1]);                    /* q @ k^T: (B, NH, T, T) */
    att = ag_scale(ctx, att, 1 / sqrtf((float)hs));
    att = ag_softmax(ctx, att, 1);                                                   /* causal */
    struct ag_tensor *y = ag_matmul(ctx, att, heads[2]);                             /* (B, NH, T, hs) */
    y = ag_transpose(ctx, y, 1, 2);                                                  /* (B, T, NH, hs) */
    y = ag_reshape(ctx, y, 3, (int[]){ B, T, C });
    return ag_Linear_forward(ctx, &h->attn_c_proj, y);
}

/* MLP: x (B, T, C) -> gelu(x W_fc^T + b_fc) W_proj^T + b_proj */
static struct ag_tensor *mlp(struct ag_ctx *ctx, const struct ag_gpt2_block *h, struct ag_tensor *x)
{
    struct ag_tensor *u = ag_gelu(ctx, ag_Linear_forward(ctx, &h->c_fc, x));         /* (B, T, 4C) */
    return ag_Linear_forward(ctx, &h->mlp_c_proj, u);                                /* (B, T, C) */
}

/* pre-LN block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)) */
static struct ag_tensor *block(struct ag_ctx *ctx, const struct ag_gpt2_block *h, struct ag_tensor *x, int NH)
{
    x = ag_add(ctx, x, attention(ctx, h, ag_LayerNorm_forward(ctx, &h->ln_1, x), NH));
    x = ag_add(ctx, x, mlp(ctx, h, ag_LayerNorm_forward(ctx, &h->ln_2, x)));
    return x;
}

/* ===================================================================== */
/* Model                                                                 */
/* ===================================================================== */

float ag_gpt2_forward(struct ag_gpt2 *g, const uint32_t *inputs, const uint32_t *targets, int B, int T)
{
    const struct gpt2_config *c = &g->base->cfg;
    if (T < 1 || T > c->context) die("ag_gpt2_forward: sequence length %d is not in 1..%d (the context)", T, c->context);
    ag_ctx_clear(g->ctx);                   /* the previous step's graph */
    struct ag_ctx *ctx = g->ctx;
    struct ag_tensor *tok = ag_Embedding_forward(ctx, &g->wte, inputs, 2, (int[]){ B, T });  /* (B, T, C) */
    struct ag_tensor *pos = ag_Embedding_forward(ctx, &g->wpe, g->pos, 1, (int[]){ T });     /* (T, C) */
    struct ag_tensor *x = ag_add(ctx, tok, pos);                                            /* broadcast over B */
    for (int l = 0; l < c->layers; l++) x = block(ctx, &g->h[l], x, c->heads);
    x = ag_LayerNorm_forward(ctx, &g->ln_f, x);
    g->logits = ag_matmul_t(ctx, x, g->wte.weight);      /* (B, T, V): x @ wte^T, the tied projection */
    g->loss = targets ? ag_cross_entropy(ctx, g->logits, targets) : NULL;
    g->base->mean_loss = g->loss ? ag_item(g->loss) : -1;
    return g->base->mean_loss;
}

void ag_gpt2_zero_grad(struct ag_gpt2 *g) { ag_AdamW_zero_grad(&g->opt); }

void ag_gpt2_backward(struct ag_gpt2 *g, float scale)
{
    if (!g->loss) die("ag_gpt2_backward: the last forward pass had no targets, so there is no loss to differentiate");
    /* (scale * loss).backward(): with scale = 1/k over k micro-batches, the
     * grads accumulate to those of the mean loss */
    ag_backward(g->ctx, scale == 1 ? g->loss : ag_scale(g->ctx, g->loss, scale));
}

void ag_gpt2_adamw_step(struct ag_gpt2 *g, float lr, float beta1, float beta2, float eps,
                        float weight_decay, float grad_scale, int t)
{
    struct gpt2 *m = g->base;
    if (t < 1) die("ag_gpt2_adamw_step: step %d: steps count from 1", t);
    /* written once (xio.h): the first step reads each moment before it
     * writes it, as in gpt2_adamw_step */
    if (!m->m) m->m = xzalloc_written(m->nparams * sizeof *m->m);
    if (!m->v) m->v = xzalloc_written(m->nparams * sizeof *m->v);
    struct ag_AdamW *opt = &g->opt;
    /* the moments live in the model's blocks, at the parameters' offsets
     * (a checkpoint may have replaced the blocks: point at them each step);
     * the matrices decay, biases and LayerNorm parameters do not, which is
     * nanoGPT's `p.dim() >= 2` rule and the custom level's gpt2_param_decays */
    for (int k = 0; k < g->nparams; k++) {
        size_t off = (size_t)(g->params[k]->data - m->params);
        ag_AdamW_set_moments(opt, k, m->m + off, m->v + off);
        opt->decay[k] = g->params[k]->ndim == 2;
    }
    opt->lr = lr;
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    opt->weight_decay = weight_decay;
    opt->t = t - 1;                         /* ag_AdamW_step counts it up to t */
    ag_AdamW_step(opt, grad_scale);
}
