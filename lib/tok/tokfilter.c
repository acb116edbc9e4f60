/* tokfilter.c - JSONL <-> token streams with a tokenizer (tokfilter.h). */
#include "tok/tokfilter.h"
#include "core/input.h"
#include "core/jsonl.h"
#include "core/progress.h"
#include "tok/tokenizer.h"
#include "core/tokstream.h"
#include "core/xio.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Ids of one batch of documents, produced in parallel, written in order. */
struct ids_buf { uint32_t *p; size_t n, cap; };

static void ids_append(struct ids_buf *b, const uint32_t *ids, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = b->cap ? b->cap : 1 << 16;
        while (b->n + n > b->cap) b->cap *= 2;
        b->p = xrealloc(b->p, b->cap * sizeof *b->p);
    }
    memcpy(b->p + b->n, ids, n * sizeof *ids);
    b->n += n;
}

struct batch {
    char *buf; size_t used, cap;
    size_t *off, *len, nd, cd;
    int *owner;                 /* (cd) thread that encoded doc i */
    size_t *ids_off, *ids_n;    /* (cd) its ids in that thread's buffer */
};

static void batch_add(struct batch *b, const char *text, size_t len)
{
    if (b->nd == b->cd) {
        b->cd = b->cd ? 2 * b->cd : 1024;
        b->off = xrealloc(b->off, b->cd * sizeof *b->off);
        b->len = xrealloc(b->len, b->cd * sizeof *b->len);
        b->owner = xrealloc(b->owner, b->cd * sizeof *b->owner);
        b->ids_off = xrealloc(b->ids_off, b->cd * sizeof *b->ids_off);
        b->ids_n = xrealloc(b->ids_n, b->cd * sizeof *b->ids_n);
    }
    if (b->used + len > b->cap) {
        b->cap = b->cap ? b->cap : 1 << 20;
        while (b->used + len > b->cap) b->cap *= 2;
        b->buf = xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->used, text, len);
    b->off[b->nd] = b->used; b->len[b->nd] = len; b->nd++;
    b->used += len;
}

/* Encoding is parallel, reading JSON and writing the stream are serial:
 * while the reading thread parses batch k+1, the other threads encode
 * batch k as OpenMP tasks (a few per thread).  A task runs on one thread, with
 * that thread's encoder, and appends to that thread's buffer for the batch
 * (out[k]); the batch is written in document order once its tasks are done. */
struct encoder_set {
    struct tok_encoder **enc;   /* (nthreads) */
    int allow_special;
};

static void batch_spawn(struct batch *b, struct ids_buf *out, int nthreads, const struct encoder_set *es)
{
    for (int k = 0; k < nthreads; k++) out[k].n = 0;
    /* 8 tasks per thread: enough to balance, and few enough that libgomp
     * queues them (with more than 64 per thread queued, it runs new tasks at
     * once in the creating thread, which would stop it from reading ahead). */
    size_t per = (b->nd + 8 * (size_t)nthreads - 1) / (8 * (size_t)nthreads);
    if (per == 0) per = 1;
    for (size_t lo = 0; lo < b->nd; lo += per) {
        size_t hi = lo + per < b->nd ? lo + per : b->nd;
        #pragma omp task firstprivate(lo, hi)
        {
            int k = omp_get_thread_num();
            for (size_t i = lo; i < hi; i++) {
                size_t n;
                const uint32_t *ids = tok_encode(es->enc[k], b->buf + b->off[i], b->len[i], es->allow_special, &n);
                b->owner[i] = k;
                b->ids_off[i] = out[k].n;
                b->ids_n[i] = n;
                ids_append(&out[k], ids, n);
            }
        }
    }
}

static void batch_write(struct batch *b, struct ids_buf *out, uint32_t eot, struct tokw *w)
{
    for (size_t i = 0; i < b->nd; i++) {
        tokw_put(w, &eot, 1);
        tokw_put(w, out[b->owner[i]].p + b->ids_off[i], b->ids_n[i]);
    }
    b->nd = b->used = 0;
}

/* Read documents into a batch until it holds about `bytes`; 0 at the end. */
struct doc_source {
    int raw;
    char **inputs;
    int ninputs, next;
    struct jsonl_multi m;
};

static int source_fill(struct doc_source *src, struct batch *b, size_t bytes, uint64_t *total)
{
    if (src->raw) {
        /* each input is one document */
        if (src->next >= src->ninputs) return 0;
        struct tfs_in *in = in_open(src->inputs[src->next++]);
        size_t cap = 1 << 16, len = 0, k;
        char *buf = xmalloc(cap);
        while ((k = in_read(in, buf + len, cap - len)) > 0) {
            len += k;
            if (len == cap) buf = xrealloc(buf, cap *= 2);
        }
        in_close(in);
        batch_add(b, buf, len);
        free(buf);
        *total += len;
        return 1;
    }
    const char *text;
    size_t len;
    int more = 1;
    while (b->used < bytes && (more = jsonl_multi_next(&src->m, &text, &len))) {
        batch_add(b, text, len);
        *total += len;
    }
    return more;
}

int bpe_encode_run(const struct encode_opts *o)
{
    struct tokenizer *t = tok_load(o->tokenizer);
    int nthreads = o->threads > 0 ? o->threads : 1;
    struct tokw *w = tokw_open(o->output, tok_vocab_size(t), tok_fingerprint(t), o->zstd ? 3 : 0, o->force);
    struct encoder_set es = { xcalloc((size_t)nthreads, sizeof *es.enc), o->allow_special };
    struct ids_buf *out[2] = { xcalloc((size_t)nthreads, sizeof **out), xcalloc((size_t)nthreads, sizeof **out) };
    for (int k = 0; k < nthreads; k++) es.enc[k] = tok_encoder_new(t);
    uint32_t eot = tok_eot(t);
    struct batch b[2] = { { 0 }, { 0 } };
    uint64_t bytes = 0;
    struct progress prog;
    progress_start(&prog, "encoding", 0, o->quiet);
    static char dash[] = "-";
    static char *stdin_only[] = { dash };
    struct doc_source src = { .raw = o->raw, .inputs = o->ninputs ? o->inputs : stdin_only,
                              .ninputs = o->ninputs ? o->ninputs : 1 };
    if (!o->raw) jsonl_multi_init(&src.m, src.inputs, src.ninputs, o->field, o->skip_bad);
    #pragma omp parallel num_threads(nthreads)
    #pragma omp single
    {
        int more = 1, pending = 0;
        for (int cur = 0; more; cur ^= 1) {
            more = source_fill(&src, &b[cur], 4u << 20, &bytes);
            #pragma omp taskwait
            if (pending) batch_write(&b[cur ^ 1], out[cur ^ 1], eot, w);
            batch_spawn(&b[cur], out[cur], nthreads, &es);
            pending = 1;
            progress_update(&prog, bytes, "%.1f MB", (double)bytes / 1e6);
            if (!more) {
                #pragma omp taskwait
                batch_write(&b[cur], out[cur], eot, w);
            }
        }
    }
    progress_end(&prog);
    if (!o->raw) {
        if (src.m.bad) warnx("skipped %ld malformed lines", src.m.bad);
        jsonl_multi_close(&src.m);
    }
    tokw_close(w);
    for (int k = 0; k < nthreads; k++) { tok_encoder_free(es.enc[k]); free(out[0][k].p); free(out[1][k].p); }
    free(es.enc); free(out[0]); free(out[1]);
    for (int i = 0; i < 2; i++) {
        free(b[i].buf); free(b[i].off); free(b[i].len); free(b[i].owner); free(b[i].ids_off); free(b[i].ids_n);
    }
    tok_free(t);
    return 0;
}

/* Write one decoded document. */
static void put_doc(FILE *f, const struct tok_bytes *d, int raw, uint64_t *replaced)
{
    if (raw) xfwrite(d->p, 1, d->len, f);
    else *replaced += jsonl_put_text(f, "text", d->p ? d->p : "", d->len);
}

int bpe_decode_run(const struct encode_opts *o)
{
    struct tokenizer *t = tok_load(o->tokenizer);
    uint32_t eot = tok_eot(t), vocab = tok_vocab_size(t);
    uint64_t fp = tok_fingerprint(t);
    struct outfile of;
    FILE *f = outfile_open(&of, o->output);
    static char dash[] = "-";
    static char *stdin_only[] = { dash };
    char **inputs = o->ninputs ? o->inputs : stdin_only;
    int ninputs = o->ninputs ? o->ninputs : 1;
    struct tok_bytes doc = { 0 };
    uint64_t replaced = 0;
    uint32_t *ids = xmalloc((1 << 16) * sizeof *ids);
    int open_doc = 0;
    for (int i = 0; i < ninputs; i++) {
        struct tokr *r = tokr_open(inputs[i]);
        if (r->h.fingerprint && r->h.fingerprint != fp)
            die("%s: encoded with a different tokenizer (fingerprint %016llx; %s has %016llx)", r->name,
                (unsigned long long)r->h.fingerprint, o->tokenizer, (unsigned long long)fp);
        if (r->h.vocab != vocab)
            die("%s: vocabulary size %u in the stream, but %s has %u", r->name, r->h.vocab, o->tokenizer, vocab);
        uint64_t pos = 0;
        size_t n;
        while ((n = tokr_read(r, ids, 1 << 16)) > 0) {
            for (size_t j = 0; j < n; j++, pos++) {
                if (ids[j] == eot) {
                    if (open_doc) put_doc(f, &doc, o->raw, &replaced);
                    doc.len = 0;
                    open_doc = 1;
                    continue;
                }
                open_doc = 1;
                if (tok_decode(t, &ids[j], 1, &doc) != 1)
                    die("%s: token %u at position %llu is not in the vocabulary of %s", r->name, ids[j],
                        (unsigned long long)pos, o->tokenizer);
            }
        }
        tokr_close(r);
    }
    if (open_doc) put_doc(f, &doc, o->raw, &replaced);
    if (replaced)
        warnx("%llu bytes of invalid UTF-8 written as U+FFFD (use --raw for the exact bytes)",
              (unsigned long long)replaced);
    outfile_commit(&of);
    free(doc.p); free(ids);
    tok_free(t);
    return 0;
}
