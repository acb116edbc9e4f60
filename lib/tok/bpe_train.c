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
 *   3. A priority queue with lazy updates.  A max-heap holds (count, pair)
 *      entries.  Counts only ever decrease for pairs without c, so an entry
 *      may be out of date: when the top entry's count differs from the true
 *      count, it is pushed back with the true count instead of being used.
 *      Pairs with c are new and are pushed after each merge.
 *
 * Tie-break (stated in bpe-train(1)): among pairs with the same count, the
 * one with the smaller left id wins, then the smaller right id.  Byte
 * tokens have id = byte value, so the first ties break in byte order.  No
 * step depends on the order of words or on thread timing, so the result is
 * identical for any --threads.
 */
#include "core/progress.h"
#include "tok/tokenizer_impl.h"
#include "core/jsonl.h"
#include "core/xio.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct bpe_trainer {
    struct bpe_train_opts o;
    char **special;             /* (nspecial) */
    size_t *special_len;
    int nspecial;
    struct pretok *pre;
    int nthreads;
    struct bytemap *counts;     /* (nthreads) word -> occurrences */
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
    for (int i = 0; i < tr->nthreads; i++) {
        bytemap_init(&tr->counts[i], 1 << 16);
        tr->ctx[i] = pretok_ctx_new(tr->pre);
    }
    return tr;
}

/* Step 1: count one piece. */
static void count_piece(void *arg, const char *piece, size_t n)
{
    (*bytemap_put(arg, piece, n, NULL))++;
}

void bpe_trainer_add(struct bpe_trainer *tr, const char *const *texts, const size_t *lens, size_t n)
{
    #pragma omp parallel for num_threads(tr->nthreads) schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        int k = omp_get_thread_num();
        pretok_split(tr->ctx[k], texts[i], lens[i], count_piece, &tr->counts[k]);
    }
}

uint64_t bpe_trainer_unique(const struct bpe_trainer *tr) { return tr->counts[0].n; }

/* ---- pair statistics ---- */
struct pair {
    uint32_t a, b;              /* the pair (left id, right id) */
    int64_t count;              /* sum over words of count(w) * occurrences in w */
    uint32_t *where;            /* words that may contain it */
    uint32_t nwhere, cwhere;
    uint32_t pushed;            /* the merge after which it was last pushed (+1) */
};

struct heap_entry { int64_t count; uint64_t ab; uint32_t pair; };   /* ab = a << 32 | b */

struct state {
    struct pair *pairs;
    size_t npairs, cpairs;
    struct u64map index;        /* a << 32 | b -> index in pairs */
    struct heap_entry *heap;
    size_t nheap, cheap;
};

static uint32_t pair_index(struct state *s, uint32_t a, uint32_t b)
{
    int added;
    uint64_t *v = u64map_put(&s->index, (uint64_t)a << 32 | b, &added);
    if (added) {
        if (s->npairs == s->cpairs) s->pairs = xrealloc(s->pairs, (s->cpairs *= 2) * sizeof *s->pairs);
        struct pair *p = &s->pairs[s->npairs];
        memset(p, 0, sizeof *p);
        p->a = a; p->b = b;
        *v = s->npairs++;
    }
    return (uint32_t)*v;
}

static void add_where(struct pair *p, uint32_t w)
{
    if (p->nwhere && p->where[p->nwhere - 1] == w) return;     /* twice in one word */
    if (p->nwhere == p->cwhere) {
        p->cwhere = p->cwhere ? 2 * p->cwhere : 4;
        p->where = xrealloc(p->where, p->cwhere * sizeof *p->where);
    }
    p->where[p->nwhere++] = w;
}

/* Heap order: higher count first; on equal counts the smaller (a, b). */
static int before(struct heap_entry x, struct heap_entry y)
{
    if (x.count != y.count) return x.count > y.count;
    return x.ab < y.ab;     /* smaller a, then smaller b */
}

static void heap_push(struct state *s, struct heap_entry e)
{
    if (s->nheap == s->cheap) s->heap = xrealloc(s->heap, (s->cheap = s->cheap ? 2 * s->cheap : 1024) * sizeof *s->heap);
    size_t i = s->nheap++;
    while (i > 0 && before(e, s->heap[(i - 1) / 2])) { s->heap[i] = s->heap[(i - 1) / 2]; i = (i - 1) / 2; }
    s->heap[i] = e;
}

static struct heap_entry heap_pop(struct state *s)
{
    struct heap_entry top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(s->heap[c + 1], s->heap[c])) c++;
        if (!before(s->heap[c], last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Print a token's bytes for --verbose, escaping what is not printable. */
static void put_token(FILE *f, const struct bytemap *tokens, const uint64_t *off, const uint32_t *len, uint32_t id)
{
    const unsigned char *p = (const unsigned char *)tokens->arena + off[id];
    for (uint32_t i = 0; i < len[id]; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') fputc(p[i], f);
        else fprintf(f, "\\x%02x", p[i]);
    }
}

struct tokenizer *bpe_trainer_finish(struct bpe_trainer *tr)
{
    /* Sum the threads' word counts into table 0. */
    struct bytemap *wc = &tr->counts[0];
    for (int k = 1; k < tr->nthreads; k++) {
        struct bytemap *m = &tr->counts[k];
        for (size_t i = 0; i < m->cap; i++) {
            const struct bytemap_slot *sl = &m->slot[i];
            if (sl->hash) *bytemap_put_h(wc, sl->hash, bytemap_key(m, sl), sl->len, NULL) += sl->val;
        }
        bytemap_free(m);
    }

    /* The words, each a sequence of token ids, initially its bytes.
     * Words of one byte have no pairs and are left out. */
    size_t nw = 0, nsym = 0;
    for (size_t i = 0; i < wc->cap; i++)
        if (wc->slot[i].hash && wc->slot[i].len > 1) { nw++; nsym += wc->slot[i].len; }
    uint32_t *sym = xmalloc((nsym + 1) * sizeof *sym);
    uint64_t *woff = xmalloc((nw + 1) * sizeof *woff);
    uint32_t *wlen = xmalloc((nw + 1) * sizeof *wlen);
    int64_t *wcount = xmalloc((nw + 1) * sizeof *wcount);
    uint32_t *stamp = xcalloc(nw + 1, sizeof *stamp);
    nw = nsym = 0;
    for (size_t i = 0; i < wc->cap; i++) {
        const struct bytemap_slot *sl = &wc->slot[i];
        if (!sl->hash || sl->len < 2) continue;
        const unsigned char *k = (const unsigned char *)bytemap_key(wc, sl);
        woff[nw] = nsym; wlen[nw] = sl->len; wcount[nw] = (int64_t)sl->val;
        for (uint32_t j = 0; j < sl->len; j++) sym[nsym++] = k[j];
        nw++;
    }
    bytemap_free(wc);

    /* Count every pair once (idea 2) and fill the heap. */
    struct state s = { 0 };
    s.cpairs = 1 << 16;
    s.pairs = xmalloc(s.cpairs * sizeof *s.pairs);
    u64map_init(&s.index, 1 << 16);
    for (size_t w = 0; w < nw; w++) {
        uint32_t *x = sym + woff[w];
        for (uint32_t j = 0; j + 1 < wlen[w]; j++) {
            struct pair *p = &s.pairs[pair_index(&s, x[j], x[j + 1])];
            p->count += wcount[w];
            add_where(p, (uint32_t)w);
        }
    }
    if (tr->o.verbose)
        fprintf(stderr, "%s: %zu distinct pieces of 2 bytes or more, %zu distinct pairs\n", tfs_prog, nw, s.npairs);
    for (size_t i = 0; i < s.npairs; i++) heap_push(&s, (struct heap_entry){ s.pairs[i].count, (uint64_t)s.pairs[i].a << 32 | s.pairs[i].b, (uint32_t)i });

    /* Token bytes, to mint each new token's bytes and to spot a merge whose
     * bytes are already a token ("a"+"bc" after "ab"+"c"): that merge reuses
     * the existing id, so every token's bytes stay unique. */
    uint32_t target = tr->o.vocab_size - (uint32_t)tr->nspecial;
    uint32_t cap_ids = target > 256 ? target : 256;
    struct bytemap tokens;
    bytemap_init(&tokens, cap_ids);
    uint64_t *toff = xmalloc(cap_ids * sizeof *toff);
    uint32_t *tlen = xmalloc(cap_ids * sizeof *tlen);
    for (uint32_t b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        *bytemap_put(&tokens, &c, 1, NULL) = b;
        toff[b] = tokens.arena_len - 1; tlen[b] = 1;
    }
    uint32_t (*merges)[2] = xmalloc(cap_ids * sizeof *merges);
    uint32_t nmerges = 0, nid = 256, step = 0;
    uint32_t *touched = NULL;
    size_t ntouched = 0, ctouched = 0;
    uint32_t *tmp = NULL, *mp = NULL;    /* the rewritten word; positions of c in it */
    size_t ctmp = 0;
    char *cat = NULL;
    size_t ccat = 0;
    int64_t min_freq = (int64_t)(tr->o.min_frequency ? tr->o.min_frequency : 1);
    struct progress prog;
    progress_start(&prog, "merges", target - 256, tr->o.quiet);

    while (nid < target && s.nheap) {
        /* Pick the best pair (idea 3): refresh stale entries lazily. */
        struct heap_entry top = heap_pop(&s);
        struct pair *bp = &s.pairs[top.pair];
        if (top.count != bp->count) {
            if (bp->count > 0) heap_push(&s, (struct heap_entry){ bp->count, top.ab, top.pair });
            continue;
        }
        if (bp->count < min_freq) break;
        uint32_t a = bp->a, b = bp->b;
        step++;

        /* Mint an id for a b (or find the token that already has its bytes). */
        size_t n = (size_t)tlen[a] + tlen[b];
        if (n > ccat) { ccat = 2 * n; cat = xrealloc(cat, ccat); }
        memcpy(cat, tokens.arena + toff[a], tlen[a]);
        memcpy(cat + tlen[a], tokens.arena + toff[b], tlen[b]);
        int added;
        uint64_t *cv = bytemap_put(&tokens, cat, n, &added);
        if (added) {
            *cv = nid;
            toff[nid] = tokens.arena_len - n; tlen[nid] = (uint32_t)n;
            merges[nmerges][0] = a; merges[nmerges][1] = b;
            nmerges++;
            nid++;
        }
        uint32_t c = (uint32_t)*cv;
        if (tr->o.verbose) {
            fprintf(stderr, "%s: merge %u: %u + %u -> %u count %lld '", tfs_prog, step, a, b, c, (long long)bp->count);
            put_token(stderr, &tokens, toff, tlen, c);
            fprintf(stderr, "'%s\n", added ? "" : " (already a token)");
        }

        /* Replace a b by c in every word that holds it (idea 2). */
        uint32_t *where = bp->where, nwhere = bp->nwhere;
        bp->where = NULL; bp->nwhere = bp->cwhere = 0;
        ntouched = 0;
        for (uint32_t k = 0; k < nwhere; k++) {
            uint32_t w = where[k];
            if (stamp[w] == step) continue;     /* listed twice */
            stamp[w] = step;
            uint32_t *x = sym + woff[w], m = wlen[w];
            uint32_t j;
            for (j = 0; j + 1 < m; j++) if (x[j] == a && x[j + 1] == b) break;
            if (j + 1 >= m) continue;           /* stale: merged away earlier */
            int64_t cnt = wcount[w];
            if (m > ctmp) { ctmp = 2 * m; tmp = xrealloc(tmp, ctmp * sizeof *tmp); mp = xrealloc(mp, ctmp * sizeof *mp); }
            /* Rewrite the word left to right, non-overlapping.  Only pairs
             * touching a replaced "a b" change: e.g. x a b y -> x c y
             * removes (x,a) (a,b) (b,y) and adds (x,c) (c,y).  Old pair j is
             * (x[j], x[j+1]); last_rm keeps a pair shared by two matches
             * (a b a b: the middle (b,a)) from being removed twice. */
            uint32_t o = 0, nm = 0;
            int64_t last_rm = -1;
            for (uint32_t i = 0; i < m;) {
                if (i + 1 < m && x[i] == a && x[i + 1] == b) {
                    for (int64_t jj = (int64_t)i - 1; jj <= (int64_t)i + 1; jj++)
                        if (jj >= 0 && jj + 1 < (int64_t)m && jj > last_rm) {
                            s.pairs[pair_index(&s, x[jj], x[jj + 1])].count -= cnt;
                            last_rm = jj;
                        }
                    mp[nm++] = o;
                    tmp[o++] = c;
                    i += 2;
                } else tmp[o++] = x[i++];
            }
            memcpy(x, tmp, o * sizeof *x);
            wlen[w] = o;
            /* Add the new pairs around each c; they are new words for where[]. */
            int64_t last_add = -1;
            for (uint32_t k = 0; k < nm; k++) {
                for (int64_t jj = (int64_t)mp[k] - 1; jj <= (int64_t)mp[k]; jj++) {
                    if (jj < 0 || jj + 1 >= (int64_t)o || jj <= last_add) continue;
                    last_add = jj;
                    uint32_t pi = pair_index(&s, x[jj], x[jj + 1]);
                    struct pair *p = &s.pairs[pi];
                    p->count += cnt;
                    add_where(p, w);
                    if (p->pushed != step) {
                        p->pushed = step;
                        if (ntouched == ctouched) touched = xrealloc(touched, (ctouched = ctouched ? 2 * ctouched : 256) * sizeof *touched);
                        touched[ntouched++] = pi;
                    }
                }
            }
        }
        free(where);
        /* Queue the new pairs with their counts. */
        for (size_t k = 0; k < ntouched; k++)
            if (s.pairs[touched[k]].count > 0)
                heap_push(&s, (struct heap_entry){ s.pairs[touched[k]].count,
                                                   (uint64_t)s.pairs[touched[k]].a << 32 | s.pairs[touched[k]].b, touched[k] });
        progress_update(&prog, nid - 256, "%u merges", nmerges);
    }
    progress_end(&prog);
    if (nid < target)
        warnx("stopped at %u merges (vocabulary %u of %u): no pair occurs %s", nmerges,
              nid + (uint32_t)tr->nspecial, tr->o.vocab_size,
              s.nheap ? "often enough (--min-frequency)" : "any more");

    struct tokenizer *t = tok_from_merges(pretok_pattern(tr->pre), (const uint32_t (*)[2])merges, nmerges,
                                          (const char *const *)tr->special, tr->special_len, (uint32_t)tr->nspecial);
    char err[256];
    if (tok_finish(t, err, sizeof err)) die("internal error: trained tokenizer is invalid: %s", err);

    for (size_t i = 0; i < s.npairs; i++) free(s.pairs[i].where);
    free(s.pairs); free(s.heap); u64map_free(&s.index);
    bytemap_free(&tokens);
    free(toff); free(tlen); free(merges); free(touched); free(tmp); free(mp); free(cat);
    free(sym); free(woff); free(wlen); free(wcount); free(stamp);
    for (int i = 0; i < tr->nthreads; i++) pretok_ctx_free(tr->ctx[i]);
    for (int i = 0; i < tr->nspecial; i++) free(tr->special[i]);
    free(tr->special); free(tr->special_len);
    free(tr->ctx); free(tr->counts);
    pretok_free(tr->pre);
    free(tr);
    return t;
}

/* A batch of documents copied out of the reader. */
struct batch {
    char *buf;
    size_t cap, used;
    size_t *off, *len, nd, cd;
    const char **texts;
};

static void batch_push(struct batch *b, const char *text, size_t len)
{
    if (b->nd == b->cd) {
        b->cd = b->cd ? 2 * b->cd : 4096;
        b->off = xrealloc(b->off, b->cd * sizeof *b->off);
        b->len = xrealloc(b->len, b->cd * sizeof *b->len);
        b->texts = xrealloc(b->texts, b->cd * sizeof *b->texts);
    }
    if (b->used + len > b->cap) {
        b->cap = b->cap ? b->cap : 1 << 20;
        while (b->used + len > b->cap) b->cap *= 2;
        b->buf = xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->used, text, len);
    b->off[b->nd] = b->used;
    b->len[b->nd++] = len;
    b->used += len;
}

/* Reading JSON is serial, counting is parallel: while the reading thread
 * parses batch k+1, the other threads count batch k (OpenMP tasks, a few per
 * thread; a task runs on one thread and counts into that thread's table). */
struct tokenizer *bpe_train_jsonl(char **paths, int npaths, const char *field, int skip_bad,
                                  const struct bpe_train_opts *o)
{
    struct bpe_trainer *tr = bpe_trainer_new(o);
    struct jsonl_multi m;
    static char dash[] = "-";
    static char *stdin_only[] = { dash };
    if (npaths == 0) { paths = stdin_only; npaths = 1; }
    jsonl_multi_init(&m, paths, npaths, field, skip_bad);
    struct batch b[2] = { { 0 }, { 0 } };
    const size_t batch_bytes = 8u << 20;
    uint64_t bytes = 0;
    struct progress prog;
    progress_start(&prog, "reading", 0, o->quiet);
    #pragma omp parallel num_threads(tr->nthreads)
    #pragma omp single
    {
        int more = 1;
        for (int cur = 0; more; cur ^= 1) {
            struct batch *bt = &b[cur];
            const char *text;
            size_t len;
            bt->nd = bt->used = 0;
            while (bt->used < batch_bytes && (more = jsonl_multi_next(&m, &text, &len))) {
                batch_push(bt, text, len);
                bytes += len;
            }
            for (size_t i = 0; i < bt->nd; i++) bt->texts[i] = bt->buf + bt->off[i];
            #pragma omp taskwait
            progress_update(&prog, bytes, "%.1f MB", (double)bytes / 1e6);
            /* 8 tasks per thread (libgomp runs tasks at once, unqueued,
             * beyond 64 per thread, which would stop the reading) */
            size_t per = (bt->nd + 8 * (size_t)tr->nthreads - 1) / (8 * (size_t)tr->nthreads);
            if (per == 0) per = 1;
            for (size_t lo = 0; lo < bt->nd; lo += per) {
                size_t hi = lo + per < bt->nd ? lo + per : bt->nd;
                #pragma omp task firstprivate(lo, hi, bt)
                {
                    int k = omp_get_thread_num();
                    for (size_t i = lo; i < hi; i++)
                        pretok_split(tr->ctx[k], bt->texts[i], bt->len[i], count_piece, &tr->counts[k]);
                }
            }
        }
        #pragma omp taskwait
    }
    progress_end(&prog);
    if (m.bad) warnx("skipped %ld malformed lines", m.bad);
    jsonl_multi_close(&m);
    for (int i = 0; i < 2; i++) { free(b[i].buf); free(b[i].off); free(b[i].len); free(b[i].texts); }
    return bpe_trainer_finish(tr);
}
