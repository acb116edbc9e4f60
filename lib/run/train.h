/* train.h - the training loop of tfs-train.
 *
 *   open the token stream -> build or resume the model ->
 *   repeat: { accum x (next batch; forward; backward) ; clip ; AdamW step ;
 *             log ; maybe validate ; maybe checkpoint }
 *   -> final checkpoint
 *
 * Data: a regular, uncompressed file is memory-mapped and each sequence of
 * a batch is a window of T + 1 tokens at a random offset (drawn with the
 * suite's RNG, whose state is saved, so a resumed run draws the same
 * windows).  Anything else (a pipe, a zstd stream) is read sequentially,
 * once: B*T + 1 tokens per batch, the last one carried over as the first
 * input of the next; the run ends with the data.
 *
 * Learning rate at step s (1-based) for peak lr, floor min_lr, W warmup
 * steps and S total steps:
 *   s <= W:          lr * s / W                         (linear warmup)
 *   after, with q = (s - W) / (S - W) in (0, 1]:
 *     cosine:        min_lr + (lr - min_lr) * (1 + cos(pi q)) / 2
 *     linear:        lr + (min_lr - lr) * q
 *     constant:      lr
 */
#ifndef TFS_TRAIN_H
#define TFS_TRAIN_H

#include "gpt2/gpt2.h"
#include "model/model.h"

#include <stdint.h>

enum lr_decay { DECAY_COSINE, DECAY_LINEAR, DECAY_CONSTANT };

struct train_opts {
    struct gpt2_config model;   /* vocab comes from the token stream */
    enum model_arch arch;       /* custom (GPT-2) or baseline (Llama-style) */
    int kv_heads, hidden, untied;   /* baseline only, 0: the defaults (model.h) */
    int recompute;              /* baseline only: activation recomputation (llama.h) */
    int head_dim;               /* baseline only: the head size of the --init-from or
                                 * --resume model, 0: dim / heads (not an option) */
    int batch;                  /* B: sequences per micro-batch */
    int accum;                  /* micro-batches per optimizer step */
    uint64_t steps;             /* budget in steps, or 0 ... */
    uint64_t tokens;            /* ... in tokens (rounded up to whole steps) */
    uint64_t stop_at;           /* stop after this step, schedule unchanged (0: no) */
    double lr, min_lr;
    uint64_t warmup;
    enum lr_decay decay;
    double beta1, beta2, eps, weight_decay;
    double clip;                /* global-norm clipping threshold (0: off) */
    uint64_t eval_every;        /* validate every N steps (0: only at the end) */
    uint64_t eval_batches;      /* the fixed validation set: N batches of B x T */
    uint64_t save_every;        /* checkpoint every N steps (0: off) */
    double save_minutes;        /* and/or every M minutes (0: off) */
    uint64_t seed;
    int threads;                /* 0: OpenMP's default */
    int max_bad;                /* stop after this many non-finite steps in a row */
    uint64_t log_every;         /* a metrics line every N steps */
    const char *train;          /* token stream, "-" = stdin */
    const char *const *trains;  /* or several: shards read as one (tokset.h) */
    size_t ntrain;              /* 0: train alone */
    const char *val;            /* validation stream or NULL */
    const char *out;            /* checkpoint path, "-" = stdout */
    const char *log;            /* metrics JSONL path or NULL */
    const char *resume;         /* checkpoint to continue, or NULL */
    const char *init_from;      /* checkpoint or Hugging Face model to fine-tune, or NULL */
    const char *options_json;   /* the options of this run, kept in checkpoints */
    int quiet, force;
    int shard_optimizer;        /* many processes: ZeRO-1, AdamW moments split across ranks (dist.h) */
};

/* Run the training; under mpirun, one rank of a data-parallel run
 * (run/dist.h, tfs-train(1) MANY PROCESSES).  Returns the exit status (0, or 128 + signal number
 * when SIGINT or SIGTERM stopped it after saving a checkpoint).  Data
 * errors stop the program (exit 1). */
int tfs_train(const struct train_opts *o);

/* The learning rate of step s (1-based) out of total (see above). */
double train_lr(const struct train_opts *o, uint64_t s, uint64_t total);

/* The path of the best checkpoint beside out: "x.safetensors" ->
 * "x.best.safetensors", anything else -> "out.best". */
char *train_best_path(const char *out);

#endif
