/* ops_loss.c - softmax + cross-entropy, fused (see ops.h for the
 * conventions).  Fusing them avoids ever storing the probabilities: the
 * forward pass keeps only lse, the log of each row's normaliser, and the
 * backward pass recomputes p = exp(z - lse) as it goes.
 *
 * Dimension legend: N rows (positions), V vocabulary.
 *   logits, dlogits (N, V)    targets, losses, dlosses, lse (N)
 */
#include "kernels/ops.h"
#include "kernels/fastmath.h"

#include <math.h>
#include <stddef.h>

/* loss = -log p[y] = -log(exp(z[y]) / sum_v exp(z[v])) = lse - z[y], with
 * lse = m + log sum_v exp(z[v] - m) for the row maximum m (no overflow). */
void crossentropy_forward(float *losses, float *lse, const float *logits, const uint32_t *targets, int N, int V)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float m = z[0];
        #pragma omp simd reduction(max : m)
        for (int v = 1; v < V; v++) m = z[v] > m ? z[v] : m;
        float sum = 0;
        #pragma omp simd reduction(+ : sum)
        for (int v = 0; v < V; v++) sum += exp_neg(m - z[v]);      /* fastmath.h */
        lse[n] = m + logf(sum);
        if (targets) losses[n] = lse[n] - z[targets[n]];
    }
}

/* forward:  loss = lse(z) - z[y]
 * =>        dloss/dz[v] = exp(z[v] - lse) - [v = y] = p[v] - onehot(y)[v]
 *           dlogits[n, v] += dlosses[n] * (p[v] - [v = y]) */
void crossentropy_backward(float *dlogits, const float *dlosses, const float *logits, const float *lse,
                           const uint32_t *targets, int N, int V)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *dz = dlogits + (size_t)n * V, dl = dlosses[n], l = lse[n];
        #pragma omp simd
        for (int v = 0; v < V; v++) dz[v] += dl * exp_neg(l - z[v]);   /* lse >= z[v] */
        dz[targets[n]] -= dl;
    }
}
