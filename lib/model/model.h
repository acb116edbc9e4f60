/* model.h - one interface over the model levels, for the programs: the
 * training loop, evaluation and checkpoints call these, which pass each
 * call on to the level's own API:
 *   custom    GPT-2 with hand-written backward passes (gpt2.h)
 *   autograd  the same GPT-2, same parameter block, its gradients computed
 *             by the autograd library (ag_gpt2.h); checkpoints are the
 *             custom level's, so a run may change between the two
 *   baseline  Llama-style: RMSNorm, rotary, SwiGLU, optional GQA, tuned
 *             for the CPU (llama.h)
 * The levels keep their own config and parameter block; a model holds one
 * of them, named by arch.
 */
#ifndef TFS_MODEL_H
#define TFS_MODEL_H

#include "autograd/ag_gpt2.h"
#include "gpt2/gpt2.h"
#include "llama/llama.h"

#include <stddef.h>
#include <stdint.h>

enum model_arch { MODEL_CUSTOM, MODEL_BASELINE, MODEL_AUTOGRAD };

struct model_config {
    enum model_arch arch;
    int vocab, context, layers, heads, dim;     /* both levels */
    int kv_heads;       /* baseline: key/value heads, 0 = heads */
    int hidden;         /* baseline: SwiGLU width, 0 = 8 dim / 3 rounded up to 32 */
    int untied;         /* baseline: an output projection of its own */
    int head_dim;       /* baseline: head size, 0 = dim / heads */
};

struct model {
    enum model_arch arch;
    struct gpt2 gpt2;       /* arch == MODEL_CUSTOM or MODEL_AUTOGRAD */
    struct ag_gpt2 *ag;     /* arch == MODEL_AUTOGRAD: the autograd view of gpt2's blocks */
    struct llama llama;     /* arch == MODEL_BASELINE */
};

/* "custom" / "autograd" / "baseline" (what --model takes), and back (-1 if none). */
const char *model_arch_name(enum model_arch a);
int model_arch_parse(const char *s);
/* The checkpoint architecture tag of each level (tfs.arch): "gpt2" (custom
 * and autograd), "llama" (baseline). */
const char *model_arch_tag(enum model_arch a);
/* Switch a GPT-2 model between the custom and autograd levels (the weights,
 * gradients and moments stay where they are); dies for any other change. */
void model_set_arch(struct model *m, enum model_arch a);

/* NULL when c is valid, else what is wrong. */
const char *model_config_error(const struct model_config *c);
/* The baseline's full config from c (defaults filled in). */
struct llama_config model_llama_config(const struct model_config *c);

void model_init(struct model *m, const struct model_config *c);   /* dies on a bad config */
void model_init_weights(struct model *m, uint64_t seed);
void model_free(struct model *m);

struct model_config model_config_of(const struct model *m);
size_t model_nparams(const struct model *m);
double model_flops_per_token(const struct model *m, int T);

float model_forward(struct model *m, const uint32_t *inputs, const uint32_t *targets, int B, int T);
/* The per-position losses (B, T) of the last forward pass with targets, or
 * NULL when the level keeps only their mean (autograd). */
const float *model_losses(const struct model *m);
void model_zero_grad(struct model *m);
void model_backward(struct model *m, float scale);
float model_grad_norm(const struct model *m);
void model_adamw_step(struct model *m, float lr, float beta1, float beta2, float eps,
                      float weight_decay, float grad_scale, int t);

/* ---- the parameter block, for data-parallel training (run/dist.h) ----
 * The level's block of n parameters, its gradient and its AdamW moments
 * (same layout; *m and *v may be NULL until the first update). */
struct model_block {
    float *params, *grads;
    float **m, **v;
    size_t n;
};
struct model_block model_block_of(struct model *m);
/* The tensors of the block as the optimizer sees them (optim.h); returns
 * their count, at most MODEL_MAX_TENSORS. */
#define MODEL_MAX_TENSORS ((int)GPT2_NPARAMS > (int)LLAMA_NPARAMS ? (int)GPT2_NPARAMS : (int)LLAMA_NPARAMS)
struct optim_tensor;
int model_optim_tensors(const struct model *m, struct optim_tensor *ts);
/* The gradient of block l (0 <= l < layers) as regions of the gradient
 * block, or with l = -1 the rest (embeddings, final norm, head): *count
 * regions at start[i], len[i] floats (at most MODEL_MAX_TENSORS). */
void model_layer_grads(struct model *m, int l, float **start, size_t *len, int *count);
/* Have the backward pass call fn(ctx, l) once block l's gradients are
 * complete (fn NULL: stop).  Returns 0 where the level cannot (autograd:
 * its graph has no blocks), 1 otherwise. */
int model_on_layer_done(struct model *m, void (*fn)(void *ctx, int l), void *ctx);

/* ---- inference with a KV cache (gpt2.h / llama.h) ---- */
struct model_kv;
struct model_kv *model_kv_new(const struct model *m);
void model_kv_free(struct model_kv *kv);
void model_kv_reset(struct model_kv *kv);
int model_kv_len(const struct model_kv *kv);
/* Feed one token at position model_kv_len(kv) (< context); the logits (V)
 * of the next token, valid until the next call. */
const float *model_kv_step(struct model *m, struct model_kv *kv, uint32_t token);
/* Feed tokens[0..n) (n <= context) into an empty cache in one batched
 * forward pass; the logits (V) after the last one, as model_kv_step would
 * have given them token by token (up to rounding). */
const float *model_kv_prefill(struct model *m, struct model_kv *kv, const uint32_t *tokens, int n);

/* ---- looking inside ----
 * The attention probabilities of layer `layer` (0 = first) for the tokens
 * ids[0 .. T) (T <= context), every head: P (heads, T, T), row i the
 * weights of query i over the keys j <= i (they sum to 1), 0 above the
 * diagonal (attention.h, attention_probs).  Runs one forward pass. */
void model_attention(struct model *m, const uint32_t *ids, int T, int layer, float *P);

#endif
