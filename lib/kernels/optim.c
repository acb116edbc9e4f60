/* optim.c - AdamW and the global gradient norm for every model level (the
 * API and the math: optim.h).
 *
 * Like llama/llama_ops.c and ops_loss.c, this file is written over the type
 * `real` and compiled twice: as part of libtfs over float, and by
 * tests/unit/test_llama_ops.c over double (kernels/real.h), where adamw_update_f64 is checked against the formula to 1e-15.
 * Only the one-tensor update exists in both; the list functions are float.
 */
#include "kernels/optim.h"
#include "kernels/real.h"
#include "kernels/isa.h"          /* ISA_DISPATCH: after real.h */

#include <stdlib.h>

#include "core/xio.h"

void OPS(adamw_update)(real *p, const real *grad, real *m, real *v, long n, real lr, real beta1,
                       real beta2, real eps, real weight_decay, real grad_scale, int t)
{
    ISA_DISPATCH(adamw_update, p, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    /* 1 / (1 - beta^t), so the loop multiplies instead of dividing */
    real rbc1 = 1 / (1 - pow(beta1, (real)t)), rbc2 = 1 / (1 - pow(beta2, (real)t));
    /* an orphaned worksharing loop: the enclosing team splits it (nowait:
     * the tensors are disjoint, the region's end is the one barrier) */
    #pragma omp for simd schedule(static) nowait
    for (long i = 0; i < n; i++) {
        real g = grad[i] * grad_scale;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        real mhat = m[i] * rbc1, vhat = v[i] * rbc2;
        p[i] -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p[i]);
    }
}

#ifdef OPS_LIBRARY_BUILD

/* Blocks of the deterministic sum: each tensor is cut into blocks of this
 * many elements, whatever the thread count; each block's sum of squares is
 * taken in double, and the blocks are added in list order. */
enum { NORM_BLOCK = 1 << 16 };     /* also: the smallest list adamw_step gives a thread team */

void adamw_step(const struct optim_tensor *ts, int count, float lr, float beta1, float beta2, float eps,
                float weight_decay, float grad_scale, int t)
{
    ISA_DISPATCH(adamw_step, ts, count, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    if (t < 1) die("adamw_step: step %d: steps count from 1", t);
    size_t total = 0;
    for (int k = 0; k < count; k++) total += ts[k].n;
    /* one team for the whole list, no fork and join per tensor; none at all
     * for a small model, whose update is cheaper than starting a team */
    #pragma omp parallel if (total > NORM_BLOCK)
    for (int k = 0; k < count; k++)
        adamw_update(ts[k].param, ts[k].grad, ts[k].m, ts[k].v, (long)ts[k].n, lr, beta1, beta2, eps,
                     ts[k].decay ? weight_decay : 0.0f, grad_scale, t);
}

float grad_norm(const struct optim_tensor *ts, int count)
{
    ISA_DISPATCH_RETURN(grad_norm, ts, count);
    size_t nb = 0;
    for (int k = 0; k < count; k++) nb += (ts[k].n + NORM_BLOCK - 1) / NORM_BLOCK;
    if (!nb) return 0;
    double *part = xmalloc(nb * sizeof *part), ss = 0;
    #pragma omp parallel if (nb > 1)
    {
        size_t first = 0;               /* the index in part[] of tensor k's first block */
        for (int k = 0; k < count; k++) {
            const float *g = ts[k].grad;
            size_t n = ts[k].n, nbk = (n + NORM_BLOCK - 1) / NORM_BLOCK;
            #pragma omp for schedule(static) nowait
            for (size_t b = 0; b < nbk; b++) {
                size_t lo = b * NORM_BLOCK, hi = lo + NORM_BLOCK < n ? lo + NORM_BLOCK : n;
                /* in vector lanes: a fixed split of the block (the same at
                 * every thread count), not one chain of dependent adds */
                double s = 0;
                #pragma omp simd reduction(+ : s)
                for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
                part[first + b] = s;
            }
            first += nbk;
        }
    }
    for (size_t b = 0; b < nb; b++) ss += part[b];
    free(part);
    return (float)sqrt(ss);
}

float clip_scale(double norm, double clip)
{
    /* g * clip / |g| has norm clip */
    return clip > 0 && norm > clip ? (float)(clip / norm) : 1.0f;
}

#endif
