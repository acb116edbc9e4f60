/* stats_recommend.c - which vocabulary size a dataset really wants,
 * measured: train one BPE on a subset, derive every smaller vocabulary as a
 * prefix of its merges, encode held-out text with each, and pick the knee
 * of compression gained per embedding parameter.
 *
 * One training run serves all sizes: BPE learns merges in order, and the
 * vocabulary of size k is the 256 bytes plus the first k - 256 - S merges
 * (S special tokens), so truncating the largest tokenizer gives exactly the
 * tokenizer training would have produced with --vocab-size k. */
#include "stats/stats_report.h"
#include "core/progress.h"
#include "tok/tokenizer.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* The knee ("kneedle", Satopaa et al. 2011): put the reached sizes on a
 * curve x = embedding parameters, y = bytes per token, scale both to [0, 1]
 * between the smallest and the largest size, and take the point farthest
 * above the straight line y = x.  Left of it, a parameter buys more
 * compression than the average parameter of the whole range; right of it,
 * less.  Ties go to the larger size: with two sizes both lie on the line,
 * and on a curve that bends the other way (each step buying more than the
 * one before) the first and the last do, and the last steps are the best
 * buys. */
void recommend_pick(struct recommend *r)
{
    int first = -1, last = -1;
    for (int i = 0; i < r->n; i++)
        if (r->rows[i].reached) { if (first < 0) first = i; last = i; }
    r->best = -1;
    if (first < 0) {
        snprintf(r->reason, sizeof r->reason,
                 "none: training stopped at %u tokens, below every size asked for", r->trained_vocab);
        return;
    }
    const struct rec_row *a = &r->rows[first], *z = &r->rows[last];
    double dx = (double)(z->params - a->params), dy = z->bytes_per_token - a->bytes_per_token;
    if (first == last || dy <= 0) {
        r->best = first;
        snprintf(r->reason, sizeof r->reason, "%u: %s", a->size, first == last
                 ? "the only size compared that training reached"
                 : "larger vocabularies compress the held-out text no better");
        return;
    }
    double most = -1;
    for (int i = first; i <= last; i++) {
        const struct rec_row *w = &r->rows[i];
        if (!w->reached) continue;
        double x = (double)(w->params - a->params) / dx, y = (w->bytes_per_token - a->bytes_per_token) / dy;
        if (y - x >= most - 1e-12) { most = y - x; r->best = i; }
    }
    const struct rec_row *b = &r->rows[r->best];
    double gain = 100 * (b->bytes_per_token - a->bytes_per_token) / dy;
    double cost = 100 * (double)(b->params - a->params) / dx;
    if (r->best == last)
        /* a curve that does not bend: the last steps buy as much as the first */
        snprintf(r->reason, sizeof r->reason,
                 "%u: compression per parameter does not fall off before the largest size reached "
                 "(%.2f -> %.2f bytes/token from %u)", b->size, a->bytes_per_token, b->bytes_per_token, a->size);
    else
        snprintf(r->reason, sizeof r->reason,
                 "%u: %.0f%% of the compression gained from %u to %u (%.2f -> %.2f of %.2f bytes/token) "
                 "for %.0f%% of the added embedding parameters",
                 b->size, gain, a->size, z->size, a->bytes_per_token, b->bytes_per_token,
                 z->bytes_per_token, cost);
}

/* Encode the held-out documents with the first w->size ids of t. */
static void measure_size(struct rec_row *w, const struct recommend *r, const struct tokenizer *t,
                         char **held, size_t *held_len, size_t nheld, uint32_t dim)
{
    if (w->size > r->trained_vocab) return;     /* not reached */
    w->reached = 1;
    struct tokenizer *tk = w->size == r->trained_vocab ? NULL : tok_truncate(t, w->size);
    struct tok_encoder *enc = tok_encoder_new(tk ? tk : t);
    unsigned char *seen = xcalloc(w->size, 1);
    for (size_t d = 0; d < nheld; d++) {
        size_t n;
        const uint32_t *ids = tok_encode(enc, held[d], held_len[d], 0, &n);
        w->tokens += n;
        for (size_t k = 0; k < n; k++) seen[ids[k]] = 1;
    }
    for (uint32_t id = 0; id < w->size; id++) w->used += seen[id];
    free(seen);
    tok_encoder_free(enc);
    if (tk) tok_free(tk);
    w->bytes_per_token = w->tokens ? (double)r->held_bytes / (double)w->tokens : 0;
    w->used_share = (double)w->used / (double)w->size;
    w->tokens_per_doc = (double)w->tokens / (double)nheld;
    w->params = (uint64_t)w->size * dim;
}

void recommend_run(struct recommend *r, const struct stats_opts *o, const char *pattern,
                   char **train, size_t *train_len, size_t ntrain,
                   char **held, size_t *held_len, size_t nheld)
{
    double t0 = now_seconds();
    memset(r, 0, sizeof *r);
    r->rows = xcalloc((size_t)o->nsizes + 1, sizeof *r->rows);
    r->dim = o->dim;
    r->train_docs = ntrain;
    r->held_docs = nheld;
    for (size_t i = 0; i < ntrain; i++) r->train_bytes += train_len[i];
    for (size_t i = 0; i < nheld; i++) r->held_bytes += held_len[i];

    /* 1. train once, to the largest size asked for */
    struct bpe_train_opts bo = {
        .vocab_size = o->sizes[o->nsizes - 1],
        .min_frequency = 2,         /* a pair seen once is noise, not structure */
        .pattern = pattern,
        .threads = o->threads > 0 ? o->threads : 1,
        .quiet = o->quiet,
    };
    struct bpe_trainer *tr = bpe_trainer_new(&bo);
    bpe_trainer_add(tr, (const char *const *)train, train_len, ntrain);
    struct tokenizer *t = bpe_trainer_finish(tr);
    r->trained_vocab = tok_vocab_size(t);

    /* The sizes asked for; when training ran out of pairs to merge before the
     * largest, the vocabulary it did reach (every pre-token of the subset
     * is then one token) joins them as a size of its own. */
    for (int i = 0; i < o->nsizes; i++) {
        if (o->sizes[i] > r->trained_vocab && (r->n == 0 || r->rows[r->n - 1].size < r->trained_vocab))
            r->rows[r->n++].size = r->trained_vocab;
        r->rows[r->n++].size = o->sizes[i];
    }

    /* 2. each size: a prefix of the merges, encoding the held-out text */
    struct progress pg;
    progress_start(&pg, "sizes", (uint64_t)r->n, o->quiet);
    for (int i = 0; i < r->n; i++) {
        measure_size(&r->rows[i], r, t, held, held_len, nheld, o->dim);
        progress_update(&pg, (uint64_t)i + 1, "%u", r->rows[i].size);
    }
    progress_end(&pg);
    tok_free(t);
    recommend_pick(r);
    r->seconds = now_seconds() - t0;
}

void recommend_free(struct recommend *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}
