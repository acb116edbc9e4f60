/* sample.c - temperature, top-k and top-p sampling; generation with the KV
 * cache (see sample.h). */
#include "run/sample.h"
#include "tok/tokenizer.h"
#include "core/xio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sampler_init(struct sampler *s, int V, double temperature, int top_k, double top_p, uint64_t seed)
{
    s->V = V;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    rng_seed(&s->rng, seed);
    s->probs = xmalloc((size_t)V * sizeof *s->probs);
    s->order = xmalloc((size_t)V * sizeof *s->order);
}

void sampler_free(struct sampler *s)
{
    free(s->probs); free(s->order);
    s->probs = NULL; s->order = NULL;
}

/* qsort has no context argument: the probabilities being sorted. */
static const double *sort_probs;
static int by_prob_desc(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (sort_probs[i] != sort_probs[j]) return sort_probs[i] > sort_probs[j] ? -1 : 1;
    return i < j ? -1 : i > j;      /* ties: lower id first, for determinism */
}

uint32_t sampler_next(struct sampler *s, const float *logits)
{
    int V = s->V;
    uint32_t best = 0;
    for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = (uint32_t)i;
    if (s->temperature == 0) return best;
    /* softmax(z / temperature), shifted by the max for stability */
    double sum = 0;
    for (int i = 0; i < V; i++) {
        s->probs[i] = exp(((double)logits[i] - (double)logits[best]) / s->temperature);
        sum += s->probs[i];
    }
    for (int i = 0; i < V; i++) s->probs[i] /= sum;
    int n = V;
    if ((s->top_k > 0 && s->top_k < V) || s->top_p < 1) {
        for (int i = 0; i < V; i++) s->order[i] = (uint32_t)i;
        sort_probs = s->probs;
        qsort(s->order, (size_t)V, sizeof *s->order, by_prob_desc);
        if (s->top_k > 0 && s->top_k < n) n = s->top_k;
        if (s->top_p < 1) {
            /* the smallest prefix whose mass, renormalised over the top-k
             * survivors, reaches top_p */
            double kept = 0, cum = 0;
            for (int i = 0; i < n; i++) kept += s->probs[s->order[i]];
            int j = 0;
            while (j < n) {
                cum += s->probs[s->order[j++]];
                if (cum >= s->top_p * kept) break;
            }
            n = j;
        }
    }
    /* Draw u in [0, mass of the candidates) and walk the candidates. */
    double mass = 0;
    for (int i = 0; i < n; i++) mass += s->probs[n == V ? (uint32_t)i : s->order[i]];
    double u = rng_uniform(&s->rng) * mass, c = 0;
    for (int i = 0; i < n; i++) {
        uint32_t id = n == V ? (uint32_t)i : s->order[i];
        c += s->probs[id];
        if (u < c) return id;
    }
    return n == V ? (uint32_t)(V - 1) : s->order[n - 1];   /* rounding at the very end */
}

/* ---- the context: tokens and their KV cache --------------------------------
 * hist holds every token of the text (or conversation) so far; the cache
 * holds the ones the model sees.  A prompt goes into an empty cache in one
 * batched forward pass (model_kv_prefill); later tokens one at a time.
 * When the cache is full it slides: it is rebuilt, again in one batched
 * pass, from a kept prefix (the text's first token: its beginning- or
 * end-of-text, the position-0 token the model was trained to see) and the
 * most recent tokens, half a context in all. */
struct context {
    struct model_kv *kv;
    uint32_t *hist;
    size_t n, cap;
    int ctx;            /* the model's context */
};

static void context_init(struct context *c, const struct model *m)
{
    memset(c, 0, sizeof *c);
    c->kv = model_kv_new(m);
    c->ctx = model_config_of(m).context;
}

static void context_free(struct context *c)
{
    model_kv_free(c->kv);
    free(c->hist);
}

static void context_reset(struct context *c)
{
    model_kv_reset(c->kv);
    c->n = 0;
}

/* Rebuild the cache from hist[0 .. upto): the kept prefix hist[0] and the
 * last ctx/2 - 1 tokens before upto; the logits after hist[upto - 1]. */
static const float *context_slide(struct model *m, struct context *c, size_t upto)
{
    size_t keep = (size_t)(c->ctx / 2 > 1 ? c->ctx / 2 : 1), k = 0;
    uint32_t *w = xmalloc(keep * sizeof *w);
    if (upto <= keep) { memcpy(w, c->hist, upto * sizeof *w); k = upto; }
    else {
        if (keep > 1) w[k++] = c->hist[0];
        memcpy(w + k, c->hist + upto - (keep - k), (keep - k) * sizeof *w);
        k = keep;
    }
    model_kv_reset(c->kv);
    const float *logits = model_kv_prefill(m, c->kv, w, (int)k);
    free(w);
    return logits;
}

/* Append ids[0 .. k) (k >= 1) to the text and the cache; the logits of the
 * token that follows them. */
static const float *context_feed(struct model *m, struct context *c, const uint32_t *ids, size_t k)
{
    if (c->n + k > c->cap) {
        c->cap = (c->n + k) * 2 + 64;
        c->hist = xrealloc(c->hist, c->cap * sizeof *c->hist);
    }
    size_t n0 = c->n;
    memcpy(c->hist + n0, ids, k * sizeof *ids);
    c->n += k;
    if (model_kv_len(c->kv) == 0)       /* a prompt: one batched pass */
        return c->n <= (size_t)c->ctx ? model_kv_prefill(m, c->kv, c->hist, (int)c->n) : context_slide(m, c, c->n);
    const float *logits = NULL;
    for (size_t j = n0; j < c->n; j++)
        logits = model_kv_len(c->kv) >= c->ctx ? context_slide(m, c, j + 1) : model_kv_step(m, c->kv, c->hist[j]);
    return logits;
}

/* Draw up to n tokens after logits, feeding each back; stop before eot. */
static size_t continue_text(struct model *m, struct context *c, struct sampler *s, const float *logits, size_t n,
                            long eot, void (*emit)(void *ctx, uint32_t id), void *ctx)
{
    size_t out = 0;
    while (out < n) {
        uint32_t id = sampler_next(s, logits);
        if (eot >= 0 && id == (uint32_t)eot) break;
        emit(ctx, id);
        out++;
        if (out == n) break;
        logits = context_feed(m, c, &id, 1);
    }
    return out;
}

size_t generate(struct model *m, struct sampler *s, const uint32_t *prompt, size_t np, size_t n,
                long eot, void (*emit)(void *ctx, uint32_t id), void *ctx)
{
    if (np == 0) die("internal error: generate needs at least one prompt token");
    struct context c;
    context_init(&c, m);
    const float *logits = context_feed(m, &c, prompt, np);
    size_t out = continue_text(m, &c, s, logits, n, eot, emit, ctx);
    context_free(&c);
    return out;
}

/* ---- text ------------------------------------------------------------------ */
struct text_out {
    const struct tokenizer *tok;
    struct tok_bytes buf;
    FILE *out;
};

static void emit_text(void *ctx, uint32_t id)
{
    struct text_out *t = ctx;
    t->buf.len = 0;
    tok_decode(t->tok, &id, 1, &t->buf);
    xfwrite(t->buf.p, 1, t->buf.len, t->out);
    fflush(t->out);
}

/* The id a text starts from (the tokenizer's beginning-of-text, else its
 * end-of-text, as GPT-2 was trained: each document follows one), then the
 * prompt's ids, in a buffer the caller frees.  A tokenizer with neither
 * starts from the prompt alone, which then must not be empty. */
uint32_t *prompt_ids(const struct tokenizer *tok, const char *prompt, size_t *np)
{
    struct tok_encoder *e = tok_encoder_new(tok);
    size_t n;
    const uint32_t *ids = tok_encode(e, prompt, strlen(prompt), 0, &n);
    uint32_t first = tok_bos(tok) != TOK_NO_ID ? tok_bos(tok) : tok_eot(tok);
    size_t k = first != TOK_NO_ID;
    if (!k && n == 0)
        die("the tokenizer has no beginning- or end-of-text token to start from: give a non-empty prompt");
    uint32_t *p = xmalloc((n + 1) * sizeof *p);
    if (k) p[0] = first;
    memcpy(p + k, ids, n * sizeof *p);
    tok_encoder_free(e);
    *np = n + k;
    return p;
}

/* The id that ends generation, or -1 when the tokenizer has none. */
static long stop_id(const struct tokenizer *tok)
{
    return tok_eot(tok) == TOK_NO_ID ? -1 : (long)tok_eot(tok);
}

size_t generate_text(struct model *m, const struct tokenizer *tok, struct sampler *s,
                     const char *prompt, size_t n, FILE *out)
{
    size_t np;
    uint32_t *p = prompt_ids(tok, prompt, &np);
    struct text_out t = { tok, { NULL, 0, 0 }, out };
    xfwrite(prompt, 1, strlen(prompt), out);
    size_t k = generate(m, s, p, np, n, stop_id(tok), emit_text, &t);
    free(t.buf.p);
    free(p);
    return k;
}

static void chat_help(FILE *out)
{
    fputs("Type the beginning of a text; the model continues it.  Commands:\n"
          "  /temperature T   sampling temperature (0: always the most likely token)\n"
          "  /top-k K         sample among the K most likely tokens (0: all)\n"
          "  /top-p P         sample among the most likely tokens that make up P of the mass\n"
          "  /n N             generate up to N tokens\n"
          "  /settings        show the settings\n"
          "  /reset           forget the conversation: the next line starts a new text\n"
          "  /help            this list\n"
          "  /quit            leave (end of input does too)\n", out);
}

/* Parse a command's number; 0 and a message when it is not valid. */
static int chat_number(const char *arg, double min, double max, double *v, FILE *out)
{
    char *end;
    errno = 0;
    *v = strtod(arg, &end);
    if (end == arg || *end || errno || !(*v >= min && *v <= max)) {
        fprintf(out, "not a number in [%g, %g]: '%s'\n", min, max, arg);
        return 0;
    }
    return 1;
}

void chat_loop(struct model *m, const struct tokenizer *tok, struct sampler *s, size_t n,
               FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    struct context c;
    context_init(&c, m);
    struct tok_encoder *e = tok_encoder_new(tok);
    fprintf(out, "tfs-eval chat: /help lists the commands, /quit leaves.\n");
    for (;;) {
        fputs("> ", out);
        fflush(out);
        if ((len = getline(&line, &cap, in)) < 0) { fputc('\n', out); break; }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (line[0] == '/') {
            char cmd[32] = "", arg[64] = "";
            double v;
            int k = sscanf(line, "/%31s %63s", cmd, arg);
            if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) break;
            else if (!strcmp(cmd, "help")) chat_help(out);
            else if (!strcmp(cmd, "reset")) { context_reset(&c); fputs("(a new conversation)\n", out); }
            else if (!strcmp(cmd, "settings"))
                fprintf(out, "temperature %g, top-k %d, top-p %g, n %zu\n", s->temperature, s->top_k, s->top_p, n);
            else if (k < 2 && (!strcmp(cmd, "temperature") || !strcmp(cmd, "top-k") || !strcmp(cmd, "top-p") || !strcmp(cmd, "n")))
                fprintf(out, "/%s needs a value\n", cmd);
            else if (!strcmp(cmd, "temperature")) { if (chat_number(arg, 0, 100, &v, out)) s->temperature = v; }
            else if (!strcmp(cmd, "top-k")) { if (chat_number(arg, 0, s->V, &v, out)) s->top_k = (int)v; }
            else if (!strcmp(cmd, "top-p")) { if (chat_number(arg, 1e-9, 1, &v, out)) s->top_p = v; }
            else if (!strcmp(cmd, "n")) { if (chat_number(arg, 1, 1e6, &v, out)) n = (size_t)v; }
            else fprintf(out, "unknown command '%s' (/help lists them)\n", line);
            continue;
        }
        if (!line[0]) continue;
        /* The conversation stays in the context: the first line starts the
         * text (after its beginning-of-text), each later one continues it
         * on a new line, after the model's last answer. */
        size_t np;
        uint32_t *p;
        if (c.n == 0) p = prompt_ids(tok, line, &np);
        else {
            char *nl = xmalloc((size_t)len + 2);
            nl[0] = '\n';
            memcpy(nl + 1, line, (size_t)len + 1);
            const uint32_t *ids = tok_encode(e, nl, (size_t)len + 1, 0, &np);
            p = xmalloc(np * sizeof *p);
            memcpy(p, ids, np * sizeof *p);
            free(nl);
        }
        struct text_out t = { tok, { NULL, 0, 0 }, out };
        fputs(line, out);
        const float *logits = context_feed(m, &c, p, np);
        continue_text(m, &c, s, logits, n, stop_id(tok), emit_text, &t);
        fputc('\n', out);
        free(t.buf.p);
        free(p);
    }
    tok_encoder_free(e);
    context_free(&c);
    free(line);
}
