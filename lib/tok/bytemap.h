/* bytemap.h - two small open-addressing hash tables used by the tokenizer:
 *
 *   struct bytemap: byte string -> uint64 value (pre-token counts when
 *                   training, token bytes -> id when encoding).  Keys are
 *                   copied into an arena owned by the map.
 *   struct u64map:  uint64 key -> uint64 value (a pair of 32-bit ids packed
 *                   as left << 32 | right, -> its count or rank).
 *
 * Linear probing, a power-of-two table kept at most half full.
 */
#ifndef TFS_BYTEMAP_H
#define TFS_BYTEMAP_H

#include <stddef.h>
#include <stdint.h>

/* A 64-bit hash of n bytes (not cryptographic; well mixed for tables). */
uint64_t hash_bytes(const void *p, size_t n);
/* Mix a 64-bit integer into a hash (a bijection: splitmix64's finalizer). */
static inline uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct bytemap_slot {
    uint64_t hash;      /* 0 = empty (real hashes are forced non-zero) */
    uint64_t off;       /* key bytes at arena + off */
    uint64_t val;
    uint32_t len;
};

struct bytemap {
    struct bytemap_slot *slot;
    size_t cap, n;      /* cap is a power of two */
    char *arena;
    size_t arena_len, arena_cap;
};

void bytemap_init(struct bytemap *m, size_t expect);
void bytemap_free(struct bytemap *m);
/* The value slot of key k[0..n), inserting it with value 0 if absent
 * (*added tells which, when not NULL).  Valid until the next insertion. */
uint64_t *bytemap_put(struct bytemap *m, const void *k, size_t n, int *added);
/* The same with a precomputed h = bytemap_hash(k, n). */
uint64_t *bytemap_put_h(struct bytemap *m, uint64_t h, const void *k, size_t n, int *added);
/* The value of key k, or NULL when absent (_h: with its bytemap_hash). */
const uint64_t *bytemap_get(const struct bytemap *m, const void *k, size_t n);
const uint64_t *bytemap_get_h(const struct bytemap *m, uint64_t h, const void *k, size_t n);
static inline uint64_t bytemap_hash(const void *k, size_t n) { uint64_t h = hash_bytes(k, n); return h ? h : 1; }
static inline const char *bytemap_key(const struct bytemap *m, const struct bytemap_slot *s) { return m->arena + s->off; }

struct u64map {
    uint64_t *key;      /* UINT64_MAX = empty */
    uint64_t *val;
    size_t cap, n;
};
void u64map_init(struct u64map *m, size_t expect);
void u64map_free(struct u64map *m);
uint64_t *u64map_put(struct u64map *m, uint64_t key, int *added);
/* Value pointer or NULL. */
static inline const uint64_t *u64map_get(const struct u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1, i = (size_t)hash_u64(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (m->key[i] == key) return &m->val[i];
        if (m->key[i] == UINT64_MAX) return NULL;
    }
}

#endif
