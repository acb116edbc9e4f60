/* llama.h - the "baseline" model level: a modern decoder-only transformer
 * in the Llama family, with every layer's backward written by hand
 * (lib/llama/llama_ops.c) and tuned for the CPU.  Same API shape as gpt2.h.
 *
 * Dimension legend (used in every shape comment):
 *   B batch, T sequence length (<= context), C model width (dim),
 *   L layers, NH query heads, NKV key/value heads, hs head size (C / NH
 *   unless the config sets head_dim), QD = NH hs the width of the query and
 *   attention output, KVD = NKV hs, QKV = QD + 2 KVD, F SwiGLU hidden width,
 *   V vocabulary, N = B*T rows.  (Usually QD = C; a model with its own
 *   head_dim, as HF's LlamaConfig allows, has QD != C: Wq maps C to QD and
 *   Wo maps QD back to C.)
 *
 * Architecture (Touvron et al., 2023, as in Hugging Face LlamaForCausalLM):
 *   x = embed(tokens)
 *   L pre-norm blocks:
 *     x = x + Wo attn(rope(Wq n), rope(Wk n), Wv n),   n = rmsnorm(x) g1
 *     x = x + Wdown (silu(Wgate n) * (Wup n)),          n = rmsnorm(x) g2
 *   logits = (rmsnorm(x) g) @ Whead^T, Whead = embed when tied
 * causal attention with rotary positions (HF's rotate_half convention),
 * grouped-query attention when NKV < NH, no biases, fp32 throughout.
 * loss = mean cross-entropy over all B*T positions.
 *
 * Weight layout: linear weights are (out, in), row-major (nn.Linear).  To
 * make one GEMM of each, q, k, v are stacked as the rows of one (QKV, C)
 * matrix and gate, up as the rows of one (2F, C) matrix; the Hugging Face
 * export slices them back into q_proj, k_proj, v_proj, gate_proj, up_proj.
 */
#ifndef TFS_LLAMA_H
#define TFS_LLAMA_H

#include <stddef.h>
#include <stdint.h>

struct llama_config {
    int vocab;          /* V */
    int context;        /* maximum T: the size of the rotary tables */
    int layers;         /* L */
    int heads;          /* NH, divides dim (unless head_dim is set) */
    int kv_heads;       /* NKV, divides heads (== heads: ordinary multi-head) */
    int dim;            /* C */
    int hidden;         /* F */
    int tied;           /* 1: the output projection is the token embedding */
    int head_dim;       /* hs; 0: dim / heads.  Rotary, the attention scale
                         * 1/sqrt(hs) and the widths of Wq, Wk, Wv, Wo follow it */
    float rope_theta;   /* rotary base, 10000 in Llama 1/2 */
    float norm_eps;     /* RMSNorm epsilon, 1e-5 */
    /* Llama 3's rope scaling (transformers' rope_type "llama3"): rope_factor
     * 0 means none.  Frequencies whose wavelength exceeds rope_orig_context /
     * rope_low_freq are divided by rope_factor, those below rope_orig_context
     * / rope_high_freq kept, those between blended (llama.c, rope_llama3). */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_context;
};

/* A config with the usual defaults filled in: kv_heads = heads, tied,
 * theta 10000, eps 1e-5, hidden = 8C/3 rounded up to a multiple of 32 (the
 * SwiGLU width that keeps the parameter count of a 4C GELU MLP). */
struct llama_config llama_config_default(int vocab, int context, int layers, int heads, int dim);
/* NULL when cfg is valid, else a sentence saying what is wrong. */
const char *llama_config_error(const struct llama_config *cfg);
/* The head size hs: head_dim when set, else dim / heads. */
int llama_head_dim(const struct llama_config *cfg);

/* The parameter tensors, in block order (style.md, 3).  Grads and the
 * AdamW moments use the same layout. */
enum llama_param {
    LP_EMBED,       /* (V, C)        token embedding */
    LP_ATTN_NORM,   /* (L, C)        g1 */
    LP_WQKV,        /* (L, QKV, C)   q, k, v projections stacked */
    LP_WO,          /* (L, C, QD)    attention output projection */
    LP_MLP_NORM,    /* (L, C)        g2 */
    LP_WGU,         /* (L, 2F, C)    gate, up projections stacked */
    LP_WDOWN,       /* (L, C, F) */
    LP_NORM,        /* (C)           final norm */
    LP_HEAD,        /* (V, C)        output projection; 0 floats when tied */
    LLAMA_NPARAMS
};

struct llama {
    struct llama_config cfg;
    size_t param_sizes[LLAMA_NPARAMS];
    size_t nparams;                 /* total floats */
    float *params;                  /* one block, nparams floats */
    float *p[LLAMA_NPARAMS];        /* pointers into params */
    float *grads;                   /* same layout, allocated by the first zero_grad */
    float *m, *v;                   /* AdamW moments, same layout, allocated by the first step */
    float *rope_cos, *rope_sin;     /* (context, hs/2) */
    /* Options, set before a forward pass. */
    int recompute;                  /* keep only the residual stream; recompute each
                                     * layer's activations in the backward pass */
    int plain;                      /* the unoptimised reference path: plain attention
                                     * (B, NH, T, T) and whole (N, V) logits; for tests */
    /* Activations for the current (B, T): owned by llama.c, see there. */
    int B, T;
    void *acts;
    float *logits;                  /* (B, T, V) after a forward WITHOUT targets (or plain) */
    float *losses;                  /* (B, T) per-position loss after forward with targets */
    float mean_loss;                /* mean of losses, -1 when forward had no targets */
    /* Optional, called by llama_backward once block l's parameter
     * gradients are complete (l = L-1 down to 0): see gpt2.h. */
    void (*layer_done)(void *ctx, int l);
    void *layer_ctx;
};

void llama_init(struct llama *m, const struct llama_config *cfg);
void llama_free(struct llama *m);
/* Weights ~ N(0, 0.02), the residual output projections (Wo, Wdown) scaled
 * by 1/sqrt(2 L), norm gains 1.  The suite's RNG: same for a seed everywhere. */
void llama_init_weights(struct llama *m, uint64_t seed);
/* N of "6 N": the parameters that take part in matrix products, i.e. all
 * but the embedding table when it is not tied to the output projection. */
size_t llama_nparams_flops(const struct llama *m);
/* Training FLOPs per token (forward + backward): 6 N + 12 L T C (the second
 * term counts attention's q.k and p.v over all T keys, as nanoGPT does). */
double llama_flops_per_token(const struct llama *m, int T);
/* Does this parameter tensor get weight decay? (matrices yes, norm gains no) */
int llama_param_decays(enum llama_param i);
/* The name of a tensor (for reports): "embed", "wqkv", ... */
const char *llama_param_name(enum llama_param i);

/* Forward pass over inputs (B, T).  With targets, fills losses and returns
 * the mean loss without ever holding the (B*T, V) logits; with targets NULL,
 * fills logits and returns -1.  (Re)allocates activations when B, T or the
 * recompute/plain options change. */
float llama_forward(struct llama *m, const uint32_t *inputs, const uint32_t *targets, int B, int T);
/* Layer l's q, k, v (B, T, QKV) after rotation, each row [q heads | k
 * heads | v heads]: the input of its attention, from the last forward pass
 * (which must not have used recompute). */
const float *llama_layer_qkv(const struct llama *m, int l);
void llama_zero_grad(struct llama *m);
/* Backward pass of the last forward (which must have had targets):
 * ACCUMULATES d(mean loss)/d(param) * scale into grads. */
void llama_backward(struct llama *m, float scale);
float llama_grad_norm(const struct llama *m);
/* The parameter tensors as the optimizer sees them (optim.h); returns their
 * count (at most LLAMA_NPARAMS: an absent output projection is left out). */
struct optim_tensor;
int llama_optim_tensors(const struct llama *m, struct optim_tensor *ts);
/* AdamW with bias correction, t >= 1; weight decay on the matrices only;
 * grad_scale multiplies each gradient first (for clipping). */
void llama_adamw_step(struct llama *m, float lr, float beta1, float beta2, float eps,
                      float weight_decay, float grad_scale, int t);

/* ---- inference with a KV cache ----
 * Each new token is rotated to its own position and attends to the cached
 * (already rotated) keys and values of the previous ones: O(T) per token. */
struct llama_kv;
struct llama_kv *llama_kv_new(const struct llama *m);
void llama_kv_free(struct llama_kv *kv);
void llama_kv_reset(struct llama_kv *kv);
int llama_kv_len(const struct llama_kv *kv);
/* Feed one token at position llama_kv_len(kv) (< context); returns the
 * logits (V) for the next token, valid until the next call. */
const float *llama_kv_step(struct llama *m, struct llama_kv *kv, uint32_t token);
/* Feed tokens[0..n) into an empty cache in one batched forward pass (the
 * prompt's prefill); returns the logits (V) after the last one. */
const float *llama_kv_prefill(struct llama *m, struct llama_kv *kv, const uint32_t *tokens, int n);

#endif
