/* isa.c - choosing the kernels' vector width once (see isa.h). */
#include "kernels/isa.h"
#include "core/blas_core.h"
#include "core/xio.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[] = { "sse2", "avx2", "avx512" };

const char *isa_name(enum isa_level l) { return NAMES[l]; }

enum isa_level isa_cpu_level(void)
{
    struct cpu_isa c = cpu_isa_detect();
    if (c.avx512f && c.avx512bw && c.avx512dq && c.avx512vl && c.avx2 && c.fma) return ISA_LEVEL_AVX512;
    if (c.avx2 && c.fma) return ISA_LEVEL_AVX2;
    return ISA_LEVEL_SSE2;
}

/* -1 until chosen; then the level.  Every thread that finds -1 computes the
 * same answer, so a race only repeats the work. */
static _Atomic int chosen = -1;

/* The level TFS_ISA and the CPU give, or NULL with *why set. */
static int choose(const char **why)
{
    const char *v = getenv("TFS_ISA");
    enum isa_level cpu = isa_cpu_level();
    *why = NULL;
    if (!v || !*v || !strcmp(v, "auto")) return (int)cpu;
    for (int l = 0; l <= ISA_LEVEL_AVX512; l++)
        if (!strcmp(v, NAMES[l])) {
            if (l > (int)cpu) { *why = "needs instructions this CPU lacks"; return -1; }
            return l;
        }
    *why = "is not sse2, avx2, avx512 or auto";
    return -1;
}

enum isa_level isa_level(void)
{
    int l = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (l >= 0) return (enum isa_level)l;
    const char *why;
    l = choose(&why);
    if (l < 0) die("TFS_ISA=%s %s", getenv("TFS_ISA"), why);
    atomic_store_explicit(&chosen, l, memory_order_relaxed);
    return (enum isa_level)l;
}

void isa_start(void)
{
    const char *why;
    int l = choose(&why);
    if (l < 0) {
        fprintf(stderr, "%s: TFS_ISA=%s %s (this CPU runs up to %s)\n", tfs_prog, getenv("TFS_ISA"), why,
                NAMES[isa_cpu_level()]);
        exit(EXIT_USAGE);
    }
    atomic_store_explicit(&chosen, l, memory_order_relaxed);
}

void isa_report(int quiet, int verbose)
{
    if (quiet || !verbose) return;
    enum isa_level l = isa_level();
    const char *v = getenv("TFS_ISA");
    int forced = v && *v && strcmp(v, "auto");
    warnx("vector kernels: %s (%s; TFS_ISA=sse2|avx2|avx512 chooses)", NAMES[l],
          forced ? "TFS_ISA" : "the widest this CPU runs");
}
