/* gpt2.h - the "custom" model level: GPT-2's architecture with every
 * layer's backward pass written by hand (lib/kernels/, lib/gpt2/gpt2.c).
 *
 * Dimension legend (used in every shape comment):
 *   B batch, T sequence length (<= context), C model width (dim),
 *   L layers, NH heads, hs = C / NH head size, V vocabulary size,
 *   F = 4 C MLP width, N = B*T rows.
 *
 * Architecture: token + learned position embeddings; L pre-LN blocks
 *   x = x + attn(ln1(x));  x = x + mlp(ln2(x))
 * with causal multi-head self-attention (biases on qkv and the output
 * projection), MLP C -> 4C -> C with GELU (tanh form); final LayerNorm;
 * logits = ln_f(x) @ wte^T (output projection tied to the token embedding);
 * loss = mean cross-entropy over all B*T positions.  fp32 throughout.
 *
 * Weight layout: linear weights are stored (out, in), row-major, as
 * PyTorch's nn.Linear does:  y = x @ W^T + b.  (Hugging Face's GPT-2 uses
 * Conv1D with (in, out): its table in gpt2/gpt2_ckpt.c transposes them.)
 *
 * Implementation: lib/gpt2/gpt2.c chains the forward/backward pairs of ops.h
 * (lib/kernels/); parameters, gradients, AdamW moments and activations each
 * live in one block described by a size table.  Checked against finite
 * differences (tests/unit/test_ops.c, test_gpt2.c) and against PyTorch
 * (tests/torch/, tests/55-torch-reference.bats).
 *
 * Threads: the GEMMs run in OpenBLAS's OpenMP build and every other loop is
 * an OpenMP loop, all in one libgomp team, so OMP_NUM_THREADS (or
 * omp_set_num_threads before the first call) sets both.  Every reduction
 * we write has a fixed order, so for a given thread count a run repeats bit
 * for bit.  On a machine shared with other busy processes, libgomp's
 * default of spinning at barriers can cost 2-3x (a spinning thread holds a
 * core its partner needs); OMP_WAIT_POLICY=PASSIVE avoids that
 * (tests/bench/20-model.sh measures both).  A small model's training
 * batch is split in two halves that run side by side instead (shards
 * below), one parallel region per pass rather than one per operation.
 */
#ifndef TFS_GPT2_H
#define TFS_GPT2_H

#include <stddef.h>
#include <stdint.h>

struct gpt2_config {
    int vocab;      /* V */
    int context;    /* maximum T, the size of the position table */
    int layers;     /* L */
    int heads;      /* NH */
    int dim;        /* C, a multiple of heads */
};

/* The parameter tensors, in block order (style.md, 3).  Grads and the AdamW
 * moments use the same layout. */
enum gpt2_param {
    P_WTE,      /* (V, C)      token embedding, also the output projection */
    P_WPE,      /* (ctx, C)    position embedding */
    P_LN1W,     /* (L, C) */
    P_LN1B,     /* (L, C) */
    P_QKVW,     /* (L, 3C, C)  q, k, v projections stacked (out, in) */
    P_QKVB,     /* (L, 3C) */
    P_ATTPROJW, /* (L, C, C) */
    P_ATTPROJB, /* (L, C) */
    P_LN2W,     /* (L, C) */
    P_LN2B,     /* (L, C) */
    P_FCW,      /* (L, 4C, C) */
    P_FCB,      /* (L, 4C) */
    P_FCPROJW,  /* (L, C, 4C) */
    P_FCPROJB,  /* (L, C) */
    P_LNFW,     /* (C) */
    P_LNFB,     /* (C) */
    GPT2_NPARAMS
};

struct gpt2 {
    struct gpt2_config cfg;
    size_t param_sizes[GPT2_NPARAMS];
    size_t nparams;                 /* total floats */
    float *params;                  /* one block, nparams floats */
    float *p[GPT2_NPARAMS];         /* pointers into params */
    float *grads;                   /* same layout, allocated by the first backward */
    float *m, *v;                   /* AdamW moments, same layout, allocated by the first step */
    /* How the forward and backward passes run (read at each forward):
     * 0, the default: tiled attention with an online softmax (only each
     *    row's log-sum-exp is kept, memory linear in T) and the output
     *    projection + cross-entropy in row chunks, so the (B T, V) logits
     *    never exist whole when there are targets;
     * 1: the readable reference: every (T, T) attention matrix and the
     *    whole logits are kept, as the walk-through in tfs-autograd(7)
     *    describes.  tests/unit/test_gpt2.c holds the two to each other. */
    int plain;
    /* The batch split (read at each forward with targets; gpt2.c explains
     * it): 0, the default: on 1 or 2 threads, a model of at most 16 Mi
     * parameters cuts an even batch into 2 halves that run side by side,
     * each on one thread with its own activations and gradients, added in
     * a fixed order (on more threads the unsplit pass uses them all);
     * 1: never; 2: always (an even batch, fast path).  The cut does not
     * depend on the thread count, so 1 and 2 threads give the same bits.
     * Not with plain, nor for a pass without targets. */
    int shards;
    /* Activations for the current (B, T): owned by gpt2.c, see there. */
    int B, T;
    void *acts;                     /* gpt2.c's struct state: the shards' activations */
    float *logits;                  /* (B, T, V) after a forward without targets, or any forward when plain */
    float *losses;                  /* (B, T) per-position loss after forward with targets */
    float mean_loss;                /* mean of losses, -1 when forward had no targets */
    /* Optional, called by gpt2_backward as soon as block l's parameter
     * gradients are complete (l = L-1 down to 0): data-parallel training
     * starts sending them while the blocks below compute (run/dist.h). */
    void (*layer_done)(void *ctx, int l);
    void *layer_ctx;
};

/* Allocate the parameter block for cfg (no activations yet). */
void gpt2_init(struct gpt2 *m, const struct gpt2_config *cfg);
void gpt2_free(struct gpt2 *m);
/* GPT-2's initialisation: weights ~ N(0, 0.02), the two residual output
 * projections scaled by 1/sqrt(2 L), biases 0, LayerNorm gains 1.  Uses the
 * suite's RNG (rng.h), so it is the same everywhere for a seed. */
void gpt2_init_weights(struct gpt2 *m, uint64_t seed);
/* Parameter count without the position table (the N of "6 N" FLOPs). */
size_t gpt2_nparams_nonpos(const struct gpt2 *m);
/* Model FLOPs per token for training (forward + backward), nanoGPT's
 * estimate: 6 N + 12 L T C (the second term is attention's QK^T and AV). */
double gpt2_flops_per_token(const struct gpt2 *m, int T);

/* Forward pass over inputs (B, T).  With targets (B, T), fills losses and
 * returns the mean loss (logits are valid too only when m->plain); with
 * targets NULL, returns -1 and only logits are valid.  (Re)allocates activations when B or T change.  inputs and
 * targets are copied (the backward pass uses the copies).  A token id >=
 * vocab or T > context dies with a message. */
float gpt2_forward(struct gpt2 *m, const uint32_t *inputs, const uint32_t *targets, int B, int T);
/* Layer l's q, k, v (B, T, 3C), each row [q | k | v], from the last
 * forward pass: the input of that layer's attention (attention.h). */
const float *gpt2_layer_qkv(const struct gpt2 *m, int l);
/* Set all gradients to zero (allocating them on first use). */
void gpt2_zero_grad(struct gpt2 *m);
/* Backward pass of the last forward (which must have had targets):
 * ACCUMULATES d(mean loss)/d(param) * scale into grads, so gradient
 * accumulation over k micro-batches uses scale = 1/k. */
void gpt2_backward(struct gpt2 *m, float scale);
/* Global L2 norm of the gradients. */
float gpt2_grad_norm(const struct gpt2 *m);
/* The parameter tensors as the optimizer sees them (optim.h), pointing into
 * params, grads, m and v; returns GPT2_NPARAMS.  For the data-parallel
 * layer (run/dist.h), which updates a slice of them. */
struct optim_tensor;
int gpt2_optim_tensors(const struct gpt2 *m, struct optim_tensor *ts);
/* AdamW (Loshchilov and Hutter, decoupled weight decay) with bias
 * correction; step t starts at 1.  Weight decay applies to the matrices
 * (embeddings and linear weights), not to biases or LayerNorm parameters.
 * grad_scale multiplies each gradient first (for clipping). */
void gpt2_adamw_step(struct gpt2 *m, float lr, float beta1, float beta2, float eps,
                     float weight_decay, float grad_scale, int t);
/* Does this parameter tensor get weight decay? */
int gpt2_param_decays(enum gpt2_param i);

/* ---- inference with a KV cache ----
 * Each new token attends to the cached keys and values of the previous
 * ones, so it costs O(T) instead of a full forward pass. */
struct gpt2_kv;
struct gpt2_kv *gpt2_kv_new(const struct gpt2 *m);
void gpt2_kv_free(struct gpt2_kv *kv);
void gpt2_kv_reset(struct gpt2_kv *kv);
int gpt2_kv_len(const struct gpt2_kv *kv);
/* Feed one token at position gpt2_kv_len(kv) (< context); returns the
 * logits (V) for the next token, valid until the next call. */
const float *gpt2_kv_step(struct gpt2 *m, struct gpt2_kv *kv, uint32_t token);
/* Feed tokens[0..n) into an empty cache in one batched forward pass (the
 * prompt's prefill); returns the logits (V) after the last one. */
const float *gpt2_kv_prefill(struct gpt2 *m, struct gpt2_kv *kv, const uint32_t *tokens, int n);

#endif
