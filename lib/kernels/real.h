/* real.h - the type `real` of the sources that are compiled twice: over
 * float as part of libtfs, and over double by the finite-difference
 * checks (kernels/ops_loss.c, kernels/optim.c, llama/llama_ops.c).
 *
 * A double build defines OPS_REAL double, OPS(name) name##_f64 and
 * OPS_GEMM cblas_dgemm, then includes the source (tests/unit/
 * test_llama_ops.c; autograd/ag.c under AG_DOUBLE).  Otherwise this header
 * picks float, the plain names and sgemm, and defines OPS_LIBRARY_BUILD
 * for what exists in libtfs only.  <tgmath.h> makes exp, log, pow, sqrt
 * follow the argument type.  No include guard: a source includes it once,
 * and repeating the same typedef is valid C11.
 */
#ifndef OPS_REAL
#define OPS_REAL float
#define OPS(name) name
#define OPS_GEMM cblas_sgemm
#define OPS_LIBRARY_BUILD
#endif

#include <cblas.h>
#include <math.h>
#include <tgmath.h>

typedef OPS_REAL real;
