/* stok.c - building the short-token table (stok.h). */
#include "tok/stok.h"
#include "core/xio.h"

#include <stdlib.h>

void stok_init(struct stok_table *t, size_t expect)
{
    unsigned bits = 4;
    while (((size_t)1 << bits) < 2 * expect + 1) bits++;
    t->cap = (size_t)1 << bits;
    t->shift = 64 - bits;
    t->slot = xmalloc_huge(t->cap * sizeof *t->slot);
    for (size_t i = 0; i < t->cap; i++) t->slot[i] = (struct stok_slot){ 0, 0, UINT32_MAX, 0 };
    /* the filter: a power of two of 64-bit words, at least 10 bits a key */
    unsigned fbits = 1;
    while (((size_t)64 << fbits) < 10 * expect) fbits++;
    t->fshift = 64 - fbits;
    t->filter = xcalloc((size_t)1 << fbits, sizeof *t->filter);
}

/* Insert token id with bytes s[0..n), 1 <= n <= STOK_MAX (the caller keeps
 * the bytes unique and the count within what stok_init expected).  An
 * empty slot has len 0, which no token has, so lookups never match it. */
void stok_put(struct stok_table *t, const unsigned char *s, size_t n, uint32_t id)
{
    uint64_t w0, w1;
    stok_key(s, n, 0, &w0, &w1);
    stok_put_h(t, stok_hash(w0, w1, n), s, n, id);
}

void stok_put_h(struct stok_table *t, uint64_t h, const unsigned char *s, size_t n, uint32_t id)
{
    uint64_t w0, w1;
    stok_key(s, n, 0, &w0, &w1);
    size_t mask = t->cap - 1, i = (size_t)(h >> t->shift);
    while (t->slot[i].id != UINT32_MAX) i = (i + 1) & mask;
    t->slot[i] = (struct stok_slot){ w0, w1, id, (uint32_t)n };
    t->filter[h >> t->fshift] |= stok_bits(h);
}

uint64_t stok_prefetch(const struct stok_table *t, const unsigned char *s, size_t n)
{
    uint64_t w0, w1;
    stok_key(s, n, 0, &w0, &w1);
    uint64_t h = stok_hash(w0, w1, n);
    __builtin_prefetch(&t->slot[h >> t->shift], 1);
    return h;
}

void stok_free(struct stok_table *t)
{
    free(t->slot);
    free(t->filter);
    t->slot = NULL;
    t->filter = NULL;
}
