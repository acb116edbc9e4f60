/* bytemap.c - hash tables for byte strings and 64-bit keys (bytemap.h). */
#include "tok/bytemap.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes at a time: each word is multiplied in with a different odd
 * constant and folded, then the length; hash_u64 finishes the mixing. */
uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8; n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return hash_u64(h);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

void bytemap_init(struct bytemap *m, size_t expect)
{
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(2 * expect + 1);
    m->slot = xmalloc_huge(m->cap * sizeof *m->slot);
    memset(m->slot, 0, m->cap * sizeof *m->slot);
    m->arena_cap = 4096;
    m->arena = xmalloc(m->arena_cap);
}

void bytemap_free(struct bytemap *m)
{
    free(m->slot);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static void bytemap_grow(struct bytemap *m)
{
    size_t ncap = m->cap * 2, mask = ncap - 1;
    struct bytemap_slot *ns = xcalloc(ncap, sizeof *ns);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slot[i].hash) continue;
        size_t j = (size_t)m->slot[i].hash & mask;
        while (ns[j].hash) j = (j + 1) & mask;
        ns[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = ns;
    m->cap = ncap;
}

uint64_t *bytemap_put_h(struct bytemap *m, uint64_t h, const void *k, size_t n, int *added)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        struct bytemap_slot *s = &m->slot[i];
        if (!s->hash) break;
        if (s->hash == h && s->len == n && memcmp(m->arena + s->off, k, n) == 0) {
            if (added) *added = 0;
            return &s->val;
        }
    }
    if (2 * (m->n + 1) > m->cap) {
        bytemap_grow(m);
        mask = m->cap - 1;
        for (i = (size_t)h & mask; m->slot[i].hash; i = (i + 1) & mask) {}
    }
    if (m->arena_len + n > m->arena_cap) {
        while (m->arena_len + n > m->arena_cap) m->arena_cap *= 2;
        m->arena = xrealloc(m->arena, m->arena_cap);
    }
    memcpy(m->arena + m->arena_len, k, n);
    struct bytemap_slot *s = &m->slot[i];
    s->hash = h; s->off = m->arena_len; s->len = (uint32_t)n; s->val = 0;
    m->arena_len += n;
    m->n++;
    if (added) *added = 1;
    return &s->val;
}

uint64_t *bytemap_put(struct bytemap *m, const void *k, size_t n, int *added)
{
    return bytemap_put_h(m, bytemap_hash(k, n), k, n, added);
}

const uint64_t *bytemap_get(const struct bytemap *m, const void *k, size_t n)
{
    return bytemap_get_h(m, bytemap_hash(k, n), k, n);
}

const uint64_t *bytemap_get_h(const struct bytemap *m, uint64_t h, const void *k, size_t n)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        const struct bytemap_slot *s = &m->slot[i];
        if (!s->hash) return NULL;
        if (s->hash == h && s->len == n && memcmp(m->arena + s->off, k, n) == 0) return &s->val;
    }
}

void u64map_init(struct u64map *m, size_t expect)
{
    m->cap = pow2_at_least(2 * expect + 1);
    m->n = 0;
    m->key = xmalloc(m->cap * sizeof *m->key);
    m->val = xcalloc(m->cap, sizeof *m->val);
    memset(m->key, 0xff, m->cap * sizeof *m->key);
}

void u64map_free(struct u64map *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

uint64_t *u64map_put(struct u64map *m, uint64_t key, int *added)
{
    size_t mask = m->cap - 1, i = (size_t)hash_u64(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (m->key[i] == key) { if (added) *added = 0; return &m->val[i]; }
        if (m->key[i] == UINT64_MAX) break;
    }
    if (2 * (m->n + 1) > m->cap) {
        size_t ncap = m->cap * 2, nmask = ncap - 1;
        uint64_t *nk = xmalloc(ncap * sizeof *nk), *nv = xcalloc(ncap, sizeof *nv);
        memset(nk, 0xff, ncap * sizeof *nk);
        for (size_t j = 0; j < m->cap; j++) {
            if (m->key[j] == UINT64_MAX) continue;
            size_t t = (size_t)hash_u64(m->key[j]) & nmask;
            while (nk[t] != UINT64_MAX) t = (t + 1) & nmask;
            nk[t] = m->key[j]; nv[t] = m->val[j];
        }
        free(m->key); free(m->val);
        m->key = nk; m->val = nv; m->cap = ncap;
        mask = nmask;
        for (i = (size_t)hash_u64(key) & mask; m->key[i] != UINT64_MAX; i = (i + 1) & mask) {}
    }
    m->key[i] = key;
    m->val[i] = 0;
    m->n++;
    if (added) *added = 1;
    return &m->val[i];
}
