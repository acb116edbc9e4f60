/* stats_report.c - tok-stats(1) output: a readable report, JSON, the
 * coverage CDF as CSV, and a gnuplot picture of the Zipf curve and the
 * coverage CDF. */
#include "stats/stats_report.h"
#include "core/jsonl.h"
#include "tok/pretok.h"
#include "tok/tokenizer.h"
#include "core/xio.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- formatting helpers ------------------------------------------------- */

/* 1234567 -> "1,234,567", in one of 16 rotating buffers (several per printf) */
static const char *num(uint64_t v)
{
    static char buf[16][32];
    static int k;
    char *b = buf[k = (k + 1) % 16], tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), j = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) b[j++] = ',';
        b[j++] = tmp[i];
    }
    b[j] = 0;
    return b;
}

static double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0; }

/* Token or pre-token bytes for people: in double quotes, printable text as
 * is (valid UTF-8 included), \n \t \r \" \\ escaped, other bytes as \xNN. */
static void put_piece(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    putc('"', f);
    for (size_t i = 0; i < n; ) {
        unsigned c = u[i];
        int k = c >= 0x80 ? utf8_seq_len(u + i, n - i) : 1;
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7F || k == 0) fprintf(f, "\\x%02x", c);
        else { fwrite(u + i, 1, (size_t)k, f); i += (size_t)k; continue; }
        i++;
    }
    putc('"', f);
}

static const unsigned char *token_bytes(const struct stats_report *r, uint32_t id, size_t *len)
{
    *len = 0;
    return r->tok ? tok_token(r->tok, id, len) : NULL;
}

static const char *input_names(const struct stats_report *r)
{
    static char buf[512];
    const struct stats_opts *o = r->o;
    if (!o->nfiles) return "<stdin>";
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < o->nfiles && k < sizeof buf - 8; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? " " : "", path_name(o->files[i]));
    if (k >= sizeof buf - 8) strcpy(buf + sizeof buf - 8, "...");
    return buf;
}

/* ---- the readable report ------------------------------------------------ */

static void text_section(FILE *f, const struct stats_report *r)
{
    const struct text_stats *t = &r->text;
    fprintf(f, "Text (JSONL field \"%s\")\n", r->o->field);
    fprintf(f, "  %-22s %15s\n", "documents", num(t->docs));
    fprintf(f, "  %-22s %15s\n", "bytes", num(t->bytes));
    fprintf(f, "  %-22s %15s\n", "characters", num(t->chars));
    fprintf(f, "  %-22s %15s\n", "words", num(t->words));
    fprintf(f, "  %-22s %15s\n", "hyphenated words", num(t->hyphenated));

    static const char *const what[NLEN] = { "bytes", "characters", "words" };
    fprintf(f, "\nDocument length  %10s %10s %10s %10s %10s %12s\n", "min", "q1", "median", "q3", "max", "mean");
    for (int k = 0; k < NLEN; k++) {
        const struct dist *d = &r->len[k];
        fprintf(f, "  %-14s %10s %10s %10s %10s %10s %12.1f\n", what[k], num(d->min), num(d->q1),
                num(d->median), num(d->q3), num(d->max), d->mean);
    }
    const struct dist *d = &r->len[LEN_CHARS];
    if (d->n) {
        fprintf(f, "\nLength histogram (characters per document)\n");
        uint64_t most = 0;
        for (int b = 0; b < d->nbins; b++) if (d->bin_n[b] > most) most = d->bin_n[b];
        for (int b = 0; b < d->nbins; b++) {
            uint64_t hi = b + 1 < d->nbins ? d->bin_lo[b + 1] - 1 : d->max;
            int bar = most ? (int)((40 * d->bin_n[b] + most - 1) / most) : 0;
            fprintf(f, "  %10s .. %-10s %12s  %.*s\n", num(d->bin_lo[b]), num(hi), num(d->bin_n[b]), bar,
                    "########################################");
        }
    }

    fprintf(f, "\nBytes\n");
    fprintf(f, "  %-22s %15s %7.2f%%\n", "ASCII", num(t->ascii_bytes), pct(t->ascii_bytes, t->bytes));
    fprintf(f, "  %-22s %15s %7.2f%%\n", "other valid UTF-8", num(t->utf8_bytes), pct(t->utf8_bytes, t->bytes));
    fprintf(f, "  %-22s %15s %7.2f%%\n", "invalid UTF-8", num(t->invalid_bytes), pct(t->invalid_bytes, t->bytes));
    fprintf(f, "\nCharacters by script\n");
    for (int s = 0; s < NSCRIPT; s++)
        if (t->script[s])
            fprintf(f, "  %-30s %15s %7.2f%%\n", script_name(s), num(t->script[s]), pct(t->script[s], t->chars));
}

static void pretok_section(FILE *f, const struct stats_report *r)
{
    const struct pretok_stats *p = &r->pre;
    const char *name = pretok_name_of(r->pattern);
    fprintf(f, "\nPre-tokens (pattern %s)\n", name ? name : r->pattern);
    fprintf(f, "  %-26s %15s\n", "pre-tokens", num(p->total));
    fprintf(f, "  %-26s %15s\n", "distinct", num(p->distinct));
    fprintf(f, "  %-26s %15.2f\n", "bytes per pre-token", p->total ? (double)p->bytes / (double)p->total : 0);
    for (int k = 0; k < NPT; k++)
        fprintf(f, "  %-26s %15s %7.2f%%\n", pt_class_name(k), num(p->cls[k]), pct(p->cls[k], p->total));
    char label[64];
    snprintf(label, sizeof label, "rare (seen < %llu times)", (unsigned long long)p->rare_below);
    fprintf(f, "  %-26s %15s distinct, %s occurrences (%.2f%%)\n", label, num(p->rare_distinct),
            num(p->rare_occurrences), pct(p->rare_occurrences, p->total));
    fprintf(f, "  %-26s %15.3f (count ~ rank^-s, fitted on pieces seen twice or more)\n", "Zipf exponent s", p->zipf_s);
    fprintf(f, "  %-26s", "coverage by the top");
    for (int c = 0; c < NCOVER; c++)
        fprintf(f, "  %g%%: %s", cover_permille[c] / 10.0, num(p->cover_rank_n[c]));
    fprintf(f, "\n  Zipf curve (rank: count)  ");
    for (uint64_t rank = 1; rank <= p->distinct; rank *= 10)
        fprintf(f, "  %s: %s", num(rank), num(p->sorted[rank - 1]));
    fprintf(f, "\n");
    uint32_t top = r->o->top < p->distinct ? r->o->top : (uint32_t)p->distinct;
    if (top) {
        fprintf(f, "\n  %6s %12s %8s  %s\n", "rank", "count", "share", "pre-token");
        for (uint32_t i = 0; i < top; i++) {
            const struct ptent *e = pretok_stats_top(p, i);
            fprintf(f, "  %6u %12s %7.3f%%  ", i + 1, num(e->count), pct(e->count, p->total));
            put_piece(f, e->s, e->len);
            fputc('\n', f);
        }
    }
}

static void token_section(FILE *f, const struct stats_report *r)
{
    const struct tok_stats *s = &r->ts;
    char fp[32] = "none";
    if (r->fingerprint) snprintf(fp, sizeof fp, "%016llx", (unsigned long long)r->fingerprint);
    if (r->is_stream)
        fprintf(f, "Tokens (%s ids, vocabulary %s, tokenizer fingerprint %s)\n", r->wide ? "uint32" : "uint16",
                num(s->vocab), fp);
    else
        fprintf(f, "\nTokens of the text encoded by %s (vocabulary %s, fingerprint %016llx)\n",
                path_name(r->o->tokenizer), num(s->vocab), (unsigned long long)r->fingerprint);
    fprintf(f, "  %-22s %15s\n", "tokens", num(s->ntokens));
    if (s->eot >= 0) {
        fprintf(f, "  %-22s %15s (end-of-text id %ld)\n", "documents", num(s->docs), s->eot);
        if (s->docs)
            fprintf(f, "  %-22s %15.2f\n", "tokens per document", (double)s->ntokens / (double)s->docs);
    } else {
        fprintf(f, "  %-22s %15s (end-of-text id unknown: give --tokenizer or --eot)\n", "documents", "?");
    }
    if (s->bytes)
        fprintf(f, "  %-22s %15.3f (%s bytes of text)\n", "bytes per token",
                (double)s->bytes / (double)(s->ntokens - s->docs), num(s->bytes));
    fprintf(f, "  %-22s %15s of %s (%.2f%%)\n", "ids used", num(s->used), num(s->vocab), pct(s->used, s->vocab));
    fprintf(f, "  %-22s %15s", "ids never used", num(s->vocab - s->used));
    if (s->used < s->vocab) {
        fputs(":", f);
        uint32_t shown = 0;
        for (uint32_t id = 0; id < s->vocab && shown < 10; id++)
            if (!s->count[id]) { fprintf(f, " %u", id); shown++; }
        if (s->vocab - s->used > shown) fputs(" ...", f);
    }
    fputc('\n', f);
    fprintf(f, "  %-22s %15.4f bits per token", "unigram entropy", s->entropy);
    if (s->bytes) fprintf(f, ", %.4f bits per byte", s->bits_per_byte);
    fputc('\n', f);
    fprintf(f, "  %-22s", "coverage by the top");
    for (int c = 0; c < NCOVER; c++) fprintf(f, "  %g%%: %s", cover_permille[c] / 10.0, num(s->cover_rank[c]));
    fprintf(f, " ids\n");
    uint32_t top = r->o->top < s->used ? r->o->top : s->used;
    if (top) {
        fprintf(f, "\n  %6s %8s %12s %8s%s\n", "rank", "id", "count", "share", r->tok ? "  text" : "");
        for (uint32_t i = 0; i < top; i++) {
            uint32_t id = s->order[i];
            fprintf(f, "  %6u %8u %12s %7.3f%%", i + 1, id, num(s->count[id]), pct(s->count[id], s->ntokens));
            size_t len;
            const unsigned char *b = token_bytes(r, id, &len);
            if (b) { fputs("  ", f); put_piece(f, (const char *)b, len); }
            fputc('\n', f);
        }
    }
}

static void recommend_section(FILE *f, const struct stats_report *r)
{
    const struct recommend *c = r->rec;
    fprintf(f, "\nVocabulary size (BPE trained on %s documents, %s bytes; held out: %s documents, %s bytes)\n",
            num(c->train_docs), num(c->train_bytes), num(c->held_docs), num(c->held_bytes));
    char params[32];
    snprintf(params, sizeof params, "params (V*%u)", c->dim);
    fprintf(f, "  %8s %12s %10s %12s %16s\n", "size", "bytes/token", "used", "tokens/doc", params);
    for (int i = 0; i < c->n; i++) {
        const struct rec_row *w = &c->rows[i];
        if (!w->reached) {
            fprintf(f, "  %8s   (not reached: training stopped at %s tokens)\n", num(w->size), num(c->trained_vocab));
            continue;
        }
        fprintf(f, "  %8s %12.3f %9.1f%% %12.1f %16s%s\n", num(w->size), w->bytes_per_token,
                100 * w->used_share, w->tokens_per_doc, num(w->params), i == c->best ? "  <-" : "");
    }
    fprintf(f, "  recommended: %s\n", c->reason);
}

void report_text(FILE *f, const struct stats_report *r)
{
    fprintf(f, "tok-stats: %s (%s)\n\n", input_names(r), r->is_stream ? "token stream" : "JSONL");
    if (r->have_text) {
        text_section(f, r);
        if (r->have_pre) pretok_section(f, r);
    }
    if (r->have_tokens) token_section(f, r);
    if (r->rec) recommend_section(f, r);
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *jcount(uint64_t v) { return json_integer((json_int_t)v); }
static json_t *jreal(double v) { return json_real(v); }

static json_t *jcoverage(const uint32_t rank[NCOVER])
{
    json_t *o = json_object();
    for (int c = 0; c < NCOVER; c++) {
        char key[16];
        snprintf(key, sizeof key, "%g", cover_permille[c] / 10.0);
        json_object_set_new(o, key, jcount(rank[c]));
    }
    return o;
}

/* A piece of text: "text" when it is valid UTF-8, and always its bytes in hex. */
static void jpiece(json_t *o, const char *s, size_t n)
{
    json_object_set_new(o, "text", utf8_check(s, n) == n ? json_stringn(s, n) : json_null());
    char *hex = xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    json_object_set_new(o, "hex", json_stringn(hex, 2 * n));
    free(hex);
}

static json_t *jdist(const struct dist *d)
{
    json_t *o = json_object(), *h = json_array();
    json_object_set_new(o, "min", jcount(d->min));
    json_object_set_new(o, "q1", jcount(d->q1));
    json_object_set_new(o, "median", jcount(d->median));
    json_object_set_new(o, "q3", jcount(d->q3));
    json_object_set_new(o, "max", jcount(d->max));
    json_object_set_new(o, "mean", jreal(d->mean));
    for (int b = 0; b < d->nbins; b++) {
        json_t *e = json_object();
        json_object_set_new(e, "from", jcount(d->bin_lo[b]));
        json_object_set_new(e, "to", jcount(b + 1 < d->nbins ? d->bin_lo[b + 1] - 1 : d->max));
        json_object_set_new(e, "documents", jcount(d->bin_n[b]));
        json_array_append_new(h, e);
    }
    json_object_set_new(o, "histogram", h);
    return o;
}

static json_t *jtext(const struct stats_report *r)
{
    const struct text_stats *t = &r->text;
    json_t *o = json_object(), *sc = json_object(), *len = json_object();
    json_object_set_new(o, "field", json_string(r->o->field));
    json_object_set_new(o, "documents", jcount(t->docs));
    json_object_set_new(o, "bytes", jcount(t->bytes));
    json_object_set_new(o, "characters", jcount(t->chars));
    json_object_set_new(o, "words", jcount(t->words));
    json_object_set_new(o, "hyphenated_words", jcount(t->hyphenated));
    json_object_set_new(o, "ascii_bytes", jcount(t->ascii_bytes));
    json_object_set_new(o, "other_utf8_bytes", jcount(t->utf8_bytes));
    json_object_set_new(o, "invalid_utf8_bytes", jcount(t->invalid_bytes));
    for (int s = 0; s < NSCRIPT; s++) json_object_set_new(sc, script_name(s), jcount(t->script[s]));
    json_object_set_new(o, "scripts", sc);
    json_object_set_new(len, "bytes", jdist(&r->len[LEN_BYTES]));
    json_object_set_new(len, "characters", jdist(&r->len[LEN_CHARS]));
    json_object_set_new(len, "words", jdist(&r->len[LEN_WORDS]));
    json_object_set_new(o, "length", len);
    return o;
}

static json_t *jpretok(const struct stats_report *r)
{
    const struct pretok_stats *p = &r->pre;
    json_t *o = json_object(), *cls = json_object(), *rare = json_object(), *top = json_array(), *zipf = json_array();
    static const char *const key[NPT] = { "single_characters", "whitespace_runs", "punctuation_heavy", "numbers" };
    const char *name = pretok_name_of(r->pattern);
    json_object_set_new(o, "pattern", json_string(name ? name : r->pattern));
    json_object_set_new(o, "pre_tokens", jcount(p->total));
    json_object_set_new(o, "distinct", jcount(p->distinct));
    json_object_set_new(o, "bytes", jcount(p->bytes));
    for (int k = 0; k < NPT; k++) json_object_set_new(cls, key[k], jcount(p->cls[k]));
    json_object_set_new(o, "classes", cls);
    json_object_set_new(rare, "below", jcount(p->rare_below));
    json_object_set_new(rare, "distinct", jcount(p->rare_distinct));
    json_object_set_new(rare, "occurrences", jcount(p->rare_occurrences));
    json_object_set_new(o, "rare", rare);
    json_object_set_new(o, "zipf_exponent", jreal(p->zipf_s));
    for (uint64_t rank = 1; rank <= p->distinct; rank *= 10) {
        json_t *e = json_object();
        json_object_set_new(e, "rank", jcount(rank));
        json_object_set_new(e, "count", jcount(p->sorted[rank - 1]));
        json_array_append_new(zipf, e);
    }
    json_object_set_new(o, "zipf_curve", zipf);
    json_object_set_new(o, "coverage", jcoverage(p->cover_rank_n));
    for (uint32_t i = 0; i < r->o->top && i < p->distinct; i++) {
        const struct ptent *e = pretok_stats_top(p, i);
        json_t *x = json_object();
        jpiece(x, e->s, e->len);
        json_object_set_new(x, "count", jcount(e->count));
        json_array_append_new(top, x);
    }
    json_object_set_new(o, "top", top);
    return o;
}

static json_t *jtokens(const struct stats_report *r)
{
    const struct tok_stats *s = &r->ts;
    json_t *o = json_object(), *unused = json_array(), *top = json_array();
    char fp[20];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)r->fingerprint);
    json_object_set_new(o, "vocab", jcount(s->vocab));
    json_object_set_new(o, "id_bits", json_integer(r->wide ? 32 : 16));
    json_object_set_new(o, "fingerprint", json_string(fp));
    json_object_set_new(o, "tokens", jcount(s->ntokens));
    json_object_set_new(o, "eot", s->eot >= 0 ? json_integer(s->eot) : json_null());
    json_object_set_new(o, "documents", s->eot >= 0 ? jcount(s->docs) : json_null());
    json_object_set_new(o, "tokens_per_document",
                        s->docs ? jreal((double)s->ntokens / (double)s->docs) : json_null());
    json_object_set_new(o, "bytes", s->bytes ? jcount(s->bytes) : json_null());
    json_object_set_new(o, "bytes_per_token",
                        s->bytes ? jreal((double)s->bytes / (double)(s->ntokens - s->docs)) : json_null());
    json_object_set_new(o, "ids_used", jcount(s->used));
    for (uint32_t id = 0; id < s->vocab; id++)
        if (!s->count[id]) json_array_append_new(unused, jcount(id));
    json_object_set_new(o, "ids_never_used", unused);
    json_object_set_new(o, "entropy_bits_per_token", jreal(s->entropy));
    json_object_set_new(o, "entropy_bits_per_byte", s->bytes ? jreal(s->bits_per_byte) : json_null());
    json_object_set_new(o, "coverage", jcoverage(s->cover_rank));
    for (uint32_t i = 0; i < r->o->top && i < s->used; i++) {
        uint32_t id = s->order[i];
        json_t *x = json_object();
        json_object_set_new(x, "id", jcount(id));
        json_object_set_new(x, "count", jcount(s->count[id]));
        size_t len;
        const unsigned char *b = token_bytes(r, id, &len);
        if (b) jpiece(x, (const char *)b, len);
        json_array_append_new(top, x);
    }
    json_object_set_new(o, "top", top);
    json_object_set_new(o, "count_seconds", jreal(r->count_seconds));
    json_object_set_new(o, "tokens_per_second",
                        r->count_seconds > 0 ? jreal((double)s->ntokens / r->count_seconds) : json_null());
    return o;
}

static json_t *jrecommend(const struct recommend *c)
{
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "train_documents", jcount(c->train_docs));
    json_object_set_new(o, "train_bytes", jcount(c->train_bytes));
    json_object_set_new(o, "heldout_documents", jcount(c->held_docs));
    json_object_set_new(o, "heldout_bytes", jcount(c->held_bytes));
    json_object_set_new(o, "trained_vocab", jcount(c->trained_vocab));
    json_object_set_new(o, "dim", jcount(c->dim));
    for (int i = 0; i < c->n; i++) {
        const struct rec_row *w = &c->rows[i];
        json_t *e = json_object();
        json_object_set_new(e, "size", jcount(w->size));
        json_object_set_new(e, "reached", json_boolean(w->reached));
        if (w->reached) {
            json_object_set_new(e, "bytes_per_token", jreal(w->bytes_per_token));
            json_object_set_new(e, "ids_used", jcount(w->used));
            json_object_set_new(e, "used_share", jreal(w->used_share));
            json_object_set_new(e, "tokens_per_document", jreal(w->tokens_per_doc));
            json_object_set_new(e, "embedding_params", jcount(w->params));
        }
        json_array_append_new(rows, e);
    }
    json_object_set_new(o, "sizes", rows);
    json_object_set_new(o, "recommended", c->best >= 0 ? jcount(c->rows[c->best].size) : json_null());
    json_object_set_new(o, "reason", json_string(c->reason));
    json_object_set_new(o, "seconds", jreal(c->seconds));
    return o;
}

void report_json(FILE *f, const struct stats_report *r)
{
    json_t *root = json_object(), *files = json_array();
    if (!r->o->nfiles) json_array_append_new(files, json_string("<stdin>"));
    for (int i = 0; i < r->o->nfiles; i++) json_array_append_new(files, json_string(path_name(r->o->files[i])));
    json_object_set_new(root, "inputs", files);
    json_object_set_new(root, "kind", json_string(r->is_stream ? "tokens" : "text"));
    if (r->o->tokenizer) json_object_set_new(root, "tokenizer", json_string(r->o->tokenizer));
    if (r->have_text) json_object_set_new(root, "text", jtext(r));
    if (r->have_pre) json_object_set_new(root, "pre_tokens", jpretok(r));
    if (r->have_tokens) json_object_set_new(root, "tokens", jtokens(r));
    if (r->rec) json_object_set_new(root, "recommend", jrecommend(r->rec));
    json_object_set_new(root, "seconds", jreal(r->seconds));
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) die_errno("write error");
    fputc('\n', f);
    json_decref(root);
}

/* ---- CSV: the coverage CDF ---------------------------------------------- */

/* RFC 4180: a field in double quotes, quotes doubled. */
static void csv_piece(FILE *f, const char *s, size_t n)
{
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') putc('"', f);
        putc(s[i], f);
    }
    putc('"', f);
}

/* One row per rank: tokens when there are tokens (a stream, or text with a
 * tokenizer), else pre-tokens. */
void report_csv(FILE *f, const struct stats_report *r)
{
    uint64_t cum = 0;
    if (r->have_tokens) {
        const struct tok_stats *s = &r->ts;
        fprintf(f, "rank,id,count,share,cumulative%s\n", r->tok ? ",text" : "");
        for (uint32_t i = 0; i < s->vocab; i++) {
            uint32_t id = s->order[i];
            cum += s->count[id];
            fprintf(f, "%u,%u,%llu,%.9g,%.9g", i + 1, id, (unsigned long long)s->count[id],
                    s->ntokens ? (double)s->count[id] / (double)s->ntokens : 0,
                    s->ntokens ? (double)cum / (double)s->ntokens : 0);
            if (r->tok) {
                size_t len;
                const unsigned char *b = token_bytes(r, id, &len);
                putc(',', f);
                if (b) csv_piece(f, (const char *)b, len);
            }
            putc('\n', f);
        }
    } else {
        const struct pretok_stats *p = &r->pre;
        fprintf(f, "rank,count,share,cumulative,pre_token\n");
        for (size_t i = 0; i < p->distinct; i++) {
            const struct ptent *e = pretok_stats_top(p, i);
            cum += e->count;
            fprintf(f, "%zu,%llu,%.9g,%.9g,", i + 1, (unsigned long long)e->count,
                    (double)e->count / (double)p->total, (double)cum / (double)p->total);
            csv_piece(f, e->s, e->len);
            putc('\n', f);
        }
    }
}

/* ---- one line ----------------------------------------------------------- */

/* The numbers a pipeline prints about its data, in one line and without
 * thousands separators, so that awk can pick them out:
 *   NAME: D documents, B bytes, C characters, W words, X bytes/document
 *   NAME: N tokens (uint16 ids, vocabulary V), D documents, X bytes/token,
 *         unigram entropy H bits = H ln 2 nats/token
 * (text with --tokenizer gets both parts).  The entropy is also given in
 * nats because that is the unit of a model's cross-entropy loss: the loss
 * of a model that knows token frequencies and no context. */
void report_summary(FILE *f, const struct stats_report *r)
{
    const char *sep = "";
    fprintf(f, "%s:", input_names(r));
    if (r->have_text) {
        const struct text_stats *t = &r->text;
        fprintf(f, " %llu documents, %llu bytes, %llu characters, %llu words, ", (unsigned long long)t->docs,
                (unsigned long long)t->bytes, (unsigned long long)t->chars, (unsigned long long)t->words);
        if (t->docs) fprintf(f, "%.1f bytes/document", (double)t->bytes / (double)t->docs);
        else fputs("no bytes/document", f);
        sep = ";";
    }
    if (r->have_tokens) {
        const struct tok_stats *s = &r->ts;
        /* the token count is of the ids actually read, at the stream's own width */
        fprintf(f, "%s %llu tokens (%s ids, vocabulary %u)", sep, (unsigned long long)s->ntokens,
                r->wide ? "uint32" : "uint16", s->vocab);
        if (!r->have_text) {
            if (s->eot >= 0) fprintf(f, ", %llu documents", (unsigned long long)s->docs);
            else fputs(", documents unknown", f);
        }
        if (s->bytes) fprintf(f, ", %.3f bytes/token", (double)s->bytes / (double)(s->ntokens - s->docs));
        fprintf(f, ", unigram entropy %.4f bits = %.4f nats/token", s->entropy, s->entropy * 0.69314718055994530942);
    }
    if (r->rec && r->rec->best >= 0) fprintf(f, "; recommended vocabulary %u", r->rec->rows[r->rec->best].size);
    fputc('\n', f);
}

/* ---- the picture -------------------------------------------------------- */

/* Write "rank count cumulative-share" lines for counts sorted descending,
 * at most about 2000 points, spaced evenly in log(rank). */
static void write_curve(const char *path, const uint64_t *sorted, size_t n, uint64_t total)
{
    FILE *f = xfopen(path, "w");
    uint64_t cum = 0;
    size_t next = 1;
    for (size_t r = 1; r <= n && sorted[r - 1]; r++) {
        cum += sorted[r - 1];
        if (r == next || r == n || !sorted[r]) {
            fprintf(f, "%zu %llu %.9g\n", r, (unsigned long long)sorted[r - 1], (double)cum / (double)total);
            size_t s = (size_t)((double)r * 1.0035);
            next = s > r ? s : r + 1;
        }
    }
    xfclose(f);
}

static void rmdir_tree(void *dir)
{
    char path[600];
    static const char *const names[] = { "tokens.dat", "pre.dat", "plot.gp" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", (char *)dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

void report_plot(const char *path, const struct stats_report *r)
{
    const char *base = getenv("TMPDIR");
    char dir[512], tokdat[600], predat[600], gp[600];
    snprintf(dir, sizeof dir, "%s/tok-stats-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) die_errno("cannot create a temporary directory in %s", base && *base ? base : "/tmp");
    tfs_on_die(rmdir_tree, dir);
    snprintf(tokdat, sizeof tokdat, "%s/tokens.dat", dir);
    snprintf(predat, sizeof predat, "%s/pre.dat", dir);
    snprintf(gp, sizeof gp, "%s/plot.gp", dir);

    int tok = r->have_tokens && r->ts.ntokens, pre = r->have_pre && r->pre.total;
    if (tok) {
        uint64_t *sorted = xmalloc(((size_t)r->ts.vocab + 1) * sizeof *sorted);
        for (uint32_t i = 0; i < r->ts.vocab; i++) sorted[i] = r->ts.count[r->ts.order[i]];
        write_curve(tokdat, sorted, r->ts.vocab, r->ts.ntokens);
        free(sorted);
    }
    if (pre) write_curve(predat, r->pre.sorted, r->pre.distinct, r->pre.total);
    if (!tok && !pre) die("%s: nothing to plot: the input is empty", path);

    /* gnuplot script: two panels side by side */
    FILE *g = xfopen(gp, "w");
    /* noenhanced: a '_' in a file name is not a subscript; in a single-quoted
     * gnuplot string, '' stands for one quote */
    fprintf(g, "set terminal pngcairo noenhanced size 1400,560 font 'sans,11'\n"
               "set multiplot layout 1,2 title 'tok-stats: ");
    for (const char *c = input_names(r); *c; c++) {
        if (*c == '\'') putc('\'', g);
        putc(*c == '\n' ? ' ' : *c, g);
    }
    fprintf(g, "'\nset grid\nset key top right\n"
               "set logscale xy\nset xlabel 'rank'\nset ylabel 'occurrences'\n"
               "set title 'Zipf curve (rank-frequency)'\n");
    fprintf(g, "plot %s%s%s\n",
            tok ? "'tokens.dat' using 1:2 with lines lw 2 title 'tokens'" : "",
            tok && pre ? ", " : "",
            pre ? "'pre.dat' using 1:2 with lines lw 2 title 'pre-tokens'" : "");
    fprintf(g, "unset logscale y\nset yrange [0:1]\nset key bottom right\n"
               "set ylabel 'share of occurrences covered'\n"
               "set title 'coverage CDF (top-k ranks)'\n");
    fprintf(g, "plot %s%s%s\n",
            tok ? "'tokens.dat' using 1:3 with lines lw 2 title 'tokens'" : "",
            tok && pre ? ", " : "",
            pre ? "'pre.dat' using 1:3 with lines lw 2 title 'pre-tokens'" : "");
    fprintf(g, "unset multiplot\n");
    xfclose(g);

    /* gnuplot writes the PNG to its stdout: our atomic output file */
    struct outfile out;
    FILE *png = outfile_open(&out, path);
    if (png == stdout) refuse_binary_tty(stdout, 0);
    fflush(png);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die_errno("fork");
    if (pid == 0) {
        if (dup2(fileno(png), 1) < 0 || chdir(dir) != 0) _exit(126);
        execlp("gnuplot", "gnuplot", "plot.gp", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) die_errno("waitpid");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        die("cannot run gnuplot for --plot (install it: apt-get install gnuplot-nox)");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("gnuplot failed drawing %s", path);
    outfile_commit(&out);
    tfs_on_die_remove(rmdir_tree, dir);
    rmdir_tree(dir);
}
