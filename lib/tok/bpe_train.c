/* bpe_train.c - learning byte-level BPE merges from text.
 *
 * The naive loop (minbpe's) is, for each of V-256 merges:
 *   count every adjacent pair in the whole corpus; take the most frequent;
 *   replace it everywhere by a new token.
 * That is O(corpus size) per merge.  This file computes the same merges
 * (same counts, same choices) much faster, in three ideas:
 *
 *   1. Words, not text.  Merges never cross a pre-token boundary, so the
 *      corpus is a multiset of distinct pre-tokens ("words") with counts:
 *      " the" x 812,345.  A word's pairs count once per occurrence of the word.
 *      Counting words is embarrassingly parallel (--threads): each thread
 *      counts its documents into its own table and the tables are summed.
 *   2. Incremental pair counts.  count[(a,b)] = sum over words w of
 *      count(w) * (occurrences of a b in w).  Merging (a,b) -> c changes only
 *      the words that contain "a b", and in them only the pairs next to each
 *      replaced "a b".  where[(a,b)] lists the words that may
 *      contain the pair (it may hold stale entries; they are skipped).
 *   3. A priority queue with lazy updates.  A heap (core/heap.h) holds
 *      (count, pair) entries, the largest count on top.  Counts only ever decrease for pairs without c, so an entry
 *      may be out of date: when the top entry's count differs from the true
 *      count, it is pushed back with the true count instead of being used.
 *      Pairs with c are new and are pushed after each merge.
 *
 * Tie-break (stated in bpe-train(1)): among pairs with the same count, the
 * one with the smaller left id wins, then the smaller right id.  Byte
 * tokens have id = byte value, so the first ties break in byte order.  No
 * step depends on the order of words or on thread timing, so the result is
 * identical for any --threads.
 *
 * This file does idea 1 (counting the words, while reading the JSONL);
 * bpe_learn.c does ideas 2 and 3.  bpe_trainer_finish sums the threads'
 * counts (sum_thread_counts) and calls bpe_learn, which makes the word
 * records (words_from_counts), counts their pairs (count_pairs), then for
 * each merge picks the best pair (pop_best), gives it an id (vocab_mint)
 * and rewrites the words that hold it (apply_merge, rewrite_word).
 */
#include "tok/tokenizer_impl.h"
#include "tok/stok.h"
#include "tok/wordtab.h"
#include "core/jsonl.h"
#include "core/jsonl_par.h"
#include "core/rng.h"
#include "core/xio.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* A thread's word counts: its table, in front of which a small cache of
 * short words (up to 16 bytes, held as two 64-bit words) adds up the
 * counts of the frequent ones.  Words follow Zipf's law, so most pieces
 * hit the cache: two word compares instead of hashing the bytes and a
 * memcmp in the table.  An entry evicted (or flushed at the end) adds its
 * count into the table; the sums are the same, only the order in which
 * words enter the table changes, which nothing downstream depends on
 * (merges are chosen by count, then by token ids). */
#define HOTC_BITS 12
struct hot_count {
    uint64_t w0, w1;
    uint32_t len, n;            /* len 0: empty; n: the count not yet in the table */
};
/* A word on its way from the cache to the table.  The table is far larger
 * than any CPU cache, so adding to it waits for memory; instead an evicted
 * entry waits here while its slot is prefetched, and goes into the table
 * PEND evictions later, when the slot has arrived. */
#define PEND 16
struct pending {
    uint64_t h, w0, w1;         /* h = stok_hash(w0, w1, len) */
    uint32_t len, n;            /* len 0: empty */
};
struct counter {
    struct wordtab *map;
    struct hot_count *hot;      /* (1 << HOTC_BITS) */
    struct pending pend[PEND];  /* a ring; next is the oldest */
    unsigned next;
};

struct bpe_trainer {
    struct bpe_train_opts o;
    char **special;             /* (nspecial) */
    size_t *special_len;
    int nspecial;
    struct pretok *pre;
    int nthreads;
    struct wordtab *counts;     /* (nthreads) word -> occurrences */
    struct counter *cnt;        /* (nthreads) what each thread counts into */
    struct pretok_ctx **ctx;    /* (nthreads) */
};

struct bpe_trainer *bpe_trainer_new(const struct bpe_train_opts *o)
{
    struct bpe_trainer *tr = xcalloc(1, sizeof *tr);
    tr->o = *o;
    char err[256];
    tr->pre = pretok_new(o->pattern ? o->pattern : "gpt2", err, sizeof err);
    if (!tr->pre) die("bad --pattern: %s", err);
    if (o->nspecial == 0) {
        tr->nspecial = 1;
        tr->special = xmalloc(sizeof *tr->special);
        tr->special_len = xmalloc(sizeof *tr->special_len);
        tr->special[0] = xstrdup(TOK_DEFAULT_EOT);
        tr->special_len[0] = strlen(TOK_DEFAULT_EOT);
    } else {
        tr->nspecial = o->nspecial;
        tr->special = xmalloc((size_t)o->nspecial * sizeof *tr->special);
        tr->special_len = xmalloc((size_t)o->nspecial * sizeof *tr->special_len);
        for (int i = 0; i < o->nspecial; i++) {
            tr->special[i] = xstrdup(o->special[i]);
            tr->special_len[i] = strlen(o->special[i]);
        }
    }
    tr->nthreads = o->threads > 0 ? o->threads : 1;
    tr->counts = xcalloc((size_t)tr->nthreads, sizeof *tr->counts);
    tr->ctx = xcalloc((size_t)tr->nthreads, sizeof *tr->ctx);
    tr->cnt = xcalloc((size_t)tr->nthreads, sizeof *tr->cnt);
    for (int i = 0; i < tr->nthreads; i++) {
        wordtab_init(&tr->counts[i], 1 << 16);
        tr->cnt[i].map = &tr->counts[i];
        tr->cnt[i].hot = xzalloc_written(((size_t)1 << HOTC_BITS) * sizeof *tr->cnt[i].hot);
        tr->ctx[i] = pretok_ctx_new(tr->pre);
    }
    return tr;
}

/* The bytes s[0..n) (1 <= n <= 16) as two little-endian words, zero-padded,
 * reading no byte outside them (two overlapping loads). */
static void short_key(const unsigned char *s, size_t n, uint64_t *w0, uint64_t *w1)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        if (n > 8) { memcpy(&b, s + n - 8, 8); b >>= 8 * (16 - n); }
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        a = lo | (uint64_t)hi << (8 * (n - 4));
    } else a = s[0] | (uint64_t)s[n / 2] << (8 * (n / 2)) | (uint64_t)s[n - 1] << (8 * (n - 1));
    *w0 = a;
    *w1 = b;
}

/* Send a cache entry's count towards the table and empty it: the oldest
 * pending word goes into the table, the entry takes its place in the ring
 * and its slot is prefetched. */
static void hot_flush(struct counter *c, struct hot_count *h)
{
    struct pending *q = &c->pend[c->next];
    if (q->len) wordtab_add_short(c->map, q->h, q->w0, q->w1, q->len, q->n);
    *q = (struct pending){ stok_hash(h->w0, h->w1, h->len), h->w0, h->w1, h->len, h->n };
    wordtab_prefetch(c->map, q->h);
    c->next = (c->next + 1) % PEND;
    h->len = 0;
}

/* Step 1: count one piece. */
static void count_piece(void *arg, const char *piece, size_t n)
{
    struct counter *c = arg;
    if (n > WORDTAB_SHORT) { wordtab_add(c->map, (const unsigned char *)piece, n, 1); return; }
    uint64_t w0, w1;
    short_key((const unsigned char *)piece, n, &w0, &w1);
    struct hot_count *h = &c->hot[stok_hash(w0, w1, n) >> (64 - HOTC_BITS)];
    if (h->w0 == w0 && h->w1 == w1 && h->len == n) {
        if (++h->n == UINT32_MAX) hot_flush(c, h);        /* before it wraps */
        return;
    }
    if (h->len) hot_flush(c, h);
    *h = (struct hot_count){ w0, w1, (uint32_t)n, 1 };
}

void bpe_trainer_add(struct bpe_trainer *tr, const char *const *texts, const size_t *lens, size_t n)
{
    #pragma omp parallel for num_threads(tr->nthreads) schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        int k = omp_get_thread_num();
        pretok_split(tr->ctx[k], texts[i], lens[i], count_piece, &tr->cnt[k]);
    }
}

/* ---- the words (idea 1) ---- */

/* Sum the threads' word counts into table 0 and return it. */
static struct wordtab *sum_thread_counts(struct bpe_trainer *tr)
{
    for (int k = 0; k < tr->nthreads; k++) {
        struct counter *c = &tr->cnt[k];
        for (size_t i = 0; i < (size_t)1 << HOTC_BITS; i++)
            if (c->hot[i].len) hot_flush(c, &c->hot[i]);
        for (int i = 0; i < PEND; i++)
            if (c->pend[i].len) wordtab_add_short(c->map, c->pend[i].h, c->pend[i].w0, c->pend[i].w1, c->pend[i].len, c->pend[i].n);
        free(tr->cnt[k].hot);
        tr->cnt[k].hot = NULL;
    }
    struct wordtab *wc = &tr->counts[0];
    for (int k = 1; k < tr->nthreads; k++) {
        wordtab_add_all(wc, &tr->counts[k]);
        wordtab_free(&tr->counts[k]);
    }
    return wc;
}

static void trainer_free(struct bpe_trainer *tr)
{
    for (int i = 0; i < tr->nthreads; i++) pretok_ctx_free(tr->ctx[i]);
    for (int i = 0; i < tr->nspecial; i++) free(tr->special[i]);
    free(tr->special); free(tr->special_len);
    free(tr->ctx); free(tr->counts); free(tr->cnt);
    pretok_free(tr->pre);
    free(tr);
}

struct tokenizer *bpe_trainer_finish(struct bpe_trainer *tr)
{
    uint32_t nmerges;
    uint32_t (*merges)[2] = bpe_learn(sum_thread_counts(tr), &tr->o, tr->o.vocab_size - (uint32_t)tr->nspecial,
                                      &nmerges);
    struct tokenizer *t = tok_from_merges(pretok_pattern(tr->pre), (const uint32_t (*)[2])merges, nmerges,
                                          (const char *const *)tr->special, tr->special_len, (uint32_t)tr->nspecial);
    char err[256];
    if (tok_finish(t, err, sizeof err)) die("internal error: trained tokenizer is invalid: %s", err);
    free(merges);
    trainer_free(tr);
    return t;
}

/* ---- from JSONL ---- */

/* Count documents lo..hi-1 into thread k's table (jsonl_par.h). */
static void count_docs(void *arg, const struct jsonl_batch *b, size_t lo, size_t hi, int k)
{
    struct bpe_trainer *tr = arg;
    for (size_t i = lo; i < hi; i++) pretok_split(tr->ctx[k], b->text[i], b->len[i], count_piece, &tr->cnt[k]);
}

/* Reading JSON is serial, counting is parallel: while the reading thread
 * parses batch k+1, the other threads count batch k (core/jsonl_par.h). */
/* --sample: a uniform random sample of k documents, held in memory
 * (sentencepiece's input_sentence_size).  Reservoir sampling (Vitter's
 * Algorithm R): the first k documents fill the reservoir; document i > k
 * replaces a random one of them with probability k / i, which leaves every
 * document in it with the same probability k / n at the end.  The seed is
 * fixed, so the same input gives the same sample and the same tok.bin. */
struct reservoir {
    char **text;
    size_t *len, k, n, next;
};

static void reservoir_fill(struct reservoir *r, struct jsonl_multi *m, uint64_t k)
{
    struct rng g;
    rng_seed(&g, 1);
    r->k = k;
    r->text = xcalloc(k, sizeof *r->text);
    r->len = xcalloc(k, sizeof *r->len);
    const char *t;
    size_t len;
    while (jsonl_multi_next(m, &t, &len)) {
        uint64_t j = r->n < k ? r->n : rng_below(&g, r->n + 1);
        r->n++;
        if (j >= k) continue;
        free(r->text[j]);
        r->text[j] = xmalloc(len + 1);
        memcpy(r->text[j], t, len);
        r->len[j] = len;
    }
}

static int reservoir_next(void *src, const char **text, size_t *len)
{
    struct reservoir *r = src;
    if (r->next >= r->k || r->next >= r->n) return 0;
    *text = r->text[r->next];
    *len = r->len[r->next++];
    return 1;
}

struct tokenizer *bpe_train_jsonl(char **paths, int npaths, const char *field, int skip_bad,
                                  const struct bpe_train_opts *o)
{
    struct bpe_trainer *tr = bpe_trainer_new(o);
    struct jsonl_multi m;
    struct reservoir res = { 0 };
    jsonl_multi_init(&m, paths, npaths, field, skip_bad);
    struct jsonl_par par = { .threads = tr->nthreads, .batch_bytes = 8u << 20, .what = "reading", .quiet = o->quiet,
                             .src = &m, .work = count_docs, .arg = tr };
    if (o->sample) {
        reservoir_fill(&res, &m, o->sample);
        par.next = reservoir_next;
        par.src = &res;
        par.what = "counting";
    }
    jsonl_par_run(&par);
    if (m.bad) warnx("skipped %ld malformed lines", m.bad);
    if (o->sample && !o->quiet && res.n > res.k)
        warnx("trained on a sample of %zu of the %zu documents", res.k, res.n);
    jsonl_multi_close(&m);
    for (size_t i = 0; i < res.k; i++) free(res.text[i]);
    free(res.text);
    free(res.len);
    return bpe_trainer_finish(tr);
}
