/* autograd_bench.c - timing driver for tests/bench/30-autograd.sh (not
 * installed): training throughput of the autograd level next to the custom
 * level, same model, same weights, same batch.
 *
 *   autograd_bench V CTX L NH C B T STEPS
 *
 * After two warm-up steps of each, it runs STEPS rounds; each round times
 * one training step of the custom level and then one of the autograd level
 * (forward; zero_grad + backward; grad norm + AdamW), so a machine whose
 * load changes during the run slows both alike.  For each level it reports
 * the median of each phase and tokens/s from the median step, by the wall
 * clock and by the process's CPU time (all threads), as one JSON object on
 * stdout.  Threads: OMP_NUM_THREADS, shared by OpenMP and OpenBLAS.
 * Denormals are flushed unless TFS_BENCH_DENORMALS=keep; the set-up is
 * recorded under "setup" (bench_env.h).
 */
#include "autograd/ag_gpt2.h"
#include "bench_env.h"
#include "core/blas_core.h"
#include "kernels/isa.h"
#include "gpt2/gpt2.h"
#include "core/rng.h"
#include "core/xio.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double *s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

static int arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 1 << 30) { fprintf(stderr, "autograd_bench: bad number '%s'\n", s); exit(2); }
    return (int)v;
}

enum { PH_FWD, PH_BWD, PH_OPT, PH_STEP, PH_CPU, NPH };

/* One training step of either level; t[] gets the phase times. */
static void step(struct gpt2 *m, struct ag_gpt2 *g, const uint32_t *in, const uint32_t *tg, int B, int T,
                 int k, double *t)
{
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
    if (g) ag_gpt2_forward(g, in, tg, B, T); else gpt2_forward(m, in, tg, B, T);
    double t1 = clock_s(CLOCK_MONOTONIC);
    if (g) { ag_gpt2_zero_grad(g); ag_gpt2_backward(g, 1.0f); }
    else { gpt2_zero_grad(m); gpt2_backward(m, 1.0f); }
    double t2 = clock_s(CLOCK_MONOTONIC);
    float norm = gpt2_grad_norm(m), scale = norm > 1 ? 1 / norm : 1;
    if (g) ag_gpt2_adamw_step(g, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, scale, k);
    else gpt2_adamw_step(m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, scale, k);
    double t3 = clock_s(CLOCK_MONOTONIC);
    t[PH_FWD] = t1 - t0;
    t[PH_BWD] = t2 - t1;
    t[PH_OPT] = t3 - t2;
    t[PH_STEP] = t3 - t0;
    t[PH_CPU] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
}

static void report(const char *name, double *const *t, int steps, int tokens, const char *sep)
{
    double md[NPH];
    for (int p = 0; p < NPH; p++) md[p] = median(t[p], steps);
    printf("\"%s\": {\"tokens_per_s\": %.1f, \"cpu_tokens_per_s\": %.1f, \"step_ms\": %.2f, "
           "\"forward_ms\": %.2f, \"backward_ms\": %.2f, \"optimizer_ms\": %.2f}%s",
           name, tokens / md[PH_STEP], tokens / md[PH_CPU], 1e3 * md[PH_STEP],
           1e3 * md[PH_FWD], 1e3 * md[PH_BWD], 1e3 * md[PH_OPT], sep);
}

int main(int argc, char **argv)
{
    tfs_set_prog("autograd_bench");
    blas_core_start(argv);     /* the OpenBLAS core tfs-train would run (lib/core/blas_core.h) */
    blas_core_report(0, 0);
    isa_start();               /* the kernels' vector width: TFS_ISA or the CPU's widest (kernels/isa.h) */
    bench_denormals();         /* as 20-model.sh's drivers do (bench_env.h) */
    if (argc != 9) {
        fprintf(stderr, "usage: autograd_bench V CTX L NH C B T STEPS\n");
        return 2;
    }
    struct gpt2_config cfg = { .vocab = arg(argv[1]), .context = arg(argv[2]), .layers = arg(argv[3]),
                               .heads = arg(argv[4]), .dim = arg(argv[5]) };
    int B = arg(argv[6]), T = arg(argv[7]), steps = arg(argv[8]), warm = 2;
    if (T > cfg.context) { fprintf(stderr, "autograd_bench: T %d exceeds the context %d\n", T, cfg.context); return 2; }
    struct gpt2 custom, autograd;
    gpt2_init(&custom, &cfg);
    gpt2_init_weights(&custom, 1);
    gpt2_init(&autograd, &cfg);
    gpt2_init_weights(&autograd, 1);
    struct ag_gpt2 *g = ag_gpt2_new(&autograd);
    uint32_t *in = xmalloc((size_t)B * T * sizeof *in), *tg = xmalloc((size_t)B * T * sizeof *tg);
    struct rng r;
    rng_seed(&r, 2);
    for (int i = 0; i < B * T; i++) {
        in[i] = (uint32_t)rng_below(&r, (uint64_t)cfg.vocab);
        tg[i] = (uint32_t)rng_below(&r, (uint64_t)cfg.vocab);
    }
    double *tc[NPH], *ta[NPH], ph[NPH];
    for (int p = 0; p < NPH; p++) {
        tc[p] = xmalloc((size_t)steps * sizeof *tc[p]);
        ta[p] = xmalloc((size_t)steps * sizeof *ta[p]);
    }
    for (int k = 1; k <= warm + steps; k++) {
        step(&custom, NULL, in, tg, B, T, k, ph);
        if (k > warm) for (int p = 0; p < NPH; p++) tc[p][k - warm - 1] = ph[p];
        step(&autograd, g, in, tg, B, T, k, ph);
        if (k > warm) for (int p = 0; p < NPH; p++) ta[p][k - warm - 1] = ph[p];
    }
    int tokens = B * T;
    printf("{\"vocab\": %d, \"context\": %d, \"layers\": %d, \"heads\": %d, \"dim\": %d, \"batch\": %d, "
           "\"seq\": %d, \"steps\": %d, \"threads\": %d, \"params\": %zu, \"arena_bytes\": %zu, ",
           cfg.vocab, cfg.context, cfg.layers, cfg.heads, cfg.dim, B, T, steps, omp_get_max_threads(),
           custom.nparams, ag_ctx_bytes(g->ctx));
    report("custom", tc, steps, tokens, ", ");
    report("autograd", ta, steps, tokens, ", ");
    printf("\"autograd_over_custom\": %.3f, \"autograd_over_custom_cpu\": %.3f, \"setup\": ",
           median(tc[PH_STEP], steps) / median(ta[PH_STEP], steps),
           median(tc[PH_CPU], steps) / median(ta[PH_CPU], steps));
    bench_print_setup(stdout);
    printf("}\n");
    for (int p = 0; p < NPH; p++) { free(tc[p]); free(ta[p]); }
    free(in);
    free(tg);
    ag_gpt2_free(g);
    gpt2_free(&custom);
    gpt2_free(&autograd);
    return 0;
}
