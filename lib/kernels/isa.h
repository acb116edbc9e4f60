/* isa.h - one build of the kernels' loops per x86-64 vector width, chosen
 * once at run time.
 *
 * The `omp simd` loops of the kernels (lib/kernels/, lib/llama/llama_ops.c)
 * vectorize for whatever instructions the compiler may use.  The default
 * build may use only x86-64's baseline, SSE2 (4 floats per instruction), so
 * that `make install` runs on any x86-64 CPU.  The Makefile therefore
 * compiles each of those files three times:
 *   sse2     the plain build, with the plain names (layernorm_forward);
 *   avx2     -mavx2 -mfma, 8 floats, every global name suffixed _avx2;
 *   avx512   AVX-512 F/BW/DQ/VL, 16 floats, names suffixed _avx512
 * (the suffixes are given by `objcopy --redefine-syms` to the compiled
 * objects, so the sources keep one name per function).  Each exported
 * kernel starts with ISA_DISPATCH, which in the plain build hands the call
 * to the variant isa_level() chose and in the variants is empty.
 *
 * The choice: TFS_ISA=sse2|avx2|avx512 forces one (a level the CPU lacks
 * is an error), auto or unset takes the widest the CPU runs (CPUID, through
 * cpu_isa_detect in core/blas_core.h).  Every level computes the same
 * math; reductions (sums over a row) are split over more lanes at a wider
 * level, so results differ in the last bits between levels and repeat bit
 * for bit at one level (tests/56-isa.bats runs the checks at each level).
 * `make NATIVE=1` compiles everything for the building machine
 * (-march=native) instead; the dispatch still runs.
 */
#ifndef TFS_ISA_H
#define TFS_ISA_H

enum isa_level { ISA_LEVEL_SSE2, ISA_LEVEL_AVX2, ISA_LEVEL_AVX512 };

/* The level in use: chosen on the first call (from TFS_ISA and the CPU; a
 * bad TFS_ISA dies there), the same afterwards.  Thread-safe. */
enum isa_level isa_level(void);
/* "sse2", "avx2" or "avx512". */
const char *isa_name(enum isa_level l);
/* The widest level this CPU runs. */
enum isa_level isa_cpu_level(void);

/* For programs: choose now, at start-up; a bad TFS_ISA is a usage error
 * (message, exit 2) rather than a death in the middle of a run. */
void isa_start(void);
/* With verbose, one line on stderr: the level in use and who chose it. */
void isa_report(int quiet, int verbose);

#endif

/* ISA_DISPATCH(name, args...): the first statement of an exported kernel.
 * Outside the header guard, so that each source's setting of
 * TFS_ISA_VARIANT (from the Makefile) and of OPS_REAL (real.h: the
 * double-precision test builds, which never dispatch) applies. */
#undef ISA_DISPATCH
#undef ISA_DISPATCH_RETURN
#if defined(TFS_ISA_VARIANT) || (defined(OPS_REAL) && !defined(OPS_LIBRARY_BUILD))
#define ISA_DISPATCH(name, ...) ((void)0)
#define ISA_DISPATCH_RETURN(name, ...) ((void)0)
#else
#define ISA_DISPATCH(name, ...)                                                   \
    do {                                                                          \
        extern __typeof__(name) name##_avx2, name##_avx512;                       \
        switch (isa_level()) {                                                    \
        case ISA_LEVEL_AVX512: name##_avx512(__VA_ARGS__); return;                \
        case ISA_LEVEL_AVX2: name##_avx2(__VA_ARGS__); return;                    \
        case ISA_LEVEL_SSE2: break;                                               \
        }                                                                         \
    } while (0)
#define ISA_DISPATCH_RETURN(name, ...)                                            \
    do {                                                                          \
        extern __typeof__(name) name##_avx2, name##_avx512;                       \
        switch (isa_level()) {                                                    \
        case ISA_LEVEL_AVX512: return name##_avx512(__VA_ARGS__);                 \
        case ISA_LEVEL_AVX2: return name##_avx2(__VA_ARGS__);                     \
        case ISA_LEVEL_SSE2: break;                                               \
        }                                                                         \
    } while (0)
#endif
