/* tfs-train - train a model (custom GPT-2 or the Llama-style baseline) on a token stream.
 *
 *   parse options (defaults < resumed checkpoint < --config < command line)
 *   -> tfs_train() (lib/run/train.c) -> exit status
 */
#include "core/blas_core.h"
#include "kernels/isa.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "core/opts.h"
#include "run/train.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

enum {
    O_LAYERS = 256, O_HEADS, O_DIM, O_CONTEXT, O_ACCUM, O_TOKENS, O_STOP_AT, O_LR, O_MIN_LR,
    O_WARMUP, O_DECAY, O_BETA1, O_BETA2, O_EPS, O_WD, O_CLIP, O_VAL, O_EVAL_EVERY, O_EVAL_BATCHES,
    O_SAVE_EVERY, O_SAVE_MINUTES, O_RESUME, O_LOG, O_LOG_EVERY, O_SEED, O_THREADS, O_MAX_BAD,
    O_MODEL, O_KV_HEADS, O_HIDDEN, O_UNTIED, O_RECOMPUTE, O_VERBOSE, O_INIT_FROM,
    O_SHARD_OPT,
};

static const struct optdef OPTS[] = {
    { 'c', "config", "NAME", NULL, "apply the settings of configuration NAME (a name in assets/configs, or a file)" },
    { O_MODEL, "model", "LEVEL", "custom", "custom (GPT-2, hand-written backward, lib/gpt2/gpt2.c), autograd (the same GPT-2 on lib/autograd/ag.c) or baseline (Llama-style, lib/llama/llama.c)" },
    { O_LAYERS, "layers", "N", "4", "transformer blocks" },
    { O_HEADS, "heads", "N", "4", "attention heads (must divide --dim)" },
    { O_DIM, "dim", "N", "128", "model width" },
    { O_CONTEXT, "context", "N", "128", "context length, also the length of training sequences" },
    { O_KV_HEADS, "kv-heads", "N", "0", "baseline: key/value heads, dividing --heads (0: as many as --heads)" },
    { O_HIDDEN, "hidden", "N", "0", "baseline: SwiGLU width (0: 8 dim / 3 rounded up to a multiple of 32)" },
    { O_UNTIED, "untied", NULL, NULL, "baseline: an output projection of its own, not the token embedding" },
    { O_RECOMPUTE, "recompute", NULL, NULL, "baseline: keep only the residual stream, recompute the rest in the backward pass" },
    { 'b', "batch", "N", "16", "sequences per micro-batch" },
    { O_ACCUM, "accum", "N", "1", "micro-batches per optimizer step (gradient accumulation)" },
    { 's', "steps", "N", "1000", "training budget in optimizer steps" },
    { O_TOKENS, "tokens", "N", NULL, "training budget in tokens instead (rounded up to whole steps)" },
    { O_STOP_AT, "stop-at", "STEP", NULL, "stop after step STEP and save, without changing the schedule" },
    { O_LR, "lr", "LR", "3e-3", "peak learning rate" },
    { O_MIN_LR, "min-lr", "LR", "3e-4", "learning rate at the end of the decay" },
    { O_WARMUP, "warmup", "N", "100", "steps of linear warmup from 0 to --lr" },
    { O_DECAY, "decay", "KIND", "cosine", "decay after the warmup: cosine, linear or constant" },
    { O_BETA1, "beta1", "B", "0.9", "AdamW: decay of the first moment" },
    { O_BETA2, "beta2", "B", "0.95", "AdamW: decay of the second moment" },
    { O_EPS, "eps", "E", "1e-8", "AdamW: added to the root of the second moment" },
    { O_WD, "weight-decay", "W", "0.1", "AdamW: decoupled weight decay of the matrices" },
    { O_CLIP, "clip", "NORM", "1", "clip the gradient to this global L2 norm (0: off)" },
    { O_VAL, "val", "FILE", NULL, "validation token stream (a directory or a quoted glob: shards read as one)" },
    { O_EVAL_EVERY, "eval-every", "N", "100", "validate every N steps (0: only at the end)" },
    { O_EVAL_BATCHES, "eval-batches", "N", "8", "size of the fixed validation set, in batches" },
    { 'o', "output", "CKPT", "-", "checkpoint to write (- = standard output, only at the end)" },
    { O_SAVE_EVERY, "save-every", "N", "0", "also save the checkpoint every N steps (0: off)" },
    { O_SAVE_MINUTES, "save-minutes", "M", "0", "also save it every M minutes (0: off)" },
    { O_RESUME, "resume", "CKPT", NULL, "continue the training run saved in CKPT" },
    { O_INIT_FROM, "init-from", "CKPT|DIR", NULL, "start from the weights of a checkpoint or a Hugging Face model directory (fine-tuning: its shape, a new schedule, fresh AdamW moments, step 0)" },
    { O_LOG, "log", "FILE", NULL, "metrics as JSON Lines (default: standard output when -o is a file)" },
    { O_LOG_EVERY, "log-every", "N", "1", "one metrics line every N steps" },
    { O_SEED, "seed", "S", "1", "seed of the initialisation and of the data order" },
    { O_THREADS, "threads", "N", NULL, "threads for OpenMP and OpenBLAS (default: all cores)" },
    { O_SHARD_OPT, "shard-optimizer", NULL, NULL, "under mpirun: each rank keeps the AdamW moments of its slice of the parameters only (ZeRO-1)" },
    { O_MAX_BAD, "max-bad", "N", "10", "stop after N steps in a row with a non-finite loss or gradient" },
    { 'q', "quiet", NULL, NULL, "no progress display and no summary on standard error" },
    { O_VERBOSE, "verbose", NULL, NULL, "also say which OpenBLAS core (kernel set) runs, and who chose it, and the vector width of our own loops (TFS_ISA)" },
    { 'f', "force", NULL, NULL, "write the checkpoint to standard output even when it is a terminal" },
    { 0 }
};

static const struct progspec SPEC = {
    "tfs-train", "[OPTION]... [TRAIN... | -]",
    "Train a GPT-2 (custom) or Llama-style (baseline) model on a token stream (from bpe-encode)\n"
    "and write a safetensors checkpoint.  Several files, a directory or a quoted glob are\n"
    "shards, read as one stream (a directory's files and a glob's matches in name order).",
    "Settings apply in this order, later ones winning: the defaults, the options saved in a\n"
    "checkpoint given to --resume, the --config file, the command line.  Metrics go to --log,\n"
    "or to standard output when the checkpoint goes to a file.",
    OPTS
};

/* Options that describe the run and are saved in its checkpoints; the
 * others (files, threads, display) belong to one invocation. */
static int saved_option(int key)
{
    switch (key) {
    case 'c': case O_STOP_AT: case O_VAL: case O_RECOMPUTE: case 'o': case O_RESUME: case O_INIT_FROM: case O_LOG: case O_THREADS:
    case 'q': case 'f': case O_VERBOSE: case O_SHARD_OPT: return 0;
    default: return 1;
    }
}

#define NOPTS (sizeof OPTS / sizeof OPTS[0] - 1)

struct ctx {
    struct train_opts o;
    const char *values[NOPTS];      /* effective value of each saved option */
    char given[NOPTS];              /* set by a file or the command line, not a default */
    int defaults;                   /* set() is applying the defaults */
    int verbose;
};

static int index_of(int key)
{
    int i = 0;
    while (OPTS[i].key != key) i++;
    return i;
}

static void clear(struct ctx *c, int key)
{
    free((char *)c->values[index_of(key)]);
    c->values[index_of(key)] = NULL;
}

static void set(void *vctx, const struct optdef *d, const char *a, const char *where)
{
    struct ctx *c = vctx;
    struct train_opts *o = &c->o;
    /* Name the option, and the file line when it comes from a file. */
    char name[600];
    if (where) snprintf(name, sizeof name, "%s: %s", where, d->name);
    else snprintf(name, sizeof name, "--%s", d->name);
    if (!c->defaults) c->given[d - OPTS] = 1;
    if (saved_option(d->key)) {
        /* a copy: values from a checkpoint live in a JSON object freed later */
        free((char *)c->values[d - OPTS]);
        c->values[d - OPTS] = xstrdup(a ? a : "1");   /* a flag: "1" */
    }
    switch (d->key) {
    case O_MODEL: {
        int k = model_arch_parse(a);
        if (k < 0) usage_error("%s: '%s' is not custom, autograd or baseline", name, a);
        o->arch = (enum model_arch)k;
        break;
    }
    case O_KV_HEADS: o->kv_heads = (int)parse_long(name, a, 0, 1024); break;
    case O_HIDDEN: o->hidden = (int)parse_long(name, a, 0, 1 << 20); break;
    case O_UNTIED: o->untied = !a || strcmp(a, "0") != 0; break;
    case O_RECOMPUTE: o->recompute = !a || strcmp(a, "0") != 0; break;
    case O_LAYERS: o->model.layers = (int)parse_long(name, a, 1, 1024); break;
    case O_HEADS: o->model.heads = (int)parse_long(name, a, 1, 1024); break;
    case O_DIM: o->model.dim = (int)parse_long(name, a, 1, 65536); break;
    case O_CONTEXT: o->model.context = (int)parse_long(name, a, 1, 1 << 20); break;
    case 'b': o->batch = (int)parse_long(name, a, 1, 1 << 20); break;
    case O_ACCUM: o->accum = (int)parse_long(name, a, 1, 1 << 20); break;
    /* a budget in steps or in tokens: the one set last counts */
    case 's': o->steps = parse_size(name, a, 1, UINT64_MAX); o->tokens = 0; clear(c, O_TOKENS); break;
    case O_TOKENS: o->tokens = parse_size(name, a, 1, UINT64_MAX); o->steps = 0; clear(c, 's'); break;
    case O_STOP_AT: o->stop_at = parse_size(name, a, 1, UINT64_MAX); break;
    case O_LR: o->lr = parse_double(name, a, 0, 10); break;
    case O_MIN_LR: o->min_lr = parse_double(name, a, 0, 10); break;
    case O_WARMUP: o->warmup = parse_size(name, a, 0, UINT64_MAX); break;
    case O_DECAY:
        if (!strcmp(a, "cosine")) o->decay = DECAY_COSINE;
        else if (!strcmp(a, "linear")) o->decay = DECAY_LINEAR;
        else if (!strcmp(a, "constant")) o->decay = DECAY_CONSTANT;
        else usage_error("%s: '%s' is not cosine, linear or constant", name, a);
        break;
    case O_BETA1: o->beta1 = parse_double(name, a, 0, 0.999999); break;
    case O_BETA2: o->beta2 = parse_double(name, a, 0, 0.999999); break;
    case O_EPS: o->eps = parse_double(name, a, 0, 1); break;
    case O_WD: o->weight_decay = parse_double(name, a, 0, 10); break;
    case O_CLIP: o->clip = parse_double(name, a, 0, 1e30); break;
    case O_VAL: o->val = a; break;
    case O_EVAL_EVERY: o->eval_every = parse_size(name, a, 0, UINT64_MAX); break;
    case O_EVAL_BATCHES: o->eval_batches = parse_size(name, a, 1, 1 << 20); break;
    case 'o': o->out = a; break;
    case O_SAVE_EVERY: o->save_every = parse_size(name, a, 0, UINT64_MAX); break;
    case O_SAVE_MINUTES: o->save_minutes = parse_double(name, a, 0, 1e9); break;
    case O_RESUME: o->resume = a; break;
    case O_INIT_FROM: o->init_from = a; break;
    case O_LOG: o->log = a; break;
    case O_LOG_EVERY: o->log_every = parse_size(name, a, 1, UINT64_MAX); break;
    case O_SEED: o->seed = parse_size(name, a, 0, UINT64_MAX); break;
    case O_THREADS: o->threads = (int)parse_long(name, a, 1, 4096); break;
    case O_MAX_BAD: o->max_bad = (int)parse_long(name, a, 1, 1000000); break;
    case 'q': o->quiet = !a || strcmp(a, "0") != 0; break;
    case O_VERBOSE: c->verbose = !a || strcmp(a, "0") != 0; break;
    case 'f': o->force = !a || strcmp(a, "0") != 0; break;
    case O_SHARD_OPT: o->shard_optimizer = !a || strcmp(a, "0") != 0; break;
    }
}

/* --init-from: the model's shape is the checkpoint's.  A shape option set
 * to something else is an error; --context may be shorter for a Hugging
 * Face model (its first positions are kept). */
static void init_from_shape(struct ctx *c)
{
    struct train_opts *o = &c->o;
    struct model_config mc;
    ckpt_peek_model(o->init_from, &mc);
    o->head_dim = mc.arch == MODEL_BASELINE ? mc.head_dim : 0;     /* no option: the model's own */
    char v[32];
    const struct { int key, want, have; } shape[] = {
        { O_LAYERS, mc.layers, o->model.layers }, { O_HEADS, mc.heads, o->model.heads },
        { O_DIM, mc.dim, o->model.dim }, { O_KV_HEADS, mc.kv_heads, o->kv_heads },
        { O_HIDDEN, mc.hidden, o->hidden }, { O_UNTIED, mc.untied, o->untied },
    };
    for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++) {
        int k = index_of(shape[i].key);
        if (mc.arch != MODEL_BASELINE && i >= 3) continue;
        if (c->given[k] && shape[i].want != shape[i].have)
            usage_error("--%s %d: the model of %s has %d (--init-from takes its shape)", OPTS[k].name,
                        shape[i].have, o->init_from, shape[i].want);
        snprintf(v, sizeof v, "%d", shape[i].want);
        set(c, &OPTS[k], v, NULL);
    }
    int same_level = mc.arch == MODEL_BASELINE ? o->arch == MODEL_BASELINE : o->arch != MODEL_BASELINE;
    if (c->given[index_of(O_MODEL)] && !same_level)
        usage_error("--model %s: %s holds a %s model", model_arch_name(o->arch), o->init_from,
                    mc.arch == MODEL_BASELINE ? "baseline (Llama)" : "custom (GPT-2)");
    if (!same_level) set(c, &OPTS[index_of(O_MODEL)], model_arch_name(mc.arch), NULL);
    if (c->given[index_of(O_CONTEXT)] && o->model.context > mc.context)
        usage_error("--context %d: longer than the context %d of %s", o->model.context, mc.context, o->init_from);
    if (!c->given[index_of(O_CONTEXT)]) { snprintf(v, sizeof v, "%d", mc.context); set(c, &OPTS[index_of(O_CONTEXT)], v, NULL); }
    /* set() marked these given; they are the checkpoint's now */
    for (size_t i = 0; i < NOPTS; i++) c->given[i] = 0;
}

int main(int argc, char **argv)
{
    static struct ctx c;
    /* OpenBLAS's kernel set, before anything is read: this may run the
     * program again (lib/core/blas_core.h) */
    tfs_set_prog(SPEC.name);
    blas_core_start(argv);
    isa_start();                /* the kernels' vector width (kernels/isa.h) */
    struct opts p;
    opts_init(&p, argc, argv, &SPEC);
    /* First collect the command line, so it can be applied last. */
    const struct optdef **cl = xcalloc((size_t)argc, sizeof *cl);
    const char **cl_arg = xcalloc((size_t)argc, sizeof *cl_arg);
    int ncl = 0;
    const char *config = NULL, *resume = NULL, *arg;
    int key, init_from = 0;
    while ((key = opts_next(&p, &arg)) != -1) {
        const struct optdef *d = OPTS;
        while (d->key != key) d++;
        if (key == 'c') config = arg;
        else { cl[ncl] = d; cl_arg[ncl++] = arg; }
        if (key == O_RESUME) resume = arg;
        if (key == O_INIT_FROM) init_from = 1;
    }
    if (resume && init_from) usage_error("--init-from starts a new run and --resume continues one: not both");
    int nops = argc - p.optind;
    c.o.train = nops ? argv[p.optind] : "-";
    /* several files, directories or globs: shards read as one stream (tokset.h) */
    c.o.trains = (const char *const *)argv + p.optind;
    c.o.ntrain = (size_t)nops;

    c.defaults = 1;
    for (const struct optdef *d = OPTS; d->name; d++)
        if (d->def) set(&c, d, d->def, NULL);
    c.defaults = 0;
    char *saved = resume ? ckpt_options(resume) : NULL;
    if (saved) config_load_json(saved, resume, OPTS, set, &c);
    if (config) {
        char *path = config_find(config);
        config_load(path, OPTS, set, &c);
        free(path);
    }
    for (int i = 0; i < ncl; i++) set(&c, cl[i], cl_arg[i], NULL);

    struct train_opts *o = &c.o;
    if (o->init_from) init_from_shape(&c);
    /* a resumed Llama whose heads are head_dim wide may have any dim */
    if (resume && o->arch == MODEL_BASELINE && o->model.dim % o->model.heads) {
        struct model_config rc;
        ckpt_peek_model(resume, &rc);
        o->head_dim = rc.head_dim;
    }
    if (o->model.dim % o->model.heads && !(o->arch == MODEL_BASELINE && o->head_dim))
        usage_error("--dim %d is not a multiple of --heads %d", o->model.dim, o->model.heads);
    if (o->arch == MODEL_BASELINE) {
        struct model_config mc = { .arch = o->arch, .vocab = 2, .context = o->model.context,
                                   .layers = o->model.layers, .heads = o->model.heads, .dim = o->model.dim,
                                   .kv_heads = o->kv_heads, .hidden = o->hidden, .untied = o->untied,
                                   .head_dim = o->head_dim };
        const char *e = model_config_error(&mc);
        if (e) usage_error("baseline model: %s", e);
    } else if (o->kv_heads || o->hidden || o->untied || o->recompute) {
        usage_error("--kv-heads, --hidden, --untied and --recompute are for --model baseline");
    }
    if (o->min_lr > o->lr) usage_error("--min-lr %g is above --lr %g", o->min_lr, o->lr);
    char *json = config_json(OPTS, c.values);
    o->options_json = json;
    blas_core_report(o->quiet, c.verbose);
    isa_report(o->quiet, c.verbose);
    int status = tfs_train(o);
    free(json); free(saved); free(cl); free(cl_arg);
    opts_free(&p);
    return status;
}
