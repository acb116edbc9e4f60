/* tokfilter.c - JSONL <-> token streams with a tokenizer (tokfilter.h). */
#include "tokfilter.h"
#include "input.h"
#include "jsonl.h"
#include "progress.h"
#include "tokenizer.h"
#include "tokstream.h"
#include "xio.h"

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

/* Encode the batch with nthreads encoders and write it: eot, doc ids, ... */
static void batch_flush(struct batch *b, struct tok_encoder **enc, struct ids_buf *out, int nthreads,
                        int allow_special, uint32_t eot, struct tokw *w)
{
    for (int k = 0; k < nthreads; k++) out[k].n = 0;
    #pragma omp parallel for num_threads(nthreads) schedule(dynamic, 4)
    for (size_t i = 0; i < b->nd; i++) {
        int k = omp_get_thread_num();
        size_t n;
        const uint32_t *ids = tok_encode(enc[k], b->buf + b->off[i], b->len[i], allow_special, &n);
        b->owner[i] = k;
        b->ids_off[i] = out[k].n;
        b->ids_n[i] = n;
        ids_append(&out[k], ids, n);
    }
    for (size_t i = 0; i < b->nd; i++) {
        tokw_put(w, &eot, 1);
        tokw_put(w, out[b->owner[i]].p + b->ids_off[i], b->ids_n[i]);
    }
    b->nd = b->used = 0;
}

int bpe_encode_run(const struct encode_opts *o)
{
    struct tokenizer *t = tok_load(o->tokenizer);
    int nthreads = o->threads > 0 ? o->threads : 1;
    struct tokw *w = tokw_open(o->output, tok_vocab_size(t), tok_fingerprint(t), o->zstd ? 3 : 0, o->force);
    struct tok_encoder **enc = xcalloc((size_t)nthreads, sizeof *enc);
    struct ids_buf *out = xcalloc((size_t)nthreads, sizeof *out);
    for (int k = 0; k < nthreads; k++) enc[k] = tok_encoder_new(t);
    uint32_t eot = tok_eot(t);
    struct batch b = { 0 };
    const size_t batch_bytes = 4u << 20;
    uint64_t bytes = 0, docs = 0;
    struct progress prog;
    progress_start(&prog, "encoding", 0, o->quiet);
    static char dash[] = "-";
    static char *stdin_only[] = { dash };
    char **inputs = o->ninputs ? o->inputs : stdin_only;
    int ninputs = o->ninputs ? o->ninputs : 1;
    if (o->raw) {
        /* each input is one document */
        for (int i = 0; i < ninputs; i++) {
            struct tfs_in *in = in_open(inputs[i]);
            size_t cap = 1 << 16, len = 0, k;
            char *buf = xmalloc(cap);
            while ((k = in_read(in, buf + len, cap - len)) > 0) {
                len += k;
                if (len == cap) buf = xrealloc(buf, cap *= 2);
            }
            in_close(in);
            batch_add(&b, buf, len);
            free(buf);
            batch_flush(&b, enc, out, nthreads, o->allow_special, eot, w);
            bytes += len; docs++;
        }
    } else {
        struct jsonl_multi m;
        jsonl_multi_init(&m, inputs, ninputs, o->field, o->skip_bad);
        const char *text;
        size_t len;
        while (jsonl_multi_next(&m, &text, &len)) {
            batch_add(&b, text, len);
            bytes += len; docs++;
            if (b.used >= batch_bytes) {
                batch_flush(&b, enc, out, nthreads, o->allow_special, eot, w);
                progress_update(&prog, bytes, "%.1f MB", (double)bytes / 1e6);
            }
        }
        batch_flush(&b, enc, out, nthreads, o->allow_special, eot, w);
        if (m.bad) warnx("skipped %ld malformed lines", m.bad);
        jsonl_multi_close(&m);
    }
    progress_end(&prog);
    tokw_close(w);
    for (int k = 0; k < nthreads; k++) { tok_encoder_free(enc[k]); free(out[k].p); }
    free(enc); free(out);
    free(b.buf); free(b.off); free(b.len); free(b.owner); free(b.ids_off); free(b.ids_n);
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
