/* stats.c - counting the ids of a token stream, and what follows from the
 * counts: documents, ids never used, coverage, unigram entropy.
 * See stats.h; tok-stats(1) for what the numbers mean. */
#include "stats/stats.h"
#include "core/xio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting ----------------------------------------------------------- */

/* Flush the 32-bit copies into the 64-bit totals at the latest after this
 * many ids: each copy then holds at most a quarter of them, far below 2^32. */
#define FLUSH_EVERY ((uint64_t)UINT32_MAX)

void tok_counter_init(struct tok_counter *c, uint32_t vocab, int wide)
{
    memset(c, 0, sizeof *c);
    c->vocab = vocab;
    /* A 32-bit id >= vocab is clamped into one extra slot (index span), so the
     * loop needs no branch; finish() reports it. */
    c->span = wide ? vocab : 65536;
    c->sub = xcalloc((size_t)TOK_COPIES * (c->span + 1), sizeof *c->sub);
    c->count = xcalloc((size_t)c->span + 1, sizeof *c->count);
}

static void flush(struct tok_counter *c)
{
    size_t w = (size_t)c->span + 1;
    for (int k = 0; k < TOK_COPIES; k++) {
        uint32_t *h = c->sub + (size_t)k * w;
        for (size_t i = 0; i < w; i++) c->count[i] += h[i];
        memset(h, 0, w * sizeof *h);
    }
    c->pending = 0;
}

static inline uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The counting loop, one instance per id layout.  GET(i) yields id i; the
 * four copies h0..h3 take consecutive ids, so equal neighbours never wait
 * for each other's stores.  (le16/le32 compile to plain loads on x86.) */
#define COUNT_LOOP(GET) do {                                                 \
    size_t w_ = (size_t)c->span + 1;                                         \
    uint32_t *h0 = c->sub, *h1 = h0 + w_, *h2 = h1 + w_, *h3 = h2 + w_;      \
    while (n) {                                                              \
        size_t k = n;                                                        \
        if (k > FLUSH_EVERY - c->pending) k = (size_t)(FLUSH_EVERY - c->pending); \
        size_t i = 0;                                                        \
        for (; i + 8 <= k; i += 8) {                                         \
            h0[GET(i)]++; h1[GET(i + 1)]++; h2[GET(i + 2)]++; h3[GET(i + 3)]++; \
            h0[GET(i + 4)]++; h1[GET(i + 5)]++; h2[GET(i + 6)]++; h3[GET(i + 7)]++; \
        }                                                                    \
        for (; i < k; i++) h0[GET(i)]++;                                     \
        c->pending += k; c->n += k;                                          \
        ADVANCE(k);                                                          \
        n -= k;                                                              \
        if (c->pending == FLUSH_EVERY) flush(c);                             \
    }                                                                        \
} while (0)

void tok_count_le16(struct tok_counter *c, const unsigned char *p, size_t n)
{
    if (c->span != 65536) die("internal error: tok_count_le16 on a 32-bit counter");
#define GET(i) le16(p + 2 * (i))
#define ADVANCE(k) (p += 2 * (k))
    COUNT_LOOP(GET);
#undef GET
#undef ADVANCE
}

void tok_count_le32(struct tok_counter *c, const unsigned char *p, size_t n)
{
    const uint32_t span = c->span;
#define GET(i) (le32(p + 4 * (i)) < span ? le32(p + 4 * (i)) : span)
#define ADVANCE(k) (p += 4 * (k))
    COUNT_LOOP(GET);
#undef GET
#undef ADVANCE
}

void tok_count_ids(struct tok_counter *c, const uint32_t *ids, size_t n)
{
    const uint32_t span = c->span;
#define GET(i) (ids[i] < span ? ids[i] : span)
#define ADVANCE(k) (ids += (k))
    COUNT_LOOP(GET);
#undef GET
#undef ADVANCE
}

uint64_t *tok_counter_finish(struct tok_counter *c, const char *name)
{
    flush(c);
    for (size_t i = c->vocab; i <= c->span; i++)
        if (c->count[i])
            die("%s: %llu token(s) with an id out of range (vocabulary size %u)", name,
                (unsigned long long)c->count[i], c->vocab);
    uint64_t *count = xrealloc(c->count, ((size_t)c->vocab ? c->vocab : 1) * sizeof *count);
    free(c->sub);
    memset(c, 0, sizeof *c);
    return count;
}

/* ---- derived statistics ------------------------------------------------- */

const unsigned cover_permille[NCOVER] = { 900, 950, 990, 999 };

/* H = sum_i p_i * log2(1/p_i), p_i = c_i / N: the average number of bits a
 * code needs per token when it knows only how often each id occurs -- the
 * cross-entropy a model without context reaches at best. */
double entropy_bits(const uint64_t *count, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += count[i];
    if (!total) return 0;
    double h = 0, N = (double)total;
    for (size_t i = 0; i < n; i++)
        if (count[i]) {
            double p = (double)count[i] / N;
            h -= p * log2(p);
        }
    return h;
}

size_t coverage_rank(const uint64_t *sorted, size_t n, uint64_t total, unsigned permille)
{
    /* need = ceil(total * permille / 1000), computed without overflow */
    uint64_t need = total / 1000 * permille + ((total % 1000) * permille + 999) / 1000;
    uint64_t cum = 0;
    size_t k = 0;
    while (cum < need && k < n) cum += sorted[k++];
    return k;
}

struct idcount { uint64_t c; uint32_t id; };

static int by_count_desc(const void *a, const void *b)
{
    const struct idcount *x = a, *y = b;
    if (x->c != y->c) return x->c > y->c ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void tok_stats_compute(struct tok_stats *s, uint64_t *count, uint32_t vocab, long eot,
                       const uint32_t *toklen)
{
    memset(s, 0, sizeof *s);
    s->vocab = vocab;
    s->count = count;
    s->eot = eot >= 0 && (uint64_t)eot < vocab ? eot : -1;
    for (uint32_t i = 0; i < vocab; i++) {
        s->ntokens += count[i];
        s->used += count[i] != 0;
        if (toklen) s->bytes += count[i] * toklen[i];
    }
    s->docs = s->eot >= 0 ? count[s->eot] : 0;

    struct idcount *ic = xmalloc(((size_t)vocab + 1) * sizeof *ic);
    for (uint32_t i = 0; i < vocab; i++) ic[i] = (struct idcount){ count[i], i };
    qsort(ic, vocab, sizeof *ic, by_count_desc);
    s->order = xmalloc(((size_t)vocab + 1) * sizeof *s->order);
    uint64_t *sorted = xmalloc(((size_t)vocab + 1) * sizeof *sorted);
    for (uint32_t i = 0; i < vocab; i++) { s->order[i] = ic[i].id; sorted[i] = ic[i].c; }
    for (int k = 0; k < NCOVER; k++)
        s->cover_rank[k] = (uint32_t)coverage_rank(sorted, vocab, s->ntokens, cover_permille[k]);
    free(sorted);
    free(ic);

    s->entropy = entropy_bits(count, vocab);
    /* Bits per byte: the same total information, spread over the bytes of
     * text the tokens stand for (bits/token * tokens / bytes). */
    if (s->bytes) s->bits_per_byte = s->entropy * (double)s->ntokens / (double)s->bytes;
}

void tok_stats_free(struct tok_stats *s)
{
    free(s->count);
    free(s->order);
    memset(s, 0, sizeof *s);
}
