/* evaluate.h - the loss of a model on a token stream: one rule, used by
 * tfs-eval and by the validation of tfs-train.
 *
 * The stream is cut into windows of T + 1 tokens that overlap by one:
 * window w holds ids[wT .. wT + T], its inputs are the first T and its
 * targets the last T, so every token after the first is predicted exactly
 * once, with up to T - 1 tokens of left context.  A last, shorter window
 * predicts what remains.  The result is the token-weighted mean
 *     loss = (sum over predicted tokens of -ln p(token | context)) / count
 * which does not depend on how windows are grouped into batches.  Nothing
 * is padded; end-of-text tokens are predicted and counted like any other.
 */
#ifndef TFS_EVALUATE_H
#define TFS_EVALUATE_H

#include "model/model.h"
#include "core/tokstream.h"

#include <stddef.h>
#include <stdint.h>

struct eval_sum {
    double nll;             /* sum of -ln p over predicted tokens (nats) */
    uint64_t tokens;        /* predicted tokens */
};

/* Add the windows of ids[0 .. n) (see above), B full windows per forward
 * pass. */
void eval_ids(struct model *m, const uint32_t *ids, size_t n, int B, int T, struct eval_sum *acc);

/* The same over a whole stream, read sequentially in chunks of B*T + 1
 * tokens (the last token of a chunk is the first of the next), stopping
 * after max_tokens predicted tokens when max_tokens > 0.  on_targets, when
 * given, sees every predicted id once (for bits per byte).  Shows progress
 * on a terminal unless quiet. */
void eval_stream(struct model *m, struct tokr *r, int B, int T, uint64_t max_tokens, int quiet,
                 void (*on_targets)(void *ctx, const uint32_t *ids, size_t n), void *ctx,
                 struct eval_sum *acc);

/* ---- the tfs-eval program ---- */
struct eval_opts {
    const char *ckpt;           /* checkpoint */
    const char *input;          /* token stream to score ("-" = stdin) */
    const char *const *inputs;  /* or several: files, directories, globs (tokset.h) */
    size_t ninputs;             /* 0: input alone */
    const char *tokenizer;      /* tokenizer file or NULL */
    const char *prompt;         /* generate after this text (NULL: score) */
    const char *export_dir;     /* --export-hf DIR, or NULL */
    int dtype;                  /* --dtype: enum st_dtype of the exported weights */
    int context;                /* --context: a Hugging Face model's, shortened (0: its own) */
    int chat;                   /* interactive loop */
    int token_loss;             /* per-token losses of --prompt or the stream (token_loss.h) */
    int predictions;            /* --token-loss: the most likely next tokens listed */
    const char *attention;      /* --attention LAYER[:HEAD] (attention_map.h), or NULL */
    int att_layer, att_head;    /* parsed from it; head -1: the mean over the heads */
    const char *heatmap;        /* --heatmap PNG, or NULL */
    int batch;
    uint64_t max_tokens;        /* score at most this many tokens (0: all) */
    size_t new_tokens;          /* generate up to this many tokens */
    int samples;                /* texts to generate */
    double temperature, top_p;
    int top_k;
    uint64_t seed;
    int threads, quiet;
};

/* Load the checkpoint (and tokenizer), then export, chat, generate, list
 * per-token losses or score the stream and print the JSON result; returns
 * the exit status. */
int tfs_eval(const struct eval_opts *o);

#endif
