/* wordtab.h - the distinct words (pre-tokens) of a corpus and their counts,
 * for bpe-train.
 *
 * Counting words is a look-up per piece of text, and the table outgrows
 * every cache (half a million words in the 94 MB bench corpus): each
 * look-up waits for memory.  So a word of up to 16 bytes (nearly all of
 * them) is held in its slot itself, as two 64-bit words (stok.h's key), and
 * a look-up reads one slot: one cache miss, no string compare in a second
 * place.  A longer word keeps its length and bytes in an arena; its slot
 * holds their hash and where they are.  (Counts up to 2^56.)
 *
 * Open addressing with linear probing, a power-of-two table at most half
 * full (3/4 while summing); the slot is picked by the top bits of the hash
 * (stok_hash for short words, hash_bytes for long ones).
 */
#ifndef TFS_WORDTAB_H
#define TFS_WORDTAB_H

#include <stddef.h>
#include <stdint.h>

#define WORDTAB_SHORT 16

/* 24 bytes, so that the two threads' tables (a million slots each on the
 * bench corpus) cost 48 MB at the peak, not 64. */
struct wordtab_slot {
    uint64_t w0, w1;            /* short: the bytes, zero-padded; long: hash, arena offset */
    uint64_t cl;                /* count << 8 | l; l: 0 empty, 1..16 the length, WORDTAB_LONG */
};
#define WORDTAB_LONG 255        /* l of a longer word: its length is in the arena, before its bytes */

struct wordtab {
    struct wordtab_slot *slot;  /* (cap) */
    size_t cap, n;              /* cap a power of two; n words */
    unsigned shift;             /* 64 - log2(cap) */
    int dense;                  /* while summing tables: grow at 3/4 full, not 1/2 */
    char *arena;                /* the bytes of words longer than 16 */
    size_t arena_len, arena_cap;
};

void wordtab_init(struct wordtab *t, size_t expect);
void wordtab_free(struct wordtab *t);
/* Add count to word s[0..len), 1 <= len. */
void wordtab_add(struct wordtab *t, const unsigned char *s, size_t len, uint64_t count);
/* The same for a word of at most 16 bytes given as its key (stok_key) and
 * h = stok_hash(w0, w1, len). */
void wordtab_add_short(struct wordtab *t, uint64_t h, uint64_t w0, uint64_t w1, uint32_t len, uint64_t count);
/* Ask for the slot where a word with hash h starts its search, ahead of
 * adding it (the table is far larger than the caches). */
static inline void wordtab_prefetch(const struct wordtab *t, uint64_t h)
{
    __builtin_prefetch(&t->slot[h >> t->shift]);
}
/* Add every word of src to t.  t may fill up to 3/4 meanwhile: summing
 * two threads' tables of a million slots each would otherwise often need a
 * third of two million, at the peak of the run's memory. */
void wordtab_add_all(struct wordtab *t, const struct wordtab *src);
/* The bytes of the word in slot s (buf: room for 16, used for short words). */
const unsigned char *wordtab_bytes(const struct wordtab *t, const struct wordtab_slot *s, unsigned char *buf);
/* A slot's word: its length (0: the slot is empty), its count. */
uint32_t wordtab_len(const struct wordtab *t, const struct wordtab_slot *s);
static inline uint64_t wordtab_count(const struct wordtab_slot *s) { return s->cl >> 8; }

#endif
