/* ag.h - a small reverse-mode automatic differentiation library: the
 * "autograd" level of tfs.  The custom level (gpt2.h) writes every layer's
 * backward pass by hand; here each operation records itself as it runs, and
 * ag_backward() derives the whole backward pass from those records.  Reading
 * this file and ag.c (arena, tensors, ag_backward), ag_ops.c (the
 * operations) and ag_grad.c (their chain rules) is reading what PyTorch's
 * `loss.backward()` does.
 *
 * The names follow PyTorch (requires_grad, backward, zero_grad, matmul,
 * layer_norm, cross_entropy, Linear, LayerNorm, Embedding, AdamW), in C
 * conventions: every symbol starts with ag_, and the context comes first.
 *
 *   struct ag_ctx *ctx = ag_ctx_new();                      // an arena
 *   struct ag_tensor *W = ag_tensor_new(ctx, 2, (int[]){3, 4}, 1);   // requires_grad
 *   struct ag_tensor *x = ag_tensor_new(ctx, 2, (int[]){5, 4}, 0);
 *   struct ag_tensor *y = ag_matmul_t(ctx, x, W);           // (5, 3), records op=AG_MATMUL, src={x, W}
 *   struct ag_tensor *loss = ag_mean(ctx, ag_gelu(ctx, y)); // a scalar
 *   ag_backward(ctx, loss);                                 // W->grad += d loss / d W
 *
 * How it works.
 *  - A tensor is a contiguous row-major array of up to 4 dimensions.  It
 *    remembers the operation that made it (op), that operation's inputs
 *    (src[]) and arguments, and, when it requires a gradient, a buffer grad
 *    of the same shape that holds d(loss)/d(tensor).
 *  - requires_grad propagates forward: an op's output requires grad when any
 *    input does (and ag_no_grad is off).  Only those tensors get a grad
 *    buffer and a place in the backward pass.
 *  - ag_backward(loss) sorts the graph topologically from the loss (depth
 *    first, inputs before the tensors made from them), sets d(loss)/d(loss)
 *    = 1, and walks the order backwards, calling for each tensor the one
 *    case of its op (ag_grad.c): each case is the chain rule for that op,
 *    adding (+=) the output's gradient times the local derivative into
 *    every input's grad.
 *
 * Rules that keep the bookkeeping honest (the traps of hand-rolled autograds):
 *  - Gradients never require gradients: grad is a plain array, not a tensor,
 *    so it cannot grow a graph of its own.  (No higher-order derivatives.)
 *  - Accumulation is +=, always: two backward passes without ag_zero_grad in
 *    between add up, which is how gradient accumulation over micro-batches
 *    works.  Zeroing is the caller's explicit job (ag_zero_grad).
 *  - A graph is back-propagated once.  The gradients of its intermediate
 *    tensors are complete after one pass; a second pass would add the
 *    output's gradient on top of them and count every path twice, so it is
 *    refused (PyTorch: "Trying to backward through the graph a second
 *    time").  Record the graph again with another forward pass.
 *  - In-place changes to a tensor that requires grad are refused with a
 *    message (ag_copy_).  The optimizer's update is the one sanctioned
 *    in-place change; it bumps the tensor's version, and a backward pass
 *    through a graph recorded before the change is refused (PyTorch's
 *    "modified by an inplace operation" check).
 *
 * Memory: every tensor, its data and grad, and backward's bookkeeping come
 * from the context's arena.  ag_ctx_clear() frees a whole graph at once;
 * after the first training step the arena has grown to the step's high-water
 * mark, so later steps allocate nothing.  Parameters live in a context of
 * their own that is never cleared (or wrap memory the caller owns).
 *
 * Precision: ag_real is float.  The gradient-check test compiles ag*.c again
 * with AG_DOUBLE defined (ag_real = double), so finite differences are taken in double
 * precision (tests/unit/test_autograd_ops.c).
 */
#ifndef TFS_AG_H
#define TFS_AG_H

#include <stddef.h>
#include <stdint.h>

#ifdef AG_DOUBLE
typedef double ag_real;     /* only in the gradient-check build */
#else
typedef float ag_real;
#endif

#define AG_MAX_DIMS 4
#define AG_MAX_SRC 3

/* The operations, one backward case each (ag_grad.c). */
enum ag_op {
    AG_LEAF,            /* made by ag_tensor_new / ag_tensor_wrap, not by an op */
    AG_ADD,             /* a + b, b broadcast over a's leading dimensions */
    AG_MUL,             /* a * b, elementwise, same broadcasting */
    AG_SCALE,           /* s * a, s a constant */
    AG_MATMUL,          /* a @ b or a @ b^T, batched */
    AG_RESHAPE,         /* same data, another shape */
    AG_TRANSPOSE,       /* swap two dimensions (copies) */
    AG_NARROW,          /* a slice [start, start+len) of one dimension (copies) */
    AG_EMBEDDING,       /* rows of a table picked by integer ids */
    AG_LAYERNORM,       /* (x - mean) / sqrt(var + eps) * w + b over the last dimension */
    AG_GELU,            /* GELU, tanh approximation */
    AG_SOFTMAX,         /* softmax over the last dimension, optionally causal */
    AG_CROSS_ENTROPY,   /* mean over rows of -log softmax(logits)[target] */
    AG_SUM,             /* sum of all elements, a scalar */
    AG_MEAN,            /* mean of all elements, a scalar */
    AG_NUM_OPS
};

struct ag_tensor {
    int ndim;                       /* 0 for a scalar */
    int shape[AG_MAX_DIMS];
    size_t n;                       /* number of elements, the product of shape */
    ag_real *data;                  /* (n) row-major, contiguous */
    ag_real *grad;                  /* (n) d(loss)/d(data); NULL unless requires_grad */
    int requires_grad;
    unsigned version;               /* bumped by every in-place change of data */
    enum ag_op op;                  /* the op that made this tensor */
    struct ag_tensor *src[AG_MAX_SRC];      /* its inputs, NULL-padded */
    unsigned src_version[AG_MAX_SRC];       /* their versions when it ran */
    int iarg[4];                    /* op arguments (dims, flags), see ag_ops.c */
    ag_real farg;                   /* op argument (scale, eps) */
    ag_real *saved;                 /* values the forward pass keeps for backward */
    uint32_t *ids;                  /* embedding ids / cross-entropy targets */
    const char *name;               /* for messages; may be NULL */
    unsigned mark;                  /* internal: topological sort */
    int used;                       /* internal: its backward case has run */
};

/* ---- the context: an arena and the autograd switches ---- */
struct ag_ctx;
struct ag_ctx *ag_ctx_new(void);
void ag_ctx_free(struct ag_ctx *ctx);
/* Free every tensor of the context at once (the graph of one step).  The
 * arena keeps its memory, grown to the largest step so far. */
void ag_ctx_clear(struct ag_ctx *ctx);
/* Raw arena memory, 64-byte aligned, not zeroed; lives until ag_ctx_clear. */
void *ag_alloc(struct ag_ctx *ctx, size_t bytes);
/* How many times the arena asked malloc for memory (to test that a steady
 * training step allocates nothing), and the bytes it holds. */
size_t ag_ctx_mallocs(const struct ag_ctx *ctx);
size_t ag_ctx_bytes(const struct ag_ctx *ctx);
/* torch.no_grad(): while on, ops record nothing and outputs never require
 * grad (evaluation, generation).  Returns the previous setting. */
int ag_no_grad(struct ag_ctx *ctx, int on);

/* ---- tensors ---- */
/* A new leaf of this shape, zero-filled; with requires_grad, a zero grad too. */
struct ag_tensor *ag_tensor_new(struct ag_ctx *ctx, int ndim, const int *shape, int requires_grad);
/* A leaf over memory the caller owns: data (and grad, if not NULL: then it
 * requires grad) must hold the shape's product of elements and outlive the
 * tensor.  This is how a model's one parameter block is seen as tensors. */
struct ag_tensor *ag_tensor_wrap(struct ag_ctx *ctx, ag_real *data, ag_real *grad,
                                 int ndim, const int *shape);
/* A scalar leaf. */
struct ag_tensor *ag_scalar(struct ag_ctx *ctx, ag_real value);
/* The value of a scalar tensor. */
ag_real ag_item(const struct ag_tensor *t);
/* x.copy_(src) in PyTorch: write n values into x's data in place.  Refused
 * (with the fix in the message) when x requires grad; bumps x's version, so
 * a graph recorded before the change refuses to run backward through it. */
void ag_copy_(struct ag_tensor *x, const ag_real *src);
/* Set the grads of these tensors to zero (optimizer.zero_grad()). */
void ag_zero_grad(struct ag_tensor *const *params, int n);
/* Record that data changed in place (the optimizer does this). */
void ag_bump_version(struct ag_tensor *t);

/* ---- operations: each returns a new tensor in ctx ---- */
/* a + b and a * b: b has a's shape or the shape of a's last b->ndim
 * dimensions (b is repeated over a's leading dimensions, as PyTorch's
 * broadcasting does for a bias or a position table). */
struct ag_tensor *ag_add(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b);
struct ag_tensor *ag_mul(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b);
struct ag_tensor *ag_scale(struct ag_ctx *ctx, struct ag_tensor *a, ag_real s);
/* a (..., M, K) @ b.  b is (K, N) shared by every matrix of a's batch, or
 * (..., K, N) with a's batch dimensions.  ag_matmul_t multiplies by b^T
 * instead, b being (N, K) or (..., N, K): PyTorch's a @ b.transpose(-2, -1),
 * and the core of F.linear (x @ W^T). */
struct ag_tensor *ag_matmul(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b);
struct ag_tensor *ag_matmul_t(struct ag_ctx *ctx, struct ag_tensor *a, struct ag_tensor *b);
/* x.view(shape): the same elements in another shape; one entry may be -1. */
struct ag_tensor *ag_reshape(struct ag_ctx *ctx, struct ag_tensor *x, int ndim, const int *shape);
/* x.transpose(d0, d1).contiguous(): our tensors are always contiguous. */
struct ag_tensor *ag_transpose(struct ag_ctx *ctx, struct ag_tensor *x, int d0, int d1);
/* x.narrow(dim, start, len).contiguous(); with it, qkv.split(C, dim=-1). */
struct ag_tensor *ag_narrow(struct ag_ctx *ctx, struct ag_tensor *x, int dim, int start, int len);
/* F.embedding(ids, weight): weight (V, C), ids of shape (ndim, shape) ->
 * (shape..., C).  An id >= V is an error naming it. */
struct ag_tensor *ag_embedding(struct ag_ctx *ctx, struct ag_tensor *weight, const uint32_t *ids,
                               int ndim, const int *shape);
/* F.layer_norm(x, (C,), w, b, eps) over the last dimension C. */
struct ag_tensor *ag_layer_norm(struct ag_ctx *ctx, struct ag_tensor *x, struct ag_tensor *w,
                                struct ag_tensor *b, ag_real eps);
/* F.gelu(x, approximate='tanh'). */
struct ag_tensor *ag_gelu(struct ag_ctx *ctx, struct ag_tensor *x);
/* F.softmax(x, dim=-1); with causal, entry (i, j) of the last two
 * dimensions is masked (probability 0) when j > i, as
 * x.masked_fill(tril == 0, -inf) before the softmax does. */
struct ag_tensor *ag_softmax(struct ag_ctx *ctx, struct ag_tensor *x, int causal);
/* F.cross_entropy(logits.view(-1, V), targets.view(-1)): logits (..., V),
 * one target per row; the mean over rows, a scalar. */
struct ag_tensor *ag_cross_entropy(struct ag_ctx *ctx, struct ag_tensor *logits, const uint32_t *targets);
struct ag_tensor *ag_sum(struct ag_ctx *ctx, struct ag_tensor *x);
struct ag_tensor *ag_mean(struct ag_ctx *ctx, struct ag_tensor *x);

/* ---- the backward pass ----
 * loss.backward(): loss must be a scalar that requires grad.  Adds
 * d(loss)/d(t) into t->grad for every tensor t that requires grad and that
 * the loss depends on. */
void ag_backward(struct ag_ctx *ctx, struct ag_tensor *loss);

const char *ag_op_name(enum ag_op op);

#endif
