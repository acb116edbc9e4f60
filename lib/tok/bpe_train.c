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
 * bpe_trainer_finish runs the steps in order: sum_thread_counts,
 * words_from_counts, count_pairs, then learn_merges, which for each merge
 * picks the best pair (pop_best), gives it an id (vocab_mint) and rewrites
 * the words that hold it (apply_merge, rewrite_word).
 */
#include "tok/tokenizer_impl.h"
#include "tok/stok.h"
#include "core/heap.h"
#include "core/jsonl.h"
#include "core/jsonl_par.h"
#include "core/progress.h"
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
struct counter {
    struct bytemap *map;
    struct hot_count *hot;      /* (1 << HOTC_BITS) */
};

struct bpe_trainer {
    struct bpe_train_opts o;
    char **special;             /* (nspecial) */
    size_t *special_len;
    int nspecial;
    struct pretok *pre;
    int nthreads;
    struct bytemap *counts;     /* (nthreads) word -> occurrences */
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
        bytemap_init(&tr->counts[i], 1 << 16);
        tr->cnt[i].map = &tr->counts[i];
        tr->cnt[i].hot = xcalloc((size_t)1 << HOTC_BITS, sizeof *tr->cnt[i].hot);
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

/* Add a cache entry's count into the table and empty it. */
static void hot_flush(struct bytemap *m, struct hot_count *h)
{
    unsigned char k[16];
    memcpy(k, &h->w0, 8);
    memcpy(k + 8, &h->w1, 8);
    *bytemap_put(m, k, h->len, NULL) += h->n;
    h->len = 0;
}

/* Step 1: count one piece. */
static void count_piece(void *arg, const char *piece, size_t n)
{
    struct counter *c = arg;
    if (n > 16) { (*bytemap_put(c->map, piece, n, NULL))++; return; }
    uint64_t w0, w1;
    short_key((const unsigned char *)piece, n, &w0, &w1);
    struct hot_count *h = &c->hot[stok_hash(w0, w1, n) >> (64 - HOTC_BITS)];
    if (h->w0 == w0 && h->w1 == w1 && h->len == n) { h->n++; return; }
    if (h->len) hot_flush(c->map, h);
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
static struct bytemap *sum_thread_counts(struct bpe_trainer *tr)
{
    for (int k = 0; k < tr->nthreads; k++) {
        for (size_t i = 0; i < (size_t)1 << HOTC_BITS; i++)
            if (tr->cnt[k].hot[i].len) hot_flush(&tr->counts[k], &tr->cnt[k].hot[i]);
        free(tr->cnt[k].hot);
        tr->cnt[k].hot = NULL;
    }
    struct bytemap *wc = &tr->counts[0];
    for (int k = 1; k < tr->nthreads; k++) {
        struct bytemap *m = &tr->counts[k];
        for (size_t i = 0; i < m->cap; i++) {
            const struct bytemap_slot *sl = &m->slot[i];
            if (sl->hash) *bytemap_put_h(wc, sl->hash, bytemap_key(m, sl), sl->len, NULL) += sl->val;
        }
        bytemap_free(m);
    }
    return wc;
}

/* The distinct words, each a sequence of token ids that merges rewrite in
 * place (a word only gets shorter).  Each word is one record, its count,
 * stamp and length in front of its symbols, so that visiting a word costs
 * one or two cache lines rather than a miss in each of five arrays: the
 * merge loop visits words in the order of a where[] list, which is all
 * over memory, and waits on those misses more than it computes.  A word is
 * named by the offset of its record in 8-byte units (where[] lists hold
 * these), so records stay 8-byte aligned. */
struct word {
    int64_t count;              /* occurrences in the corpus */
    uint32_t stamp;             /* the last merge step that visited it */
    uint32_t len;               /* symbols now */
    uint32_t sym[];             /* (len) token ids, at first its bytes */
};

struct words {
    size_t n;                   /* words */
    uint64_t *rec;              /* the records; a word is an offset into it */
    size_t nrec;                /* 8-byte units used */
};

static struct word *word_at(const struct words *W, uint32_t w) { return (struct word *)(W->rec + w); }

/* The 8-byte units of a record of len symbols (header, then 4 bytes each). */
static size_t word_units(size_t len) { return (sizeof(struct word) + 4 * len + 7) / 8; }

/* Initially each word is its bytes (byte b is token b).  Words of one byte
 * have no pairs and are left out.  Frees the count table. */
static void words_from_counts(struct words *W, struct bytemap *wc)
{
    size_t nw = 0, nrec = 0;
    for (size_t i = 0; i < wc->cap; i++)
        if (wc->slot[i].hash && wc->slot[i].len > 1) { nw++; nrec += word_units(wc->slot[i].len); }
    if (nrec > UINT32_MAX) die("too many distinct pieces to train on (%zu); try --sample", nw);
    W->rec = xmalloc((nrec + 1) * sizeof *W->rec);
    W->n = nw;
    W->nrec = nrec;
    nrec = 0;
    for (size_t i = 0; i < wc->cap; i++) {
        const struct bytemap_slot *sl = &wc->slot[i];
        if (!sl->hash || sl->len < 2) continue;
        const unsigned char *k = (const unsigned char *)bytemap_key(wc, sl);
        struct word *wd = word_at(W, (uint32_t)nrec);
        wd->count = (int64_t)sl->val; wd->stamp = 0; wd->len = sl->len;
        for (uint32_t j = 0; j < sl->len; j++) wd->sym[j] = k[j];
        nrec += word_units(sl->len);
    }
    bytemap_free(wc);
}

static void words_free(struct words *W) { free(W->rec); }

/* ---- pair statistics (ideas 2 and 3) ---- */
struct pair {
    uint32_t a, b;              /* the pair (left id, right id) */
    int64_t count;              /* sum over words of count(w) * occurrences in w */
    uint32_t *where;            /* words that may contain it; its capacity is where_cap(nwhere) */
    uint32_t nwhere;
    uint32_t pushed;            /* the merge after which it was last pushed (+1) */
};                              /* 32 bytes: half a million of them after 30k merges */

/* Finding a pair's record: a pair of two bytes (every pair at the start,
 * many in the first merges) by direct index a * 256 + b; any other by a
 * hash table of (a << 32 | b, index) slots, linear probing, at most half
 * full.  Key and index share a 16-byte slot, so a look-up costs one cache
 * miss, not one in a key array and one in a value array. */
#define PAIR_NONE UINT32_MAX
struct pair_slot { uint64_t key; uint32_t i, unused; };        /* key UINT64_MAX: empty */

struct pairs {
    struct pair *p;
    size_t n, cap;
    uint32_t *byte_pair;        /* (256 * 256) index of the pair of bytes (a, b), or PAIR_NONE */
    struct pair_slot *slot;     /* (nslot) the other pairs */
    size_t nslot, nused;
    struct heap heap;           /* (INT64_MAX - count, a << 32 | b): see queue_pair */
    uint32_t *touched;          /* pairs made by the current merge */
    size_t ntouched, ctouched;
};

static void pairs_init(struct pairs *s)
{
    memset(s, 0, sizeof *s);
    s->cap = 1 << 16;
    s->p = xmalloc(s->cap * sizeof *s->p);
    s->byte_pair = xmalloc(256 * 256 * sizeof *s->byte_pair);
    memset(s->byte_pair, 0xff, 256 * 256 * sizeof *s->byte_pair);
    s->nslot = 1 << 17;
    s->slot = xmalloc(s->nslot * sizeof *s->slot);
    memset(s->slot, 0xff, s->nslot * sizeof *s->slot);
}

/* The slot of key, or the empty slot where it would go. */
static struct pair_slot *pair_slot(const struct pairs *s, uint64_t key)
{
    size_t mask = s->nslot - 1, i = (size_t)hash_u64(key) & mask;
    while (s->slot[i].key != key && s->slot[i].key != UINT64_MAX) i = (i + 1) & mask;
    return &s->slot[i];
}

/* Double the hash table (re-inserting every key) when it is half full. */
static void pair_slots_grow(struct pairs *s)
{
    struct pair_slot *old = s->slot;
    size_t nold = s->nslot;
    s->nslot *= 2;
    s->slot = xmalloc(s->nslot * sizeof *s->slot);
    memset(s->slot, 0xff, s->nslot * sizeof *s->slot);
    for (size_t j = 0; j < nold; j++)
        if (old[j].key != UINT64_MAX) *pair_slot(s, old[j].key) = old[j];
    free(old);
}

/* A new pair record (a, b) with count 0; its index. */
static uint32_t pair_new(struct pairs *s, uint32_t a, uint32_t b)
{
    if (s->n == s->cap) s->p = xrealloc(s->p, (s->cap *= 2) * sizeof *s->p);
    struct pair *p = &s->p[s->n];
    memset(p, 0, sizeof *p);
    p->a = a; p->b = b;
    return (uint32_t)s->n++;
}

/* The index of pair (a, b), creating its record if it has none. */
static uint32_t pair_index(struct pairs *s, uint32_t a, uint32_t b)
{
    if ((a | b) < 256) {
        uint32_t *i = &s->byte_pair[a << 8 | b];
        if (*i == PAIR_NONE) *i = pair_new(s, a, b);
        return *i;
    }
    uint64_t key = (uint64_t)a << 32 | b;
    struct pair_slot *sl = pair_slot(s, key);
    if (sl->key == key) return sl->i;
    if (2 * (s->nused + 1) > s->nslot) {
        pair_slots_grow(s);
        sl = pair_slot(s, key);
    }
    s->nused++;
    sl->key = key;
    return sl->i = pair_new(s, a, b);
}

/* The index of pair (a, b), which has a record. */
static uint32_t pair_find(const struct pairs *s, uint32_t a, uint32_t b)
{
    if ((a | b) < 256) return s->byte_pair[a << 8 | b];
    return pair_slot(s, (uint64_t)a << 32 | b)->i;
}

/* The capacity of a where[] list of n entries: 4, then doubled as needed
 * (so it is not stored: 0, then a power of two from 4 on). */
static int where_full(uint32_t n)
{
    return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static void add_where(struct pair *p, uint32_t w)
{
    if (p->nwhere && p->where[p->nwhere - 1] == w) return;     /* twice in one word */
    if (where_full(p->nwhere))
        p->where = xrealloc(p->where, (p->nwhere ? 2 * p->nwhere : 4) * sizeof *p->where);
    p->where[p->nwhere++] = w;
}

/* A pair whose count has dropped to 0 is in no word any more: its where[]
 * list is dropped (a later word that makes the pair again starts a new
 * one).  About a sixth of the pairs end so; this keeps the peak memory down. */
static void drop_where(struct pair *p)
{
    free(p->where);
    p->where = NULL;
    p->nwhere = 0;
}

/* Push pair i with its current count.  The heap's top is its smallest
 * (key, val); we want the largest count, then the smallest (a, b).  Counts
 * are > 0, so key = INT64_MAX - count grows as the count shrinks, and
 * val = a << 32 | b orders equal counts by a, then b. */
static void queue_pair(struct pairs *s, uint32_t i)
{
    const struct pair *p = &s->p[i];
    if (p->count > 0) heap_push(&s->heap, (uint64_t)(INT64_MAX - p->count), (uint64_t)p->a << 32 | p->b);
}

/* count[(a,b)] for every adjacent pair of every word, and where[] lists. */
static void count_pairs(struct pairs *s, const struct words *W)
{
    pairs_init(s);
    for (size_t w = 0; w < W->nrec; w += word_units(word_at(W, (uint32_t)w)->len)) {
        const struct word *wd = word_at(W, (uint32_t)w);
        for (uint32_t j = 0; j + 1 < wd->len; j++) {
            struct pair *p = &s->p[pair_index(s, wd->sym[j], wd->sym[j + 1])];
            p->count += wd->count;
            add_where(p, (uint32_t)w);
        }
    }
    heap_init(&s->heap, s->n);
    for (size_t i = 0; i < s->n; i++) queue_pair(s, (uint32_t)i);
}

/* The pair to merge next, or -1 when none is left.  Entries are refreshed
 * lazily (idea 3): a popped entry whose count is out of date goes back in
 * with the true count instead of being used. */
static int64_t pop_best(struct pairs *s)
{
    while (s->heap.n) {
        struct heap_item top = heap_pop(&s->heap);
        uint32_t i = pair_find(s, (uint32_t)(top.val >> 32), (uint32_t)top.val);
        if (INT64_MAX - (int64_t)top.key == s->p[i].count) return i;
        queue_pair(s, i);
    }
    return -1;
}

static void pairs_free(struct pairs *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->p[i].where);
    free(s->p); free(s->touched);
    free(s->byte_pair); free(s->slot);
    heap_free(&s->heap);
}

/* ---- the vocabulary being built ---- */

/* Token bytes, to mint each new token's bytes and to spot a merge whose
 * bytes are already a token ("a"+"bc" after "ab"+"c"): that merge reuses
 * the existing id, so every token's bytes stay unique. */
struct vocab {
    struct bytemap tokens;      /* bytes -> id */
    uint64_t *off;              /* id -> its bytes at tokens.arena + off[id] */
    uint32_t *len;
    uint32_t (*merges)[2];      /* merges[i] made id 256 + i */
    uint32_t nmerges, nid;      /* nid: the next free id */
    char *cat;                  /* scratch: a's bytes then b's */
    size_t ccat;
};

static void vocab_init(struct vocab *v, uint32_t cap_ids)
{
    memset(v, 0, sizeof *v);
    bytemap_init(&v->tokens, cap_ids);
    v->off = xmalloc(cap_ids * sizeof *v->off);
    v->len = xmalloc(cap_ids * sizeof *v->len);
    v->merges = xmalloc(cap_ids * sizeof *v->merges);
    for (uint32_t b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        *bytemap_put(&v->tokens, &c, 1, NULL) = b;
        v->off[b] = v->tokens.arena_len - 1; v->len[b] = 1;
    }
    v->nid = 256;
}

/* The id of the token with a's bytes followed by b's: a new one (*added),
 * recorded as a merge, or the one that already has those bytes. */
static uint32_t vocab_mint(struct vocab *v, uint32_t a, uint32_t b, int *added)
{
    size_t n = (size_t)v->len[a] + v->len[b];
    if (n > v->ccat) { v->ccat = 2 * n; v->cat = xrealloc(v->cat, v->ccat); }
    memcpy(v->cat, v->tokens.arena + v->off[a], v->len[a]);
    memcpy(v->cat + v->len[a], v->tokens.arena + v->off[b], v->len[b]);
    uint64_t *cv = bytemap_put(&v->tokens, v->cat, n, added);
    if (*added) {
        *cv = v->nid;
        v->off[v->nid] = v->tokens.arena_len - n; v->len[v->nid] = (uint32_t)n;
        v->merges[v->nmerges][0] = a; v->merges[v->nmerges][1] = b;
        v->nmerges++;
        v->nid++;
    }
    return (uint32_t)*cv;
}

static void vocab_free(struct vocab *v)
{
    bytemap_free(&v->tokens);
    free(v->off); free(v->len); free(v->merges); free(v->cat);
}

/* Print a token's bytes for --verbose, escaping what is not printable. */
static void put_token(FILE *f, const struct vocab *v, uint32_t id)
{
    const unsigned char *p = (const unsigned char *)v->tokens.arena + v->off[id];
    for (uint32_t i = 0; i < v->len[id]; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') fputc(p[i], f);
        else fprintf(f, "\\x%02x", p[i]);
    }
}

/* ---- one merge (idea 2) ---- */

/* Scratch for rewrite_word: the rewritten word, and where c is in it. */
struct scratch { uint32_t *tmp, *mp; size_t cap; };

/* Replace a b by c in word w, left to right and non-overlapping, and update
 * the pair counts.  Only pairs touching a replaced "a b" change: e.g.
 * x a b y -> x c y removes (x,a) (a,b) (b,y) and adds (x,c) (c,y), each
 * weighted by the word's count.  (a,b) itself is left to apply_merge: every
 * occurrence goes, so its count ends at 0.  The new pairs go to s->touched. */
static void rewrite_word(struct pairs *s, struct word *wd, struct scratch *sc, uint32_t w,
                         uint32_t a, uint32_t b, uint32_t c, uint32_t step)
{
    uint32_t *x = wd->sym, m = wd->len;
    uint32_t j;
    for (j = 0; j + 1 < m; j++) if (x[j] == a && x[j + 1] == b) break;
    if (j + 1 >= m) return;             /* stale: merged away earlier */
    int64_t cnt = wd->count;
    if (m > sc->cap) {
        sc->cap = 2 * m;
        sc->tmp = xrealloc(sc->tmp, sc->cap * sizeof *sc->tmp);
        sc->mp = xrealloc(sc->mp, sc->cap * sizeof *sc->mp);
    }
    /* Old pair j is (x[j], x[j+1]); last_rm keeps a pair shared by two
     * matches (a b a b: the middle (b,a)) from being removed twice.  The
     * first j symbols have no match: copy them as they are. */
    memcpy(sc->tmp, x, j * sizeof *x);
    uint32_t o = j, nm = 0;
    int64_t last_rm = -1;
    for (uint32_t i = j; i < m;) {
        if (i + 1 < m && x[i] == a && x[i + 1] == b) {
            /* the neighbours (x[i-1], a) and (b, x[i+2]) */
            if (i >= 1 && (int64_t)i - 1 > last_rm) {
                struct pair *p = &s->p[pair_find(s, x[i - 1], a)];
                if ((p->count -= cnt) == 0) drop_where(p);
            }
            if (i + 2 < m) {
                struct pair *p = &s->p[pair_find(s, b, x[i + 2])];
                if ((p->count -= cnt) == 0) drop_where(p);
            }
            last_rm = i + 1;
            sc->mp[nm++] = o;
            sc->tmp[o++] = c;
            i += 2;
        } else sc->tmp[o++] = x[i++];
    }
    memcpy(x, sc->tmp, o * sizeof *x);
    wd->len = o;
    /* Add the new pairs around each c; w is a new word for their where[]. */
    int64_t last_add = -1;
    for (uint32_t k = 0; k < nm; k++) {
        for (int64_t jj = (int64_t)sc->mp[k] - 1; jj <= (int64_t)sc->mp[k]; jj++) {
            if (jj < 0 || jj + 1 >= (int64_t)o || jj <= last_add) continue;
            last_add = jj;
            uint32_t pi = pair_index(s, x[jj], x[jj + 1]);
            struct pair *p = &s->p[pi];
            p->count += cnt;
            add_where(p, w);
            if (p->pushed != step) {
                p->pushed = step;
                if (s->ntouched == s->ctouched)
                    s->touched = xrealloc(s->touched, (s->ctouched = s->ctouched ? 2 * s->ctouched : 256) * sizeof *s->touched);
                s->touched[s->ntouched++] = pi;
            }
        }
    }
}

/* How many words ahead apply_merge asks for a word's record: the loop is
 * bound by the cache misses of reading words scattered over memory, and
 * asking early lets several misses be under way at once. */
#define PREFETCH_AHEAD 8

/* Merge pair bi = (a, b) into c in every word that holds it, then queue
 * the pairs the merge made with their counts. */
static void apply_merge(struct pairs *s, struct words *W, struct scratch *sc, uint32_t bi,
                        uint32_t c, uint32_t step)
{
    struct pair *bp = &s->p[bi];        /* s->p may move below: copy what is needed */
    uint32_t a = bp->a, b = bp->b, *where = bp->where, nwhere = bp->nwhere;
    bp->where = NULL; bp->nwhere = 0;
    s->ntouched = 0;
    for (uint32_t k = 0; k < nwhere; k++) {
        if (k + PREFETCH_AHEAD < nwhere) __builtin_prefetch(word_at(W, where[k + PREFETCH_AHEAD]));
        uint32_t w = where[k];
        struct word *wd = word_at(W, w);
        if (wd->stamp == step) continue;        /* listed twice */
        wd->stamp = step;
        rewrite_word(s, wd, sc, w, a, b, c, step);
    }
    free(where);
    s->p[bi].count = 0;                 /* each "a b" was replaced: none is left */
    for (size_t k = 0; k < s->ntouched; k++) queue_pair(s, s->touched[k]);
}

/* ---- learning ---- */

/* Merge the best pair until the vocabulary has `target` ids, no pair is
 * left, or the best pair occurs fewer than --min-frequency times. */
static void learn_merges(const struct bpe_trainer *tr, struct pairs *s, struct words *W, struct vocab *v,
                         uint32_t target)
{
    int64_t min_freq = (int64_t)(tr->o.min_frequency ? tr->o.min_frequency : 1);
    struct scratch sc = { 0 };
    uint32_t step = 0;
    struct progress prog;
    progress_start(&prog, "merges", target - 256, tr->o.quiet);
    while (v->nid < target) {
        int64_t bi = pop_best(s);
        if (bi < 0) break;
        struct pair *bp = &s->p[bi];
        if (bp->count < min_freq) break;
        step++;
        int added;
        uint32_t c = vocab_mint(v, bp->a, bp->b, &added);
        if (tr->o.verbose) {
            fprintf(stderr, "%s: merge %u: %u + %u -> %u count %lld '", tfs_prog, step, bp->a, bp->b, c,
                    (long long)bp->count);
            put_token(stderr, v, c);
            fprintf(stderr, "'%s\n", added ? "" : " (already a token)");
        }
        apply_merge(s, W, &sc, (uint32_t)bi, c, step);
        progress_update(&prog, v->nid - 256, "%u merges", v->nmerges);
    }
    progress_end(&prog);
    free(sc.tmp); free(sc.mp);
    if (v->nid < target)
        warnx("stopped at %u merges (vocabulary %u of %u): no pair occurs %s", v->nmerges,
              v->nid + (uint32_t)tr->nspecial, tr->o.vocab_size,
              s->heap.n ? "often enough (--min-frequency)" : "any more");
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
    struct words W;
    words_from_counts(&W, sum_thread_counts(tr));
    struct pairs s = { 0 };
    count_pairs(&s, &W);
    if (tr->o.verbose)
        fprintf(stderr, "%s: %zu distinct pieces of 2 bytes or more, %zu distinct pairs\n", tfs_prog, W.n, s.n);
    uint32_t target = tr->o.vocab_size - (uint32_t)tr->nspecial;
    struct vocab v;
    vocab_init(&v, target > 256 ? target : 256);
    learn_merges(tr, &s, &W, &v, target);

    struct tokenizer *t = tok_from_merges(pretok_pattern(tr->pre), (const uint32_t (*)[2])v.merges, v.nmerges,
                                          (const char *const *)tr->special, tr->special_len, (uint32_t)tr->nspecial);
    char err[256];
    if (tok_finish(t, err, sizeof err)) die("internal error: trained tokenizer is invalid: %s", err);
    pairs_free(&s);
    vocab_free(&v);
    words_free(&W);
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
