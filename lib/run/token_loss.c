/* token_loss.c - per-token loss and the model's top predictions (see
 * token_loss.h); windows as in evaluate.c, logits from the KV cache. */
#include "run/token_loss.h"
#include "core/jbuf.h"
#include "core/xio.h"
#include "kernels/ops.h"
#include "tok/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What one position says about the token that follows it. */
struct prediction {
    double loss;            /* -ln p(next token) */
    double lse;             /* log sum exp of the logits */
    int ntop;
    uint32_t *top;          /* (ntop) the most likely ids, most likely first */
};

/* The k largest logits by insertion into a short sorted list: O(V k),
 * cheap for the handful of predictions shown.  Ties go to the lower id. */
static void top_k(const float *z, int V, uint32_t *top, int k)
{
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (n == k && z[i] <= z[top[n - 1]]) continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && z[i] > z[top[j - 1]]) { top[j] = top[j - 1]; j--; }
        top[j] = (uint32_t)i;
    }
}

static void predict(const float *z, int V, uint32_t next, struct prediction *p)
{
    /* loss = lse(z) - z[next], by the kernel every level's loss uses */
    float loss, lse;
    crossentropy_forward(&loss, &lse, z, &next, 1, V);
    p->lse = lse;
    p->loss = loss;
    if (p->ntop) top_k(z, V, p->top, p->ntop);
}

/* ---- JSON Lines ---------------------------------------------------------- */
static void put_text(struct jbuf *b, const struct tokenizer *tok, uint32_t id, struct tok_bytes *tb)
{
    if (!tok) return;
    tb->len = 0;
    tok_decode(tok, &id, 1, tb);
    jb_raw(b, ", \"text\": ", 10);
    jb_str(b, tb->p ? tb->p : "", tb->len);
}

static void put_number(struct jbuf *b, const char *fmt, double v)
{
    char s[40];
    int n = snprintf(s, sizeof s, fmt, v);
    jb_raw(b, s, (size_t)n);
}

/* {"pos": 7, "token": 42, "text": " dog", "loss": 0.8123, "prob": 0.4438,
 *  "top": [{"token": 42, "text": " dog", "prob": 0.4438}, ...]} */
static void put_row(struct jbuf *b, const struct tokenizer *tok, size_t pos, uint32_t id,
                    const float *z, const struct prediction *p, struct tok_bytes *tb)
{
    jb_raw(b, "{\"pos\": ", 8);
    jb_u64(b, pos);
    jb_raw(b, ", \"token\": ", 11);
    jb_u64(b, id);
    put_text(b, tok, id, tb);
    put_number(b, ", \"loss\": %.6f", p->loss);
    put_number(b, ", \"prob\": %.6g", exp(-p->loss));
    jb_raw(b, ", \"top\": [", 10);
    for (int i = 0; i < p->ntop; i++) {
        jb_raw(b, i ? ", {\"token\": " : "{\"token\": ", i ? 12 : 10);
        jb_u64(b, p->top[i]);
        put_text(b, tok, p->top[i], tb);
        put_number(b, ", \"prob\": %.6g}", exp((double)z[p->top[i]] - p->lse));
    }
    jb_raw(b, "]}", 2);
    jb_endrow(b);
}

/* ---- the terminal view ----------------------------------------------------
 * Each token's background says how much it cost: none below 1 nat (the
 * model expected it), then pale yellow to red in steps of one or two nats,
 * in the 256-colour palette of xterm-compatible terminals (ESC [ 48;5;N m),
 * with black letters.  A newline inside a token ends the colour first, so
 * no coloured band runs to the edge of the screen. */
static const struct { double below; int colour; } HEAT[] = {
    { 1, -1 }, { 2, 229 }, { 3, 221 }, { 4, 214 }, { 6, 208 }, { INFINITY, 196 },
};

static int heat_colour(double loss)
{
    int i = 0;
    while (loss >= HEAT[i].below) i++;
    return HEAT[i].colour;
}

static void view_token(FILE *out, const char *s, size_t len, int colour)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n' || colour < 0) { fputc(s[i], out); continue; }
        fprintf(out, "\033[30;48;5;%dm", colour);
        size_t j = i;
        while (j < len && s[j] != '\n') j++;
        fwrite(s + i, 1, j - i, out);
        fputs("\033[0m", out);
        i = j - 1;
    }
}

static void view_legend(FILE *out, const struct eval_sum *acc)
{
    fputs("\n\nloss per token (nats): ", out);
    double lo = 0;
    for (size_t i = 0; i < sizeof HEAT / sizeof HEAT[0]; i++) {
        char s[32];
        if (isinf(HEAT[i].below)) snprintf(s, sizeof s, " %g+ ", lo);
        else snprintf(s, sizeof s, " %g-%g ", lo, HEAT[i].below);
        view_token(out, s, strlen(s), HEAT[i].colour);
        lo = HEAT[i].below;
    }
    fprintf(out, "\nmean loss %.4f nats over %llu predicted tokens\n",
            acc->tokens ? acc->nll / (double)acc->tokens : 0.0, (unsigned long long)acc->tokens);
}

/* ---- the windows ---------------------------------------------------------- */
struct sink {
    const struct tokenizer *tok;
    int view;
    FILE *out;
    struct jbuf jb;
    struct tok_bytes tb;
};

static void emit(struct sink *s, size_t pos, uint32_t id, const float *z, const struct prediction *p)
{
    if (!s->view) { put_row(&s->jb, s->tok, pos, id, z, p, &s->tb); return; }
    s->tb.len = 0;
    tok_decode(s->tok, &id, 1, &s->tb);
    view_token(s->out, s->tb.p, s->tb.len, p ? heat_colour(p->loss) : -1);
    if (tok_is_special(s->tok, id)) fputs("\n\n", s->out);  /* end-of-text ends a document */
}

void token_loss(struct model *m, const struct tokenizer *tok, const uint32_t *ids, size_t n,
                int top, int view, FILE *out, struct eval_sum *acc)
{
    if (view && !tok) die("internal error: the token-loss view needs a tokenizer");
    struct model_config c = model_config_of(m);
    int V = c.vocab, T = c.context;
    struct sink s = { tok, view, out, { 0 }, { NULL, 0, 0 } };
    if (!view) jb_init(&s.jb, out);
    struct prediction p = { 0, 0, top < V ? top : V, NULL };
    p.top = xmalloc((size_t)(p.ntop ? p.ntop : 1) * sizeof *p.top);
    struct model_kv *kv = model_kv_new(m);
    /* The view shows the first token uncoloured (nothing predicts it),
     * unless it is the end-of-text that starts a document. */
    if (view && n && !tok_is_special(tok, ids[0])) emit(&s, 0, ids[0], NULL, NULL);
    /* Window start s0 = 0, T, 2T, ...: inputs ids[s0 .. s0+len), targets
     * one later, a fresh cache each, as eval_ids cuts them. */
    for (size_t s0 = 0; s0 + 1 < n; s0 += (size_t)T) {
        size_t len = n - 1 - s0 < (size_t)T ? n - 1 - s0 : (size_t)T;
        model_kv_reset(kv);
        for (size_t j = 0; j < len; j++) {
            const float *z = model_kv_step(m, kv, ids[s0 + j]);
            uint32_t next = ids[s0 + j + 1];
            predict(z, V, next, &p);
            acc->nll += p.loss;
            acc->tokens++;
            emit(&s, s0 + j + 1, next, z, &p);
        }
    }
    if (view) view_legend(out, acc);
    else jb_free(&s.jb);
    model_kv_free(kv);
    free(p.top);
    free(s.tb.p);
}
