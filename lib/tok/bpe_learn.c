/* bpe_learn.c - the merge loop of bpe-train (bpe_train.c counts the words
 * and explains the whole algorithm; this file is its ideas 2 and 3).
 *
 * In:  the distinct words (pre-tokens) of the corpus with their counts.
 * Out: the merges, in order: merge i joins (left id, right id) into id 256 + i.
 *
 * Data, all sized by the distinct words and pairs, not by the corpus:
 *   words   one record per word: count, stamp, length, its current ids;
 *   pairs   one record per distinct adjacent pair: count, where[] (the
 *           words that may hold it), found through a direct table (pairs
 *           of two bytes) or a hash table (the rest);
 *   heap    (count, pair) entries, refreshed lazily;
 *   vocab   each id's bytes, to name merged tokens and spot repeats.
 *
 * The merge loop is bound by memory latency, not arithmetic: each merge
 * visits the words of one where[] list, scattered over tens of megabytes,
 * and in each the pairs next to every replacement.  So a word is one record
 * (one or two cache lines), a pair look-up one slot, and the next words are
 * prefetched while the current one is rewritten.
 */
#include "tok/tokenizer_impl.h"
#include "tok/wordtab.h"
#include "core/heap.h"
#include "core/progress.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* ---- the words ---- */

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
static void words_from_counts(struct words *W, struct wordtab *wc)
{
    size_t nw = 0, nrec = 0;
    for (size_t i = 0; i < wc->cap; i++)
        if (wordtab_len(wc, &wc->slot[i]) > 1) { nw++; nrec += word_units(wordtab_len(wc, &wc->slot[i])); }
    if (nrec > UINT32_MAX) die("too many distinct pieces to train on (%zu); try --sample", nw);
    W->rec = xmalloc((nrec + 1) * sizeof *W->rec);
    advise_huge_pages(W->rec, (nrec + 1) * sizeof *W->rec);
    W->n = nw;
    W->nrec = nrec;
    nrec = 0;
    for (size_t i = 0; i < wc->cap; i++) {
        const struct wordtab_slot *sl = &wc->slot[i];
        uint32_t len = wordtab_len(wc, sl);
        if (len < 2) continue;
        unsigned char buf[WORDTAB_SHORT];
        const unsigned char *k = wordtab_bytes(wc, sl, buf);
        struct word *wd = word_at(W, (uint32_t)nrec);
        wd->count = (int64_t)wordtab_count(sl); wd->stamp = 0; wd->len = len;
        for (uint32_t j = 0; j < len; j++) wd->sym[j] = k[j];
        nrec += word_units(len);
    }
    wordtab_free(wc);
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
 * hash table, linear probing, at most half full.  A slot is 8 bytes: the
 * record's index and 32 more bits of the pair's hash (the tag), so a slot
 * whose tag differs is passed over without reading its record, and a
 * match is confirmed on the record, which the caller reads next anyway.
 * (Holding the key in the slot as well would double the table, 8 MB more
 * at the peak after 30k merges, for no fewer cache misses.) */
#define PAIR_NONE UINT32_MAX
struct pair_slot { uint32_t i, tag; };                          /* i PAIR_NONE: empty */

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

static uint64_t pair_hash(uint32_t a, uint32_t b) { return hash_u64((uint64_t)a << 32 | b); }

/* The slot of pair (a, b) with hash h, or the empty slot where it would go. */
static struct pair_slot *pair_slot(const struct pairs *s, uint32_t a, uint32_t b, uint64_t h)
{
    size_t mask = s->nslot - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct pair_slot *sl = &s->slot[i];
        if (sl->i == PAIR_NONE || (sl->tag == tag && s->p[sl->i].a == a && s->p[sl->i].b == b)) return sl;
    }
}

/* Double the hash table when it is half full, re-inserting every pair
 * (from the records: the slots do not hold the keys). */
static void pair_slots_grow(struct pairs *s)
{
    free(s->slot);
    s->nslot *= 2;
    s->slot = xmalloc(s->nslot * sizeof *s->slot);
    advise_huge_pages(s->slot, s->nslot * sizeof *s->slot);
    memset(s->slot, 0xff, s->nslot * sizeof *s->slot);
    size_t mask = s->nslot - 1;
    for (size_t j = 0; j < s->n; j++) {
        const struct pair *p = &s->p[j];
        if ((p->a | p->b) < 256) continue;
        uint64_t h = pair_hash(p->a, p->b);
        size_t i = (size_t)h & mask;
        while (s->slot[i].i != PAIR_NONE) i = (i + 1) & mask;
        s->slot[i] = (struct pair_slot){ (uint32_t)j, (uint32_t)(h >> 32) };
    }
}

/* A new pair record (a, b) with count 0; its index. */
static uint32_t pair_new(struct pairs *s, uint32_t a, uint32_t b)
{
    if (s->n == s->cap) {
        s->p = xrealloc(s->p, (s->cap *= 2) * sizeof *s->p);
        advise_huge_pages(s->p, s->cap * sizeof *s->p);
    }
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
    uint64_t h = pair_hash(a, b);
    struct pair_slot *sl = pair_slot(s, a, b, h);
    if (sl->i != PAIR_NONE) return sl->i;
    if (2 * (s->nused + 1) > s->nslot) {
        pair_slots_grow(s);
        sl = pair_slot(s, a, b, h);
    }
    s->nused++;
    uint32_t i = pair_new(s, a, b);
    *sl = (struct pair_slot){ i, (uint32_t)(h >> 32) };
    return i;
}

/* The index of pair (a, b), which has a record. */
static uint32_t pair_find(const struct pairs *s, uint32_t a, uint32_t b)
{
    if ((a | b) < 256) return s->byte_pair[a << 8 | b];
    return pair_slot(s, a, b, pair_hash(a, b))->i;
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
 * asking early lets several misses be under way at once.  (Prefetching the
 * pair slots of a word four words ahead as well made no difference that
 * could be measured.) */
#define WORD_AHEAD 8

/* Merge pair bi = (a, b) into c in every word that holds it, then queue
 * the pairs the merge made with their counts. */
static void apply_merge(struct pairs *s, struct words *W, struct scratch *sc, uint32_t bi,
                        uint32_t c, uint32_t step)
{
    struct pair *bp = &s->p[bi];        /* s->p may move below: copy what is needed */
    uint32_t a = bp->a, b = bp->b, *where = bp->where, nwhere = bp->nwhere;
    bp->where = NULL; bp->nwhere = 0;
    s->ntouched = 0;
    for (uint32_t k = 0; k < WORD_AHEAD && k < nwhere; k++) __builtin_prefetch(word_at(W, where[k]));
    for (uint32_t k = 0; k < nwhere; k++) {
        if (k + WORD_AHEAD < nwhere) __builtin_prefetch(word_at(W, where[k + WORD_AHEAD]));
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
static void learn_merges(const struct bpe_train_opts *o, struct pairs *s, struct words *W, struct vocab *v,
                         uint32_t target)
{
    int64_t min_freq = (int64_t)(o->min_frequency ? o->min_frequency : 1);
    struct scratch sc = { 0 };
    uint32_t step = 0;
    struct progress prog;
    progress_start(&prog, "merges", target - 256, o->quiet);
    while (v->nid < target) {
        int64_t bi = pop_best(s);
        if (bi < 0) break;
        struct pair *bp = &s->p[bi];
        if (bp->count < min_freq) break;
        step++;
        int added;
        uint32_t c = vocab_mint(v, bp->a, bp->b, &added);
        if (o->verbose) {
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
              v->nid + (o->vocab_size - target), o->vocab_size,
              s->heap.n ? "often enough (--min-frequency)" : "any more");
}

/* Everything above, in order (tokenizer_impl.h). */
uint32_t (*bpe_learn(struct wordtab *wc, const struct bpe_train_opts *o, uint32_t target, uint32_t *nmerges))[2]
{
    struct words W;
    words_from_counts(&W, wc);
    struct pairs s;
    count_pairs(&s, &W);
    if (o->verbose)
        fprintf(stderr, "%s: %zu distinct pieces of 2 bytes or more, %zu distinct pairs\n", tfs_prog, W.n, s.n);
    struct vocab v;
    vocab_init(&v, target > 256 ? target : 256);
    learn_merges(o, &s, &W, &v, target);
    pairs_free(&s);
    words_free(&W);
    uint32_t (*merges)[2] = v.merges;
    *nmerges = v.nmerges;
    v.merges = NULL;
    vocab_free(&v);
    return merges;
}
