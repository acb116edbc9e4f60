/* evaluate.c - token-weighted mean loss over windows (see evaluate.h). */
#include "evaluate.h"
#include "progress.h"
#include "xio.h"

#include <stdlib.h>

/* Sum the per-position losses of the last forward pass. */
static void add_losses(const struct model *m, int B, int T, struct eval_sum *acc)
{
    double s = 0;
    const float *losses = model_losses(m);
    for (long i = 0; i < (long)B * T; i++) s += losses[i];
    acc->nll += s;
    acc->tokens += (uint64_t)B * (uint64_t)T;
}

void eval_ids(struct model *m, const uint32_t *ids, size_t n, int B, int T, struct eval_sum *acc)
{
    if (n < 2) return;
    size_t s = 0;
    /* Full windows need T + 1 tokens: ids[s .. s+T].  Consecutive windows
     * are contiguous, so B of them are one (B, T) block of inputs starting
     * at ids + s and the same block of targets starting one token later. */
    size_t full = (n - 1) / (size_t)T;
    for (size_t w = 0; w < full;) {
        int b = full - w >= (size_t)B ? B : (int)(full - w);
        model_forward(m, ids + s, ids + s + 1, b, T);
        add_losses(m, b, T, acc);
        w += (size_t)b;
        s += (size_t)b * (size_t)T;
    }
    size_t rest = n - 1 - s;    /* tokens left to predict, < T */
    if (rest) {
        model_forward(m, ids + s, ids + s + 1, 1, (int)rest);
        add_losses(m, 1, (int)rest, acc);
    }
}

void eval_stream(struct model *m, struct tokr *r, int B, int T, uint64_t max_tokens, int quiet,
                 void (*on_targets)(void *ctx, const uint32_t *ids, size_t n), void *ctx,
                 struct eval_sum *acc)
{
    size_t chunk = (size_t)B * (size_t)T;
    uint32_t *buf = xmalloc((chunk + 1) * sizeof *buf);
    struct progress p;
    uint64_t total = r->mapped ? r->n : r->h.ntokens;
    if (max_tokens && (!total || max_tokens + 1 < total)) total = max_tokens + 1;
    progress_start(&p, "evaluating", total, quiet);
    /* buf[0] is the carried-over token: the last target of the previous
     * chunk is the first input of the next. */
    size_t have = tokr_read(r, buf, 1);
    while (have == 1) {
        size_t want = chunk;
        if (max_tokens && acc->tokens + want > max_tokens) want = (size_t)(max_tokens - acc->tokens);
        if (!want) break;
        size_t got = 0, k;
        while (got < want && (k = tokr_read(r, buf + 1 + got, want - got)) > 0) got += k;
        if (!got) break;
        if (on_targets) on_targets(ctx, buf + 1, got);
        eval_ids(m, buf, got + 1, B, T, acc);
        progress_update(&p, acc->tokens + 1, "loss %.4f", acc->nll / (double)acc->tokens);
        buf[0] = buf[got];
    }
    progress_end(&p);
    free(buf);
}
