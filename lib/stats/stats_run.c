/* stats_run.c - tok-stats(1): read the inputs (JSONL text or token
 * streams), gather their statistics, hand them to the report writers.
 *
 *   inputs --(magic number)--> token streams: count ids from the mapping
 *                              JSONL text:    text stats, pre-tokens,
 *                                             [encode with the tokenizer],
 *                                             [sample for --recommend]
 */
#include "stats/stats_report.h"
#include "core/input.h"
#include "core/jsonl.h"
#include "core/opts.h"
#include "tok/pretok.h"
#include "core/progress.h"
#include "tok/tokenizer.h"
#include "core/tokstream.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* ---- what kind of input ------------------------------------------------- */

/* 1 when the (decompressed) input starts with a token stream's magic number,
 * 0 for anything else (JSONL).  Files are peeked at and reopened later;
 * stdin cannot be, so it is a token stream only with --tokens. */
static int is_token_stream(const char *path, int tokens_stdin)
{
    if (strcmp(path, "-") == 0) return tokens_stdin;
    struct tfs_in *in = in_open(path);
    unsigned char m[4];
    size_t got = 0, k;
    while (got < 4 && (k = in_read(in, m + got, 4 - got)) > 0) got += k;
    in_close(in);
    if (got < 4) return 0;
    uint32_t magic = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
    return magic == TOK_MAGIC16 || magic == TOK_MAGIC32;
}

/* ---- the tokenizer ------------------------------------------------------ */

static void load_tokenizer(struct stats_report *r, const char *path)
{
    r->tok = tok_load(path);
    uint32_t v = tok_vocab_size(r->tok);
    r->toklen = xcalloc(v, sizeof *r->toklen);
    for (uint32_t id = 0; id < v; id++) {
        size_t len = 0;
        if (!tok_is_special(r->tok, id) && tok_token(r->tok, id, &len)) r->toklen[id] = (uint32_t)len;
    }
}

/* The end-of-text id: the tokenizer's, else --eot, else unknown (-1). */
static long eot_id(const struct stats_report *r, uint32_t vocab)
{
    if (r->tok) return tok_eot(r->tok);
    if (r->o->eot >= 0 && (uint64_t)r->o->eot >= vocab)
        usage_error("--eot: %ld is not below the vocabulary size %u", r->o->eot, vocab);
    return r->o->eot;
}

/* ---- token streams ------------------------------------------------------ */

/* Why stream tr does not fit the first stream (first, vocab) or the
 * tokenizer, or NULL when it does. */
static const char *stream_mismatch(const struct stats_report *r, const struct tokr *tr,
                                   const char *first, uint32_t vocab)
{
    static char msg[1024];
    const char *tokpath = r->o->tokenizer;
    if (tr->h.vocab != vocab || tr->h.fingerprint != r->fingerprint) {
        snprintf(msg, sizeof msg, "%s: encoded with a different tokenizer than %s (vocabulary %u, "
                 "fingerprint %016llx; expected %u, %016llx)", tr->name, first, tr->h.vocab,
                 (unsigned long long)tr->h.fingerprint, vocab, (unsigned long long)r->fingerprint);
        return msg;
    }
    if (!r->tok) return NULL;
    /* The stream must come from this tokenizer: the same fingerprint (when
     * the stream records one) and the same vocabulary. */
    uint64_t fp = tok_fingerprint(r->tok);
    if (tr->h.fingerprint && tr->h.fingerprint != fp) {
        snprintf(msg, sizeof msg, "%s: encoded with a different tokenizer than %s (fingerprint %016llx, "
                 "tokenizer %016llx)", tr->name, tokpath, (unsigned long long)tr->h.fingerprint,
                 (unsigned long long)fp);
        return msg;
    }
    if (tr->h.vocab != tok_vocab_size(r->tok)) {
        snprintf(msg, sizeof msg, "%s: vocabulary size %u does not match %s (%u)", tr->name, tr->h.vocab,
                 tokpath, tok_vocab_size(r->tok));
        return msg;
    }
    return NULL;
}

static void read_streams(struct stats_report *r, char **files, int nfiles)
{
    const struct stats_opts *o = r->o;
    struct tok_counter c;
    uint32_t vocab = 0;
    const char *first = NULL;
    uint32_t *buf = NULL;
    const size_t chunk = (size_t)1 << 16, step = (size_t)1 << 24;
    struct progress pg;
    for (int f = 0; f < nfiles; f++) {
        struct tokr *tr = tokr_open(files[f]);
        if (f == 0) {
            vocab = tr->h.vocab;
            r->wide = tr->h.wide;
            r->fingerprint = tr->h.fingerprint;
            tok_counter_init(&c, vocab, r->wide);
            first = xstrdup(tr->name);
        }
        const char *err = stream_mismatch(r, tr, first, vocab);
        if (err) {
            tokr_close(tr);     /* (nothing left behind for leak checkers) */
            die("%s", err);
        }
        progress_start(&pg, "tokens", tr->mapped ? tr->n : 0, o->quiet);
        double t = now_seconds();
        if (tr->mapped) {
            /* count straight from the mapping, in steps for the progress line */
            size_t width = tr->h.wide ? 4 : 2;
            for (uint64_t done = 0; done < tr->n; ) {
                size_t k = tr->n - done < step ? (size_t)(tr->n - done) : step;
                if (tr->h.wide) tok_count_le32(&c, tr->data + width * done, k);
                else tok_count_le16(&c, tr->data + width * done, k);
                done += k;
                progress_update(&pg, done, " ");
            }
        } else {
            if (!buf) buf = xmalloc(chunk * sizeof *buf);
            size_t k;
            uint64_t done = 0;
            while ((k = tokr_read(tr, buf, chunk)) > 0) {
                tok_count_ids(&c, buf, k);
                done += k;
                progress_update(&pg, done, " ");
            }
        }
        r->count_seconds += now_seconds() - t;
        progress_end(&pg);
        tokr_close(tr);
    }
    free(buf);
    uint64_t *counts = tok_counter_finish(&c, first);
    tok_stats_compute(&r->ts, counts, vocab, eot_id(r, vocab), r->toklen);
    r->have_tokens = 1;
    free((char *)first);
}

/* ---- JSONL text --------------------------------------------------------- */

static void add_piece(void *arg, const char *piece, size_t len)
{
    pretok_stats_add(arg, piece, len);
}

/* Documents kept in memory for --recommend. */
struct docs { char **p; size_t *len; size_t n, cap; };

static void docs_push(struct docs *d, const char *s, size_t n)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->p = xrealloc(d->p, d->cap * sizeof *d->p);
        d->len = xrealloc(d->len, d->cap * sizeof *d->len);
    }
    d->p[d->n] = xmalloc(n + 1);
    memcpy(d->p[d->n], s, n);
    d->p[d->n][n] = 0;
    d->len[d->n++] = n;
}

static void docs_free(struct docs *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->p[i]);
    free(d->p);
    free(d->len);
}

static void read_text(struct stats_report *r, char **files, int nfiles)
{
    const struct stats_opts *o = r->o;
    /* the pre-tokenizer: the tokenizer's pattern, else --pattern, else gpt2 */
    r->pattern = r->tok ? tok_pattern(r->tok) : o->pattern ? o->pattern : "gpt2";
    char err[256];
    struct pretok *pt = pretok_new(r->pattern, err, sizeof err);
    if (!pt) usage_error("--pattern: %s", err);
    struct pretok_ctx *pc = pretok_ctx_new(pt);
    pretok_stats_init(&r->pre, o->rare);
    /* --summary shows no pre-tokens: skip the splitting unless --plot draws them */
    r->have_text = 1;
    r->have_pre = !o->summary || o->plot;

    struct tok_encoder *enc = NULL;
    struct tok_counter c;
    uint32_t eot = 0;
    if (r->tok) {
        enc = tok_encoder_new(r->tok);
        eot = tok_eot(r->tok);
        tok_counter_init(&c, tok_vocab_size(r->tok), 1);
        r->wide = tok_vocab_size(r->tok) > 65536;
        r->fingerprint = tok_fingerprint(r->tok);
    }

    /* --recommend: the first `subset` documents train, every 10th document
     * is held out instead (at most one for nine training documents). */
    struct docs train = { 0 }, held = { 0 };
    uint64_t held_max = o->subset / 9 ? o->subset / 9 : 1;

    struct jsonl_multi m;
    jsonl_multi_init(&m, files, nfiles, o->field, 0);
    struct progress pg;
    progress_start(&pg, "documents", 0, o->quiet);
    const char *text;
    size_t len;
    while (jsonl_multi_next(&m, &text, &len)) {
        text_stats_add(&r->text, text, len);
        if (r->have_pre) pretok_split(pc, text, len, add_piece, &r->pre);
        if (enc) {
            /* as bpe-encode writes it: end-of-text, then the document */
            size_t n;
            const uint32_t *ids = tok_encode(enc, text, len, 0, &n);
            double t = now_seconds();
            tok_count_ids(&c, &eot, 1);
            tok_count_ids(&c, ids, n);
            r->count_seconds += now_seconds() - t;
        }
        if (o->recommend) {
            if (r->text.docs % 10 == 0) { if (held.n < held_max) docs_push(&held, text, len); }
            else if (train.n < o->subset) docs_push(&train, text, len);
        }
        progress_update(&pg, r->text.docs, " ");
    }
    progress_end(&pg);
    jsonl_multi_close(&m);

    for (int k = 0; k < NLEN; k++) dist_compute(&r->len[k], r->text.len[k].v, r->text.len[k].n);
    pretok_stats_finish(&r->pre);
    if (enc) {
        tok_encoder_free(enc);
        uint32_t v = tok_vocab_size(r->tok);
        tok_stats_compute(&r->ts, tok_counter_finish(&c, "<encoded text>"), v, eot, r->toklen);
        r->have_tokens = 1;
    }
    pretok_ctx_free(pc);
    pretok_free(pt);

    if (o->recommend) {
        if (!train.n || !held.n)
            die("%s: --recommend needs at least 10 documents (got %llu)", path_name(files[0]),
                (unsigned long long)r->text.docs);
        r->rec = xcalloc(1, sizeof *r->rec);
        recommend_run(r->rec, o, r->pattern, train.p, train.len, train.n, held.p, held.len, held.n);
    }
    docs_free(&train);
    docs_free(&held);
}

/* ---- the program -------------------------------------------------------- */

int stats_run(const struct stats_opts *o)
{
    double t0 = now_seconds();
    struct stats_report r = { 0 };
    r.o = o;
    char *stdin_only[] = { "-" };
    char **files = o->nfiles ? o->files : stdin_only;
    int nfiles = o->nfiles ? o->nfiles : 1;

    int nstream = 0;
    for (int f = 0; f < nfiles; f++) nstream += is_token_stream(files[f], o->tokens_stdin);
    if (nstream && nstream != nfiles)
        die("cannot mix token streams and JSONL text in one run");
    r.is_stream = nstream > 0;
    if (r.is_stream && o->recommend)
        usage_error("--recommend needs JSONL text, and %s is a token stream", path_name(files[0]));

    if (o->tokenizer) load_tokenizer(&r, o->tokenizer);
    if (r.is_stream) read_streams(&r, files, nfiles);
    else read_text(&r, files, nfiles);
    r.seconds = now_seconds() - t0;

    if (o->json) report_json(stdout, &r);
    else if (o->csv) report_csv(stdout, &r);
    else if (o->summary) report_summary(stdout, &r);
    else report_text(stdout, &r);
    if (o->plot) report_plot(o->plot, &r);
    if (fflush(stdout) != 0 || ferror(stdout)) die_errno("write error");

    if (r.have_text) {
        text_stats_free(&r.text);
        pretok_stats_free(&r.pre);
    }
    if (r.have_tokens) tok_stats_free(&r.ts);
    if (r.rec) { recommend_free(r.rec); free(r.rec); }
    free(r.toklen);
    if (r.tok) tok_free(r.tok);
    return 0;
}
