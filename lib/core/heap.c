/* heap.c - growing and freeing the (key, val) min-heap; push and pop are
 * inline in heap.h. */
#include "core/heap.h"
#include "core/xio.h"

#include <stdlib.h>

void heap_init(struct heap *h, size_t cap)
{
    h->n = 0;
    h->cap = cap ? cap : 16;
    h->a = xmalloc(h->cap * sizeof *h->a);
}

void heap_free(struct heap *h)
{
    free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

void heap_grow(struct heap *h)
{
    h->cap = h->cap ? 2 * h->cap : 16;
    h->a = xrealloc(h->a, h->cap * sizeof *h->a);
}
