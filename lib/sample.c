/* sample.c - temperature, top-k and top-p sampling; generation with the KV
 * cache (see sample.h). */
#include "sample.h"
#include "xio.h"

#include <math.h>
#include <stdlib.h>

void sampler_init(struct sampler *s, int V, double temperature, int top_k, double top_p, uint64_t seed)
{
    s->V = V;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    rng_seed(&s->rng, seed);
    s->probs = xmalloc((size_t)V * sizeof *s->probs);
    s->order = xmalloc((size_t)V * sizeof *s->order);
}

void sampler_free(struct sampler *s)
{
    free(s->probs); free(s->order);
    s->probs = NULL; s->order = NULL;
}

/* qsort has no context argument: the probabilities being sorted. */
static const double *sort_probs;
static int by_prob_desc(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (sort_probs[i] != sort_probs[j]) return sort_probs[i] > sort_probs[j] ? -1 : 1;
    return i < j ? -1 : i > j;      /* ties: lower id first, for determinism */
}

uint32_t sampler_next(struct sampler *s, const float *logits)
{
    int V = s->V;
    uint32_t best = 0;
    for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = (uint32_t)i;
    if (s->temperature == 0) return best;
    /* softmax(z / temperature), shifted by the max for stability */
    double sum = 0;
    for (int i = 0; i < V; i++) {
        s->probs[i] = exp(((double)logits[i] - (double)logits[best]) / s->temperature);
        sum += s->probs[i];
    }
    for (int i = 0; i < V; i++) s->probs[i] /= sum;
    int n = V;
    if ((s->top_k > 0 && s->top_k < V) || s->top_p < 1) {
        for (int i = 0; i < V; i++) s->order[i] = (uint32_t)i;
        sort_probs = s->probs;
        qsort(s->order, (size_t)V, sizeof *s->order, by_prob_desc);
        if (s->top_k > 0 && s->top_k < n) n = s->top_k;
        if (s->top_p < 1) {
            /* the smallest prefix whose mass, renormalised over the top-k
             * survivors, reaches top_p */
            double kept = 0, cum = 0;
            for (int i = 0; i < n; i++) kept += s->probs[s->order[i]];
            int j = 0;
            while (j < n) {
                cum += s->probs[s->order[j++]];
                if (cum >= s->top_p * kept) break;
            }
            n = j;
        }
    }
    /* Draw u in [0, mass of the candidates) and walk the candidates. */
    double mass = 0;
    for (int i = 0; i < n; i++) mass += s->probs[n == V ? (uint32_t)i : s->order[i]];
    double u = rng_uniform(&s->rng) * mass, c = 0;
    for (int i = 0; i < n; i++) {
        uint32_t id = n == V ? (uint32_t)i : s->order[i];
        c += s->probs[id];
        if (u < c) return id;
    }
    return n == V ? (uint32_t)(V - 1) : s->order[n - 1];   /* rounding at the very end */
}

/* Feed one token; when the cache is full, restart it from the last
 * context/2 tokens of the history first. */
static const float *feed(struct gpt2 *m, struct gpt2_kv *kv, const uint32_t *hist, size_t nhist, uint32_t tok)
{
    int ctx = m->cfg.context;
    if (gpt2_kv_len(kv) >= ctx) {
        gpt2_kv_reset(kv);
        size_t keep = (size_t)(ctx / 2);
        if (keep > nhist) keep = nhist;
        for (size_t i = nhist - keep; i < nhist; i++) gpt2_kv_step(m, kv, hist[i]);
    }
    return gpt2_kv_step(m, kv, tok);
}

size_t generate(struct gpt2 *m, struct sampler *s, const uint32_t *prompt, size_t np, size_t n,
                long eot, void (*emit)(void *ctx, uint32_t id), void *ctx)
{
    if (np == 0) die("internal error: generate needs at least one prompt token");
    struct gpt2_kv *kv = gpt2_kv_new(m);
    uint32_t *hist = xmalloc((np + n) * sizeof *hist);
    size_t nh = 0, out = 0;
    const float *logits = NULL;
    for (size_t i = 0; i < np; i++) {
        logits = feed(m, kv, hist, nh, prompt[i]);
        hist[nh++] = prompt[i];
    }
    while (out < n) {
        uint32_t id = sampler_next(s, logits);
        if (eot >= 0 && id == (uint32_t)eot) break;
        emit(ctx, id);
        out++;
        if (out == n) break;
        logits = feed(m, kv, hist, nh, id);
        hist[nh++] = id;
    }
    free(hist);
    gpt2_kv_free(kv);
    return out;
}
