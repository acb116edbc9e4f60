/* ag.c - the autograd library's core: the arena, the tensors, and
 * ag_backward (the topological sort and the walk that calls each op's chain
 * rule).  See ag.h for the ideas and the rules.  The operations are in
 * ag_ops.c (forward) and ag_grad.c (their chain rules, the backward cases);
 * what the three files share is declared in ag_internal.h.
 */
#include "autograd/ag.h"
#include "autograd/ag_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xio.h"

/* ===================================================================== */
/* Arena and context                                                     */
/* ===================================================================== */

/* The arena is a list of chunks; allocation bumps a pointer in the newest.
 * When a step overflows the first chunk, ag_ctx_clear replaces all chunks by
 * one as large as everything the step used, so the next step fits. */
struct ag_chunk {
    struct ag_chunk *prev;
    size_t cap, used;
    char *mem;
};

struct ag_ctx {
    struct ag_chunk *cur;       /* newest chunk; ->prev links the older ones */
    size_t mallocs;             /* malloc calls made for chunks */
    int no_grad;
};

#define AG_ALIGN 64
#define AG_FIRST_CHUNK ((size_t)1 << 20)

static struct ag_chunk *chunk_new(struct ag_ctx *ctx, size_t cap, struct ag_chunk *prev)
{
    struct ag_chunk *c = xmalloc(sizeof *c);
    cap = (cap + AG_ALIGN - 1) / AG_ALIGN * AG_ALIGN;  /* aligned_alloc wants a multiple */
    c->prev = prev;
    c->cap = cap;
    c->used = 0;
    c->mem = aligned_alloc(AG_ALIGN, cap);
    if (!c->mem) die("out of memory: the autograd arena needs %zu more bytes", cap);
    ctx->mallocs++;
    return c;
}

struct ag_ctx *ag_ctx_new(void)
{
    struct ag_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->cur = chunk_new(ctx, AG_FIRST_CHUNK, NULL);
    return ctx;
}

static void chunks_free(struct ag_chunk *c)
{
    while (c) {
        struct ag_chunk *p = c->prev;
        free(c->mem);
        free(c);
        c = p;
    }
}

void ag_ctx_free(struct ag_ctx *ctx)
{
    if (!ctx) return;
    chunks_free(ctx->cur);
    free(ctx);
}

void ag_ctx_clear(struct ag_ctx *ctx)
{
    if (ctx->cur->prev) {           /* the step overflowed: make one chunk that holds it all */
        size_t total = 0;
        for (struct ag_chunk *c = ctx->cur; c; c = c->prev) total += c->used;
        chunks_free(ctx->cur);
        ctx->cur = chunk_new(ctx, total + total / 8 + AG_ALIGN, NULL);
    }
    ctx->cur->used = 0;
}

void *ag_alloc(struct ag_ctx *ctx, size_t bytes)
{
    bytes = (bytes + AG_ALIGN - 1) / AG_ALIGN * AG_ALIGN;
    struct ag_chunk *c = ctx->cur;
    if (c->used + bytes > c->cap) {
        size_t cap = 2 * c->cap > bytes ? 2 * c->cap : bytes;
        c = ctx->cur = chunk_new(ctx, cap, c);
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

static void *alloc_zero(struct ag_ctx *ctx, size_t bytes)
{
    void *p = ag_alloc(ctx, bytes);
    memset(p, 0, bytes);
    return p;
}

size_t ag_ctx_mallocs(const struct ag_ctx *ctx) { return ctx->mallocs; }

size_t ag_ctx_bytes(const struct ag_ctx *ctx)
{
    size_t total = 0;
    for (struct ag_chunk *c = ctx->cur; c; c = c->prev) total += c->cap;
    return total;
}

int ag_no_grad(struct ag_ctx *ctx, int on)
{
    int was = ctx->no_grad;
    ctx->no_grad = on;
    return was;
}

/* ===================================================================== */
/* Tensors                                                               */
/* ===================================================================== */

static const char *const OP_NAMES[AG_NUM_OPS] = {
    "leaf", "add", "mul", "scale", "matmul", "reshape", "transpose", "narrow",
    "embedding", "layer_norm", "gelu", "softmax", "cross_entropy", "sum", "mean",
};

const char *ag_op_name(enum ag_op op) { return op < AG_NUM_OPS ? OP_NAMES[op] : "?"; }

/* "(2, 3, 4)" for messages, written into the caller's buffer. */
const char *ag_shape_str(const struct ag_tensor *t, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < t->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %d" : "%d", t->shape[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
    return buf;
}

const char *ag_tname(const struct ag_tensor *t)
{
    return t->name ? t->name : ag_op_name(t->op);
}

static struct ag_tensor *tensor_header(struct ag_ctx *ctx, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > AG_MAX_DIMS) die("autograd: %d dimensions; at most %d are supported", ndim, AG_MAX_DIMS);
    struct ag_tensor *t = alloc_zero(ctx, sizeof *t);
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) die("autograd: dimension %d of a new tensor is %d; sizes must be positive", i, shape[i]);
        t->shape[i] = shape[i];
        t->n *= (size_t)shape[i];
    }
    return t;
}

struct ag_tensor *ag_tensor_new(struct ag_ctx *ctx, int ndim, const int *shape, int requires_grad)
{
    struct ag_tensor *t = tensor_header(ctx, ndim, shape);
    t->data = alloc_zero(ctx, t->n * sizeof *t->data);
    if (requires_grad) {
        t->requires_grad = 1;
        t->grad = alloc_zero(ctx, t->n * sizeof *t->grad);
    }
    return t;
}

struct ag_tensor *ag_tensor_wrap(struct ag_ctx *ctx, ag_real *data, ag_real *grad, int ndim, const int *shape)
{
    struct ag_tensor *t = tensor_header(ctx, ndim, shape);
    t->data = data;
    t->grad = grad;
    t->requires_grad = grad != NULL;
    return t;
}

struct ag_tensor *ag_scalar(struct ag_ctx *ctx, ag_real value)
{
    struct ag_tensor *t = ag_tensor_new(ctx, 0, NULL, 0);
    t->data[0] = value;
    return t;
}

ag_real ag_item(const struct ag_tensor *t)
{
    if (t->n != 1) die("ag_item: tensor %s has %zu elements, not one", ag_tname(t), t->n);
    return t->data[0];
}

void ag_copy_(struct ag_tensor *x, const ag_real *src)
{
    if (x->requires_grad)
        die("ag_copy_: tensor '%s' requires grad; changing its data in place would make the "
            "gradients computed through it wrong (write into a tensor made with requires_grad = 0, "
            "or let the optimizer update parameters)", ag_tname(x));
    memcpy(x->data, src, x->n * sizeof *src);
    x->version++;
}

void ag_bump_version(struct ag_tensor *t) { t->version++; }

void ag_zero_grad(struct ag_tensor *const *params, int n)
{
    for (int i = 0; i < n; i++)
        if (params[i]->grad) memset(params[i]->grad, 0, params[i]->n * sizeof *params[i]->grad);
}

/* The output of an op: shape, data, and, when any input requires grad (and
 * no_grad is off), a zeroed grad buffer plus the record of the op.  This is
 * the one place where requires_grad propagates. */
struct ag_tensor *ag_op_result(struct ag_ctx *ctx, enum ag_op op, int ndim, const int *shape,
                                   struct ag_tensor *a, struct ag_tensor *b, struct ag_tensor *c)
{
    struct ag_tensor *t = tensor_header(ctx, ndim, shape);
    if (op != AG_RESHAPE) t->data = ag_alloc(ctx, t->n * sizeof *t->data);   /* a view has none */
    struct ag_tensor *src[AG_MAX_SRC] = { a, b, c };
    int rg = 0;
    for (int i = 0; i < AG_MAX_SRC; i++) rg |= src[i] && src[i]->requires_grad;
    if (rg && !ctx->no_grad) {
        t->requires_grad = 1;
        t->grad = alloc_zero(ctx, t->n * sizeof *t->grad);
        t->op = op;
        for (int i = 0; i < AG_MAX_SRC; i++) {
            t->src[i] = src[i];
            t->src_version[i] = src[i] ? src[i]->version : 0;
        }
    }
    return t;
}

/* ===================================================================== */
/* Backward                                                              */
/* ===================================================================== */

/* Depth-first topological order of the tensors that require grad and that
 * t depends on: every tensor comes after all of its inputs.  With order
 * NULL it only counts.  Recursion depth is the graph's depth (a few hundred
 * for a GPT-2), not its size. */
static size_t topo(struct ag_tensor *t, unsigned mark, struct ag_tensor **order, size_t k)
{
    if (!t || !t->requires_grad || t->mark == mark) return k;
    t->mark = mark;
    for (int i = 0; i < AG_MAX_SRC; i++) k = topo(t->src[i], mark, order, k);
    if (order) order[k] = t;
    return k + 1;
}

void ag_backward(struct ag_ctx *ctx, struct ag_tensor *loss)
{
    char s[64];
    static unsigned marks;      /* a fresh mark per sort, shared by all contexts */
    if (loss->n != 1)
        die("ag_backward: the loss must be a scalar, got shape %s (reduce it with ag_mean or ag_sum first)",
            ag_shape_str(loss, s, sizeof s));
    if (!loss->requires_grad)
        die("ag_backward: the loss does not require grad: no input of its graph has requires_grad set "
            "(did you create the parameters with requires_grad = 1, or record the graph under ag_no_grad?)");
    size_t n = topo(loss, ++marks, NULL, 0);
    struct ag_tensor **order = ag_alloc(ctx, n * sizeof *order);
    topo(loss, ++marks, order, 0);

    loss->grad[0] += 1;                 /* d loss / d loss = 1 */
    for (size_t i = n; i-- > 0;) {      /* reverse topological order: outputs before inputs */
        struct ag_tensor *y = order[i];
        for (int k = 0; k < AG_MAX_SRC; k++)
            if (y->src[k] && y->src[k]->version != y->src_version[k])
                die("ag_backward: '%s', an input of %s, was changed in place after %s used it; its "
                    "gradient would be wrong (run the forward pass again after changing it)",
                    ag_tname(y->src[k]), ag_op_name(y->op), ag_op_name(y->op));
        if (y->op != AG_LEAF) {
            if (y->used)
                die("ag_backward: the graph through %s (%s) was already back-propagated; its "
                    "intermediate gradients are spent (run the forward pass again)", ag_tname(y), ag_op_name(y->op));
            y->used = 1;
        }
        ag_backward_op(y);
    }
}
