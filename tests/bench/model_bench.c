/* model_bench.c - timing driver for tests/bench/20-model.sh (not installed).
 *
 *   model_bench sgemm N REPS
 *       median GFLOP/s of cblas_sgemm on N x N x N (2 N^3 FLOPs per call)
 *   model_bench train V CTX L NH C B T STEPS [INIT]
 *       STEPS training steps of the custom model (forward, zero_grad,
 *       backward, grad norm, AdamW) after two warm-up steps (or
 *       TFS_BENCH_WARMUP), on one batch of random tokens; prints the
 *       median step time, tokens/s and the loss of the first step (from
 *       the initial weights).  TFS_BENCH_PLAIN=1 runs the plain path of
 *       gpt2.h (whole attention matrices and logits).  INIT: also
 *       write the initial weights and the batch to this safetensors file,
 *       for the PyTorch reference (tests/bench/torch_train.py) to start
 *       from: each parameter under its gpt2.h name ("wte", "qkvw", ...),
 *       flat, in gpt2.h's layout; "inputs" and "targets" (B, T) as floats.
 * Output: one JSON object on stdout, with the set-up under "setup"
 * (bench_env.h).  Threads: OMP_NUM_THREADS, shared by our OpenMP loops and
 * OpenBLAS (its OpenMP build, see the Makefile).  Denormals are flushed
 * unless TFS_BENCH_DENORMALS=keep (bench_env.h).
 */
#include "bench_env.h"
#include "core/blas_core.h"
#include "kernels/isa.h"
#include "gpt2/gpt2.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/xio.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 1 << 30) { fprintf(stderr, "model_bench: bad number '%s'\n", s); exit(2); }
    return (int)v;
}

/* The starting point of a run, for the PyTorch side to load (see above). */
static void write_init(const char *path, const struct gpt2 *m, const uint32_t *in, const uint32_t *tg, int B, int T)
{
    static const char *names[GPT2_NPARAMS] = {"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw",
        "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};
    size_t N = (size_t)B * T;
    float *batch = xmalloc(2 * N * sizeof *batch);   /* token ids < 2^24 are exact in a float */
    for (size_t i = 0; i < N; i++) { batch[i] = (float)in[i]; batch[N + i] = (float)tg[i]; }
    struct st_writer *w = st_writer_new();
    for (int i = 0; i < GPT2_NPARAMS; i++)
        st_add(w, names[i], m->p[i], 1, (int64_t[]){(int64_t)m->param_sizes[i]});
    st_add(w, "inputs", batch, 2, (int64_t[]){B, T});
    st_add(w, "targets", batch + N, 2, (int64_t[]){B, T});
    st_write(w, path);
    st_writer_free(w);
    free(batch);
}

int main(int argc, char **argv)
{
    tfs_set_prog("model_bench");
    blas_core_start(argv);     /* the OpenBLAS core tfs-train would run (lib/core/blas_core.h) */
    blas_core_report(0, 0);
    isa_start();               /* the kernels' vector width: TFS_ISA or the CPU's widest (kernels/isa.h) */
    bench_denormals();
    if (argc == 4 && !strcmp(argv[1], "sgemm")) {
        int n = arg(argv[2]), reps = arg(argv[3]);
        float *a = xmalloc((size_t)n * n * sizeof *a), *b = xmalloc((size_t)n * n * sizeof *b),
              *c = xmalloc((size_t)n * n * sizeof *c);
        struct rng r;
        rng_seed(&r, 1);
        for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)rng_uniform(&r); b[i] = (float)rng_uniform(&r); }
        double *t = xmalloc((size_t)(reps + 1) * sizeof *t);
        for (int k = 0; k <= reps; k++) {       /* the first call warms up */
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            t[k] = now() - t0;
        }
        double s = median(t + 1, reps);
        printf("{\"n\": %d, \"threads\": %d, \"seconds\": %.6f, \"gflops\": %.2f, \"openblas\": \"%s\", "
               "\"kernel\": \"%s\", \"setup\": ", n, omp_get_max_threads(), s, 2.0 * n * n * (double)n / s / 1e9,
               openblas_get_config(), openblas_get_corename());
        bench_print_setup(stdout);
        printf("}\n");
        free(a); free(b); free(c); free(t);
        return 0;
    }
    if ((argc == 10 || argc == 11) && !strcmp(argv[1], "train")) {
        struct gpt2_config cfg = {.vocab = arg(argv[2]), .context = arg(argv[3]), .layers = arg(argv[4]),
                                  .heads = arg(argv[5]), .dim = arg(argv[6])};
        int B = arg(argv[7]), T = arg(argv[8]), steps = arg(argv[9]), warm = 2;
        const char *w = getenv("TFS_BENCH_WARMUP");     /* warm-up steps (20-model.sh: 1 for the largest) */
        if (w && *w) warm = atoi(w) > 0 ? atoi(w) : 1;
        struct gpt2 m;
        gpt2_init(&m, &cfg);
        gpt2_init_weights(&m, 1);
        const char *pl = getenv("TFS_BENCH_PLAIN");     /* 1: the plain reference path (gpt2.h) */
        m.plain = pl && !strcmp(pl, "1");
        uint32_t *in = xmalloc((size_t)B * T * sizeof *in), *tg = xmalloc((size_t)B * T * sizeof *tg);
        struct rng r;
        rng_seed(&r, 2);
        for (int i = 0; i < B * T; i++) {
            in[i] = (uint32_t)rng_below(&r, (uint64_t)cfg.vocab);
            tg[i] = (uint32_t)rng_below(&r, (uint64_t)cfg.vocab);
        }
        if (argc == 11) write_init(argv[10], &m, in, tg, B, T);
        double *t = xmalloc((size_t)steps * sizeof *t);
        float loss = 0, first_loss = 0;
        for (int k = 0; k < warm + steps; k++) {
            double t0 = now();
            loss = gpt2_forward(&m, in, tg, B, T);
            if (k == 0) first_loss = loss;
            gpt2_zero_grad(&m);
            gpt2_backward(&m, 1.0f);
            float norm = gpt2_grad_norm(&m);
            gpt2_adamw_step(&m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, norm > 1 ? 1 / norm : 1, k + 1);
            if (k >= warm) t[k - warm] = now() - t0;
        }
        double s = median(t, steps), fpt = gpt2_flops_per_token(&m, T);
        printf("{\"params\": %zu, \"batch\": %d, \"seq\": %d, \"threads\": %d, \"step_seconds\": %.6f, "
               "\"tokens_per_s\": %.1f, \"flops_per_token\": %.6g, \"gflops\": %.2f, \"first_loss\": %.4f, "
               "\"loss\": %.4f, \"setup\": ",
               m.nparams, B, T, omp_get_max_threads(), s, B * T / s, fpt, B * T * fpt / s / 1e9, first_loss, loss);
        bench_print_setup(stdout);
        printf("}\n");
        free(in); free(tg); free(t);
        gpt2_free(&m);
        return 0;
    }
    fprintf(stderr, "usage: model_bench sgemm N REPS | model_bench train V CTX L NH C B T STEPS [INIT]\n");
    return 2;
}
