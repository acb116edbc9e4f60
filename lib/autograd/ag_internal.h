/* ag_internal.h - what the three parts of the autograd library share
 * (not part of its interface, ag.h): ag.c (arena, tensors, ag_backward),
 * ag_ops.c (the operations, forward) and ag_grad.c (their chain rules).
 */
#ifndef TFS_AG_INTERNAL_H
#define TFS_AG_INTERNAL_H

#include <stddef.h>
#include <tgmath.h>     /* exp, log, tanh, sqrt follow ag_real: float or double */

#include "autograd/ag.h"
#include "kernels/attention.h"

/* e^-a (a >= 0) and tanh: in the float build the custom level's
 * vectorizable versions (fastmath.h, a few ulps), in the double build of the
 * gradient check libm's, so that finite differences see double precision. */
#ifdef AG_DOUBLE
static inline ag_real ag_exp_neg(ag_real a) { return exp(-a); }
static inline ag_real ag_tanh(ag_real u) { return tanh(u); }
#else
#include "kernels/fastmath.h"
#define ag_exp_neg exp_neg
#define ag_tanh tanh_fast
#endif

/* Kernels shared with the other levels (kernels/), float or double: the
 * gradient-check build compiles them over double with names suffixed _f64
 * (tests/unit/test_autograd_ops.c). */
#ifdef AG_DOUBLE
#define AG_KERNEL(name) name##_f64
void softmax_prefix_f64(double *row, int valid, int n);
void softmax_prefix_backward_f64(double *dx, const double *p, const double *dp, int n, int accumulate);
void crossentropy_forward_f64(double *losses, double *lse, const double *logits, const uint32_t *targets,
                              int N, int V);
void crossentropy_backward_f64(double *dlogits, const double *dlosses, const double *logits, const double *lse,
                               const uint32_t *targets, int N, int V);
#else
#include "kernels/ops.h"
#define AG_KERNEL(name) name
#endif

#define GELU_K ((ag_real)0.7978845608028654)    /* sqrt(2 / pi) */
#define GELU_A ((ag_real)0.044715)

/* C (M, N) = op(A) (M, K) @ op(B) (K, N) + beta * C, row-major, in ag_real */
void ag_gemm(int ta, int tb, int M, int N, int K, const ag_real *A, int lda,
             const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc);

/* Matrix shapes of a matmul: a is (batch.., M, K), op(b) is (K, N).
 * shared: b is one matrix for the whole batch (then a's batch folds into M). */
struct mm_dims { int batch, M, K, N, shared, tb; };

struct mm_dims ag_mm_dims(const struct ag_tensor *a, const struct ag_tensor *b, int tb);
/* Copy x into its transpose y = x.transpose(d0, d1), or with acc add y back into x. */
void ag_transpose_loop(ag_real *x, ag_real *y, const struct ag_tensor *xt, int d0, int d1, int acc);

/* The output of an op (ag.c); see there. */
struct ag_tensor *ag_op_result(struct ag_ctx *ctx, enum ag_op op, int ndim, const int *shape,
                               struct ag_tensor *a, struct ag_tensor *b, struct ag_tensor *c);
/* For messages: "(2, 3, 4)" into buf; a tensor's name, or its op's. */
const char *ag_shape_str(const struct ag_tensor *t, char *buf, size_t len);
const char *ag_tname(const struct ag_tensor *t);

/* The chain rule for one op (ag_grad.c): y's grad flows into its inputs'. */
void ag_backward_op(struct ag_tensor *y);

#endif
