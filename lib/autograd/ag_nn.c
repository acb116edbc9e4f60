/* ag_nn.c - Linear, LayerNorm, Embedding and AdamW for the autograd level
 * (see ag_nn.h).  The modules only compose ops of ag_ops.c; AdamW keeps
 * PyTorch's optimizer state and calls the shared update (kernels/optim.h). */
#include "autograd/ag_nn.h"

#include <stdlib.h>
#include <string.h>

#include "core/xio.h"
#include "kernels/optim.h"

/* ---- modules ---- */

struct ag_tensor *ag_Linear_forward(struct ag_ctx *ctx, const struct ag_Linear *m, struct ag_tensor *x)
{
    struct ag_tensor *y = ag_matmul_t(ctx, x, m->weight);      /* x @ W^T */
    return m->bias ? ag_add(ctx, y, m->bias) : y;              /* + b, broadcast over the rows */
}

struct ag_tensor *ag_LayerNorm_forward(struct ag_ctx *ctx, const struct ag_LayerNorm *m, struct ag_tensor *x)
{
    return ag_layer_norm(ctx, x, m->weight, m->bias, m->eps);
}

struct ag_tensor *ag_Embedding_forward(struct ag_ctx *ctx, const struct ag_Embedding *m,
                                       const uint32_t *ids, int ndim, const int *shape)
{
    return ag_embedding(ctx, m->weight, ids, ndim, shape);
}

/* ---- AdamW ---- */

void ag_AdamW_init(struct ag_AdamW *opt, struct ag_tensor **params, int nparams, float lr)
{
    memset(opt, 0, sizeof *opt);
    opt->params = xmalloc((size_t)nparams * sizeof *opt->params);
    memcpy(opt->params, params, (size_t)nparams * sizeof *params);
    opt->nparams = nparams;
    opt->decay = xmalloc((size_t)nparams * sizeof *opt->decay);
    opt->m = xcalloc((size_t)nparams, sizeof *opt->m);
    opt->v = xcalloc((size_t)nparams, sizeof *opt->v);
    opt->owned = xcalloc((size_t)nparams, sizeof *opt->owned);
    for (int i = 0; i < nparams; i++) {
        if (!params[i]->requires_grad)
            die("ag_AdamW_init: parameter %d (%s) does not require grad; the optimizer would never move it",
                i, params[i]->name ? params[i]->name : "unnamed");
        opt->decay[i] = 1;
    }
    opt->lr = lr;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->weight_decay = 0.01f;
}

void ag_AdamW_set_moments(struct ag_AdamW *opt, int i, ag_real *m, ag_real *v)
{
    if (opt->owned[i]) free(opt->m[i]);
    opt->owned[i] = 0;
    opt->m[i] = m;
    opt->v[i] = v;
}

/* Lazily, like torch's optimizer state: zeroed moments for the parameters
 * whose moments live nowhere else (one allocation holds m then v). */
static void ensure_moments(struct ag_AdamW *opt)
{
    for (int i = 0; i < opt->nparams; i++)
        if (!opt->m[i]) {
            opt->m[i] = xzalloc_written(2 * (size_t)opt->params[i]->n * sizeof **opt->m);  /* read first: xio.h */
            opt->v[i] = opt->m[i] + opt->params[i]->n;
            opt->owned[i] = 1;
        }
}

void ag_AdamW_free(struct ag_AdamW *opt)
{
    for (int i = 0; i < opt->nparams; i++)
        if (opt->owned[i]) free(opt->m[i]);
    free(opt->params);
    free(opt->decay);
    free(opt->m);
    free(opt->v);
    free(opt->owned);
    memset(opt, 0, sizeof *opt);
}

void ag_AdamW_zero_grad(struct ag_AdamW *opt) { ag_zero_grad(opt->params, opt->nparams); }

void ag_AdamW_step(struct ag_AdamW *opt, float grad_scale)
{
    ensure_moments(opt);
    opt->t++;
    /* the update itself is the shared kernel (kernels/optim.c) that the
     * custom and baseline levels call too: the levels update alike */
    struct optim_tensor *ts = xmalloc((size_t)opt->nparams * sizeof *ts);
    for (int k = 0; k < opt->nparams; k++) {
        struct ag_tensor *p = opt->params[k];
        ts[k] = (struct optim_tensor){ p->data, p->grad, opt->m[k], opt->v[k], p->n, opt->decay[k] };
    }
    adamw_step(ts, opt->nparams, opt->lr, opt->beta1, opt->beta2, opt->eps, opt->weight_decay, grad_scale,
               (int)opt->t);
    free(ts);
    for (int k = 0; k < opt->nparams; k++)
        ag_bump_version(opt->params[k]);    /* the one sanctioned in-place change */
}
