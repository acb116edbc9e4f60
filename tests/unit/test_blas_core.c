/* test_blas_core.c - the choice of OpenBLAS core (lib/core/blas_core.c):
 * the pure decision over a table of CPUs and reported cores, the names, and
 * the sgemm self-check, which must pass for OpenBLAS and fail for a broken
 * gemm.  The re-execution itself is tested in tests/50-tfs-train.bats. */
#include "core/blas_core.h"
#include "unit.h"

#include <cblas.h>
#include <strings.h>

/* CPUs by what they can run (the flags that matter; see cpu_isa) */
static const struct cpu_isa SSE_ONLY = { 0 };
static const struct cpu_isa AVX_ONLY = { .avx = 1 };
static const struct cpu_isa AVX2_NO_FMA = { .avx = 1, .avx2 = 1 };
static const struct cpu_isa INTEL_AVX2 = { .avx = 1, .avx2 = 1, .fma = 1 };
static const struct cpu_isa AMD_AVX2 = { .avx = 1, .avx2 = 1, .fma = 1, .amd = 1 };
static const struct cpu_isa INTEL_AVX512 = { .avx = 1, .avx2 = 1, .fma = 1, .avx512f = 1, .avx512bw = 1,
                                             .avx512dq = 1, .avx512vl = 1 };
static const struct cpu_isa INTEL_AVX512_BF16 = { .avx = 1, .avx2 = 1, .fma = 1, .avx512f = 1, .avx512bw = 1,
                                                  .avx512dq = 1, .avx512vl = 1, .avx512bf16 = 1 };
static const struct cpu_isa AMD_AVX512_BF16 = { .avx = 1, .avx2 = 1, .fma = 1, .avx512f = 1, .avx512bw = 1,
                                                .avx512dq = 1, .avx512vl = 1, .avx512bf16 = 1, .amd = 1 };
/* AVX-512 F only (Knights Landing): not the SkylakeX set, which needs BW/DQ/VL */
static const struct cpu_isa AVX512F_ONLY = { .avx = 1, .avx2 = 1, .fma = 1, .avx512f = 1 };

TEST(pick_over_a_table)
{
    static const struct { const struct cpu_isa *cpu; const char *reported, *want; } T[] = {
        /* a generic core on a modern CPU: the matching core */
        { &INTEL_AVX512, "Prescott", "SkylakeX" },
        { &INTEL_AVX512_BF16, "Prescott", "Cooperlake" },
        { &AMD_AVX512_BF16, "Prescott", "Cooperlake" },
        { &AMD_AVX2, "Prescott", "Zen" },
        { &INTEL_AVX2, "Prescott", "Haswell" },
        { &INTEL_AVX2, "Core2", "Haswell" },
        { &INTEL_AVX2, "Nehalem", "Haswell" },
        { &INTEL_AVX512, "Katmai", "SkylakeX" },
        { &INTEL_AVX2, "Sandybridge", "Haswell" },    /* AVX only: below what the CPU runs */
        { &AMD_AVX2, "Barcelona", "Zen" },
        { &AVX512F_ONLY, "Nehalem", "Haswell" },
        { &INTEL_AVX512, "prescott", "SkylakeX" },    /* names compare without case */
        /* a core with AVX2 kernels already: kept, even on an AVX-512 CPU */
        { &INTEL_AVX2, "Haswell", NULL },
        { &INTEL_AVX512, "Haswell", NULL },
        { &AMD_AVX2, "Zen", NULL },
        { &INTEL_AVX512, "SkylakeX", NULL },
        { &INTEL_AVX512_BF16, "SapphireRapids", NULL },
        { &INTEL_AVX512, "Excavator", NULL },
        /* a CPU without AVX2 and FMA: nothing better to pick */
        { &SSE_ONLY, "Prescott", NULL },
        { &AVX_ONLY, "Sandybridge", NULL },
        { &AVX_ONLY, "Nehalem", NULL },
        { &AVX2_NO_FMA, "Prescott", NULL },
        /* a name we do not know: left alone */
        { &INTEL_AVX512, "Unknown", NULL },
        { &INTEL_AVX512, "", NULL },
        { &INTEL_AVX512, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        const char *got = blas_core_pick(T[i].cpu, T[i].reported);
        int ok = T[i].want ? got && !strcmp(got, T[i].want) : got == NULL;
        if (!ok) fprintf(stderr, "  case %zu: %s -> %s, expected %s\n", i, T[i].reported ? T[i].reported : "(null)",
                         got ? got : "keep", T[i].want ? T[i].want : "keep");
        CHECK(ok);
    }
}

TEST(names_and_what_they_need)
{
    CHECK(!strcmp(blas_core_canonical("haswell"), "Haswell"));
    CHECK(!strcmp(blas_core_canonical("SKYLAKEX"), "SkylakeX"));
    CHECK(!strcmp(blas_core_canonical("Opteron_SSE3"), "Opteron_SSE3"));
    CHECK(blas_core_canonical("Skylake") == NULL);      /* a prefix is not a name */
    CHECK(blas_core_canonical("auto") == NULL);
    CHECK(blas_core_canonical("") == NULL);
    CHECK(blas_core_missing(&AMD_AVX2, "Haswell") == NULL);
    CHECK(blas_core_missing(&AMD_AVX2, "Prescott") == NULL);
    CHECK(blas_core_missing(&AMD_AVX2, "SkylakeX") != NULL);
    CHECK(blas_core_missing(&INTEL_AVX512, "Cooperlake") != NULL);
    CHECK(blas_core_missing(&INTEL_AVX512_BF16, "Cooperlake") == NULL);
    CHECK(blas_core_missing(&AVX_ONLY, "Zen") != NULL);
    CHECK(blas_core_missing(&AVX512F_ONLY, "SkylakeX") != NULL);
}

/* The core OpenBLAS picked on this machine is in our table, and the CPU
 * flags we read say this CPU runs it (else the table or the flags are wrong). */
TEST(openblas_own_pick_is_known_and_runs_here)
{
    const char *name = openblas_get_corename();
    struct cpu_isa cpu = cpu_isa_detect();
    CHECK(blas_core_canonical(name) != NULL);
    CHECK(blas_core_missing(&cpu, name) == NULL);
}

TEST(selfcheck_passes_with_openblas)
{
    CHECK(blas_core_check(blas_core_sgemm) == 0);
}

/* Broken gemms the check must catch. */
static void off_by_a_little(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c)
{
    blas_core_sgemm(ta, tb, m, n, k, a, b, c);
    c[m * n - 1] *= 1.0f + 1e-4f;       /* one entry, relative 1e-4: far above float's rounding */
}
static void ignores_transpose(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c)
{
    (void)ta;
    blas_core_sgemm(0, tb, m, n, k, a, b, c);
}
static void skips_the_edge(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c)
{
    blas_core_sgemm(ta, tb, m - 1, n, k, a, b, c);    /* last row not written: NaN stays */
}
static void single_rounding_per_product(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c)
{
    /* a correct gemm in float, summed in reverse: within the bound */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0;
            for (int p = k - 1; p >= 0; p--)
                s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = s;
        }
}

TEST(selfcheck_catches_broken_gemms)
{
    CHECK(blas_core_check(off_by_a_little) != 0);
    CHECK(blas_core_check(ignores_transpose) != 0);
    CHECK(blas_core_check(skips_the_edge) != 0);
    CHECK(blas_core_check(single_rounding_per_product) == 0);
}

int main(void)
{
    RUN(pick_over_a_table);
    RUN(names_and_what_they_need);
    RUN(openblas_own_pick_is_known_and_runs_here);
    RUN(selfcheck_passes_with_openblas);
    RUN(selfcheck_catches_broken_gemms);
    return unit_summary();
}
