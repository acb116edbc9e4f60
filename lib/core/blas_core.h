/* blas_core.h - run OpenBLAS with the kernel set ("core") that fits the CPU.
 *
 * OpenBLAS's DYNAMIC_ARCH builds (Debian's) hold one kernel set per CPU
 * family and pick one when the library loads, from the CPU's family and
 * model numbers.  A CPU newer than the OpenBLAS release is not in its tables
 * and gets a generic set: on an AVX-512 Xeon, Debian 12's OpenBLAS 0.3.21
 * picks "Prescott" (SSE3), a third of the speed of "SkylakeX".  The variable
 * OPENBLAS_CORETYPE overrides the choice, but only when the library loads,
 * so the fix is to set it and execute the program again.
 *
 *   int main(int argc, char **argv)
 *   {
 *       tfs_set_prog("prog");
 *       blas_core_start(argv);     // first, before any input is read
 *       ... parse options ...
 *       blas_core_report(quiet, verbose);
 *
 * blas_core_start follows TFS_BLAS_CORE (auto, keep or a core name, see
 * tfs(7), ENVIRONMENT); it never overrides an OPENBLAS_CORETYPE the user
 * set.  After a re-execution it checks a small sgemm of the new core
 * against a plain loop and goes back to OpenBLAS's own pick if they differ.
 * Used by tfs-train, tfs-eval and the benchmark and test drivers
 * (tests/bench/, tests/torch/); the thread count is set elsewhere
 * (lib/run/threads.c).
 */
#ifndef TFS_BLAS_CORE_H
#define TFS_BLAS_CORE_H

/* What a CPU can run, as far as OpenBLAS's kernels care (each flag 0 or 1). */
struct cpu_isa {
    int avx, avx2, fma;
    int avx512f, avx512bw, avx512dq, avx512vl, avx512bf16;
    int amd;        /* AMD or Hygon: the "Zen" kernels rather than "Haswell" */
};

/* This CPU's flags (CPUID, and whether the OS saves the wide registers). */
struct cpu_isa cpu_isa_detect(void);

/* The OpenBLAS core to set on a CPU that reports `reported`, or NULL to
 * keep it: a core is chosen only when OpenBLAS picked a generic one (its
 * kernels use no AVX2) on a CPU that has AVX2 and FMA or AVX-512.  AVX-512
 * F/BW/DQ/VL: SkylakeX, with AVX512-BF16 Cooperlake; otherwise AVX2+FMA:
 * Zen on AMD, Haswell elsewhere.  A reported name we do not know is kept.
 * A pure function (tests/unit/test_blas_core.c). */
const char *blas_core_pick(const struct cpu_isa *cpu, const char *reported);

/* OpenBLAS's spelling of core `name` (compared without case), or NULL when
 * it is not a core of OpenBLAS's x86-64 DYNAMIC_ARCH table. */
const char *blas_core_canonical(const char *name);

/* NULL when `cpu` can run core `name`'s kernels, else what it lacks
 * ("AVX2 and FMA", "AVX-512", ...). */
const char *blas_core_missing(const struct cpu_isa *cpu, const char *name);

/* The self-check: C = op(A) op(B) for the four transpose combinations of a
 * small odd shape, by `gemm` (row-major, alpha 1, beta 0) against a loop in
 * double.  Returns 0 when every entry is within float's rounding bound.
 * blas_core_sgemm is cblas_sgemm in this form. */
typedef void blas_gemm_fn(int trans_a, int trans_b, int m, int n, int k,
                          const float *a, const float *b, float *c);
void blas_core_sgemm(int trans_a, int trans_b, int m, int n, int k, const float *a, const float *b, float *c);
int blas_core_check(blas_gemm_fn *gemm);

/* See the top of this file.  Exits 2 on a bad TFS_BLAS_CORE. */
void blas_core_start(char **argv);

/* The one line about what blas_core_start did (unless quiet), and with
 * verbose the core in use and who chose it.  On standard error. */
void blas_core_report(int quiet, int verbose);

/* Who chose the core in use: "openblas", "user" (OPENBLAS_CORETYPE),
 * "tfs" (TFS_BLAS_CORE) or "fallback" (the self-check failed). */
const char *blas_core_origin(void);

#endif
