/* train.c - the training loop (see train.h). */
#include "run/train.h"
#include "core/comm.h"
#include "run/dist.h"
#include "model/checkpoint.h"
#include "run/evaluate.h"
#include "run/threads.h"
#include "core/progress.h"
#include "core/tokset.h"
#include "core/tokstream.h"
#include "core/xio.h"
#include "kernels/optim.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ------------------------------------------------------------- */
double train_lr(const struct train_opts *o, uint64_t s, uint64_t total)
{
    if (s <= o->warmup) return o->lr * (double)s / (double)o->warmup;
    if (o->decay == DECAY_CONSTANT || total <= o->warmup) return o->lr;
    double q = (double)(s - o->warmup) / (double)(total - o->warmup);
    if (q > 1) q = 1;
    if (o->decay == DECAY_LINEAR) return o->lr + (o->min_lr - o->lr) * q;
    return o->min_lr + (o->lr - o->min_lr) * 0.5 * (1 + cos(M_PI * q));
}

char *train_best_path(const char *out)
{
    size_t n = strlen(out);
    const char *ext = ".safetensors";
    size_t e = strlen(ext);
    char *p = xmalloc(n + 16);
    if (n > e && strcmp(out + n - e, ext) == 0) sprintf(p, "%.*s.best%s", (int)(n - e), out, ext);
    else sprintf(p, "%s.best", out);
    return p;
}

/* ---- signals --------------------------------------------------------------
 * SIGINT and SIGTERM only raise a flag; the loop notices it between steps,
 * saves a checkpoint and returns.  A second signal ends the program at once. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    if (stop_signal) { signal(sig, SIG_DFL); raise(sig); return; }
    stop_signal = sig;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- data ------------------------------------------------------------------ */
struct loader {
    struct tokr *r;
    int B, T;
    uint32_t *win;          /* (T + 1) one window (random mode) */
    uint32_t *seq;          /* (B*T + 1) one batch (sequential mode) */
};

/* Fill inputs and targets (B, T).  Returns 0 when a sequential stream has
 * no whole batch left. */
static int next_batch(struct loader *ld, struct train_state *st, uint32_t *inputs, uint32_t *targets)
{
    int B = ld->B, T = ld->T;
    if (ld->r->mapped) {
        for (int b = 0; b < B; b++) {
            /* a window ids[off .. off + T], off uniform in [0, n - T - 1] */
            uint64_t off = rng_below(&st->rng, ld->r->n - (uint64_t)T);
            tokr_get(ld->r, off, (size_t)T + 1, ld->win);
            memcpy(inputs + (size_t)b * T, ld->win, (size_t)T * sizeof *inputs);
            memcpy(targets + (size_t)b * T, ld->win + 1, (size_t)T * sizeof *targets);
        }
        return 1;
    }
    /* Sequential: tokens [data_pos, data_pos + B*T]; the reader stands at
     * data_pos + 1 with seq[0] = token data_pos already read (or at 0). */
    size_t need = (size_t)B * T, got = 0, k;
    if (ld->r->pos == 0) {
        if (tokr_read(ld->r, ld->seq, 1) != 1) return 0;
    } else {
        ld->seq[0] = ld->seq[need];
    }
    while (got < need && (k = tokr_read(ld->r, ld->seq + 1 + got, need - got)) > 0) got += k;
    if (got < need) return 0;
    memcpy(inputs, ld->seq, need * sizeof *inputs);
    memcpy(targets, ld->seq + 1, need * sizeof *targets);
    st->data_pos += need;
    return 1;
}

/* A micro-batch of another rank (many processes, random windows): draw
 * its B offsets as next_batch would, so that every rank's generator stays
 * where one process's would be, and read nothing. */
static void skip_batch(struct loader *ld, struct train_state *st)
{
    for (int b = 0; b < ld->B; b++) rng_below(&st->rng, ld->r->n - (uint64_t)ld->T);
}

/* Resuming a sequential stream: skip what the previous run consumed and
 * read the carried-over token. */
static void seek_sequential(struct loader *ld, uint64_t pos)
{
    size_t need = (size_t)ld->B * ld->T;
    uint64_t left = pos;
    while (left > 0) {
        size_t want = left < need ? (size_t)left : need;
        size_t k = tokr_read(ld->r, ld->seq + 1, want);
        if (!k) die("%s: the stream ends before position %llu where the run stopped "
                    "(resume with the same training data)", ld->r->name, (unsigned long long)pos);
        left -= k;
    }
    if (tokr_read(ld->r, ld->seq + need, 1) != 1)
        die("%s: the stream ends at position %llu where the run stopped", ld->r->name, (unsigned long long)pos);
}

/* Testing the recovery path: TFS_TRAIN_FAULT=nan:A or nan:A-B makes the
 * loss of steps A..B not finite (see tfs-train(1), ENVIRONMENT). */
static void fault_range(uint64_t *a, uint64_t *b)
{
    *a = *b = 0;
    const char *s = getenv("TFS_TRAIN_FAULT");
    if (!s || !*s) return;
    unsigned long long x, y;
    int n = 0;
    if (sscanf(s, "nan:%llu-%llu%n", &x, &y, &n) == 2 && !s[n]) { *a = x; *b = y; return; }
    if (sscanf(s, "nan:%llu%n", &x, &n) == 1 && !s[n]) { *a = *b = x; return; }
    die("TFS_TRAIN_FAULT: expected nan:STEP or nan:FIRST-LAST, got '%s'", s);
}

/* ---- the run --------------------------------------------------------------- */
/* The model the options describe, for a vocabulary of `vocab`. */
static struct model_config run_config(const struct train_opts *o, int vocab)
{
    struct model_config c = { .arch = o->arch, .vocab = vocab, .context = o->model.context,
                              .layers = o->model.layers, .heads = o->model.heads, .dim = o->model.dim,
                              .kv_heads = o->kv_heads, .hidden = o->hidden, .untied = o->untied,
                              .head_dim = o->head_dim };
    return c;
}

struct run {
    const struct train_opts *o;
    struct model m;
    struct train_state st;
    uint64_t fingerprint;
    char *best;                 /* best checkpoint path or NULL */
    FILE *log;
    uint64_t per_step;          /* tokens per optimizer step */
    double fpt;                 /* training FLOPs per token */
    struct dist d;              /* the ranks (one without mpirun): dist.h */
    double comm_log;            /* comm_seconds() at the last metrics line */
};

/* Every rank calls it (the sharded moments are gathered); rank 0 writes. */
static void save(struct run *R, const char *path)
{
    dist_before_save(&R->d, &R->m, R->st.step);
    if (R->d.rank == 0) ckpt_save_model(path, &R->m, R->fingerprint, &R->st, R->o->options_json);
    dist_after_save(&R->d, &R->m);
}

static void log_line(struct run *R, double loss, double lr, double norm, double tok_s, double flop_s,
                     int skipped, double val)
{
    if (!R->log) return;
    FILE *f = R->log;
    fprintf(f, "{\"step\": %llu, \"tokens\": %llu, ", (unsigned long long)R->st.step,
            (unsigned long long)R->st.tokens);
    if (skipped) fprintf(f, "\"loss\": null, \"skipped\": true, ");
    else fprintf(f, "\"loss\": %.6f, ", loss);
    fprintf(f, "\"lr\": %.6g, ", lr);
    if (isfinite(norm)) fprintf(f, "\"grad_norm\": %.6g, ", norm);
    else fprintf(f, "\"grad_norm\": null, ");
    fprintf(f, "\"tokens_per_s\": %.1f, \"flops_per_s\": %.4g, \"flops\": %.6g, \"elapsed_s\": %.3f",
            tok_s, flop_s, R->st.flops, R->st.elapsed);
    if (!isnan(val)) fprintf(f, ", \"val_loss\": %.6f, \"val_ppl\": %.4f", val, exp(val));
    if (comm_active()) {
        /* many processes: how many, and rank 0's seconds inside MPI since the last line */
        fprintf(f, ", \"ranks\": %d, \"comm_s\": %.4f", R->d.size, comm_seconds() - R->comm_log);
        R->comm_log = comm_seconds();
    }
    fprintf(f, "}\n");
    fflush(f);
}

/* Continue the run of checkpoint o->resume, which must describe the model
 * the options ask for and have been trained on the stream r. */
static void resume_model(struct run *R, struct tokr *r)
{
    const struct train_opts *o = R->o;
    struct ckpt_info info;
    memset(&info, 0, sizeof info);
    ckpt_load_model(o->resume, &R->m, &info, 1);
    if (!info.has_state)
        die("%s: holds weights but no training state (exported?); it cannot be resumed", o->resume);
    ckpt_check_stream(o->resume, &info, r->name, r->h.vocab, r->h.fingerprint);
    const struct gpt2_config *a = &o->model, *c = &info.cfg;
    struct model_config want = run_config(o, c->vocab);
    /* custom and autograd share checkpoints: a run may change between them */
    if (strcmp(model_arch_tag(want.arch), model_arch_tag(info.model.arch)) == 0)
        model_set_arch(&R->m, want.arch);
    else
        die("%s: a %s model; the options ask for a %s one (the model of a resumed run cannot change)",
            o->resume, model_arch_name(info.model.arch), model_arch_name(want.arch));
    if (want.arch == MODEL_BASELINE) {
        struct llama_config x = model_llama_config(&want), y = model_llama_config(&info.model);
        if (x.kv_heads != y.kv_heads || x.hidden != y.hidden || x.tied != y.tied)
            die("%s: kv-heads %d, hidden %d, %s; the options ask for %d, %d, %s "
                "(the model of a resumed run cannot change)", o->resume, y.kv_heads, y.hidden,
                y.tied ? "tied" : "untied", x.kv_heads, x.hidden, x.tied ? "tied" : "untied");
    }
    if (a->layers != c->layers || a->heads != c->heads || a->dim != c->dim || a->context != c->context)
        die("%s: a model of %d layers, %d heads, dim %d, context %d; the options ask for %d, %d, %d, %d "
            "(the model of a resumed run cannot change)", o->resume, c->layers, c->heads, c->dim,
            c->context, a->layers, a->heads, a->dim, a->context);
    R->st = info.st;
    if (!R->fingerprint) R->fingerprint = info.fingerprint;
    ckpt_info_free(&info);
}

/* Fine-tuning: the weights of o->init_from (a tfs checkpoint or a Hugging
 * Face model, whose shape tfs-train has made the options'), a new run
 * around them: step 0, fresh moments, the options' schedule. */
static void init_from_model(struct run *R, struct tokr *r)
{
    const struct train_opts *o = R->o;
    struct ckpt_info info;
    memset(&info, 0, sizeof info);
    ckpt_load_any(o->init_from, &R->m, &info, 0, o->model.context);
    ckpt_check_stream(o->init_from, &info, r->name, r->h.vocab, r->h.fingerprint);
    if (strcmp(model_arch_tag(o->arch), model_arch_tag(R->m.arch)) != 0)
        die("%s: a %s model; the options ask for a %s one", o->init_from, model_arch_name(R->m.arch),
            model_arch_name(o->arch));
    model_set_arch(&R->m, o->arch);
    R->st.best_val = INFINITY;
    rng_seed(&R->st.rng, o->seed + 1);
    if (!R->fingerprint) R->fingerprint = info.fingerprint;
    ckpt_info_free(&info);
}

/* A fresh model of the options' shape, for the vocabulary of stream r. */
static void new_model(struct run *R, const struct tokr *r)
{
    const struct train_opts *o = R->o;
    struct model_config c = run_config(o, (int)r->h.vocab);
    model_init(&R->m, &c);
    model_init_weights(&R->m, o->seed);
    R->st.best_val = INFINITY;
    /* the data stream draws from its own generator: seed + 1 */
    rng_seed(&R->st.rng, o->seed + 1);
}

/* The fixed validation set: the first eval_batches * B * T + 1 tokens of
 * o->val, which must share the training data's tokenizer. */
static uint32_t *load_val(const struct train_opts *o, const struct tokr *r, int B, int T, size_t *nval)
{
    uint32_t *val;
    *nval = 0;
    struct tokr *vr = tokr_open_set(&o->val, 1);    /* a file, or shards: a directory or glob */
    if (vr->h.vocab != r->h.vocab)
        die("%s: vocabulary size %u, but the training data %s has %u", vr->name, vr->h.vocab,
            r->name, r->h.vocab);
    if (vr->h.fingerprint && r->h.fingerprint && vr->h.fingerprint != r->h.fingerprint)
        die("%s: encoded by another tokenizer than the training data %s (fingerprints differ)",
            vr->name, r->name);
    size_t want = (size_t)o->eval_batches * (size_t)B * (size_t)T + 1, k;
    val = xmalloc(want * sizeof *val);
    while (*nval < want && (k = tokr_read(vr, val + *nval, want - *nval)) > 0) *nval += k;
    if (*nval < 2) die("%s: the validation stream holds fewer than 2 tokens", vr->name);
    tokr_close(vr);
    return val;
}

/* The metrics log: o->log, else stdout unless checkpoints go there. */
static void open_log(struct run *R, int to_stdout)
{
    const struct train_opts *o = R->o;
    if (R->d.rank != 0) return;     /* one writer */
    if (o->log) {
        R->log = fopen(o->log, o->resume ? "a" : "w");
        if (!R->log) die_errno("cannot open '%s'", o->log);
    } else if (!to_stdout) {
        R->log = stdout;
    }
}

/* One optimizer step s at learning rate lr: accumulate the gradient over
 * o->accum micro-batches, then clip and update unless the loss or the
 * gradient is not finite.  Returns -1 when the data ended first, else
 * whether the step was skipped; *loss and *norm are the step's. */
static int train_step(struct run *R, struct loader *ld, uint32_t *inputs, uint32_t *targets, uint64_t s,
                      double lr, const uint64_t fault[2], double *loss_out, double *norm_out)
{
    const struct train_opts *o = R->o;
    int B = ld->B, T = ld->T;
    /* gradient accumulation: grads = sum over micro-batches of
     * d(mean loss)/d(params) / accum, the gradient of the mean over all.
     * With N ranks a step is N * accum micro-batches, drawn in one order;
     * rank r computes those numbered r*accum .. r*accum + accum - 1 and
     * skips the others' (dist.h): the same step as one process with
     * --accum N*accum. */
    int N = R->d.size, A = o->accum;
    model_zero_grad(&R->m);
    double loss = 0;
    for (int j = 0; j < N * A; j++) {
        if (j / A != R->d.rank) { skip_batch(ld, &R->st); continue; }
        if (!next_batch(ld, &R->st, inputs, targets)) return -1;
        loss += model_forward(&R->m, inputs, targets, B, T);
        dist_backward_begin(&R->d, &R->m, j == (R->d.rank + 1) * A - 1);
        model_backward(&R->m, 1.0f / (float)(N * A));
    }
    dist_sum_grads(&R->d, &R->m);
    comm_sum_doubles(&loss, 1);
    loss /= N * A;
    if (s >= fault[0] && s <= fault[1] && fault[0]) loss = NAN;
    double norm = dist_grad_norm(&R->d, &R->m);
    R->st.step = s;
    R->st.tokens += R->per_step;
    R->st.flops += R->fpt * (double)R->per_step;
    int skipped = !isfinite(loss) || !isfinite(norm);
    if (skipped) {
        /* no update: the weights stay those of the last good step */
        R->st.skipped++;
    } else {
        /* clipping: scale the gradient to norm <= clip */
        float scale = clip_scale(norm, o->clip);
        R->st.updates++;
        dist_adamw_step(&R->d, &R->m, (float)lr, (float)o->beta1, (float)o->beta2, (float)o->eps,
                        (float)o->weight_decay, scale, (int)R->st.updates);
    }
    *loss_out = loss;
    *norm_out = norm;
    return skipped;
}

/* The validation loss after step s; a new best is saved beside the
 * checkpoint. */
static double validate(struct run *R, const uint32_t *val, size_t nval, int B, int T, uint64_t s)
{
    /* With N ranks, rank r takes its share of the batches (whole (B, T)
     * blocks, contiguous; the last rank also the short rest): the sums of
     * -ln p and of the tokens are those of one process. */
    size_t full = (nval - 1) / (size_t)T, groups = (full + (size_t)B - 1) / (size_t)B;
    size_t g0 = comm_slice_lo(groups, R->d.rank), g1 = comm_slice_lo(groups, R->d.rank + 1);
    size_t s0 = g0 * (size_t)B * (size_t)T;
    size_t s1 = R->d.rank == R->d.size - 1 ? nval : g1 * (size_t)B * (size_t)T + 1;
    struct eval_sum e = { 0, 0 };
    if (s1 > s0) eval_ids(&R->m, val + s0, s1 - s0, B, T, &e);
    double sums[2] = { e.nll, (double)e.tokens };
    comm_sum_doubles(sums, 2);
    double v = sums[0] / sums[1];
    if (v < R->st.best_val) {
        R->st.best_val = v;
        R->st.best_step = s;
        if (R->best) save(R, R->best);     /* every rank: save() gathers */
    }
    return v;
}

/* The last words of a run: why it stopped and its best validation loss.
 * Returns the exit status. */
static int report_end(const struct run *R, const struct tokr *r, int data_ended, int to_stdout)
{
    const struct train_opts *o = R->o;
    int status = 0;
    if (stop_signal) {
        if (o->quiet && R->d.rank) return 128 + (int)stop_signal;   /* rank 0 says it */
        warnx("stopped by signal %d at step %llu; checkpoint saved to %s (continue with --resume)",
              (int)stop_signal, (unsigned long long)R->st.step, to_stdout ? "<stdout>" : o->out);
        status = 128 + (int)stop_signal;
    } else if (data_ended && !o->quiet) {
        warnx("%s: the data ended after step %llu (%llu tokens)", r->name,
              (unsigned long long)R->st.step, (unsigned long long)R->st.data_pos);
    }
    if (!o->quiet && !stop_signal) {
        if (isfinite(R->st.best_val))
            warnx("done: step %llu, best validation loss %.4f (perplexity %.2f) at step %llu",
                  (unsigned long long)R->st.step, R->st.best_val, exp(R->st.best_val),
                  (unsigned long long)R->st.best_step);
        else
            warnx("done: step %llu", (unsigned long long)R->st.step);
    }
    return status;
}

/* What the run is about to do, on standard error. */
static void announce(const struct run *R, uint64_t end, uint64_t total)
{
    const struct train_opts *o = R->o;
    struct model_config mc = model_config_of(&R->m);
    warnx("%s model, %.2fM parameters (%d layers, %d heads, dim %d, context %d, vocab %d); "
          "steps %llu to %llu of %llu, %llu tokens each (%d x %d x %d)", model_arch_name(mc.arch),
          (double)model_nparams(&R->m) / 1e6, mc.layers, mc.heads, mc.dim, mc.context, mc.vocab,
          (unsigned long long)R->st.step + 1, (unsigned long long)end, (unsigned long long)total,
          (unsigned long long)R->per_step, o->accum, o->batch, mc.context);
    if (R->d.size > 1)
        warnx("%d ranks: each step is %d x %d micro-batches%s", R->d.size, R->d.size, o->accum,
              o->shard_optimizer ? ", AdamW moments sharded" : "");
}

/* Too many non-finite steps in a row: save the last good weights and stop. */
static _Noreturn void give_up(struct run *R, uint64_t bad_run, uint64_t s, int to_stdout)
{
    save(R, R->o->out);
    if (R->d.size > 1)
        comm_fail("%llu steps in a row had a non-finite loss or gradient (the last at step %llu); "
                  "stopping. The last good weights (update %llu) are saved in %s; "
                  "try a lower --lr or --clip",
                  (unsigned long long)bad_run, (unsigned long long)s, (unsigned long long)R->st.updates,
                  to_stdout ? "<stdout>" : R->o->out);
    die("%llu steps in a row had a non-finite loss or gradient (the last at step %llu); "
        "stopping. The last good weights (update %llu) are saved in %s; "
        "try a lower --lr or --clip",
        (unsigned long long)bad_run, (unsigned long long)s, (unsigned long long)R->st.updates,
        to_stdout ? "<stdout>" : R->o->out);
}

/* ---- many processes ---------------------------------------------------------
 * Under mpirun every rank runs tfs_train with its own command line; they
 * must describe one run.  What each rank sees, compared with rank 0's. */
struct rank_view {
    uint64_t tokens, fingerprint, options, step, rng, nparams;
    int32_t vocab, shard;
};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

/* Refuse, at the start, ranks whose data, tokenizer, options or resumed
 * state differ from rank 0's; the message names the first such rank. */
static void check_ranks(const struct run *R, const struct tokr *r)
{
    if (R->d.size == 1) return;
    const struct train_opts *o = R->o;
    struct rank_view me, *all = xcalloc((size_t)R->d.size, sizeof *all);
    memset(&me, 0, sizeof me);
    me.tokens = r->n;
    me.fingerprint = r->h.fingerprint;
    me.vocab = (int32_t)r->h.vocab;
    me.options = fnv(o->options_json, strlen(o->options_json), 0xcbf29ce484222325ULL);
    me.step = R->st.step;
    me.rng = fnv(&R->st.rng, sizeof R->st.rng, 0xcbf29ce484222325ULL);
    me.nparams = model_nparams(&R->m);
    me.shard = o->shard_optimizer;
    comm_gather_all(&me, all, sizeof me);
    const char *what = NULL;
    int bad = 0;
    for (int k = 1; k < R->d.size && !what; k++) {
        const struct rank_view *a = &all[0], *b = &all[k];
        bad = k;
        if (b->tokens != a->tokens) what = "training data of another size";
        else if (b->vocab != a->vocab || b->fingerprint != a->fingerprint)
            what = "training data from another tokenizer (vocabulary or fingerprint)";
        else if (b->options != a->options) what = "other options (model, batch, schedule or optimizer)";
        else if (b->nparams != a->nparams) what = "a model of another size";
        else if (b->step != a->step || b->rng != a->rng) what = "another resumed state (--resume checkpoint)";
        else if (b->shard != a->shard) what = "another --shard-optimizer setting";
    }
    free(all);
    if (!what) return;
    comm_fail("rank %d of %d has %s than rank 0 (%s); every rank must be given the same data and options",
              bad, R->d.size, what, r->name);
}

/* The training stream, once standard output is known fit for a checkpoint. */
static struct tokr *open_train(struct run *R, int to_stdout)
{
    const struct train_opts *o = R->o;
    if (to_stdout && comm_size() > 1 && !o->force)
        /* mpirun hands every rank a pseudo-terminal as standard output,
         * whatever its own is: the check below cannot see the user's */
        comm_fail("%s", "under mpirun standard output is always a pseudo-terminal: write the checkpoint "
                 "with -o FILE, or give -f when mpirun's own output is redirected");
    else if (to_stdout && comm_size() == 1) refuse_binary_tty(stdout, o->force);
    struct tokr *r = o->ntrain ? tokr_open_set(o->trains, o->ntrain) : tokr_open(o->train);
    R->fingerprint = r->h.fingerprint;
    if (comm_size() > 1 && !r->mapped)
        comm_fail("%s: under mpirun the training data must be a regular, uncompressed file: each rank "
                 "reads its windows at its own offsets, which a pipe or a compressed stream cannot give",
                 r->name);
    return r;
}

int tfs_train(const struct train_opts *opts)
{
    /* the ranks under mpirun (comm.h); without it, nothing happens here */
    comm_init();
    struct train_opts local = *opts;
    const struct train_opts *o = &local;
    if (comm_rank() > 0) local.quiet = 1;       /* one voice: rank 0's */
    struct run R = { .o = o };
    if (o->threads > 0) run_set_threads(o->threads);
    int B = o->batch, T;
    int to_stdout = strcmp(o->out, "-") == 0;
    struct tokr *r = open_train(&R, to_stdout);

    /* the model: a checkpoint to continue, or a fresh one */
    if (o->resume) resume_model(&R, r);
    else if (o->init_from) init_from_model(&R, r);
    else new_model(&R, r);
    T = model_config_of(&R.m).context;
    if (R.m.arch == MODEL_BASELINE) R.m.llama.recompute = o->recompute;   /* memory for compute, same results */
    dist_init(&R.d, &R.m, o->shard_optimizer);
    check_ranks(&R, r);
    struct loader ld = { r, B, T, xmalloc(((size_t)T + 1) * sizeof(uint32_t)),
                         xmalloc(((size_t)B * T + 1) * sizeof(uint32_t)) };
    if (r->mapped && r->n < (uint64_t)T + 1)
        die("%s: %llu tokens, too few for one window of context %d + 1", r->name,
            (unsigned long long)r->n, T);
    if (!r->mapped && R.st.data_pos) seek_sequential(&ld, R.st.data_pos);

    uint32_t *val = NULL;
    size_t nval = 0;
    if (o->val) val = load_val(o, r, B, T, &nval);

    /* the budget */
    uint64_t per_step = R.per_step = (uint64_t)R.d.size * (uint64_t)o->accum * (uint64_t)B * (uint64_t)T;
    uint64_t total = o->steps ? o->steps : (o->tokens + per_step - 1) / per_step;
    uint64_t end = o->stop_at && o->stop_at < total ? o->stop_at : total;
    double fpt = R.fpt = model_flops_per_token(&R.m, T);

    /* outputs */
    if (!to_stdout && o->val) R.best = train_best_path(o->out);
    open_log(&R, to_stdout);
    catch_signals();

    if (!o->quiet) announce(&R, end, total);

    size_t N = (size_t)B * T;
    uint32_t *inputs = xmalloc(N * sizeof *inputs), *targets = xmalloc(N * sizeof *targets);
    uint64_t fault[2], bad_run = 0;
    fault_range(&fault[0], &fault[1]);
    struct progress p;
    progress_start(&p, "training", end > R.st.step ? end - R.st.step : 0, o->quiet);
    uint64_t first = R.st.step;
    double t_save = now_seconds(), el_log = R.st.elapsed, last_val = NAN;
    uint64_t tok_log = 0;
    int data_ended = 0;

    /* a signal on any rank stops every rank after the same step */
    int stop = comm_max_int((int)stop_signal);
    while (R.st.step < end && !stop) {
        double t0 = now_seconds();
        uint64_t s = R.st.step + 1;             /* the step being taken, 1-based */
        double lr = train_lr(o, s, total);
        double loss, norm;
        int skipped = train_step(&R, &ld, inputs, targets, s, lr, fault, &loss, &norm);
        if (skipped < 0) { data_ended = 1; break; }
        stop = comm_max_int((int)stop_signal);
        if (stop) stop_signal = stop;
        bad_run = skipped ? bad_run + 1 : 0;
        R.st.elapsed += now_seconds() - t0;
        tok_log += per_step;

        double v = NAN;
        if (val && ((o->eval_every && s % o->eval_every == 0) || s == end))
            v = last_val = validate(&R, val, nval, B, T, s);
        if (s % o->log_every == 0 || s == end || !isnan(v) || skipped) {
            /* speed over training time only: validation and saving excluded */
            double dt = R.st.elapsed - el_log;
            double tok_s = dt > 0 ? (double)tok_log / dt : 0;
            log_line(&R, loss, lr, norm, tok_s, tok_s * fpt, skipped, v);
            el_log = R.st.elapsed;
            tok_log = 0;
        }
        if (skipped && !o->quiet) {
            progress_end(&p);
            warnx("step %llu: loss %g, gradient norm %g: not finite, step skipped",
                  (unsigned long long)s, loss, norm);
            progress_start(&p, "training", end - first, o->quiet);
        }
        if (bad_run >= (uint64_t)o->max_bad) {
            progress_end(&p);
            give_up(&R, bad_run, s, to_stdout);
        }
        int due = o->save_minutes > 0 && now_seconds() - t_save >= 60 * o->save_minutes;
        if (o->save_minutes > 0) due = comm_max_int(due);   /* the ranks' clocks differ: agree */
        if (!to_stdout && ((o->save_every && s % o->save_every == 0) || due)) {
            save(&R, o->out);
            t_save = now_seconds();
        }
        if (isnan(last_val)) progress_update(&p, s - first, "step %llu loss %.4f", (unsigned long long)s, loss);
        else progress_update(&p, s - first, "step %llu loss %.4f val %.4f", (unsigned long long)s, loss, last_val);
    }
    progress_end(&p);

    save(&R, o->out);
    int status = report_end(&R, r, data_ended, to_stdout);
    if (R.log && R.log != stdout) fclose(R.log);
    else if (R.log) fflush(stdout);
    free(inputs); free(targets); free(val); free(ld.win); free(ld.seq); free(R.best);
    tokr_close(r);
    dist_free(&R.d, &R.m);
    model_free(&R.m);
    comm_finalize();
    return status;
}
