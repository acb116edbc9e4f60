/* blas_core.c - choosing OpenBLAS's kernel set at start-up (see blas_core.h).
 *
 * The environment, all read by blas_core_start:
 *   OPENBLAS_CORETYPE      read by OpenBLAS when it loads; set by the user, kept
 *   TFS_BLAS_CORE          auto (default), keep, or a core name to force
 *   TFS_BLAS_CORE_STATE    ours, set only across our own re-execution (the
 *                          guard against a loop): "check:ORIG" after choosing
 *                          a core, "fallback:CHOSEN" after its self-check failed
 *   TFS_BLAS_TEST_CORENAME test hook: act as if OpenBLAS had picked this core
 *   TFS_BLAS_SELFTEST_FAIL test hook: 1 makes the self-check fail
 */
#include "core/blas_core.h"
#include "core/xio.h"

#include <cblas.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the cores and what their kernels need --------------------------------
 * The names of OpenBLAS's x86-64 DYNAMIC_ARCH kernel sets (the table in its
 * driver/others/dynamic.c; OPENBLAS_CORETYPE takes these, in any case), each
 * with the widest instructions its kernels use. */
enum isa { ISA_SSE = 1, ISA_AVX, ISA_AVX2, ISA_AVX512, ISA_AVX512_BF16 };

static const struct { const char *name; enum isa isa; } CORES[] = {
    { "Katmai", ISA_SSE }, { "Coppermine", ISA_SSE }, { "Northwood", ISA_SSE },
    { "Prescott", ISA_SSE }, { "Banias", ISA_SSE }, { "Atom", ISA_SSE }, { "Core2", ISA_SSE },
    { "Penryn", ISA_SSE }, { "Dunnington", ISA_SSE }, { "Nehalem", ISA_SSE },
    { "Athlon", ISA_SSE }, { "Opteron", ISA_SSE }, { "Opteron_SSE3", ISA_SSE },
    { "Barcelona", ISA_SSE }, { "Nano", ISA_SSE }, { "Bobcat", ISA_SSE },
    { "Sandybridge", ISA_AVX }, { "Bulldozer", ISA_AVX }, { "Piledriver", ISA_AVX },
    { "Steamroller", ISA_AVX },
    { "Haswell", ISA_AVX2 }, { "Excavator", ISA_AVX2 }, { "Zen", ISA_AVX2 },
    { "SkylakeX", ISA_AVX512 }, { "Cooperlake", ISA_AVX512_BF16 }, { "SapphireRapids", ISA_AVX512_BF16 },
};
#define NCORES (sizeof CORES / sizeof CORES[0])

static const char *ISA_NAME[] = { "", "SSE", "AVX", "AVX2 and FMA", "AVX-512", "AVX-512 with BF16" };

static int core_index(const char *name)
{
    for (size_t i = 0; name && i < NCORES; i++)
        if (!strcasecmp(name, CORES[i].name)) return (int)i;
    return -1;
}

const char *blas_core_canonical(const char *name)
{
    int i = core_index(name);
    return i < 0 ? NULL : CORES[i].name;
}

/* The widest level of the table above that the CPU runs. */
static enum isa cpu_level(const struct cpu_isa *c)
{
    int avx512 = c->avx512f && c->avx512bw && c->avx512dq && c->avx512vl;
    if (avx512 && c->avx512bf16) return ISA_AVX512_BF16;
    if (avx512) return ISA_AVX512;
    if (c->avx2 && c->fma) return ISA_AVX2;
    if (c->avx) return ISA_AVX;
    return ISA_SSE;
}

const char *blas_core_missing(const struct cpu_isa *cpu, const char *name)
{
    int i = core_index(name);
    if (i < 0) return "a core of that name";
    return cpu_level(cpu) >= CORES[i].isa ? NULL : ISA_NAME[CORES[i].isa];
}

const char *blas_core_pick(const struct cpu_isa *cpu, const char *reported)
{
    int i = core_index(reported);
    enum isa have = cpu_level(cpu);
    if (i < 0 || CORES[i].isa >= ISA_AVX2 || have < ISA_AVX2) return NULL;
    if (have == ISA_AVX512_BF16) return "Cooperlake";
    if (have == ISA_AVX512) return "SkylakeX";
    return cpu->amd ? "Zen" : "Haswell";
}

struct cpu_isa cpu_isa_detect(void)
{
    struct cpu_isa c = { 0 };
#if defined(__x86_64__) || defined(__i386__)
    /* libgcc reads CPUID and, for AVX and AVX-512, whether the OS saves
     * those registers (XGETBV): a flag here means the instructions work. */
    __builtin_cpu_init();
    c.avx = __builtin_cpu_supports("avx") != 0;
    c.avx2 = __builtin_cpu_supports("avx2") != 0;
    c.fma = __builtin_cpu_supports("fma") != 0;
    c.avx512f = __builtin_cpu_supports("avx512f") != 0;
    c.avx512bw = __builtin_cpu_supports("avx512bw") != 0;
    c.avx512dq = __builtin_cpu_supports("avx512dq") != 0;
    c.avx512vl = __builtin_cpu_supports("avx512vl") != 0;
    c.avx512bf16 = __builtin_cpu_supports("avx512bf16") != 0;
    c.amd = __builtin_cpu_is("amd") != 0;
    /* Hygon's Dhyana is a Zen licensed core, with AMD's CPUID layout */
    unsigned r[3];
    __asm__("cpuid" : "=b"(r[0]), "=d"(r[1]), "=c"(r[2]) : "a"(0));
    if (!memcmp(r, "HygonGenuine", 12)) c.amd = 1;
#endif
    return c;
}

/* ---- the self-check --------------------------------------------------------
 * Each entry of C = op(A) op(B) is a sum of K products.  Computed in float
 * in any order (blocked, with or without FMA), its error is at most
 * gamma_K * sum_k |a_ik b_kj|, gamma_K = K u / (1 - K u), u = 2^-24 the unit
 * roundoff (Higham, Accuracy and Stability of Numerical Algorithms, 3.1 and
 * 3.5).  The reference sums in double, whose own error is far below that.
 * A broken kernel (wrong instruction set, wrong edge handling) misses by
 * whole units, or leaves NaN where beta = 0 should have overwritten C. */
void blas_core_sgemm(int trans_a, int trans_b, int m, int n, int k, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, 1.0f, a, trans_a ? m : k, b, trans_b ? k : n, 0.0f, c, n);
}

int blas_core_check(blas_gemm_fn *gemm)
{
    /* odd sizes, so that the kernels' edge cases run as well as full tiles */
    enum { M = 37, N = 29, K = 53 };
    static float a[M * K], b[K * N], c[M * N];
    unsigned s = 12345;
    for (int i = 0; i < M * K; i++) { s = s * 1103515245u + 12345u; a[i] = (float)(s >> 8) / 8388608.0f - 1.0f; }
    for (int i = 0; i < K * N; i++) { s = s * 1103515245u + 12345u; b[i] = (float)(s >> 8) / 8388608.0f - 1.0f; }
    const double u = ldexp(1.0, -24), gamma = K * u / (1 - K * u);
    int bad = 0;
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        /* op(A) (i, p) is a[i K + p] stored as is, a[p M + i] transposed; the
         * same numbers, so every combination has the same reference */
        for (int i = 0; i < M * N; i++) c[i] = NAN;
        static float at[M * K], bt[K * N];
        for (int i = 0; i < M; i++) for (int p = 0; p < K; p++) at[p * M + i] = a[i * K + p];
        for (int p = 0; p < K; p++) for (int j = 0; j < N; j++) bt[j * K + p] = b[p * N + j];
        gemm(ta, tb, M, N, K, ta ? at : a, tb ? bt : b, c);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double ref = 0, mag = 0;
                for (int p = 0; p < K; p++) {
                    ref += (double)a[i * K + p] * b[p * N + j];
                    mag += fabs((double)a[i * K + p] * b[p * N + j]);
                }
                if (!(fabs(c[i * N + j] - ref) <= gamma * mag)) bad = 1;
            }
    }
    const char *hook = getenv("TFS_BLAS_SELFTEST_FAIL");
    if (hook && !strcmp(hook, "1")) bad = 1;
    return bad;
}

/* ---- start-up ------------------------------------------------------------- */
#define STATE "TFS_BLAS_CORE_STATE"

static const char *origin = "openblas";
static char note[512];          /* the line blas_core_report prints */

/* Run this program again, from its file, with the same arguments. */
static void reexec(char **argv)
{
    fflush(NULL);
    execv("/proc/self/exe", argv);
    warnx("could not re-execute /proc/self/exe to change the OpenBLAS core: %s", strerror(errno));
}

/* In the new process image, after a re-execution of ours. */
static void after_reexec(char **argv, const char *state)
{
    char saved[128];
    snprintf(saved, sizeof saved, "%s", state);
    unsetenv(STATE);
    const char *now = openblas_get_corename();
    if (!strncmp(saved, "fallback:", 9)) {
        origin = "fallback";
        snprintf(note, sizeof note, "OpenBLAS core %s failed the sgemm self-check; back to %s, OpenBLAS's own pick",
                 saved + 9, now);
        return;
    }
    const char *orig = saved + 6;      /* after "check:" */
    if (blas_core_check(blas_core_sgemm)) {
        char fb[128];
        snprintf(fb, sizeof fb, "fallback:%s", now);
        unsetenv("OPENBLAS_CORETYPE");
        setenv(STATE, fb, 1);
        reexec(argv);
        unsetenv(STATE);    /* could not: stay with the new core, and say so */
    }
    origin = "tfs";
    struct cpu_isa cpu = cpu_isa_detect();
    const char *mode = getenv("TFS_BLAS_CORE");
    if (mode && *mode && strcasecmp(mode, "auto"))
        snprintf(note, sizeof note, "OpenBLAS core %s, as TFS_BLAS_CORE asks (OpenBLAS picked %s)", now, orig);
    else
        snprintf(note, sizeof note, "OpenBLAS picked core %s, which leaves this CPU's %s unused; running with %s "
                 "(TFS_BLAS_CORE=keep keeps OpenBLAS's pick)", orig, ISA_NAME[cpu_level(&cpu)], now);
}

void blas_core_start(char **argv)
{
    const char *state = getenv(STATE);
    if (state && (!strncmp(state, "check:", 6) || !strncmp(state, "fallback:", 9))) {
        after_reexec(argv, state);
        return;
    }
    unsetenv(STATE);        /* not one of ours: ignored */

    const char *mode = getenv("TFS_BLAS_CORE");
    if (!mode || !*mode) mode = "auto";
    int force = strcasecmp(mode, "auto") && strcasecmp(mode, "keep");
    if (force && !blas_core_canonical(mode)) {
        fprintf(stderr, "%s: TFS_BLAS_CORE: '%s' is not auto, keep or an OpenBLAS core name "
                "(Haswell, Zen, SkylakeX, Cooperlake, Prescott, ...)\n", tfs_prog, mode);
        exit(EXIT_USAGE);
    }
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && *user) {            /* the user's choice stands */
        origin = "user";
        if (force && strcasecmp(user, mode))
            snprintf(note, sizeof note, "OPENBLAS_CORETYPE=%s is set, so TFS_BLAS_CORE=%s is not applied", user, mode);
        return;
    }
    if (!strcasecmp(mode, "keep")) return;

    struct cpu_isa cpu = cpu_isa_detect();
    const char *reported = getenv("TFS_BLAS_TEST_CORENAME");
    if (!reported || !*reported) reported = openblas_get_corename();
    const char *want;
    if (force) {
        want = blas_core_canonical(mode);
        const char *lacks = blas_core_missing(&cpu, want);
        if (lacks) {
            fprintf(stderr, "%s: TFS_BLAS_CORE=%s needs %s, which this CPU lacks\n", tfs_prog, mode, lacks);
            exit(EXIT_USAGE);
        }
        if (!strcasecmp(want, reported)) return;
    } else if (!(want = blas_core_pick(&cpu, reported))) {
        return;
    }
    char st[128];
    snprintf(st, sizeof st, "check:%s", reported);
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv(STATE, st, 1);
    reexec(argv);
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(STATE);
}

void blas_core_report(int quiet, int verbose)
{
    if (note[0] && !quiet) warnx("%s", note);
    if (!verbose) return;
    const char *how = !strcmp(origin, "user") ? "OPENBLAS_CORETYPE set by the user"
                    : !strcmp(origin, "tfs") ? "set by tfs, see TFS_BLAS_CORE in tfs(7)"
                    : !strcmp(origin, "fallback") ? "OpenBLAS's own pick, after a failed self-check"
                    : "OpenBLAS's own pick";
    warnx("OpenBLAS core %s (%s)", openblas_get_corename(), how);
}

const char *blas_core_origin(void)
{
    return origin;
}
