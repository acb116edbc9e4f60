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
 * What makes it fast:
 *   - a piece that is itself a token is that token (tiktoken does the same;
 *     most pieces of ordinary text are: 83% with GPT-2's vocabulary);
 *   - a piece of up to 16 bytes is looked up as two 64-bit words, in a
 *     small per-encoder cache (hot_entry) and then the short-token table
 *     (stok.h), with no string hashing loop and no memcmp;
 *   - with tiktoken's rule (a pair merges when the bytes it spans are a
 *     token, whose id is the rank) the merge works on byte positions:
 *     each rank is one lookup of the spanned bytes (merge_pos);
 *   - the ids of merged pieces are cached per encoder.
 * With tok_use_reference(1) every piece takes the plain path: the byte map,
 * then steps 1-3 on token ids (merge_piece), with no cache, as the
 * reference.
 */
#include "tok/tokenizer_impl.h"
#include "tok/unorm.h"
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

/* The cache of long pieces (more than CACHE_KEY bytes, at most LCACHE_MAX):
 * rules of box-drawing characters or of '=', and runs of spaces or of
 * newlines, repeat in text, and each costs a long merge (a 217-byte rule
 * of U+2500 took about 180,000 instructions in merge_long).  Direct-mapped
 * by the piece's hash; an entry owns one block with its ids and then a
 * copy of the piece's bytes. */
#define LCACHE_BITS 10
#define LCACHE_MAX 1024
struct lcache_entry {
    uint64_t hash;              /* 0 = empty */
    uint32_t len, nids;
    uint32_t *ids;              /* (nids) ids, then the len bytes of the piece */
};

/* The cache of short pieces that are not one token (stok.h's keys): the
 * ids their merge gave.  64 bytes an entry, 256 KiB in all: it stays in
 * the core's L2 cache. */
#define MCACHE_BITS 12
#define MCACHE_IDS 11
struct mcache_entry {
    uint64_t w0, w1;
    uint8_t len, nids;          /* len 0: empty */
    uint32_t ids[MCACHE_IDS];
};

/* The cache of the short pieces that are one token: 32 bytes an entry,
 * 256 KiB in all.  Pieces follow Zipf's law, so a few
 * thousand cover most of the text, and this small table answers for them
 * without touching the large short-token table. */
#define HOT_BITS 13
struct hot_entry {
    uint64_t w0, w1;
    uint32_t id, len;           /* len 0: empty */
    uint64_t pad;
};

struct tok_encoder {
    const struct tokenizer *t;
    struct hot_entry *hot;              /* (1 << HOT_BITS) */
    struct mcache_entry *mcache;        /* (1 << MCACHE_BITS) */
    const char *seg_end;        /* the end of the text being split (bytes up to it may be read) */
    struct pretok_ctx *pc;
    uint32_t *out;              /* the ids of the current call */
    size_t n, cap;
    uint32_t *part;             /* (m) the tokens of the piece being merged */
    uint64_t *rank;             /* (m) rank<<32|id of the pair (part[i], part[i+1]); UINT64_MAX: none */
    size_t pcap;
    struct cache_entry *cache;  /* (1 << CACHE_BITS) */
    struct lcache_entry *lcache;        /* (1 << LCACHE_BITS) */
    size_t *next_special;       /* (nspecial) next match position of each added token */
    size_t len;                 /* length of the text being encoded */
    int has_added;              /* the tokenizer has added tokens that are not special */
    int has_normalized;         /* ... added tokens matched in HF's second pass */
    int holes;                  /* some byte has no token */
    int short_path;             /* encode_short may be used (see encode_piece) */
    const char *text;           /* the text being encoded */
    struct tok_bytes rwbuf[3];  /* rewritten text */
    struct heap heap;           /* merge_long's pairs */
};

int tok_reference;

void tok_use_reference(int on)
{
    tok_reference = on;
    pretok_reference = on;
}

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
    /* The caches are read before they are written (a lookup, then the
     * entry on a miss): written once here, none of their pages is first
     * mapped to the zero page and copied at its first entry (xio.h).
     * With 2 threads that copy flushed the TLB of both cores, 1-2% of the
     * time on the Zen 4 VM of the README. */
    e->cache = xzalloc_written(((size_t)1 << CACHE_BITS) * sizeof *e->cache);
    e->mcache = xzalloc_written(((size_t)1 << MCACHE_BITS) * sizeof *e->mcache);
    e->hot = xzalloc_written(((size_t)1 << HOT_BITS) * sizeof *e->hot);
    e->lcache = xzalloc_written(((size_t)1 << LCACHE_BITS) * sizeof *e->lcache);
    e->next_special = xcalloc(t->nspecial + 1, sizeof *e->next_special);
    for (uint32_t i = 0; i < t->nspecial; i++) {
        if (t->is_special[t->special_ids[i]] != TOK_SPECIAL) e->has_added = 1;
        if (t->special_flags[i] & TOK_NORMALIZED) e->has_normalized = 1;
    }
    for (int b = 0; b < 256; b++) if (t->byte_id[b] == TOK_NONE) e->holes = 1;
    /* the short path needs tiktoken's rule that a piece which is a token
     * is that token (whole_piece), and byte-level first tokens */
    e->short_path = t->whole_piece && !t->char_level && !e->holes;
    heap_init(&e->heap, 4 * tok_long_piece);
    return e;
}

void tok_encoder_free(struct tok_encoder *e)
{
    if (!e) return;
    pretok_ctx_free(e->pc);
    for (size_t i = 0; i < (size_t)1 << LCACHE_BITS; i++) free(e->lcache[i].ids);
    free(e->lcache);
    free(e->out); free(e->part); free(e->rank); free(e->cache); free(e->mcache); free(e->hot); free(e->next_special);
    for (int i = 0; i < 3; i++) free(e->rwbuf[i].p);
    heap_free(&e->heap);
    free(e);
}

/* Append s[0..n) to b. */
static void bytes_put(struct tok_bytes *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = b->cap ? b->cap : 4096;
        while (b->len + n > b->cap) b->cap *= 2;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* The length of the UTF-8 character at s (1 for a byte that starts none). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] < 0xC2 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 1;
    if (k > n) return 1;
    for (size_t j = 1; j < k; j++) if ((s[j] & 0xC0) != 0x80) return 1;
    return k;
}

static inline void emit(struct tok_encoder *e, uint32_t id)
{
    if (e->n == e->cap) e->out = xrealloc(e->out, (e->cap *= 2) * sizeof *e->out);
    e->out[e->n++] = id;
}

/* The id of the regular token s[0..n), or UINT32_MAX. */
static uint32_t token_id(const struct tokenizer *t, const unsigned char *s, size_t n, size_t room)
{
    uint32_t id;
    if (n == 2) return t->pair2[s[0] | s[1] << 8];
    if (n <= STOK_MAX) {
        uint64_t w0, w1;
        stok_key(s, n, room, &w0, &w1);
        uint64_t h = stok_hash(w0, w1, n);
        if (!stok_maybe(&t->stok, h)) return UINT32_MAX;       /* (the merge's usual answer) */
        id = stok_get(&t->stok, h, w0, w1, n);
    } else {
        const uint64_t *v = bytemap_get(&t->ids, s, n);
        id = v ? (uint32_t)*v : UINT32_MAX;
    }
    return id != UINT32_MAX && t->is_special[id] == TOK_REGULAR ? id : UINT32_MAX;
}

/* rank << 32 | merged id of the adjacent tokens l, r, or UINT64_MAX when
 * they do not merge.  A merge list (tokenizer.json) gives it directly;
 * otherwise (tiktoken, tok.bin) the pair merges when its bytes together
 * are a token, and that token's id is the rank. */
static inline uint64_t pair_rank(const struct tokenizer *t, uint32_t l, uint32_t r)
{
    if (t->merge_list) {
        const uint64_t *v = u64map_get(&t->pairs, (uint64_t)l << 32 | r);
        return v ? *v : UINT64_MAX;
    }
    size_t a = t->len[l], n = a + t->len[r];
    unsigned char small[256], *buf = n <= sizeof small ? small : xmalloc(n);
    memcpy(buf, t->blob + t->off[l], a);
    memcpy(buf + a, t->blob + t->off[r], n - a);
    uint32_t id = token_id(t, buf, n, sizeof small);
    if (buf != small) free(buf);
    return id == UINT32_MAX ? UINT64_MAX : (uint64_t)id << 32 | id;
}

/* Steps 1-3 above for a long piece, in O(n log n): the tokens form a linked
 * list (by start position), and a min-heap (core/heap.h) holds (rank,
 * position) of every adjacent pair; an entry whose pair has changed since it was pushed is
 * recognised when popped (its rank no longer matches) and dropped.  The
 * heap orders equal ranks by position, so the leftmost pair merges first,
 * exactly as the scan in merge_piece does. */
size_t tok_long_piece = 128;

static void merge_long(struct tok_encoder *e, const uint32_t *sym, size_t n)
{
    const struct tokenizer *t = e->t;
    uint32_t *id = xmalloc(n * sizeof *id), *next = xmalloc(n * sizeof *next), *prev = xmalloc(n * sizeof *prev);
    struct heap hp = e->heap, *h = &hp; /* key = rank, val = position of the pair's left token;
                                         * a local copy, which the compiler keeps in registers */
    h->n = 0;
    for (size_t i = 0; i < n; i++) { id[i] = sym[i]; next[i] = (uint32_t)(i + 1); prev[i] = (uint32_t)i - 1; }
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

/* Step 1: the piece's first tokens, into e->part; returns how many.
 * Byte-level: each byte's token.  Character-level (a sentencepiece-style
 * tokenizer.json): each character's token, else with byte_fallback the
 * <0xXX> tokens of its bytes.  What has no token becomes the unk token
 * (consecutive ones one unk with fuse_unk), or is dropped when there is
 * none, as HF's BPE does; the neighbours of a dropped one become adjacent. */
static size_t first_tokens(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    const struct tokenizer *t = e->t;
    if (n > e->pcap) {
        while (e->pcap < n) e->pcap *= 2;
        e->part = xrealloc(e->part, e->pcap * sizeof *e->part);
        e->rank = xrealloc(e->rank, e->pcap * sizeof *e->rank);
    }
    uint32_t *p = e->part;
    size_t m = 0;
    if (!t->char_level && !e->holes) {
        for (size_t i = 0; i < n; i++) p[i] = t->byte_id[s[i]];
        return n;
    }
    for (size_t i = 0; i < n;) {
        size_t k = t->char_level ? utf8_len(s + i, n - i) : 1;
        const uint64_t *id = k == 1 ? NULL : bytemap_get(&t->ids, s + i, k);
        uint32_t one = k == 1 ? t->byte_id[s[i]] : id ? (uint32_t)*id : TOK_NONE;
        int fallback = one == TOK_NONE && t->fallback_id[s[i]] != TOK_NONE;
        for (size_t j = 0; fallback && j < k; j++) fallback = t->fallback_id[s[i + j]] != TOK_NONE;
        if (one != TOK_NONE) p[m++] = one;
        else if (fallback) for (size_t j = 0; j < k; j++) p[m++] = t->fallback_id[s[i + j]];
        else if (t->unk != TOK_NONE && !(t->fuse_unk && m && p[m - 1] == t->unk)) p[m++] = t->unk;
        i += k;
    }
    return m;
}

/* Steps 1-3 above on s[0..n); the result is appended to e->out.  Each step
 * scans the m-1 pair ranks for the minimum: O(m^2) in the worst case, the
 * fastest for the short pieces of ordinary text; long ones go to merge_long. */
static void merge_piece(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    const struct tokenizer *t = e->t;
    size_t m = first_tokens(e, s, n);
    if (m > tok_long_piece) { merge_long(e, e->part, m); return; }
    uint32_t *p = e->part;
    uint64_t *r = e->rank;
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

/* Steps 1-3 for a piece of at most POS_MAX bytes with tiktoken's rule (the
 * merged pair's bytes are a token, its id the rank), on byte positions:
 * part i is s[b[i] .. b[i+1]), and the rank of merging parts i and i+1 is
 * the id of s[b[i] .. b[i+2]), one lookup away (the short-token table up
 * to 16 bytes, the byte map beyond).  No token bytes are fetched, no pair
 * table is needed. */
#define POS_MAX 128
static void merge_pos(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    const struct tokenizer *t = e->t;
    size_t room = (size_t)(e->seg_end - (const char *)s);
    /* the parts as a list by start position: part i is s[i .. nxt[i]), its
     * token id[i]; rk[i] the rank of merging it with the next part */
    uint8_t nxt[POS_MAX];
    uint32_t rk[POS_MAX], id[POS_MAX];
    for (size_t i = 0; i < n; i++) {
        nxt[i] = (uint8_t)(i + 1);
        id[i] = t->byte_id[s[i]];
        rk[i] = i + 1 < n ? t->pair2[s[i] | s[i + 1] << 8] : UINT32_MAX;   /* two bytes: a direct table */
    }
    for (;;) {
        size_t best = 0, prev = 0, before = SIZE_MAX;
        uint32_t low = rk[0];
        for (size_t i = nxt[0]; i < n; prev = i, i = nxt[i]) {     /* '<': the leftmost on ties */
            int lt = rk[i] < low;                                   /* (no branch: which part wins */
            best = lt ? i : best;                                   /* is data, not predictable) */
            before = lt ? prev : before;
            low = lt ? rk[i] : low;
        }
        if (low == UINT32_MAX) break;
        if (best == 0) before = SIZE_MAX;
        size_t q = nxt[best];                   /* parts best and q become one */
        id[best] = rk[best];
        nxt[best] = nxt[q];
        size_t after = nxt[best];
        rk[best] = after < n ? token_id(t, s + best, (after < n ? nxt[after] : n) - best, room - best) : UINT32_MAX;
        if (before != SIZE_MAX) rk[before] = token_id(t, s + before, after - before, room - before);
    }
    for (size_t i = 0; i < n; i = nxt[i]) emit(e, id[i]);
}

/* A short piece that is not one token: the cache of merged pieces, else
 * the merge (whose ids are then cached). */
__attribute__((noinline)) static void encode_merged(struct tok_encoder *e, const unsigned char *s, size_t n,
                                                    uint64_t h, uint64_t w0, uint64_t w1)
{
    struct mcache_entry *c = &e->mcache[h >> (64 - MCACHE_BITS)];
    if (c->w0 == w0 && c->w1 == w1 && c->len == n) {
        for (int i = 0; i < c->nids; i++) emit(e, c->ids[i]);
        return;
    }
    size_t start = e->n;
    if (e->t->merge_list) merge_piece(e, s, n);
    else merge_pos(e, s, n);
    if (e->n - start <= MCACHE_IDS) {
        c->w0 = w0;
        c->w1 = w1;
        c->len = (uint8_t)n;
        c->nids = (uint8_t)(e->n - start);
        memcpy(c->ids, e->out + start, (e->n - start) * sizeof *e->out);
    }
}

/* A short piece (at most STOK_MAX bytes): the hot cache, else one probe
 * of the short-token table, tell whether it is a token (most pieces are);
 * else encode_merged. */
static inline void encode_short(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    uint64_t w0, w1;
    stok_key(s, n, (size_t)(e->seg_end - (const char *)s), &w0, &w1);
    uint64_t h = stok_hash(w0, w1, n);
    struct hot_entry *hot = &e->hot[h >> (64 - HOT_BITS)];
    if (hot->w0 == w0 && hot->w1 == w1 && hot->len == n) { emit(e, hot->id); return; }
    uint32_t id = stok_maybe(&e->t->stok, h) ? stok_get(&e->t->stok, h, w0, w1, n) : UINT32_MAX;
    if (id == UINT32_MAX) { encode_merged(e, s, n, h, w0, w1); return; }
    *hot = (struct hot_entry){ w0, w1, id, (uint32_t)n, 0 };
    emit(e, id);
}

/* A piece that is not one byte, through the general path: the cache of
 * recent pieces, the whole piece as a token, else the merge.  (Kept out of
 * encode_piece, whose short path then needs fewer registers.) */
__attribute__((noinline)) static void encode_long(struct tok_encoder *e, const unsigned char *s, size_t n)
{
    const struct tokenizer *t = e->t;
    uint64_t h = bytemap_hash(s, n);
    /* The cache first: one cache line holds a frequent piece and its ids.
     * (The reference skips the caches, so that comparing with it checks them.) */
    struct cache_entry *c = NULL;
    struct lcache_entry *lc = NULL;
    if (tok_reference) ;
    else if (n <= CACHE_KEY) {
        c = &e->cache[h >> (64 - CACHE_BITS)];
        if (c->hash == h && c->len == n && memcmp(c->key, s, n) == 0) {
            for (int i = 0; i < c->nids; i++) emit(e, c->ids[i]);
            return;
        }
    } else if (n <= LCACHE_MAX) {
        lc = &e->lcache[h >> (64 - LCACHE_BITS)];
        if (lc->hash == h && lc->len == n && memcmp(lc->ids + lc->nids, s, n) == 0) {
            for (uint32_t i = 0; i < lc->nids; i++) emit(e, lc->ids[i]);
            return;
        }
    }
    size_t start = e->n;
    const uint64_t *id = t->whole_piece ? bytemap_get_h(&t->ids, h, s, n) : NULL;
    if (id) emit(e, (uint32_t)*id);
    else if (!t->merge_list && !t->char_level && !e->holes && !tok_reference && n <= POS_MAX && n <= tok_long_piece)
        merge_pos(e, s, n);
    else merge_piece(e, s, n);
    if (c && e->n - start <= CACHE_IDS) {
        c->hash = h;
        c->len = (uint8_t)n;
        c->nids = (uint8_t)(e->n - start);
        memcpy(c->key, s, n);
        memcpy(c->ids, e->out + start, (e->n - start) * sizeof *e->out);
    }
    if (lc) {                   /* the new piece replaces the entry's old one */
        size_t k = e->n - start;
        lc->ids = xrealloc(lc->ids, k * sizeof *lc->ids + n);
        memcpy(lc->ids, e->out + start, k * sizeof *lc->ids);
        memcpy(lc->ids + k, s, n);
        lc->hash = h;
        lc->len = (uint32_t)n;
        lc->nids = (uint32_t)k;
    }
}

static void encode_piece(void *arg, const char *piece, size_t n)
{
    struct tok_encoder *e = arg;
    const struct tokenizer *t = e->t;
    const unsigned char *s = (const unsigned char *)piece;
    if (n == 1 && t->byte_id[s[0]] != TOK_NONE) { emit(e, t->byte_id[s[0]]); return; }
    if (n <= STOK_MAX && e->short_path && !tok_reference) encode_short(e, s, n);
    else encode_long(e, s, n);
}

/* The unorm.h form of each of TOK_NFC .. TOK_NFKD. */
static const int unorm_form[] = { UNORM_NFC, UNORM_NFKC, UNORM_NFD, UNORM_NFKD };

/* Apply the tokenizer's rewrites (tokenizer_impl.h: struct tok_rewrite)
 * to the span s[0..n) that starts at byte `at` of the text; the result is
 * in one of the encoder's two buffers. */
static const char *rewrite(struct tok_encoder *e, const char *s, size_t *n, size_t at)
{
    const struct tokenizer *t = e->t;
    for (int i = 0; i < t->nrw; i++) {
        const struct tok_rewrite *w = &t->rw[i];
        struct tok_bytes *o = &e->rwbuf[i & 1];
        o->len = 0;
        int starts = *n >= w->al && memcmp(s, w->a, w->al) == 0;
        if ((w->op == TOK_PREPEND && *n) || (w->op == TOK_META_ALWAYS && !starts) ||
            (w->op == TOK_META_FIRST && !starts && at == 0))
            bytes_put(o, w->a, w->al);
        if (w->op >= TOK_NFC && w->op <= TOK_NFKD)
            o->len = unorm_utf8(unorm_form[w->op - TOK_NFC], UNORM_AGE_HF, s, *n, &o->p, &o->cap);
        else if (w->op == TOK_REPLACE) {
            for (size_t j = 0; j < *n;) {
                const char *f = memmem(s + j, *n - j, w->a, w->al);
                size_t k = f ? (size_t)(f - s) : *n;
                bytes_put(o, s + j, k - j);
                if (f) bytes_put(o, w->b, w->bl);
                j = f ? k + w->al : *n;
            }
        } else bytes_put(o, s, *n);
        s = o->p ? o->p : "";
        *n = o->len;
    }
    return s;
}

/* Text between added tokens: rewritten, cut into pieces, each merged.
 * ByteLevel's add_prefix_space puts a ' ' before each such text that
 * lacks one. */
static void encode_text(struct tok_encoder *e, const char *s, size_t n)
{
    if (!n) return;
    if (e->t->nrw) s = rewrite(e, s, &n, (size_t)(s - e->text));
    if (e->t->prefix_space && n && s[0] != ' ') {
        struct tok_bytes *o = &e->rwbuf[2];
        o->len = 0;
        bytes_put(o, " ", 1);
        bytes_put(o, s, n);
        s = o->p;
        n = o->len;
    }
    e->seg_end = s + n;
    pretok_split(e->pc, s, n, encode_piece, e);
}

/* The length of the Unicode White_Space character (Rust's is_whitespace)
 * that s[0..n) is exactly, else 0. */
static size_t white_space(const unsigned char *s, size_t n)
{
    if (n == 1) return (s[0] >= 9 && s[0] <= 13) || s[0] == ' ' ? 1 : 0;
    uint32_t c = n == 2 && (s[0] & 0xE0) == 0xC0 ? (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F)
               : n == 3 && (s[0] & 0xF0) == 0xE0 ? (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F)
               : 0;
    int ws = c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
             c == 0x202F || c == 0x205F || c == 0x3000;
    return ws ? n : 0;
}

/* lstrip: the white space before at (not before lo) goes with the token;
 * rstrip: the white space after at (not after hi). */
static size_t strip_left(const char *text, size_t lo, size_t at)
{
    for (;;) {
        size_t k = 0;
        for (size_t w = 1; w <= 3 && !k && at >= lo + w; w++) k = white_space((const unsigned char *)text + at - w, w);
        if (!k) return at;
        at -= k;
    }
}
static size_t strip_right(const char *text, size_t at, size_t hi)
{
    for (;;) {
        size_t k = 0;
        for (size_t w = 1; w <= 3 && !k && at + w <= hi; w++) k = white_space((const unsigned char *)text + at, w);
        if (!k) return at;
        at += k;
    }
}

/* Whether added token i is matched in this pass: HF matches the added
 * tokens that are not "normalized" first, on the whole text (pass 0), then
 * the normalized ones in the text between (pass 1); tok.bin and rank files
 * have pass 0 only.  A special token's text is matched only with allow. */
static int matched(const struct tokenizer *t, uint32_t i, int allow, int pass)
{
    if (t->is_special[t->special_ids[i]] == TOK_SPECIAL && !allow) return 0;
    return ((t->special_flags[i] & TOK_NORMALIZED) != 0) == pass;
}

/* Cut text[lo..hi) at each matched added token's text (the earliest match;
 * the longest one when several start there), emit the token, and pass
 * what lies between on (to pass 1, then to encode_text).  next_special[i]
 * remembers where token i next occurs (positions only grow). */
static void split_added(struct tok_encoder *e, const char *text, size_t lo, size_t hi, int allow, int pass)
{
    const struct tokenizer *t = e->t;
    size_t cur = lo;
    for (;;) {
        size_t best = hi, blen = 0;
        uint32_t bi = 0;
        for (uint32_t i = 0; i < t->nspecial; i++) {
            if (!matched(t, i, allow, pass)) continue;
            uint32_t id = t->special_ids[i];
            size_t sl = t->len[id];
            if (e->next_special[i] < cur) e->next_special[i] = cur;
            size_t at = e->next_special[i];
            if (at != SIZE_MAX && at >= cur) {
                const char *f = at < e->len ? memmem(text + at, e->len - at, t->blob + t->off[id], sl) : NULL;
                at = f ? (size_t)(f - text) : SIZE_MAX;
                e->next_special[i] = at;
            }
            if (at == SIZE_MAX || at + sl > hi) continue;
            if (at < best || (at == best && sl > blen)) { best = at; blen = sl; bi = i; }
        }
        if (best >= hi) break;
        size_t a = t->special_flags[bi] & TOK_LSTRIP ? strip_left(text, cur, best) : best;
        if (pass == 0 && e->has_normalized) split_added(e, text, cur, a, allow, 1);
        else encode_text(e, text + cur, a - cur);
        emit(e, t->special_ids[bi]);
        cur = best + blen;
        if (t->special_flags[bi] & TOK_RSTRIP) cur = strip_right(text, cur, hi);
    }
    if (pass == 0 && e->has_normalized) split_added(e, text, cur, hi, allow, 1);
    else encode_text(e, text + cur, hi - cur);
}

const uint32_t *tok_encode(struct tok_encoder *e, const char *text, size_t len, int allow_special, size_t *n)
{
    const struct tokenizer *t = e->t;
    e->n = 0;
    e->text = text;
    if (!t->nspecial || (!allow_special && !e->has_added)) {
        encode_text(e, text, len);
        *n = e->n;
        return e->out;
    }
    for (uint32_t i = 0; i < t->nspecial; i++) e->next_special[i] = 0;
    e->len = len;
    split_added(e, text, 0, len, allow_special, 0);
    *n = e->n;
    return e->out;
}

size_t tok_decode(const struct tokenizer *t, const uint32_t *ids, size_t n, struct tok_bytes *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (id >= t->vocab || t->len[id] == TOK_NONE) return i;
        const char *p = t->blob + t->off[id];
        size_t k = t->len[id], q = t->space_sym_len;
        if (!q || t->is_special[id]) { bytes_put(out, p, k); continue; }
        for (size_t j = 0; j < k;) {        /* Metaspace's U+2581 shows as a space */
            const char *f = memmem(p + j, k - j, t->space_sym, q);
            size_t e = f ? (size_t)(f - p) : k;
            bytes_put(out, p + j, e - j);
            if (f) bytes_put(out, " ", 1);
            j = f ? e + q : k;
        }
    }
    return n;
}
