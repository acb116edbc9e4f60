/* dist.c - data-parallel training: gradient sums, ZeRO-1 (see dist.h). */
#include "run/dist.h"
#include "core/comm.h"
#include "core/xio.h"
#include "kernels/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The optimizer's tensors cut to this rank's slice [lo, hi) of the block:
 * each tensor keeps the part of it inside the slice, its moments pointing
 * into the slice's own m and v.  Returns the count. */
static int slice_tensors(const struct dist *d, struct model *m, struct optim_tensor *out)
{
    struct optim_tensor all[MODEL_MAX_TENSORS];
    int n = model_optim_tensors(m, all), k = 0;
    const float *base = model_block_of(m).params;
    for (int i = 0; i < n; i++) {
        size_t a = (size_t)(all[i].param - base), b = a + all[i].n;
        size_t lo = a > d->lo ? a : d->lo, hi = b < d->hi ? b : d->hi;
        if (lo >= hi) continue;
        out[k++] = (struct optim_tensor){ all[i].param + (lo - a), all[i].grad + (lo - a),
                                          d->m + (lo - d->lo), d->v + (lo - d->lo), hi - lo, all[i].decay };
    }
    return k;
}

void dist_init(struct dist *d, struct model *m, int shard)
{
    memset(d, 0, sizeof *d);
    d->rank = comm_rank();
    d->size = comm_size();
    d->shard = shard;
    struct model_block b = model_block_of(m);
    d->n = b.n;
    d->lo = 0;
    d->hi = b.n;
    d->model = m;
    const char *ov = getenv("TFS_MPI_OVERLAP");
    d->overlap = d->size > 1 && !shard && !(ov && strcmp(ov, "0") == 0);
    if (!shard) return;
    d->lo = comm_slice_lo(b.n, d->rank);
    d->hi = comm_slice_lo(b.n, d->rank + 1);
    size_t k = d->hi - d->lo;
    d->m = xzalloc_written((k ? k : 1) * sizeof *d->m);        /* read before written: xio.h */
    d->v = xzalloc_written((k ? k : 1) * sizeof *d->v);
    /* a resumed run: keep this rank's slice of the saved moments */
    if (*b.m) memcpy(d->m, *b.m + d->lo, k * sizeof *d->m);
    if (*b.v) memcpy(d->v, *b.v + d->lo, k * sizeof *d->v);
    free(*b.m); free(*b.v);
    *b.m = *b.v = NULL;
}

void dist_free(struct dist *d, struct model *m)
{
    (void)m;
    free(d->m); free(d->v); free(d->vfull);
    memset(d, 0, sizeof *d);
}

/* The backward pass finished block l: start the sums of its gradients. */
static void on_layer(void *ctx, int l)
{
    struct dist *d = ctx;
    float *start[MODEL_MAX_TENSORS];
    size_t len[MODEL_MAX_TENSORS];
    int k;
    model_layer_grads(d->model, l, start, len, &k);
    for (int i = 0; i < k; i++) comm_sum_start(start[i], len[i]);
    comm_sum_poll();
}

void dist_backward_begin(struct dist *d, struct model *m, int last)
{
    if (!d->overlap || !last) return;
    d->started = model_on_layer_done(m, on_layer, d);
}

void dist_sum_grads(struct dist *d, struct model *m)
{
    if (d->size == 1) return;
    if (d->started) {
        /* the blocks' sums are under way: add the rest's, wait for all */
        model_on_layer_done(m, NULL, NULL);
        on_layer(d, -1);
        comm_sum_finish();
        d->started = 0;
        return;
    }
    struct model_block b = model_block_of(m);
    if (d->shard) comm_reduce_scatter(b.grads, b.n);
    else comm_sum_floats(b.grads, b.n);
}

double dist_grad_norm(struct dist *d, struct model *m)
{
    if (!d->shard) return model_grad_norm(m);
    /* |g|^2 = sum over the slices of |g_slice|^2 */
    struct optim_tensor ts[MODEL_MAX_TENSORS];
    double sq = grad_norm(ts, slice_tensors(d, m, ts));
    sq *= sq;
    comm_sum_doubles(&sq, 1);
    return sqrt(sq);
}

void dist_adamw_step(struct dist *d, struct model *m, float lr, float beta1, float beta2, float eps,
                     float weight_decay, float grad_scale, int t)
{
    if (!d->shard) {
        model_adamw_step(m, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
        return;
    }
    struct optim_tensor ts[MODEL_MAX_TENSORS];
    adamw_step(ts, slice_tensors(d, m, ts), lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    /* every rank's updated slice to every rank */
    comm_all_gather(model_block_of(m).params, d->n);
}

/* FNV-1a over the bits of the weights: equal on every rank, or the ranks
 * have drifted apart. */
static uint64_t weights_hash(const float *p, size_t n)
{
    const uint32_t *w = (const uint32_t *)p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ w[i]) * 0x100000001b3ULL;
    return h;
}

void dist_before_save(struct dist *d, struct model *m, uint64_t step)
{
    if (d->size > 1) {
        struct model_block b = model_block_of(m);
        uint64_t h = weights_hash(b.params, b.n), *all = xmalloc((size_t)d->size * sizeof *all);
        comm_gather_all(&h, all, sizeof h);
        for (int r = 1; r < d->size; r++)
            if (all[r] != all[0])
                die("after step %llu the weights of rank %d differ from rank 0's; the ranks no longer "
                    "train one model (a bug, or mismatched builds or machines)", (unsigned long long)step, r);
        free(all);
    }
    if (!d->shard) return;
    /* Rank 0 needs the whole moments to write them, without holding the
     * full and the sliced copies at once: the first moment goes into the
     * gradient block (the step that used it is done, the next zeroes it),
     * the second into a block of its own; rank 0's own slices are moved
     * there first and freed, the others' arrive in place. */
    struct model_block b = model_block_of(m);
    size_t k = d->hi - d->lo;
    if (d->rank == 0) {
        memmove(b.grads + d->lo, d->m, k * sizeof *d->m);
        free(d->m); d->m = NULL;
        comm_gather_to0(NULL, b.grads, d->n);
        d->vfull = xmalloc(d->n * sizeof *d->vfull);
        memcpy(d->vfull + d->lo, d->v, k * sizeof *d->v);
        free(d->v); d->v = NULL;
        comm_gather_to0(NULL, d->vfull, d->n);
        *b.m = b.grads;
        *b.v = d->vfull;
    } else {
        comm_gather_to0(d->m, NULL, d->n);
        comm_gather_to0(d->v, NULL, d->n);
    }
}

void dist_after_save(struct dist *d, struct model *m)
{
    if (!d->shard || d->rank != 0) return;
    struct model_block b = model_block_of(m);
    size_t k = d->hi - d->lo;
    d->m = xmalloc((k ? k : 1) * sizeof *d->m);
    d->v = xmalloc((k ? k : 1) * sizeof *d->v);
    memcpy(d->m, b.grads + d->lo, k * sizeof *d->m);
    memcpy(d->v, d->vfull + d->lo, k * sizeof *d->v);
    free(d->vfull); d->vfull = NULL;
    *b.m = *b.v = NULL;
}
