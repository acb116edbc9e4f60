/* wordtab.h - the distinct words (pre-tokens) of a corpus and their counts,
 * for bpe-train.
 *
 * Counting words is a look-up per piece of text, and the table outgrows
 * every cache (half a million words in the 94 MB bench corpus): each
 * look-up waits for memory.  So a word of up to 16 bytes (nearly all of
 * them) is held in its slot itself, as two 64-bit words (stok.h's key), and
 * a look-up reads one slot: one cache miss, no string compare in a second
 * place.  A longer word keeps its bytes in an arena; its slot holds their
 * hash and where they are.
 *
 * Open addressing with linear probing, a power-of-two table at most half
 * full; the slot is picked by the top bits of the hash (stok_hash for short
 * words, hash_bytes for long ones).
 */
#ifndef TFS_WORDTAB_H
#define TFS_WORDTAB_H

#include <stddef.h>
#include <stdint.h>

#define WORDTAB_SHORT 16

struct wordtab_slot {
    uint64_t w0, w1;            /* len <= 16: the bytes, zero-padded; longer: hash, arena offset */
    uint64_t count;
    uint32_t len;               /* 0: empty */
    uint32_t unused;
};

struct wordtab {
    struct wordtab_slot *slot;  /* (cap) */
    size_t cap, n;              /* cap a power of two; n words */
    unsigned shift;             /* 64 - log2(cap) */
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
/* Add every word of src to t. */
void wordtab_add_all(struct wordtab *t, const struct wordtab *src);
/* The bytes of the word in slot s (buf: room for 16, used for short words). */
const unsigned char *wordtab_bytes(const struct wordtab *t, const struct wordtab_slot *s, unsigned char *buf);

#endif
