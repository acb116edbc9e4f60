/* pblock.c - tensors laid end to end in one block (see pblock.h). */
#include "core/pblock.h"
#include "core/xio.h"

float *pblock_new(float **ptr, const size_t *size, int n, size_t *total)
{
    size_t sum = 0;
    for (int i = 0; i < n; i++) sum += size[i];
    float *base = xcalloc(sum, sizeof *base), *p = base;
    for (int i = 0; i < n; i++) { ptr[i] = p; p += size[i]; }
    *total = sum;
    return base;
}
