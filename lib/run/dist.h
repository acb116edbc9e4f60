/* dist.h - data-parallel training over the processes of comm.h.
 *
 * Every rank holds the whole model and runs forward and backward on its
 * own micro-batches (train.c deals them out).  Then, with N ranks, their
 * gradients g_r are summed:
 *     g = sum_r g_r
 * Each rank's micro-batch gradients were scaled by 1 / (N A) (A the
 * micro-batches per rank), so g is the gradient of the mean loss over all
 * N A micro-batches: exactly what one process with --accum N*A computes,
 * up to the order of the float additions.
 *
 * Two ways to take the step from there:
 *   replicated (the default): the sum reaches every rank (all-reduce, in
 *     buckets: comm_sum_floats) and every rank takes the same AdamW step
 *     on the whole block with its own copy of the moments;
 *   sharded (--shard-optimizer, ZeRO stage 1, Rajbhandari et al. 2020):
 *     rank r receives only slice r of the sum (reduce-scatter), keeps the
 *     AdamW moments of that slice alone, updates those parameters, and
 *     every rank then receives every updated slice (all-gather).  The
 *     moments take 2P/N floats per rank instead of 2P.
 * Without MPI (one rank) the sum is the gradient itself and a replicated
 * step is the plain model_adamw_step: the same code as ever.
 */
#ifndef TFS_DIST_H
#define TFS_DIST_H

#include "model/model.h"

#include <stdint.h>

struct dist {
    int rank, size;
    int shard;              /* ZeRO-1: moments of [lo, hi) only */
    size_t n, lo, hi;       /* the parameter block and this rank's slice */
    float *m, *v;           /* (hi - lo) the slice's AdamW moments (shard) */
    float *vfull;           /* (n) the whole second moment while saving (rank 0) */
    int overlap;            /* replicated: sum each block's gradient as soon as it is complete */
    int started;            /* sums under way since the last dist_backward_begin */
    struct model *model;
};

/* Start on model m (fresh, or resumed with its moments: a sharded run
 * keeps its slice of them and frees the rest). */
void dist_init(struct dist *d, struct model *m, int shard);
void dist_free(struct dist *d, struct model *m);

/* Before each backward pass of a step; last: the rank's last micro-batch
 * of the step.  Replicated, its backward pass then starts the sum of each
 * block's gradient as soon as that block is done (model_on_layer_done),
 * so that the sums of the upper blocks travel while the lower ones
 * compute.  TFS_MPI_OVERLAP=0 turns this off (every sum after the pass). */
void dist_backward_begin(struct dist *d, struct model *m, int last);
/* After the backward passes of a step: the sum of the ranks' gradients
 * (replicated: everywhere; sharded: this rank's slice). */
void dist_sum_grads(struct dist *d, struct model *m);
/* The global L2 norm of the summed gradient, the same on every rank. */
double dist_grad_norm(struct dist *d, struct model *m);
/* The AdamW step of optim.h (arguments as model_adamw_step). */
void dist_adamw_step(struct dist *d, struct model *m, float lr, float beta1, float beta2, float eps,
                     float weight_decay, float grad_scale, int t);

/* Around a checkpoint save (rank 0 writes, every rank calls both): the
 * sharded moments gathered into the model on rank 0 (the first in the
 * gradient block, free between steps), then given back.  Also checks that
 * every rank holds the same weights, and stops naming the first that
 * does not. */
void dist_before_save(struct dist *d, struct model *m, uint64_t step);
void dist_after_save(struct dist *d, struct model *m);

#endif
