/* gpt2_block.h - one transformer block's slice of the parameter block
 * (gpt2.h), shared by the training passes (gpt2.c) and the KV-cache
 * inference (gpt2_kv.c).  Internal to lib/gpt2/.
 *
 * Dimension legend: C width, F = 4C MLP width. */
#ifndef TFS_GPT2_BLOCK_H
#define TFS_GPT2_BLOCK_H

#include "gpt2/gpt2.h"

#include <stddef.h>

/* Layer l's slice of each per-layer tensor: the same function serves the
 * parameters and their gradients (same layout). */
struct block_params {
    float *ln1w, *ln1b;         /* (C) */
    float *qkvw, *qkvb;         /* (3C, C), (3C) */
    float *projw, *projb;       /* (C, C), (C) */
    float *ln2w, *ln2b;         /* (C) */
    float *fcw, *fcb;           /* (F, C), (F) */
    float *fcprojw, *fcprojb;   /* (C, F), (C) */
};

static inline struct block_params block_params(float *const *p, int l, size_t C)
{
    return (struct block_params){
        p[P_LN1W] + l * C, p[P_LN1B] + l * C,
        p[P_QKVW] + l * 3 * C * C, p[P_QKVB] + l * 3 * C,
        p[P_ATTPROJW] + l * C * C, p[P_ATTPROJB] + l * C,
        p[P_LN2W] + l * C, p[P_LN2B] + l * C,
        p[P_FCW] + l * 4 * C * C, p[P_FCB] + l * 4 * C,
        p[P_FCPROJW] + l * 4 * C * C, p[P_FCPROJB] + l * C,
    };
}

#endif
