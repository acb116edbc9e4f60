/* gpt2_dump.c - the C half of the PyTorch reference check (run by
 * tests/55-torch-reference.bats; the other half is gpt2_reference.py).
 *
 *   gpt2_dump DIR [--autograd] [--plain] [--corrupt TENSOR]
 *
 * Builds a small GPT-2 (lib/gpt2/gpt2.c) from a fixed seed, runs one forward and
 * backward pass on a fixed batch and one AdamW step, and writes
 *   DIR/input.safetensors    the weights before the step (our names and
 *                            layout, gpt2.h), the batch as floats ("inputs",
 *                            "targets", (B, T)); __metadata__: the config and
 *                            the AdamW hyperparameters, as JSON
 *   DIR/result.safetensors   what the C model computed: "logits" (B, T, V),
 *                            "loss" (), "grad.NAME" and "after.NAME" (the
 *                            weights after the step) for every parameter
 * --autograd runs the same model, weights and batch through the autograd
 * level (lib/autograd/ag_gpt2.c) instead of the custom level's hand-written backward.
 * --plain runs the custom level's readable reference path (whole attention
 * matrices and logits, gpt2.h) instead of its fast one (tiled attention,
 * chunked loss).
 * --corrupt TENSOR adds 1% of its largest value to one element of the named
 * result tensor, so the test can show that the checker fails.
 */
#include "core/blas_core.h"
#include "kernels/isa.h"
#include "autograd/ag_gpt2.h"
#include "gpt2/gpt2.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/xio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *NAMES[GPT2_NPARAMS] = {"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw",
    "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

/* The shape of parameter tensor i, as gpt2.h documents it. */
static int param_shape(const struct gpt2_config *c, int i, int64_t *s)
{
    int64_t V = c->vocab, P = c->context, L = c->layers, C = c->dim;
    switch (i) {
    case P_WTE: s[0] = V; s[1] = C; return 2;
    case P_WPE: s[0] = P; s[1] = C; return 2;
    case P_QKVW: s[0] = L; s[1] = 3 * C; s[2] = C; return 3;
    case P_QKVB: s[0] = L; s[1] = 3 * C; return 2;
    case P_ATTPROJW: s[0] = L; s[1] = C; s[2] = C; return 3;
    case P_FCW: s[0] = L; s[1] = 4 * C; s[2] = C; return 3;
    case P_FCB: s[0] = L; s[1] = 4 * C; return 2;
    case P_FCPROJW: s[0] = L; s[1] = C; s[2] = 4 * C; return 3;
    case P_LNFW: case P_LNFB: s[0] = C; return 1;
    default: s[0] = L; s[1] = C; return 2;     /* per-layer (C) vectors */
    }
}

int main(int argc, char **argv)
{
    tfs_set_prog("gpt2_dump");
    blas_core_start(argv);     /* the OpenBLAS core tfs-train would run (lib/core/blas_core.h) */
    blas_core_report(0, 0);
    isa_start();               /* the kernels' vector width: TFS_ISA or the CPU's widest (kernels/isa.h) */
    const char *corrupt = NULL;
    int autograd = 0, plain = 0, bad = argc < 2;
    for (int i = 2; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--autograd")) autograd = 1;
        else if (!strcmp(argv[i], "--plain")) plain = 1;
        else if (!strcmp(argv[i], "--corrupt") && i + 1 < argc) corrupt = argv[++i];
        else bad = 1;
    }
    if (bad) {
        fprintf(stderr, "usage: gpt2_dump DIR [--autograd] [--plain] [--corrupt TENSOR]\n");
        return 2;
    }
    const char *dir = argv[1];
    const struct gpt2_config cfg = {.vocab = 67, .context = 16, .layers = 2, .heads = 4, .dim = 32};
    enum { B = 3, T = 12 };
    const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, wd = 0.1f, grad_scale = 0.5f;

    struct gpt2 m;
    gpt2_init(&m, &cfg);
    gpt2_init_weights(&m, 1337);
    /* GPT-2's init leaves LayerNorm gains at 1 and biases at 0: move them,
     * so that the comparison also covers their role in the forward pass. */
    struct rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < GPT2_NPARAMS; i++)
        if (!gpt2_param_decays(i))
            for (size_t k = 0; k < m.param_sizes[i]; k++) m.p[i][k] += (float)(0.1 * rng_normal(&r));
    uint32_t in[B * T], tg[B * T];
    float fin[B * T], ftg[B * T];
    for (int n = 0; n < B * T; n++) {
        in[n] = (uint32_t)rng_below(&r, (uint64_t)cfg.vocab);
        tg[n] = (uint32_t)rng_below(&r, (uint64_t)cfg.vocab);
        fin[n] = (float)in[n];
        ftg[n] = (float)tg[n];
    }
    float *before = xmalloc(m.nparams * sizeof *before);
    memcpy(before, m.params, m.nparams * sizeof *before);

    struct ag_gpt2 *g = autograd ? ag_gpt2_new(&m) : NULL;
    m.plain = plain;
    /* the custom level's fast path makes whole logits only without targets
     * (gpt2.h): take them from such a pass first */
    if (!g) gpt2_forward(&m, in, NULL, B, T);
    float *logits = xmalloc((size_t)B * T * cfg.vocab * sizeof *logits);
    if (!g) memcpy(logits, m.logits, (size_t)B * T * cfg.vocab * sizeof *logits);
    float loss = g ? ag_gpt2_forward(g, in, tg, B, T) : gpt2_forward(&m, in, tg, B, T);
    if (g) memcpy(logits, g->logits->data, (size_t)B * T * cfg.vocab * sizeof *logits);
    if (g) { ag_gpt2_zero_grad(g); ag_gpt2_backward(g, 1.0f); }
    else { gpt2_zero_grad(&m); gpt2_backward(&m, 1.0f); }
    float *grads = xmalloc(m.nparams * sizeof *grads);
    memcpy(grads, m.grads, m.nparams * sizeof *grads);
    if (g) ag_gpt2_adamw_step(g, lr, beta1, beta2, eps, wd, grad_scale, 1);
    else gpt2_adamw_step(&m, lr, beta1, beta2, eps, wd, grad_scale, 1);

    char path[4096], meta[512], nm[64];
    struct st_writer *w = st_writer_new();
    int64_t shape[3], bt[2] = {B, T};
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        int nd = param_shape(&cfg, i, shape);
        st_add(w, NAMES[i], before + (m.p[i] - m.params), nd, shape);
    }
    st_add(w, "inputs", fin, 2, bt);
    st_add(w, "targets", ftg, 2, bt);
    snprintf(meta, sizeof meta, "{\"vocab\": %d, \"context\": %d, \"layers\": %d, \"heads\": %d, \"dim\": %d}",
             cfg.vocab, cfg.context, cfg.layers, cfg.heads, cfg.dim);
    st_meta(w, "config", meta);
    snprintf(meta, sizeof meta, "{\"lr\": %.9g, \"beta1\": %.9g, \"beta2\": %.9g, \"eps\": %.9g, "
             "\"weight_decay\": %.9g, \"grad_scale\": %.9g, \"decays\": [", lr, beta1, beta2, eps, wd, grad_scale);
    for (int i = 0, first = 1; i < GPT2_NPARAMS; i++)
        if (gpt2_param_decays(i)) {
            snprintf(meta + strlen(meta), sizeof meta - strlen(meta), "%s\"%s\"", first ? "" : ", ", NAMES[i]);
            first = 0;
        }
    snprintf(meta + strlen(meta), sizeof meta - strlen(meta), "]}");
    st_meta(w, "adamw", meta);
    snprintf(path, sizeof path, "%s/input.safetensors", dir);
    st_write(w, path);
    st_writer_free(w);

    /* results, with the optional deliberate error */
    w = st_writer_new();
    int64_t lshape[3] = {B, T, cfg.vocab};
    st_add(w, "logits", logits, 3, lshape);
    st_add(w, "loss", &loss, 0, NULL);
    for (int i = 0; i < GPT2_NPARAMS; i++) {
        int nd = param_shape(&cfg, i, shape);
        snprintf(nm, sizeof nm, "grad.%s", NAMES[i]);
        st_add(w, nm, grads + (m.p[i] - m.params), nd, shape);
        snprintf(nm, sizeof nm, "after.%s", NAMES[i]);
        st_add(w, nm, m.p[i], nd, shape);
    }
    if (corrupt) {
        float *t = NULL;
        size_t n = 0;
        if (!strcmp(corrupt, "logits")) { t = logits; n = (size_t)B * T * cfg.vocab; }
        for (int i = 0; i < GPT2_NPARAMS; i++) {
            snprintf(nm, sizeof nm, "grad.%s", NAMES[i]);
            if (!strcmp(corrupt, nm)) { t = grads + (m.p[i] - m.params); n = m.param_sizes[i]; }
            snprintf(nm, sizeof nm, "after.%s", NAMES[i]);
            if (!strcmp(corrupt, nm)) { t = m.p[i]; n = m.param_sizes[i]; }
        }
        if (!t) die("--corrupt: no result tensor %s", corrupt);
        float mx = 0;
        for (size_t k = 0; k < n; k++) mx = fmaxf(mx, fabsf(t[k]));
        t[n / 2] += 0.01f * mx;
    }
    snprintf(path, sizeof path, "%s/result.safetensors", dir);
    st_write(w, path);
    st_writer_free(w);
    printf("%s level: loss %.6f, %zu parameters\n", g ? "autograd" : "custom", loss, m.nparams);
    ag_gpt2_free(g);
    free(before); free(logits); free(grads);
    gpt2_free(&m);
    return 0;
}
