/* wordtab.c - distinct words and their counts (wordtab.h). */
#include "tok/wordtab.h"
#include "tok/bytemap.h"
#include "tok/stok.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

static void table_alloc(struct wordtab *t, size_t cap)
{
    t->cap = cap;
    t->shift = 64;
    for (size_t c = cap; c > 1; c >>= 1) t->shift--;
    /* probed (read) before each insert: written once here, so that no
     * page of it is first the shared zero page (xio.h), which with 2
     * threads cost about 2,600 TLB flushes of both cores per 94 MB */
    t->slot = xzalloc_written(cap * sizeof *t->slot);
}

void wordtab_init(struct wordtab *t, size_t expect)
{
    memset(t, 0, sizeof *t);
    size_t cap = 16;
    while (cap < 2 * expect + 1) cap <<= 1;
    table_alloc(t, cap);
}

void wordtab_free(struct wordtab *t)
{
    free(t->slot);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

/* The hash that places slot s: stok_hash of a short word's key, the stored
 * hash_bytes of a long one. */
static uint64_t slot_hash(const struct wordtab_slot *s)
{
    uint32_t l = (uint32_t)(s->cl & 0xff);
    return l <= WORDTAB_SHORT ? stok_hash(s->w0, s->w1, l) : s->w0;
}

/* Double the table, re-placing every word. */
static void grow(struct wordtab *t)
{
    struct wordtab_slot *old = t->slot;
    size_t nold = t->cap;
    table_alloc(t, 2 * nold);
    size_t mask = t->cap - 1;
    for (size_t j = 0; j < nold; j++) {
        if (!(old[j].cl & 0xff)) continue;
        size_t i = (size_t)(slot_hash(&old[j]) >> t->shift);
        while (t->slot[i].cl & 0xff) i = (i + 1) & mask;
        t->slot[i] = old[j];
    }
    free(old);
}

/* An empty slot for a new word, growing the table first when it is half
 * full; h places it. */
static struct wordtab_slot *new_slot(struct wordtab *t, uint64_t h)
{
    if ((t->dense ? 4 * (t->n + 1) > 3 * t->cap : 2 * (t->n + 1) > t->cap)) grow(t);
    size_t mask = t->cap - 1, i = (size_t)(h >> t->shift);
    while (t->slot[i].cl & 0xff) i = (i + 1) & mask;
    t->n++;
    return &t->slot[i];
}

void wordtab_add_short(struct wordtab *t, uint64_t h, uint64_t w0, uint64_t w1, uint32_t len, uint64_t count)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)(h >> t->shift); t->slot[i].cl & 0xff; i = (i + 1) & mask) {
        struct wordtab_slot *s = &t->slot[i];
        if (s->w0 == w0 && s->w1 == w1 && (s->cl & 0xff) == len) { s->cl += count << 8; return; }
    }
    *new_slot(t, h) = (struct wordtab_slot){ w0, w1, count << 8 | len };
}

/* A long word with its hash h = hash_bytes(s, len). */
static void add_long(struct wordtab *t, uint64_t h, const unsigned char *s, size_t len, uint64_t count)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)(h >> t->shift); t->slot[i].cl & 0xff; i = (i + 1) & mask) {
        struct wordtab_slot *sl = &t->slot[i];
        if (sl->w0 == h && (sl->cl & 0xff) == WORDTAB_LONG && wordtab_len(t, sl) == len &&
            memcmp(t->arena + sl->w1 + 4, s, len) == 0) { sl->cl += count << 8; return; }
    }
    if (len > UINT32_MAX) die("a piece of %zu bytes is too long to count", len);
    if (t->arena_len + 4 + len > t->arena_cap) {
        t->arena_cap = t->arena_cap ? t->arena_cap : 4096;
        while (t->arena_len + 4 + len > t->arena_cap) t->arena_cap *= 2;
        t->arena = xrealloc(t->arena, t->arena_cap);
    }
    uint32_t n32 = (uint32_t)len;
    memcpy(t->arena + t->arena_len, &n32, 4);
    memcpy(t->arena + t->arena_len + 4, s, len);
    *new_slot(t, h) = (struct wordtab_slot){ h, t->arena_len, count << 8 | WORDTAB_LONG };
    t->arena_len += 4 + len;
}

void wordtab_add(struct wordtab *t, const unsigned char *s, size_t len, uint64_t count)
{
    if (len > WORDTAB_SHORT) { add_long(t, hash_bytes(s, len), s, len, count); return; }
    uint64_t w0, w1;
    stok_key(s, len, 0, &w0, &w1);
    wordtab_add_short(t, stok_hash(w0, w1, len), w0, w1, (uint32_t)len, count);
}

void wordtab_add_all(struct wordtab *t, const struct wordtab *src)
{
    t->dense = 1;
    for (size_t j = 0; j < src->cap; j++) {
        const struct wordtab_slot *s = &src->slot[j];
        uint32_t l = (uint32_t)(s->cl & 0xff);
        if (!l) continue;
        if (l <= WORDTAB_SHORT) wordtab_add_short(t, stok_hash(s->w0, s->w1, l), s->w0, s->w1, l, wordtab_count(s));
        else add_long(t, s->w0, (const unsigned char *)src->arena + s->w1 + 4, wordtab_len(src, s), wordtab_count(s));
    }
    t->dense = 0;
}

const unsigned char *wordtab_bytes(const struct wordtab *t, const struct wordtab_slot *s, unsigned char *buf)
{
    if ((s->cl & 0xff) == WORDTAB_LONG) return (const unsigned char *)t->arena + s->w1 + 4;
    for (int k = 0; k < 8; k++) {
        buf[k] = (unsigned char)(s->w0 >> (8 * k));
        buf[8 + k] = (unsigned char)(s->w1 >> (8 * k));
    }
    return buf;
}

uint32_t wordtab_len(const struct wordtab *t, const struct wordtab_slot *s)
{
    uint32_t l = (uint32_t)(s->cl & 0xff), n;
    if (l != WORDTAB_LONG) return l;
    memcpy(&n, t->arena + s->w1, 4);
    return n;
}
