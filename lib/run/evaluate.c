/* evaluate.c - token-weighted mean loss over windows (see evaluate.h). */
#include "run/evaluate.h"
#include "core/comm.h"
#include "model/checkpoint.h"
#include "core/progress.h"
#include "core/tokset.h"
#include "run/attention_map.h"
#include "run/sample.h"
#include "run/token_loss.h"
#include "tok/tokenizer.h"
#include "run/threads.h"
#include "core/xio.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sum the per-position losses of the last forward pass (mean * B * T for a
 * level that keeps only the mean). */
static void add_losses(const struct model *m, float mean, int B, int T, struct eval_sum *acc)
{
    double s = 0;
    const float *losses = model_losses(m);
    if (!losses) s = (double)mean * B * T;
    else for (long i = 0; i < (long)B * T; i++) s += losses[i];
    acc->nll += s;
    acc->tokens += (uint64_t)B * (uint64_t)T;
}

void eval_ids(struct model *m, const uint32_t *ids, size_t n, int B, int T, struct eval_sum *acc)
{
    if (n < 2) return;
    size_t s = 0;
    /* Full windows need T + 1 tokens: ids[s .. s+T].  Consecutive windows
     * are contiguous, so B of them are one (B, T) block of inputs starting
     * at ids + s and the same block of targets starting one token later. */
    size_t full = (n - 1) / (size_t)T;
    for (size_t w = 0; w < full;) {
        int b = full - w >= (size_t)B ? B : (int)(full - w);
        float mean = model_forward(m, ids + s, ids + s + 1, b, T);
        add_losses(m, mean, b, T, acc);
        w += (size_t)b;
        s += (size_t)b * (size_t)T;
    }
    size_t rest = n - 1 - s;    /* tokens left to predict, < T */
    if (rest) {
        float mean = model_forward(m, ids + s, ids + s + 1, 1, (int)rest);
        add_losses(m, mean, 1, (int)rest, acc);
    }
}

void eval_stream(struct model *m, struct tokr *r, int B, int T, uint64_t max_tokens, int quiet,
                 void (*on_targets)(void *ctx, const uint32_t *ids, size_t n), void *ctx,
                 struct eval_sum *acc)
{
    size_t chunk = (size_t)B * (size_t)T;
    uint32_t *buf = xmalloc((chunk + 1) * sizeof *buf);
    struct progress p;
    uint64_t total = r->mapped ? r->n : r->h.ntokens;
    if (max_tokens && (!total || max_tokens + 1 < total)) total = max_tokens + 1;
    progress_start(&p, "evaluating", total, quiet);
    /* buf[0] is the carried-over token: the last target of the previous
     * chunk is the first input of the next. */
    size_t have = tokr_read(r, buf, 1);
    while (have == 1) {
        size_t want = chunk;
        if (max_tokens && acc->tokens + want > max_tokens) want = (size_t)(max_tokens - acc->tokens);
        if (!want) break;
        size_t got = 0, k;
        while (got < want && (k = tokr_read(r, buf + 1 + got, want - got)) > 0) got += k;
        if (!got) break;
        if (on_targets) on_targets(ctx, buf + 1, got);
        eval_ids(m, buf, got + 1, B, T, acc);
        progress_update(&p, acc->tokens + 1, "loss %.4f", acc->nll / (double)acc->tokens);
        buf[0] = buf[got];
    }
    progress_end(&p);
    free(buf);
}

/* ---- tfs-eval ------------------------------------------------------------ */
/* Bits per byte: the loss spread over the bytes of text the predicted
 * tokens stand for.  Special tokens (end-of-text) stand for no text, so
 * they add to the loss but not to the bytes. */
struct byte_count {
    const struct tokenizer *tok;
    uint64_t bytes;
};

static void count_bytes(void *ctx, const uint32_t *ids, size_t n)
{
    struct byte_count *b = ctx;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if (!tok_is_special(b->tok, ids[i]) && tok_token(b->tok, ids[i], &len)) b->bytes += len;
    }
}

/* Open the stream to score and check that it fits the checkpoint (and the
 * tokenizer, when one is given). */
static struct tokr *open_stream(const struct eval_opts *o, const struct ckpt_info *info,
                                const struct tokenizer *tok)
{
    /* Under mpirun only rank 0 gets the pipe (the others read an empty
     * stdin), so every rank refuses it here, before any of them reads. */
    int from_stdin = !o->ninputs && o->input && strcmp(o->input, "-") == 0;
    for (size_t i = 0; i < o->ninputs; i++) from_stdin |= strcmp(o->inputs[i], "-") == 0;
    if (comm_size() > 1 && from_stdin)
        comm_fail("<stdin>: under mpirun the stream must be a regular, uncompressed file: each rank reads "
                  "its share at its own offsets");
    struct tokr *r = o->ninputs ? tokr_open_set(o->inputs, o->ninputs) : tokr_open(o->input);
    ckpt_check_stream(o->ckpt, info, r->name, r->h.vocab, r->h.fingerprint);
    if (tok && r->h.fingerprint && r->h.fingerprint != tok_fingerprint(tok))
        die("%s: encoded by tokenizer %016" PRIx64 ", not by %s (%016" PRIx64 ")", r->name,
            r->h.fingerprint, o->tokenizer, tok_fingerprint(tok));
    return r;
}

/* Under mpirun (comm.h): rank k of N scores its share of the chunks that
 * eval_stream reads one after the other.  Chunk c predicts the tokens
 * c*B*T + 1 .. c*B*T + B*T from the ids starting at c*B*T; the ranks take
 * contiguous runs of chunks, read them at their offsets (the stream must be
 * seekable), and their sums meet on every rank.  The same chunks and the
 * same arithmetic as one process: only the order of the double additions
 * differs. */
static void eval_shared(struct model *m, struct tokr *r, int B, int T, uint64_t max_tokens,
                        struct byte_count *bc, struct eval_sum *acc)
{
    if (!r->mapped)
        comm_fail("%s: under mpirun the stream must be a regular, uncompressed file: each rank reads "
                  "its share at its own offsets", r->name);
    uint64_t n = r->n;
    if (max_tokens && max_tokens + 1 < n) n = max_tokens + 1;
    size_t chunk = (size_t)B * (size_t)T;
    uint64_t preds = n ? n - 1 : 0, chunks = (preds + chunk - 1) / chunk;
    uint64_t c0 = comm_slice_lo(chunks, comm_rank()), c1 = comm_slice_lo(chunks, comm_rank() + 1);
    uint32_t *buf = xmalloc((chunk + 1) * sizeof *buf);
    for (uint64_t c = c0; c < c1; c++) {
        uint64_t off = c * chunk;
        size_t got = preds - off < chunk ? (size_t)(preds - off) : chunk;
        tokr_get(r, off, got + 1, buf);
        if (bc->tok) count_bytes(bc, buf + 1, got);
        eval_ids(m, buf, got + 1, B, T, acc);
    }
    free(buf);
    double s[3] = { acc->nll, (double)acc->tokens, (double)bc->bytes };
    comm_sum_doubles(s, 3);
    acc->nll = s[0];
    acc->tokens = (uint64_t)s[1];
    bc->bytes = (uint64_t)s[2];
}

/* Scoring: the JSON line of loss, perplexity, tokens (and bits per byte). */
static void score(const struct eval_opts *o, struct model *m, const struct ckpt_info *info,
                  const struct tokenizer *tok)
{
    struct tokr *r = open_stream(o, info, tok);
    struct eval_sum e = { 0, 0 };
    struct byte_count bc = { tok, 0 };
    if (comm_size() > 1)
        eval_shared(m, r, o->batch, model_config_of(m).context, o->max_tokens, &bc, &e);
    else
        eval_stream(m, r, o->batch, model_config_of(m).context, o->max_tokens, o->quiet,
                    tok ? count_bytes : NULL, &bc, &e);
    if (!e.tokens) die("%s: fewer than 2 tokens: nothing to predict", r->name);
    double loss = e.nll / (double)e.tokens;
    if (comm_rank()) { tokr_close(r); return; }     /* one writer */
    printf("{\"loss\": %.6f, \"perplexity\": %.4f, \"tokens\": %" PRIu64, loss, exp(loss), e.tokens);
    /* bits per byte = total nats / ln 2 / bytes */
    if (tok && bc.bytes)
        printf(", \"bytes\": %" PRIu64 ", \"bits_per_byte\": %.6f", bc.bytes,
               e.nll / log(2.0) / (double)bc.bytes);
    printf("}\n");
    tokr_close(r);
}

/* --token-loss: the tokens of --prompt (after end-of-text, as a document
 * starts), or the first --max-tokens + 1 tokens of the stream (all without
 * it); the coloured view when standard output is a terminal and a
 * tokenizer gives the text. */
static void score_tokens(const struct eval_opts *o, struct model *m, const struct ckpt_info *info,
                         const struct tokenizer *tok)
{
    uint32_t *ids;
    size_t n = 0;
    const char *name = "--prompt";
    if (o->prompt) {
        ids = prompt_ids(tok, o->prompt, &n);
    } else {
        struct tokr *r = open_stream(o, info, tok);
        name = r->name;
        size_t cap = 4096, k;
        ids = xmalloc(cap * sizeof *ids);
        while (!o->max_tokens || n < o->max_tokens + 1) {
            if (n == cap) ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
            size_t want = cap - n;
            if (o->max_tokens && want > o->max_tokens + 1 - n) want = (size_t)(o->max_tokens + 1 - n);
            if (!(k = tokr_read(r, ids + n, want))) break;
            n += k;
        }
        tokr_close(r);
    }
    if (n < 2) die("%s: fewer than 2 tokens: nothing to predict", name);
    struct eval_sum e = { 0, 0 };
    token_loss(m, tok, ids, n, o->predictions, tok && is_tty(stdout), stdout, &e);
    free(ids);
}

/* --attention: the tokens of --prompt (after end-of-text, as --token-loss
 * takes them), or the first tokens of the stream: the model's context, or
 * --max-tokens of them. */
static void look_attention(const struct eval_opts *o, struct model *m, const struct ckpt_info *info,
                           const struct tokenizer *tok)
{
    uint32_t *ids;
    size_t n = 0;
    if (o->prompt) {
        ids = prompt_ids(tok, o->prompt, &n);
    } else {
        struct tokr *r = open_stream(o, info, tok);
        size_t want = (size_t)model_config_of(m).context, k;
        if (o->max_tokens && o->max_tokens < want) want = (size_t)o->max_tokens;
        ids = xmalloc(want * sizeof *ids);
        while (n < want && (k = tokr_read(r, ids + n, want - n)) > 0) n += k;
        tokr_close(r);
    }
    char *what = xasprintf("%s, %s", o->prompt ? "--prompt" : path_name(o->input), path_name(o->ckpt));
    attention_map(m, tok, ids, n, o->att_layer, o->att_head, what, stdout, o->heatmap);
    free(what);
    free(ids);
}

int tfs_eval(const struct eval_opts *o)
{
    /* under mpirun the ranks share out the scoring (eval_shared); nothing else */
    comm_init();
    if (comm_size() > 1 && (o->export_dir || o->attention || o->token_loss || o->chat || o->prompt))
        comm_fail("under mpirun only scoring a stream is shared out (not --export-hf, --attention, "
                  "--token-loss, --chat or --prompt)");
    if (o->threads > 0) run_set_threads(o->threads);
    struct model m;
    struct ckpt_info info;
    ckpt_load_any(o->ckpt, &m, &info, 0, o->context);   /* a tfs checkpoint or a Hugging Face model */
    struct model_config mc = model_config_of(&m);
    struct tokenizer *tok = NULL;
    int vocab = mc.vocab;       /* the ids we sample from: the tokenizer's, when the model's is padded */
    if (o->tokenizer) {
        tok = tok_load(o->tokenizer);
        int padded = (int64_t)tok_vocab_size(tok) < mc.vocab && info.fingerprint == tok_fingerprint(tok);
        if (padded) vocab = (int)tok_vocab_size(tok);
        if ((int64_t)tok_vocab_size(tok) != mc.vocab && !padded)
            die("%s: a vocabulary of %u tokens, but %s has %d (use the tokenizer it was trained with)",
                o->tokenizer, tok_vocab_size(tok), o->ckpt, mc.vocab);
        if (info.fingerprint && tok_fingerprint(tok) != info.fingerprint)
            die("%s: tokenizer %016" PRIx64 ", but %s was trained on data of tokenizer %016" PRIx64
                " (use the tokenizer it was trained with)",
                o->tokenizer, tok_fingerprint(tok), o->ckpt, info.fingerprint);
    }
    if (o->export_dir) {
        long eot = tok && tok_eot(tok) != TOK_NO_ID ? (long)tok_eot(tok) : -1;
        ckpt_export_hf_model(o->export_dir, &m, info.fingerprint, eot, o->dtype);
        if (tok) {
            size_t n = strlen(o->export_dir) + 32;
            char *path = xmalloc(n);
            snprintf(path, n, "%s/tokenizer.json", o->export_dir);
            tok_save_hf(tok, path);
            free(path);
        }
    } else if (o->attention) {
        look_attention(o, &m, &info, tok);
    } else if (o->token_loss) {
        score_tokens(o, &m, &info, tok);
    } else if (o->chat || o->prompt) {
        struct sampler s;
        sampler_init(&s, vocab, o->temperature, o->top_k, o->top_p, o->seed);
        if (o->chat) {
            chat_loop(&m, tok, &s, o->new_tokens, stdin, stdout);
        } else {
            for (int i = 0; i < o->samples; i++) {
                if (i) fputs("\n---\n", stdout);
                generate_text(&m, tok, &s, o->prompt, o->new_tokens, stdout);
                fputc('\n', stdout);
            }
        }
        sampler_free(&s);
    } else {
        score(o, &m, &info, tok);
    }
    if (tok) tok_free(tok);
    ckpt_info_free(&info);
    model_free(&m);
    comm_finalize();
    return EXIT_OK;
}
