/* heap.h - a binary min-heap of (key, val) pairs of 64-bit integers.
 *
 * Entries are ordered by key, then by val: the top is the entry with the
 * smallest key, and among equal keys the one with the smallest val.  Ties
 * are broken by val so that the order never depends on insertion order.
 *
 * A binary heap stores a complete binary tree in an array: the children of
 * entry i are 2i+1 and 2i+2, its parent is (i-1)/2, and every entry is
 * before its children.  Push puts the new entry at the end and moves it up
 * past the parents it is before ("sift up"); pop takes entry 0, puts the
 * last entry at the root and moves it down past the smaller child ("sift
 * down").  Both are O(log n).
 *
 * Users: the BPE encoder's merge of long pieces (tok/bpe_encode.c: key =
 * merge rank, val = position) and the BPE trainer's queue of pairs
 * (tok/bpe_train.c: key = a transformed count so that the largest count is
 * the smallest key, val = the pair).  Push and pop are inline: the encoder
 * calls them in its inner loop.
 */
#ifndef TFS_HEAP_H
#define TFS_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct heap_item { uint64_t key, val; };

struct heap {
    struct heap_item *a;
    size_t n, cap;
};

void heap_init(struct heap *h, size_t cap);     /* cap: the first capacity (0: a small one) */
void heap_free(struct heap *h);
void heap_grow(struct heap *h);                 /* double the capacity */

static inline int heap_before(struct heap_item x, struct heap_item y)
{
    return x.key < y.key || (x.key == y.key && x.val < y.val);
}

static inline void heap_push(struct heap *h, uint64_t key, uint64_t val)
{
    if (h->n == h->cap) heap_grow(h);
    struct heap_item x = { key, val };
    size_t i = h->n++;
    while (i > 0 && heap_before(x, h->a[(i - 1) / 2])) {     /* sift up */
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = x;
}

/* Remove and return the top entry; the heap must not be empty. */
static inline struct heap_item heap_pop(struct heap *h)
{
    struct heap_item top = h->a[0], last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {                                                  /* sift down */
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(h->a[c + 1], h->a[c])) c++;
        if (!heap_before(h->a[c], last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n) h->a[i] = last;
    return top;
}

#endif
