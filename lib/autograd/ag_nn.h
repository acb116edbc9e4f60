/* ag_nn.h - modules and the optimizer of the autograd level, after
 * PyTorch's torch.nn and torch.optim: Linear, LayerNorm, Embedding, AdamW.
 *
 * As in PyTorch, a module is a few parameter tensors plus a forward
 * function built from the ops of ag.h; it has no backward of its own (the
 * graph its forward records is its backward).  The names keep PyTorch's
 * capitals so that modules (ag_Linear) read apart from the functional ops
 * they call (ag_matmul_t, ag_layer_norm): torch.nn.Linear vs F.linear.
 *
 *   struct ag_Linear fc = { W, b };                // W (out, in), b (out) or NULL
 *   y = ag_Linear_forward(ctx, &fc, x);            // x (..., in) -> (..., out)
 *   struct ag_AdamW opt; ag_AdamW_init(&opt, params, n, 3e-4f);
 *   ag_AdamW_zero_grad(&opt); ... ag_backward(ctx, loss); ag_AdamW_step(&opt, 1);
 */
#ifndef TFS_AG_NN_H
#define TFS_AG_NN_H

#include "autograd/ag.h"

/* nn.Linear: y = x @ W^T + b, W (out, in) as PyTorch stores it. */
struct ag_Linear {
    struct ag_tensor *weight;   /* (out, in) */
    struct ag_tensor *bias;     /* (out), or NULL for bias=False */
};
struct ag_tensor *ag_Linear_forward(struct ag_ctx *ctx, const struct ag_Linear *m, struct ag_tensor *x);

/* nn.LayerNorm(C): normalise the last dimension, then scale and shift. */
struct ag_LayerNorm {
    struct ag_tensor *weight;   /* (C) */
    struct ag_tensor *bias;     /* (C) */
    ag_real eps;                /* 1e-5, PyTorch's default */
};
struct ag_tensor *ag_LayerNorm_forward(struct ag_ctx *ctx, const struct ag_LayerNorm *m, struct ag_tensor *x);

/* nn.Embedding(V, C): ids of shape (ndim, shape) -> (shape..., C). */
struct ag_Embedding {
    struct ag_tensor *weight;   /* (V, C) */
};
struct ag_tensor *ag_Embedding_forward(struct ag_ctx *ctx, const struct ag_Embedding *m,
                                       const uint32_t *ids, int ndim, const int *shape);

/* torch.optim.AdamW (Loshchilov and Hutter, "Decoupled weight decay
 * regularization", 2019).  For each parameter p with gradient g, at step
 * t = 1, 2, ...:
 *     g  = grad_scale * g                       (gradient clipping's factor)
 *     m  = beta1 m + (1 - beta1) g
 *     v  = beta2 v + (1 - beta2) g^2
 *     p -= lr * ( m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps)  +  wd p )
 * where wd is weight_decay for the parameters marked decay[i], 0 for the
 * others (biases, LayerNorm gains: PyTorch's two parameter groups). */
struct ag_AdamW {
    struct ag_tensor **params;  /* (nparams) */
    int nparams;
    int *decay;                 /* (nparams) 1: apply weight decay */
    ag_real **m, **v;           /* (nparams) moment buffers, each of its parameter's size */
    int *owned;                 /* (nparams) 1: m[i] (with v[i] after it) was allocated here */
    float lr, beta1, beta2, eps, weight_decay;
    long t;                     /* steps taken: the t of the bias correction */
};
/* Defaults as PyTorch's: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01;
 * every parameter decays until decay[] says otherwise.  Moments are
 * allocated zeroed, unless ag_AdamW_set_moments points them elsewhere. */
void ag_AdamW_init(struct ag_AdamW *opt, struct ag_tensor **params, int nparams, float lr);
/* Keep parameter i's moments in caller memory (a model's moment block). */
void ag_AdamW_set_moments(struct ag_AdamW *opt, int i, ag_real *m, ag_real *v);
void ag_AdamW_free(struct ag_AdamW *opt);
void ag_AdamW_zero_grad(struct ag_AdamW *opt);
/* One update (t += 1 first).  Bumps every parameter's version, so a graph
 * recorded before the step cannot be back-propagated after it. */
void ag_AdamW_step(struct ag_AdamW *opt, float grad_scale);

#endif
