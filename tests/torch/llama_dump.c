/* llama_dump.c - the C half of the baseline model's PyTorch check (run by
 * tests/80-baseline.bats; the other half is llama_check.py).
 *
 *   llama_dump DIR [--untied] [--corrupt TENSOR]
 *
 * Builds a small Llama-style model (lib/llama/llama.c: grouped-query attention,
 * tied embeddings unless --untied) from a fixed seed, with norm gains away
 * from 1 and weights large enough for non-trivial activations; runs one
 * forward and backward pass on a fixed batch and one AdamW step, and writes
 *   DIR/hf/                  the weights before the step as a Hugging Face
 *                            export (llama_export_hf: config.json and
 *                            model.safetensors with LlamaForCausalLM names)
 *   DIR/result.safetensors   "inputs", "targets" (B, T) as floats, and what
 *                            the C model computed: "logits" (B, T, V),
 *                            "loss" (1), "grad.NAME" and "after.NAME" (the
 *                            weights after the step) under the HF names;
 *                            __metadata__ "adamw": the hyperparameters
 * --corrupt TENSOR adds 1% of its largest value to one element of the named
 * result tensor, so the test can show that the checker fails.
 */
#include "core/blas_core.h"
#include "kernels/isa.h"
#include "llama/llama.h"
#include "llama/llama_ckpt.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/xio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    tfs_set_prog(argv[0]);
    blas_core_start(argv);     /* the OpenBLAS core tfs-train would run (lib/core/blas_core.h) */
    blas_core_report(0, 0);
    isa_start();               /* the kernels' vector width: TFS_ISA or the CPU's widest (kernels/isa.h) */
    const char *dir = NULL, *corrupt = NULL;
    int tied = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--untied")) tied = 0;
        else if (!strcmp(argv[i], "--corrupt") && i + 1 < argc) corrupt = argv[++i];
        else if (!dir) dir = argv[i];
        else { fprintf(stderr, "usage: llama_dump DIR [--untied] [--corrupt TENSOR]\n"); return 2; }
    }
    if (!dir) { fprintf(stderr, "usage: llama_dump DIR [--untied] [--corrupt TENSOR]\n"); return 2; }

    struct llama_config c = llama_config_default(37, 16, 2, 4, 16);
    c.kv_heads = 2;         /* grouped-query: 2 query heads per kv head */
    c.hidden = 24;
    c.tied = tied;
    c.rope_theta = 500;     /* a small base: rotations turn far within the context */
    struct llama m;
    llama_init(&m, &c);
    llama_init_weights(&m, 21);
    struct rng r;
    rng_seed(&r, 8);
    for (int i = 0; i < LLAMA_NPARAMS; i++)
        if (!llama_param_decays(i))
            for (size_t k = 0; k < m.param_sizes[i]; k++) m.p[i][k] = 1 + 0.3f * (float)rng_normal(&r);
    for (size_t k = 0; k < m.nparams; k++) m.params[k] *= 4;
    enum { B = 2, T = 16, N = B * T };
    uint32_t in[N], tg[N];
    float fin[N], ftg[N];
    for (int i = 0; i < N; i++) {
        in[i] = (uint32_t)rng_below(&r, (uint64_t)c.vocab);
        tg[i] = (uint32_t)rng_below(&r, (uint64_t)c.vocab);
        fin[i] = (float)in[i];
        ftg[i] = (float)tg[i];
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die_errno("cannot create directory '%s'", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/hf", dir);
    llama_export_hf(path, &m, -1, ST_F32);

    llama_forward(&m, in, NULL, B, T);
    float *logits = xmalloc((size_t)N * c.vocab * sizeof *logits);
    memcpy(logits, m.logits, (size_t)N * c.vocab * sizeof *logits);
    float loss = llama_forward(&m, in, tg, B, T);
    llama_zero_grad(&m);
    llama_backward(&m, 1);
    const float lr = 0.01f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    llama_adamw_step(&m, lr, b1, b2, eps, wd, 1, 1);

    struct st_writer *w = st_writer_new();
    st_add(w, "inputs", fin, 2, (int64_t[]){B, T});
    st_add(w, "targets", ftg, 2, (int64_t[]){B, T});
    st_add(w, "logits", logits, 3, (int64_t[]){B, T, c.vocab});
    st_add(w, "loss", &loss, 1, (int64_t[]){1});
    llama_st_add(w, &m, m.grads, "grad.");
    llama_st_add(w, &m, m.params, "after.");
    char meta[256];
    snprintf(meta, sizeof meta, "{\"lr\": %.9g, \"beta1\": %.9g, \"beta2\": %.9g, \"eps\": %.9g, "
             "\"weight_decay\": %.9g}", lr, b1, b2, eps, wd);
    st_meta(w, "adamw", meta);
    if (corrupt) {
        int grad = !strncmp(corrupt, "grad.", 5), after = !strncmp(corrupt, "after.", 6);
        size_t n = 0;
        float *t = grad || after ? llama_hf_tensor(&m, grad ? m.grads : m.params, strchr(corrupt, '.') + 1, &n) : NULL;
        if (!t) die("--corrupt: no tensor %s (grad.NAME or after.NAME)", corrupt);
        float mx = 0;
        for (size_t k = 0; k < n; k++) mx = fmaxf(mx, fabsf(t[k]));
        t[n / 2] += 0.01f * mx;
    }
    snprintf(path, sizeof path, "%s/result.safetensors", dir);
    st_write(w, path);
    st_writer_free(w);
    free(logits);
    llama_free(&m);
    return 0;
}
