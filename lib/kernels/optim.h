/* optim.h - the optimizer of every model level: AdamW, the global gradient
 * norm and the clipping factor made from it (optim.c).
 *
 * A model hands its parameters over as a list of tensors, each with its
 * gradient, its two AdamW moments and whether weight decay applies to it.
 * The custom level (gpt2/gpt2.c), the baseline level (llama/llama.c) and
 * the autograd level (autograd/ag_nn.c, ag_AdamW) all call adamw_step and
 * grad_norm on such a list, so the three update their weights with the
 * same arithmetic, bit for bit.
 */
#ifndef TFS_OPTIM_H
#define TFS_OPTIM_H

#include <stddef.h>

/* One parameter tensor as the optimizer sees it: n floats each. */
struct optim_tensor {
    float *param;
    const float *grad;
    float *m, *v;       /* AdamW's first and second moments (unused by grad_norm) */
    size_t n;
    int decay;          /* 1: weight decay applies (matrices); 0: biases, norm gains */
};

/* AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization",
 * 2019, algorithm 2), step t = 1, 2, ... on every element of every tensor:
 *     g  = grad * grad_scale                   (gradient clipping's factor)
 *     m  = beta1 m + (1 - beta1) g             first moment
 *     v  = beta2 v + (1 - beta2) g^2           second moment
 *     m^ = m / (1 - beta1^t),  v^ = v / (1 - beta2^t)    bias correction
 *     p  = p - lr (m^ / (sqrt(v^) + eps) + wd p)
 * with wd = weight_decay where decay is set, 0 elsewhere.  One pass over
 * memory, all tensors in one OpenMP parallel region. */
void adamw_step(const struct optim_tensor *ts, int count, float lr, float beta1, float beta2, float eps,
                float weight_decay, float grad_scale, int t);
/* The same update for one tensor (wd applies to it).  Its loop is shared by
 * the threads of an enclosing parallel region (adamw_step opens one); called
 * outside one, it runs on the calling thread. */
void adamw_update(float *p, const float *grad, float *m, float *v, long n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, float grad_scale, int t);

/* sqrt(sum of grad^2) over all the tensors: fixed blocks, double-precision
 * partial sums added in a fixed order, so the same bits whatever the
 * number of threads. */
float grad_norm(const struct optim_tensor *ts, int count);

/* Clipping by the global norm: the grad_scale that brings the gradient's
 * norm down to clip; 1 when the norm is within it or clip <= 0 (off). */
float clip_scale(double norm, double clip);

#endif
