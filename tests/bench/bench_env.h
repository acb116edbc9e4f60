/* bench_env.h - the floating-point and threading set-up that the benchmark
 * drivers (tests/bench/NAME_bench.c) share with their PyTorch references, and
 * a JSON record of it.  Header-only: each driver is one program.
 *
 * Denormals.  A float below 2^-126 in magnitude is "denormal" (subnormal);
 * x86 cores compute with those through a slow microcode path, often 10-100x
 * slower per instruction.  Training with small weights or small gradients
 * produces them, and then speed depends on the data, not on the code.  Two
 * bits of the SSE control register MXCSR turn that path off: FTZ (bit 15)
 * writes 0 for a denormal result, DAZ (bit 6) reads a denormal input as 0.
 * PyTorch's torch.set_flush_denormal(True) sets the same two bits, so with
 * both set both sides do the same arithmetic at the same speed.
 *
 * MXCSR belongs to each thread.  Linux gives a new thread a copy of its
 * creator's, so bench_denormals() sets it on the main thread before any
 * OpenMP region and then once more in every thread of the OpenMP team (the
 * one team that runs our loops and OpenBLAS's GEMMs, see gpt2.h).
 *
 * TFS_BENCH_DENORMALS=keep leaves MXCSR alone (IEEE denormals, slow);
 * anything else, or unset, flushes; the Python references read the same variable.
 * tfs-train itself leaves MXCSR as it is: with GPT-2's initialisation its
 * numbers stay far from the denormal range (the benchmark JSON records the
 * mode, so a run can be compared both ways).
 */
#ifndef TFS_BENCH_ENV_H
#define TFS_BENCH_ENV_H

#include "core/blas_core.h"
#include "kernels/isa.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define BENCH_HAVE_MXCSR 1
#endif

#define BENCH_FTZ (1u << 15)
#define BENCH_DAZ (1u << 6)

static inline void bench_set_mxcsr(int flush)
{
#ifdef BENCH_HAVE_MXCSR
    unsigned csr = _mm_getcsr();
    _mm_setcsr(flush ? csr | BENCH_FTZ | BENCH_DAZ : csr & ~(BENCH_FTZ | BENCH_DAZ));
#else
    (void)flush;
#endif
}

/* "flush" when every thread of the team has FTZ and DAZ set, "keep" when
 * none has either, "mixed" otherwise ("unknown" off x86). */
static inline const char *bench_denormal_mode(void)
{
#ifdef BENCH_HAVE_MXCSR
    int flushing = 0, keeping = 0;
#pragma omp parallel reduction(+ : flushing, keeping)
    {
        unsigned csr = _mm_getcsr() & (BENCH_FTZ | BENCH_DAZ);
        flushing += csr == (BENCH_FTZ | BENCH_DAZ);
        keeping += csr == 0;
    }
    int n = omp_get_max_threads();
    return flushing == n ? "flush" : keeping == n ? "keep" : "mixed";
#else
    return "unknown";
#endif
}

/* Call first in main. */
static inline void bench_denormals(void)
{
    const char *e = getenv("TFS_BENCH_DENORMALS");
    int flush = !(e && !strcmp(e, "keep"));
    bench_set_mxcsr(flush);
#pragma omp parallel
    bench_set_mxcsr(flush);
}

/* The set-up as a JSON object (no newline): the OpenBLAS build and core
 * (the kernel set in use) and who chose it (blas_core_origin: "openblas",
 * "user" for OPENBLAS_CORETYPE, "tfs" for TFS_BLAS_CORE, "fallback"),
 * threads, OMP_WAIT_POLICY, denormal mode, the vector width of our own
 * loops (kernels/isa.h), the peak resident memory so far. */
static inline void bench_print_setup(FILE *f)
{
    const char *wait = getenv("OMP_WAIT_POLICY");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);            /* ru_maxrss: KiB on Linux */
    fprintf(f, "{\"impl\": \"tfs (C)\", \"blas\": \"%s\", \"openblas_core\": \"%s\", \"core_chosen_by\": \"%s\", "
               "\"threads\": %d, "
               "\"wait_policy\": \"%s\", \"denormals\": \"%s\", \"isa\": \"%s\", \"max_rss_mb\": %.1f}",
            openblas_get_config(), openblas_get_corename(), blas_core_origin(), omp_get_max_threads(),
            wait && *wait ? wait : "default", bench_denormal_mode(), isa_name(isa_level()), ru.ru_maxrss / 1024.0);
}

#endif
