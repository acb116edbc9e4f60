/* gpt2_kv.c - GPT-2 inference with a KV cache (gpt2.h): each new token
 * runs the forward pass for its one row, attending to the cached keys and
 * values of the earlier positions instead of recomputing them, so it costs
 * O(T) instead of a full forward pass.  The training passes are in gpt2.c.
 *
 * Dimension legend: L layers, C width, NH heads, F = 4C, V vocabulary,
 * ctx = context. */
#include "gpt2/gpt2.h"
#include "gpt2/gpt2_block.h"
#include "kernels/ops.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* ==== inference with a KV cache ============================================ */

/* What one position needs, in one block; the caches hold every layer's
 * keys and values of the positions seen so far. */
struct gpt2_kv {
    int len, ctx, L, C, NH;
    float *k, *v;           /* (L, ctx, C) cached keys and values */
    float *buf;             /* the one-position activations below */
    float *x;               /* (C)  the residual stream */
    float *ln;              /* (C)  layernorm output */
    float *qkv;             /* (3C) */
    float *atty, *proj;     /* (C), (C) */
    float *fch, *fch_gelu;  /* (F), (F) */
    float *logits;          /* (V) */
    float *scratch;         /* (NH, ctx) attention scores */
    float mean, rstd;
};

struct gpt2_kv *gpt2_kv_new(const struct gpt2 *m)
{
    struct gpt2_kv *kv = xcalloc(1, sizeof *kv);
    size_t L = (size_t)m->cfg.layers, P = (size_t)m->cfg.context, C = (size_t)m->cfg.dim;
    kv->ctx = m->cfg.context; kv->L = m->cfg.layers; kv->C = m->cfg.dim; kv->NH = m->cfg.heads;
    kv->k = xmalloc(L * P * C * sizeof(float));
    kv->v = xmalloc(L * P * C * sizeof(float));
    size_t sizes[] = {C, C, 3 * C, C, C, 4 * C, 4 * C, (size_t)m->cfg.vocab, (size_t)m->cfg.heads * P};
    float **ptrs[] = {&kv->x, &kv->ln, &kv->qkv, &kv->atty, &kv->proj, &kv->fch, &kv->fch_gelu, &kv->logits, &kv->scratch};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) total += sizes[i];
    kv->buf = xmalloc(total * sizeof(float));
    float *p = kv->buf;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) { *ptrs[i] = p; p += sizes[i]; }
    return kv;
}

void gpt2_kv_free(struct gpt2_kv *kv)
{
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    free(kv->buf);
    free(kv);
}

void gpt2_kv_reset(struct gpt2_kv *kv) { kv->len = 0; }
int gpt2_kv_len(const struct gpt2_kv *kv) { return kv->len; }

/* The forward pass for one row: the same ops with N = 1, except attention,
 * which reads the keys and values of all earlier positions from the cache
 * instead of recomputing them. */
const float *gpt2_kv_step(struct gpt2 *m, struct gpt2_kv *kv, uint32_t token)
{
    const int C = m->cfg.dim, NH = m->cfg.heads, V = m->cfg.vocab, pos = kv->len;
    if (kv->C != C || kv->L != m->cfg.layers || kv->ctx != m->cfg.context)
        die("gpt2_kv_step: the cache was made for another model");
    if (pos >= kv->ctx) die("gpt2_kv_step: the context of %d positions is full", kv->ctx);
    if (token >= (uint32_t)V) die("token id %u is outside the model's vocabulary of %d", token, V);
    embedding_forward(kv->x, &token, m->p[P_WTE], m->p[P_WPE] + (size_t)pos * C, 1, 1, C);
    for (int l = 0; l < m->cfg.layers; l++) {
        struct block_params w = block_params(m->p, l, (size_t)C);
        float *kc = kv->k + (size_t)l * kv->ctx * C, *vc = kv->v + (size_t)l * kv->ctx * C;
        layernorm_forward(kv->ln, &kv->mean, &kv->rstd, kv->x, w.ln1w, w.ln1b, 1, C);
        linear_forward(kv->qkv, kv->ln, w.qkvw, w.qkvb, 1, C, 3 * C);
        memcpy(kc + (size_t)pos * C, kv->qkv + C, (size_t)C * sizeof(float));
        memcpy(vc + (size_t)pos * C, kv->qkv + 2 * C, (size_t)C * sizeof(float));
        attention_step(kv->atty, kv->scratch, kv->qkv, kc, vc, pos + 1, NH, NH, C / NH);
        linear_forward(kv->proj, kv->atty, w.projw, w.projb, 1, C, C);
        residual_forward(kv->x, kv->x, kv->proj, C);
        layernorm_forward(kv->ln, &kv->mean, &kv->rstd, kv->x, w.ln2w, w.ln2b, 1, C);
        linear_forward(kv->fch, kv->ln, w.fcw, w.fcb, 1, C, 4 * C);
        gelu_forward(kv->fch_gelu, kv->fch, 4 * C);
        linear_forward(kv->proj, kv->fch_gelu, w.fcprojw, w.fcprojb, 1, 4 * C, C);
        residual_forward(kv->x, kv->x, kv->proj, C);
    }
    layernorm_forward(kv->ln, &kv->mean, &kv->rstd, kv->x, m->p[P_LNFW], m->p[P_LNFB], 1, C);
    linear_forward(kv->logits, kv->ln, m->p[P_WTE], NULL, 1, C, V);
    kv->len++;
    return kv->logits;
}

const float *gpt2_kv_prefill(struct gpt2 *m, struct gpt2_kv *kv, const uint32_t *tokens, int n)
{
    const int C = m->cfg.dim, V = m->cfg.vocab;
    if (kv->C != C || kv->L != m->cfg.layers || kv->ctx != m->cfg.context)
        die("gpt2_kv_prefill: the cache was made for another model");
    if (kv->len || n < 1 || n > kv->ctx) die("gpt2_kv_prefill: %d tokens into a cache holding %d of %d", n, kv->len, kv->ctx);
    /* one forward pass over positions 0 .. n-1; each layer's k and v rows
     * are what gpt2_kv_step would have cached, position by position */
    gpt2_forward(m, tokens, NULL, 1, n);
    for (int l = 0; l < m->cfg.layers; l++) {
        const float *qkv = gpt2_layer_qkv(m, l);       /* (n, 3C): [q | k | v] */
        float *kc = kv->k + (size_t)l * kv->ctx * C, *vc = kv->v + (size_t)l * kv->ctx * C;
        for (int t = 0; t < n; t++) {
            memcpy(kc + (size_t)t * C, qkv + (size_t)t * 3 * C + C, (size_t)C * sizeof(float));
            memcpy(vc + (size_t)t * C, qkv + (size_t)t * 3 * C + 2 * C, (size_t)C * sizeof(float));
        }
    }
    kv->len = n;
    memcpy(kv->logits, m->logits + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
    return kv->logits;
}
