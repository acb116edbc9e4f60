/* bpe_encode.c - text -> ids (the encoder) and ids -> bytes (the decoder).
 *
 * Encoding one piece (pretok.h cut the text into pieces) is tiktoken's
 * rank-based merge:
 *   1. start from the piece's bytes, each its one-byte token;
 *   2. among adjacent pairs that can merge, find the one of lowest rank
 *      (leftmost on a tie) and merge it into one token;
 *   3. repeat until no adjacent pair can merge.
 * Example with ranks  (l,o)=1  (lo,w)=2  (e,r)=3  (low,er)=4:
 *   l o w e r -> lo w e r -> low e r -> low er -> lower
 * Two short cuts make it fast:
 *   - a piece that is itself a token is that token (tiktoken does the same;
 *     most pieces of ordinary text are: 83% with GPT-2's vocabulary);
 *   - each encoder keeps a cache of recently encoded short pieces.
 */
#include "tok/tokenizer_impl.h"
#include "core/heap.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_BITS 15
#define CACHE_KEY 22            /* longest piece the cache holds */
#define CACHE_IDS 8             /* most ids a cached piece may have */

struct cache_entry {            /* 64 bytes */
    uint64_t hash;              /* 0 = empty */
    uint8_t len, nids;
    char key[CACHE_KEY];
    uint32_t ids[CACHE_IDS];
};

struct tok_encoder {
    const struct tokenizer *t;
    struct pretok_ctx *pc;
    uint32_t *out;              /* the ids of the current call */
    size_t n, cap;
    uint32_t *part;             /* (m) the tokens of the piece being merged */
    uint64_t *rank;             /* (m) rank<<32|id of the pair (part[i], part[i+1]); UINT64_MAX: none */
    size_t pcap;
    struct cache_entry *cache;  /* (1 << CACHE_BITS) */
    size_t *next_special;       /* (nspecial) next match position, for allow_special */
    struct heap heap;           /* merge_long's pairs */
};

struct tok_encoder *tok_encoder_new(const struct tokenizer *t)
{
    struct tok_encoder *e = xcalloc(1, sizeof *e);
    e->t = t;
    e->pc = pretok_ctx_new(t->pre);
    e->cap = 1024;
    e->out = xmalloc(e->cap * sizeof *e->out);
    e->pcap = 64;
    e->part = xmalloc(e->pcap * sizeof *e->part);
    e->rank = xmalloc(e->pcap * sizeof *e->rank);
    e->cache = xcalloc((size_t)1 << CACHE_BITS, sizeof *e->cache);
    e->next_special = xcalloc(t->nspecial + 1, sizeof *e->next_special);
    heap_init(&e->heap, 4 * tok_long_piece);
    return e;
}

void tok_encoder_free(struct tok_encoder *e)
{
    if (!e) return;
    pretok_ctx_free(e->pc);
    free(e->out); free(e->part); free(e->rank); free(e->cache); free(e->next_special);
    heap_free(&e->heap);
    free(e);
}

static inline void emit(struct tok_encoder *e, uint32_t id)
{
    if (e->n == e->cap) e->out = xrealloc(e->out, (e->cap *= 2) * sizeof *e->out);
    e->out[e->n++] = id;
}

static inline uint64_t pair_rank(const struct tokenizer *t, uint32_t l, uint32_t r)
{
    const uint64_t *v = u64map_get(&t->pairs, (uint64_t)l << 32 | r);
    return v ? *v : UINT64_MAX;
}

/* Steps 1-3 above for a long piece, in O(n log n): the tokens form a linked
 * list (by start position), and a min-heap (core/heap.h) holds (rank,
 * position) of every adjacent pair; an entry whose pair has changed since it was pushed is
 * recognised when popped (its rank no longer matches) and dropped.  The
 * heap orders equal ranks by position, so the leftmost pair merges first,
 * exactly as the scan in merge_piece does. */
size_t tok_long_piece = 128;

static void merge_long(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    const struct tokenizer *t = e->t;
    uint32_t *id = xmalloc(n * sizeof *id), *next = xmalloc(n * sizeof *next), *prev = xmalloc(n * sizeof *prev);
    struct heap hp = e->heap, *h = &hp; /* key = rank, val = position of the pair's left token;
                                         * a local copy, which the compiler keeps in registers */
    h->n = 0;
    for (size_t i = 0; i < n; i++) { id[i] = t->byte_id[s[i]]; next[i] = (uint32_t)(i + 1); prev[i] = (uint32_t)i - 1; }
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t r = pair_rank(t, id[i], id[i + 1]);
        if (r != UINT64_MAX) heap_push(h, r, i);
    }
    while (h->n) {
        struct heap_item top = heap_pop(h);
        uint32_t p = (uint32_t)top.val, q = next[p];
        if (id[p] == UINT32_MAX || q >= n || pair_rank(t, id[p], id[q]) != top.key) continue;   /* stale */
        id[p] = (uint32_t)top.key;          /* merge the pair at p with its right neighbour q */
        id[q] = UINT32_MAX;
        next[p] = next[q];
        if (next[q] < n) prev[next[q]] = p;
        if (p > 0 && prev[p] != UINT32_MAX) {
            uint64_t r = pair_rank(t, id[prev[p]], id[p]);
            if (r != UINT64_MAX) heap_push(h, r, prev[p]);
        }
        if (next[p] < n) {
            uint64_t r = pair_rank(t, id[p], id[next[p]]);
            if (r != UINT64_MAX) heap_push(h, r, p);
        }
    }
    e->heap = hp;
    for (uint32_t i = 0; i < n; i = next[i]) emit(e, id[i]);
    free(id); free(next); free(prev);
}

/* Steps 1-3 above on s[0..n); the result is appended to e->out.  Each step
 * scans the m-1 pair ranks for the minimum: O(m^2) in the worst case, the
 * fastest for the short pieces of ordinary text; long ones go to merge_long. */
static void merge_piece(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    if (n > tok_long_piece) { merge_long(e, s, n); return; }
    const struct tokenizer *t = e->t;
    if (n > e->pcap) {
        while (e->pcap < n) e->pcap *= 2;
        e->part = xrealloc(e->part, e->pcap * sizeof *e->part);
        e->rank = xrealloc(e->rank, e->pcap * sizeof *e->rank);
    }
    uint32_t *p = e->part;
    uint64_t *r = e->rank;
    size_t m = n;
    for (size_t i = 0; i < n; i++) p[i] = t->byte_id[s[i]];
    for (size_t i = 0; i + 1 < m; i++) r[i] = pair_rank(t, p[i], p[i + 1]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++) if (r[i] < r[best]) best = i;   /* ranks are distinct per result;  */
        if (r[best] == UINT64_MAX) break;                                  /* '<' keeps the leftmost on ties */
        p[best] = (uint32_t)r[best];                    /* merge part[best] and part[best+1] */
        memmove(p + best + 1, p + best + 2, (m - best - 2) * sizeof *p);
        if (best + 3 <= m) memmove(r + best + 1, r + best + 2, (m - best - 3) * sizeof *r);
        m--;
        if (best + 1 < m) r[best] = pair_rank(t, p[best], p[best + 1]);
        if (best > 0) r[best - 1] = pair_rank(t, p[best - 1], p[best]);
    }
    for (size_t i = 0; i < m; i++) emit(e, p[i]);
}

static void encode_piece(void *arg, const char *piece, size_t n)
{
    struct tok_encoder *e = arg;
    const struct tokenizer *t = e->t;
    const unsigned char *s = (const unsigned char *)piece;
    if (n == 1) { emit(e, t->byte_id[s[0]]); return; }
    uint64_t h = bytemap_hash(s, n);
    /* The cache first: one cache line holds a frequent piece and its ids. */
    struct cache_entry *c = NULL;
    if (n <= CACHE_KEY) {
        c = &e->cache[h >> (64 - CACHE_BITS)];
        if (c->hash == h && c->len == n && memcmp(c->key, s, n) == 0) {
            for (int i = 0; i < c->nids; i++) emit(e, c->ids[i]);
            return;
        }
    }
    size_t start = e->n;
    const uint64_t *id = t->whole_piece ? bytemap_get_h(&t->ids, h, s, n) : NULL;
    if (id) emit(e, (uint32_t)*id);
    else merge_piece(e, s, n);
    if (c && e->n - start <= CACHE_IDS) {
        c->hash = h;
        c->len = (uint8_t)n;
        c->nids = (uint8_t)(e->n - start);
        memcpy(c->key, s, n);
        memcpy(c->ids, e->out + start, (e->n - start) * sizeof *e->out);
    }
}

const uint32_t *tok_encode(struct tok_encoder *e, const char *text, size_t len, int allow_special, size_t *n)
{
    const struct tokenizer *t = e->t;
    e->n = 0;
    if (!allow_special || !t->nspecial) {
        pretok_split(e->pc, text, len, encode_piece, e);
        *n = e->n;
        return e->out;
    }
    /* Cut the text at each special token's text (the earliest match; the
     * longest one when several start there) and encode what lies between. */
    for (uint32_t i = 0; i < t->nspecial; i++) e->next_special[i] = 0;
    size_t cur = 0;
    for (;;) {
        size_t best = len, blen = 0;
        uint32_t bid = 0;
        for (uint32_t i = 0; i < t->nspecial; i++) {
            uint32_t id = t->special_ids[i];
            size_t sl = t->len[id];
            if (e->next_special[i] < cur) e->next_special[i] = cur;
            size_t at = e->next_special[i];
            if (at != SIZE_MAX) {
                const char *f = at < len ? memmem(text + at, len - at, t->blob + t->off[id], sl) : NULL;
                at = f ? (size_t)(f - text) : SIZE_MAX;
                e->next_special[i] = at;
            }
            if (at < best || (at == best && at != SIZE_MAX && sl > blen)) { best = at; blen = sl; bid = id; }
        }
        if (best >= len) break;
        pretok_split(e->pc, text + cur, best - cur, encode_piece, e);
        emit(e, bid);
        cur = best + blen;
    }
    pretok_split(e->pc, text + cur, len - cur, encode_piece, e);
    *n = e->n;
    return e->out;
}

size_t tok_decode(const struct tokenizer *t, const uint32_t *ids, size_t n, struct tok_bytes *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (id >= t->vocab || t->len[id] == TOK_NONE) return i;
        size_t k = t->len[id];
        if (out->len + k > out->cap) {
            out->cap = out->cap ? out->cap : 4096;
            while (out->len + k > out->cap) out->cap *= 2;
            out->p = xrealloc(out->p, out->cap);
        }
        memcpy(out->p + out->len, t->blob + t->off[id], k);
        out->len += k;
    }
    return n;
}
