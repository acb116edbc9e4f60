/* ag_gpt2.h - the autograd level: the same GPT-2 as the custom level
 * (gpt2.h), written with the autograd library (ag.h, ag_nn.h) the way the
 * PyTorch version would be.  Nothing here has a hand-written backward.
 *
 * The parameters are the custom level's: an ag_gpt2 wraps a struct gpt2
 * and sees its one parameter block (and the gradient and AdamW moment
 * blocks of the same layout) as PyTorch-named tensors, one per layer:
 * h[l].attn.c_attn.weight is the l-th (3C, C) slice of P_QKVW, and so on.
 * So initialisation, checkpoints, the gradient norm and the training loop's
 * bookkeeping are shared, and a checkpoint trained with one level resumes
 * with the other.
 *
 *   struct gpt2 m; gpt2_init(&m, &cfg); gpt2_init_weights(&m, seed);
 *   struct ag_gpt2 *g = ag_gpt2_new(&m);
 *   float loss = ag_gpt2_forward(g, inputs, targets, B, T);   // records the graph
 *   ag_gpt2_zero_grad(g); ag_gpt2_backward(g, 1.0f);           // m.grads += d loss
 *   ag_gpt2_adamw_step(g, lr, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, t);
 */
#ifndef TFS_AG_GPT2_H
#define TFS_AG_GPT2_H

#include "autograd/ag_nn.h"
#include "gpt2/gpt2.h"

/* One transformer block, with Hugging Face GPT-2's module names. */
struct ag_gpt2_block {
    struct ag_LayerNorm ln_1;
    struct ag_Linear c_attn;        /* C -> 3C: q, k, v */
    struct ag_Linear attn_c_proj;   /* C -> C */
    struct ag_LayerNorm ln_2;
    struct ag_Linear c_fc;          /* C -> 4C */
    struct ag_Linear mlp_c_proj;    /* 4C -> C */
};

struct ag_gpt2 {
    struct gpt2 *base;              /* the parameter, gradient and moment blocks */
    struct ag_ctx *params_ctx;      /* the parameter tensors (views of base's blocks) */
    struct ag_ctx *ctx;             /* the graph of the current step, cleared by each forward */
    struct ag_Embedding wte;        /* (V, C), also the output projection */
    struct ag_Embedding wpe;        /* (ctx, C) */
    struct ag_gpt2_block *h;        /* (L) */
    struct ag_LayerNorm ln_f;
    struct ag_tensor **params;      /* every parameter tensor, for zero_grad and AdamW */
    int nparams;
    struct ag_AdamW opt;            /* moments in base->m, base->v */
    uint32_t *pos;                  /* (ctx) 0, 1, 2, ...: the position ids */
    struct ag_tensor *logits;       /* (B, T, V) after forward */
    struct ag_tensor *loss;         /* scalar after a forward with targets, else NULL */
};

/* Wrap an initialised model (gpt2_init; the weights as they are).  Its
 * gradient block is allocated (zeroed) if it has none yet. */
struct ag_gpt2 *ag_gpt2_new(struct gpt2 *base);
void ag_gpt2_free(struct ag_gpt2 *g);
/* As gpt2_forward: inputs (B, T); with targets (B, T) returns the mean
 * cross-entropy, else -1.  Frees the previous step's graph first. */
float ag_gpt2_forward(struct ag_gpt2 *g, const uint32_t *inputs, const uint32_t *targets, int B, int T);
void ag_gpt2_zero_grad(struct ag_gpt2 *g);
/* As gpt2_backward: grads += scale * d(loss)/d(params), by ag_backward on
 * the graph of the last forward (which must have had targets). */
void ag_gpt2_backward(struct ag_gpt2 *g, float scale);
/* As gpt2_adamw_step, through ag_AdamW (decay for the parameters for
 * which gpt2_param_decays says so); t is the 1-based step. */
void ag_gpt2_adamw_step(struct ag_gpt2 *g, float lr, float beta1, float beta2, float eps,
                        float weight_decay, float grad_scale, int t);

#endif
