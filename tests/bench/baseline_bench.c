/* baseline_bench.c - timing driver for tests/bench/50-baseline.sh.
 *
 *   baseline_bench peak
 *       sgemm throughput of this machine with the current threads, as
 *       {"sgemm_gflops": best, "shapes": {...}}: square 2048 and the
 *       model's own GEMM shapes (M = tokens of a batch)
 *   baseline_bench train V C L NH NKV F B T STEPS RECOMPUTE [INIT]
 *       STEPS training steps (forward, zero_grad, backward, AdamW) on random
 *       tokens; prints one JSON object: median step time, tokens/s, model
 *       FLOPs per token (6 N + 12 L T C), peak RSS, the loss of the first
 *       step (from the initial weights) and of the last.  The first step is
 *       a warm-up and is not counted.  INIT: a directory to write the
 *       initial weights to, as a Hugging Face export (INIT/config.json,
 *       INIT/model.safetensors, llama_ckpt.h), and the first batch as
 *       INIT/batch.safetensors ("inputs", "targets", (B, T) floats), for
 *       the PyTorch reference (tests/bench/llama_torch_bench.py) to start
 *       from the same point.
 *   baseline_bench custom V C L NH B T STEPS
 *       the same for the custom level (lib/gpt2/gpt2.c, GPT-2 architecture)
 * The set-up (threads, OpenBLAS core, wait policy, denormals) is recorded
 * under "setup" (bench_env.h); denormals are flushed unless
 * TFS_BENCH_DENORMALS=keep.
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_env.h"
#include "core/blas_core.h"
#include "kernels/isa.h"
#include "gpt2/gpt2.h"
#include "llama/llama.h"
#include "llama/llama_ckpt.h"
#include "core/safetensors.h"
#include "core/rng.h"
#include "core/xio.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best GFLOP/s of C (M, N) = A (M, K) B^T over a few repetitions. */
static double gemm_gflops(int M, int N, int K, int reps)
{
    float *A = xmalloc((size_t)M * K * 4), *B = xmalloc((size_t)N * K * 4), *C = xmalloc((size_t)M * N * 4);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (float)(i % 5) * 0.1f;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, B, K, 0, C, N);
        t = now() - t;
        double g = 2.0 * M * N * K / t * 1e-9;
        if (g > best) best = g;
    }
    free(A); free(B); free(C);
    return best;
}

static long arg(char **argv, int i) { return strtol(argv[i], NULL, 10); }

static void print_result(const char *impl, size_t nparams, int B, int T, int recompute, int steps,
                         double *times, double fpt, float first_loss, float loss)
{
    qsort(times + 1, (size_t)steps, sizeof *times, cmp);
    double med = times[1 + steps / 2], N = (double)B * T;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\": \"%s\", \"params\": %zu, \"B\": %d, \"T\": %d, \"threads\": %d, "
           "\"recompute\": %d, \"steps\": %d, \"median_step_s\": %.4f, \"tokens_per_s\": %.1f, "
           "\"flops_per_token\": %.4g, \"model_gflops\": %.2f, \"peak_rss_mb\": %.1f, \"first_loss\": %.4f, "
           "\"last_loss\": %.4f, \"setup\": ",
           impl, nparams, B, T, omp_get_max_threads(), recompute, steps, med, N / med, fpt,
           fpt * N / med * 1e-9, ru.ru_maxrss / 1024.0, first_loss, loss);
    bench_print_setup(stdout);
    printf("}\n");
}

/* The custom level's training step, for its speed and memory side by side. */
static int custom(char **argv)
{
    struct gpt2_config c = { .vocab = (int)arg(argv, 2), .dim = (int)arg(argv, 3), .layers = (int)arg(argv, 4),
                             .heads = (int)arg(argv, 5), .context = (int)arg(argv, 7) };
    int B = (int)arg(argv, 6), T = (int)arg(argv, 7), steps = (int)arg(argv, 8);
    struct gpt2 m;
    gpt2_init(&m, &c);
    gpt2_init_weights(&m, 1);
    size_t N = (size_t)B * T;
    uint32_t *in = xmalloc(N * 4), *tg = xmalloc(N * 4);
    struct rng r;
    rng_seed(&r, 2);
    double *times = xmalloc((size_t)(steps + 1) * sizeof *times);
    float loss = 0, first_loss = 0;
    for (int s = 0; s <= steps; s++) {
        for (size_t i = 0; i < N; i++) { in[i] = (uint32_t)rng_below(&r, c.vocab); tg[i] = (uint32_t)rng_below(&r, c.vocab); }
        double t = now();
        loss = gpt2_forward(&m, in, tg, B, T);
        if (s == 0) first_loss = loss;
        gpt2_zero_grad(&m);
        gpt2_backward(&m, 1);
        gpt2_adamw_step(&m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, s + 1);
        times[s] = now() - t;
    }
    print_result("tfs-custom", m.nparams, B, T, 0, steps, times, gpt2_flops_per_token(&m, T), first_loss, loss);
    free(in); free(tg); free(times);
    gpt2_free(&m);
    return 0;
}

/* The first batch beside the exported weights (see the top comment). */
static void write_batch(const char *dir, const uint32_t *in, const uint32_t *tg, int B, int T)
{
    size_t N = (size_t)B * T;
    float *batch = xmalloc(2 * N * sizeof *batch);   /* token ids < 2^24 are exact in a float */
    for (size_t i = 0; i < N; i++) { batch[i] = (float)in[i]; batch[N + i] = (float)tg[i]; }
    char *path = xasprintf("%s/batch.safetensors", dir);
    struct st_writer *w = st_writer_new();
    st_add(w, "inputs", batch, 2, (int64_t[]){B, T});
    st_add(w, "targets", batch + N, 2, (int64_t[]){B, T});
    st_write(w, path);
    st_writer_free(w);
    free(path);
    free(batch);
}

int main(int argc, char **argv)
{
    tfs_set_prog("baseline_bench");
    blas_core_start(argv);     /* the OpenBLAS core tfs-train would run (lib/core/blas_core.h) */
    blas_core_report(0, 0);
    isa_start();               /* the kernels' vector width: TFS_ISA or the CPU's widest (kernels/isa.h) */
    bench_denormals();
    if (argc == 2 && strcmp(argv[1], "peak") == 0) {
        double sq = gemm_gflops(2048, 2048, 2048, 5);
        double qkv = gemm_gflops(2048, 1536, 512, 10), mlp = gemm_gflops(2048, 2752, 512, 10);
        double down = gemm_gflops(2048, 512, 1376, 10);
        double best = sq;
        if (qkv > best) best = qkv;
        if (mlp > best) best = mlp;
        if (down > best) best = down;
        printf("{\"sgemm_gflops\": %.1f, \"threads\": %d, \"shapes\": {\"2048x2048x2048\": %.1f, "
               "\"2048x1536x512\": %.1f, \"2048x2752x512\": %.1f, \"2048x512x1376\": %.1f}, \"setup\": ",
               best, omp_get_max_threads(), sq, qkv, mlp, down);
        bench_print_setup(stdout);
        printf("}\n");
        return 0;
    }
    if (argc == 9 && strcmp(argv[1], "custom") == 0) return custom(argv);
    if ((argc != 12 && argc != 13) || strcmp(argv[1], "train") != 0) {
        fprintf(stderr, "usage: baseline_bench peak | train V C L NH NKV F B T STEPS RECOMPUTE [INIT]"
                " | custom V C L NH B T STEPS\n");
        return 2;
    }
    struct llama_config c = llama_config_default((int)arg(argv, 2), (int)arg(argv, 9), (int)arg(argv, 4),
                                                 (int)arg(argv, 5), (int)arg(argv, 3));
    c.kv_heads = (int)arg(argv, 6);
    c.hidden = (int)arg(argv, 7);
    int B = (int)arg(argv, 8), T = (int)arg(argv, 9), steps = (int)arg(argv, 10);
    struct llama m;
    llama_init(&m, &c);
    llama_init_weights(&m, 1);
    m.recompute = (int)arg(argv, 11);
    const char *init = argc == 13 ? argv[12] : NULL;
    if (init) llama_export_hf(init, &m, -1, ST_F32);
    size_t N = (size_t)B * T;
    uint32_t *in = xmalloc(N * 4), *tg = xmalloc(N * 4);
    struct rng r;
    rng_seed(&r, 2);
    double *times = xmalloc((size_t)(steps + 1) * sizeof *times);
    float loss = 0, first_loss = 0;
    for (int s = 0; s <= steps; s++) {
        for (size_t i = 0; i < N; i++) { in[i] = (uint32_t)rng_below(&r, c.vocab); tg[i] = (uint32_t)rng_below(&r, c.vocab); }
        if (s == 0 && init) write_batch(init, in, tg, B, T);
        double t = now();
        loss = llama_forward(&m, in, tg, B, T);
        if (s == 0) first_loss = loss;
        llama_zero_grad(&m);
        llama_backward(&m, 1);
        llama_adamw_step(&m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, s + 1);
        times[s] = now() - t;
    }
    print_result("tfs-baseline", m.nparams, B, T, m.recompute, steps, times, llama_flops_per_token(&m, T),
                 first_loss, loss);
    free(in); free(tg); free(times);
    llama_free(&m);
    return 0;
}
