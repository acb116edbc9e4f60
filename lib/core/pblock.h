/* pblock.h - one block of floats holding a list of tensors end to end.
 * The parameters of a model level (gpt2/gpt2.c, llama/llama.c) live in
 * one, and so, in the same layout, do their gradients and AdamW moments:
 * each is one allocation and one flat array, and a checkpoint names the
 * tensors by their offsets in it (core/st_table.h).  The custom level's
 * activations and their gradients are laid out the same way.  Each user
 * keeps its own table of sizes (how many floats each tensor has, in block
 * order). */
#ifndef TFS_PBLOCK_H
#define TFS_PBLOCK_H

#include <stddef.h>

/* A zeroed block for n tensors of size[i] floats: ptr[i] points at tensor
 * i (a tensor of 0 floats at where the next one starts); *total is the
 * block's number of floats.  Free the result. */
float *pblock_new(float **ptr, const size_t *size, int n, size_t *total);

#endif
