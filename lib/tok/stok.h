/* stok.h - a table of a vocabulary's short tokens (1 to 16 bytes), keyed
 * by the bytes themselves held in two 64-bit words.
 *
 * Most pieces of text are one token, and short: looking a piece up here is
 * two word loads, a multiply-mix, and one probe that compares two words
 * and a length, with no string hashing loop and no memcmp.  The encoder
 * (bpe_encode.c) asks it first; longer pieces use the general byte map.
 */
#ifndef TFS_STOK_H
#define TFS_STOK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STOK_MAX 16

struct stok_slot {
    uint64_t w0, w1;            /* the bytes, zero-padded to 16 */
    uint32_t id;                /* UINT32_MAX: empty */
    uint32_t len;
};

struct stok_table {
    struct stok_slot *slot;     /* (cap) a power of two, at most half full */
    size_t cap;
    unsigned shift;             /* 64 - log2(cap) */
    uint64_t *filter;           /* a Bloom filter of the keys: see stok_maybe */
    unsigned fshift;            /* 64 - log2(its words) */
};

/* The bytes s[0..n) (n <= 16) as two little-endian words, zero-padded.
 * With room >= 16 the 16 bytes at s may be read (they are inside the
 * caller's buffer), which saves the byte copy. */
static inline void stok_key(const unsigned char *s, size_t n, size_t room, uint64_t *w0, uint64_t *w1)
{
    uint64_t a = 0, b = 0;
    if (room >= 16) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        if (n < 8) { a &= ((uint64_t)1 << (8 * n)) - 1; b = 0; }
        else if (n < 16) b &= n == 8 ? 0 : ((uint64_t)1 << (8 * (n - 8))) - 1;
    } else {
        unsigned char t[16] = { 0 };
        memcpy(t, s, n);
        memcpy(&a, t, 8);
        memcpy(&b, t + 8, 8);
    }
    *w0 = a;
    *w1 = b;
}

/* A 64-bit mix of the key (its top bits pick the slot). */
static inline uint64_t stok_hash(uint64_t w0, uint64_t w1, size_t n)
{
    uint64_t h = (w0 ^ (uint64_t)n << 59) * 0x9e3779b97f4a7c15ull + w1 * 0xc2b2ae3d27d4eb4full;
    return h ^ (h >> 31);
}

/* Whether the key of hash h may be in the table; 0 means surely not.
 *
 * The table is megabytes large (GPT-2: 3 MB, o200k: 12 MB), and a probe
 * usually waits for main memory or the shared L3 cache.  Many probes are
 * for bytes that are no token: most pieces of text that GPT-2's
 * vocabulary lacks, and the spans that the merge tries (bpe_encode.c).
 * A Bloom filter (Bloom, 1970) answers those from a small array that
 * stays in the core's own cache: each key sets 3 bits, chosen by its
 * hash, in one 64-bit word of the array (the word chosen by the hash's
 * top bits, the bits by its low ones), and a key whose 3 bits are not all
 * set was never put in.  With 10 bits of array per key, about 3% of the
 * absent keys still pass and take the probe, which answers exactly. */
static inline uint64_t stok_bits(uint64_t h)
{
    return (uint64_t)1 << (h & 63) | (uint64_t)1 << (h >> 6 & 63) | (uint64_t)1 << (h >> 12 & 63);
}
static inline int stok_maybe(const struct stok_table *t, uint64_t h)
{
    uint64_t m = stok_bits(h);
    return (t->filter[h >> t->fshift] & m) == m;
}

/* The id of the token with these bytes, or UINT32_MAX. */
static inline uint32_t stok_get(const struct stok_table *t, uint64_t h, uint64_t w0, uint64_t w1, size_t n)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)(h >> t->shift);; i = (i + 1) & mask) {
        const struct stok_slot *s = &t->slot[i];
        if (s->w0 == w0 && s->w1 == w1 && s->len == n) return s->id;
        if (s->id == UINT32_MAX) return UINT32_MAX;
    }
}

void stok_init(struct stok_table *t, size_t expect);
void stok_put(struct stok_table *t, const unsigned char *s, size_t n, uint32_t id);
/* The same with h = its stok_hash, from stok_prefetch: that returns the
 * hash of s[0..n) and asks the memory for its slot (see tok_finish). */
void stok_put_h(struct stok_table *t, uint64_t h, const unsigned char *s, size_t n, uint32_t id);
uint64_t stok_prefetch(const struct stok_table *t, const unsigned char *s, size_t n);
void stok_free(struct stok_table *t);

#endif
