/* tokfilter.c - JSONL <-> token streams with a tokenizer (tokfilter.h). */
#include "tok/tokfilter.h"
#include "core/input.h"
#include "core/jsonl.h"
#include "core/jsonl_par.h"
#include "core/tokset.h"
#include "core/tokstream.h"
#include "core/xio.h"
#include "tok/tokenizer.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The input is read in batches of this many bytes (core/jsonl_par.h). */
#define BATCH_BYTES ((size_t)4 << 20)

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

/* The inputs; none means stdin. */
static char **input_list(const struct encode_opts *o, int *n)
{
    static char dash[] = "-";
    static char *stdin_only[] = { dash };
    *n = o->ninputs ? o->ninputs : 1;
    return o->ninputs ? o->inputs : stdin_only;
}

/* Encoding is parallel, reading JSON and writing the stream are serial
 * (core/jsonl_par.h): while the reading thread parses batch k+1, the other
 * threads encode batch k, and while it writes batch k's ids, they encode
 * batch k+1.  A work call runs on one thread k, with that
 * thread's encoder, and appends to that thread's buffer for the batch
 * (out[k]); the batch is written in document order once its work is done.
 * The state of a batch, one copy per reader buffer: */
struct enc_batch {
    struct ids_buf *out;        /* (nthreads) the ids each thread encoded */
    int *owner;                 /* (cap) thread that encoded doc i */
    size_t *ids_off, *ids_n;    /* (cap) its ids in that thread's buffer */
    size_t cap;
};

struct encode_job {
    const struct encode_opts *o;
    struct tokenizer *t;        /* NULL until loaded (load_tokenizer) */
    char err[512];              /* why loading failed */
    int ready;                  /* set up (setup_job) */
    struct tok_encoder **enc;   /* (nthreads) */
    int nthreads, allow_special;
    uint32_t before, after;     /* the ids put before and after each document, or TOK_NO_ID */
    struct tokws *w;            /* one stream, or shards (tokset.h) */
    struct enc_batch slot[2];
};

static void setup_job(struct encode_job *j);

static void enc_begin(void *arg, const struct jsonl_batch *b)
{
    struct encode_job *j = arg;
    struct enc_batch *e = &j->slot[b->slot];
    if (!j->ready) setup_job(j);
    if (b->n > e->cap) {
        e->cap = 2 * b->n;
        e->owner = xrealloc(e->owner, e->cap * sizeof *e->owner);
        e->ids_off = xrealloc(e->ids_off, e->cap * sizeof *e->ids_off);
        e->ids_n = xrealloc(e->ids_n, e->cap * sizeof *e->ids_n);
    }
    /* Each thread's buffer is reserved once for the whole batch's ids: a
     * token has at least one byte, so b->used ids are enough in practice
     * (ids_append still grows it if a normalizer adds bytes).  Only the
     * pages a thread writes are faulted in, and they stay for the next
     * batches; grown by doubling instead, each realloc copied the ids into
     * new pages.  The reservation is at least a full batch's (BATCH_BYTES
     * and its margin), so that the smaller batches read ahead do not make
     * it grow again later. */
    size_t want = b->used > BATCH_BYTES + BATCH_BYTES / 4 ? b->used : BATCH_BYTES + BATCH_BYTES / 4;
    for (int k = 0; k < j->nthreads; k++) {
        struct ids_buf *o = &e->out[k];
        o->n = 0;
        if (o->cap < want) {
            free(o->p);
            o->p = xmalloc(want * sizeof *o->p);
            o->cap = want;
        }
    }
}

static void enc_work(void *arg, const struct jsonl_batch *b, size_t lo, size_t hi, int k)
{
    struct encode_job *j = arg;
    struct enc_batch *e = &j->slot[b->slot];
    /* each thread makes its own encoder, at its first task: their caches
     * are allocated and faulted in on both threads at once, not one after
     * the other by the reading thread while the others wait */
    if (!j->enc[k]) j->enc[k] = tok_encoder_new(j->t);
    for (size_t i = lo; i < hi; i++) {
        size_t n;
        const uint32_t *ids = tok_encode(j->enc[k], b->text[i], b->len[i], j->allow_special, &n);
        e->owner[i] = k;
        e->ids_off[i] = e->out[k].n;
        e->ids_n[i] = n;
        ids_append(&e->out[k], ids, n);
    }
}

/* Each document is its ids, between the separators chosen. */
static void enc_end(void *arg, const struct jsonl_batch *b)
{
    struct encode_job *j = arg;
    const struct enc_batch *e = &j->slot[b->slot];
    for (size_t i = 0; i < b->n; i++) {
        if (j->before != TOK_NO_ID) tokws_put(j->w, &j->before, 1);
        tokws_put(j->w, e->out[e->owner[i]].p + e->ids_off[i], e->ids_n[i]);
        if (j->after != TOK_NO_ID) tokws_put(j->w, &j->after, 1);
    }
}

/* The separators of --bos/--eos/--no-sep, or end-of-text before each
 * document; dies when the tokenizer lacks the token asked for. */
static void separators(const struct encode_opts *o, const struct tokenizer *t, uint32_t *before, uint32_t *after)
{
    *before = *after = TOK_NO_ID;
    if (o->no_sep) return;
    if (o->bos || o->eos) {
        if (o->bos && (*before = tok_bos(t)) == TOK_NO_ID)
            die("%s: the tokenizer names no beginning-of-sequence token (--bos)", o->tokenizer);
        if (o->eos && (*after = tok_eos(t)) == TOK_NO_ID)
            die("%s: the tokenizer names no end-of-sequence token (--eos)", o->tokenizer);
        return;
    }
    if ((*before = tok_eot(t)) == TOK_NO_ID)
        die("%s: no end-of-text token (<|endoftext|>) to separate documents; choose --bos, --eos or --no-sep",
            o->tokenizer);
}

/* A tokenizer.json's added tokens split the text by default, as in HF. */
static int allow_special(const struct encode_opts *o, const struct tokenizer *t)
{
    if (o->no_special) return 0;
    return o->allow_special || tok_kind(t) == TOK_HF;
}

/* bpe-encode loads the tokenizer with jsonl_par's prepare(), so that with
 * 2 threads the first megabytes are read meanwhile; errors wait for
 * setup_job, on the reading thread. */
static void load_tokenizer(void *arg)
{
    struct encode_job *j = arg;
    j->t = tok_load_with(j->o->tokenizer, &j->o->load, j->err, sizeof j->err);
}

/* prepare() with 2 threads or more: load, and drop the cached pages of the
 * earlier output that the new one will replace (xio.h), which the final
 * rename would otherwise do while the other threads have nothing left. */
static void prepare_job(void *arg)
{
    struct encode_job *j = arg;
    load_tokenizer(j);
    if (!j->o->shard_size && strcmp(j->o->output, "-") != 0) drop_cached_pages(j->o->output);
}

/* Once loaded: the separators and the output (the encoders: enc_work). */
static void setup_job(struct encode_job *j)
{
    const struct encode_opts *o = j->o;
    if (!j->t) die("%s: %s", o->tokenizer, j->err);
    j->allow_special = allow_special(o, j->t);
    separators(o, j->t, &j->before, &j->after);
    j->w = tokws_open(o->output, o->shard_size, tok_vocab_size(j->t), tok_fingerprint(j->t), o->zstd ? 3 : 0, o->force);
    j->ready = 1;
}

static struct tokenizer *load(const struct encode_opts *o)
{
    char err[512];
    struct tokenizer *t = tok_load_with(o->tokenizer, &o->load, err, sizeof err);
    if (!t) die("%s: %s", o->tokenizer, err);
    return t;
}

/* --raw: each input is one document. */
struct raw_source {
    char **inputs;
    int ninputs, next;
    char *buf;
    size_t cap;
};

static int raw_next(void *arg, const char **text, size_t *len)
{
    struct raw_source *src = arg;
    if (src->next >= src->ninputs) return 0;
    struct tfs_in *in = in_open(src->inputs[src->next++]);
    size_t n = 0, k;
    if (!src->cap) src->buf = xmalloc(src->cap = 1 << 16);
    while ((k = in_read(in, src->buf + n, src->cap - n)) > 0) {
        n += k;
        if (n == src->cap) src->buf = xrealloc(src->buf, src->cap *= 2);
    }
    in_close(in);
    *text = src->buf;
    *len = n;
    return 1;
}

/* Are all inputs named files?  (not stdin, where reading ahead could wait
 * for a terminal while the tokenizer's error is known) */
static int all_named(char **inputs, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(inputs[i], "-") == 0) return 0;
    return 1;
}

/* Free what the job allocated (not its output, which tokws_close frees). */
static void free_job(struct encode_job *j)
{
    for (int k = 0; k < j->nthreads; k++) tok_encoder_free(j->enc[k]);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < j->nthreads; k++) free(j->slot[i].out[k].p);
        free(j->slot[i].out); free(j->slot[i].owner); free(j->slot[i].ids_off); free(j->slot[i].ids_n);
    }
    free(j->enc);
    tok_free(j->t);
}

int bpe_encode_run(const struct encode_opts *o)
{
    int nthreads = o->threads > 0 ? o->threads : 1;
    struct encode_job j = { .o = o, .enc = xcalloc((size_t)nthreads, sizeof *j.enc), .nthreads = nthreads };
    for (int i = 0; i < 2; i++) j.slot[i].out = xcalloc((size_t)nthreads, sizeof *j.slot[i].out);
    int ninputs;
    char **inputs = input_list(o, &ninputs);
    struct raw_source raw = { .inputs = inputs, .ninputs = ninputs };
    struct jsonl_multi m;
    struct jsonl_par par = { .threads = nthreads, .batch_bytes = BATCH_BYTES, .what = "encoding", .quiet = o->quiet,
                             .begin = enc_begin, .work = enc_work, .end = enc_end, .arg = &j };
    /* With 2 threads or more, the tokenizer loads (10 to 60 ms for OpenAI's)
     * while the first MB are read, in batches of 1 MB: the encoding starts
     * as soon as it is loaded.  Otherwise it loads first, and its errors come
     * before any reading. */
    if (nthreads > 1 && all_named(inputs, ninputs)) { par.prepare = prepare_job; par.ahead_bytes = 1u << 20; }
    else { load_tokenizer(&j); setup_job(&j); }
    if (o->raw) { par.next = raw_next; par.src = &raw; }
    else { jsonl_multi_init(&m, inputs, ninputs, o->field, o->skip_bad); par.src = &m; }
    jsonl_par_run(&par);
    if (!j.ready) setup_job(&j);        /* no batch at all */
    if (!o->raw) {
        if (m.bad) warnx("skipped %ld malformed lines", m.bad);
        jsonl_multi_close(&m);
    }
    /* What is left is serial: closing the output (its fsync, and the rename,
     * which frees the blocks of an earlier output of the same name: 10 to
     * 15 ms for GPT-2's 66 MB) and freeing the buffers, encoders and tables
     * (about 2 ms, mostly unmapping pages).  With two threads or more, the
     * second frees while the first closes.  tokws_close uses nothing that
     * is freed here, and if it dies (disk full), it dies on this thread. */
    #pragma omp parallel num_threads(nthreads > 1 ? 2 : 1)
    {
        if (omp_get_thread_num() == 0) tokws_close(j.w);
        if (omp_get_num_threads() == 1 || omp_get_thread_num() == 1) free_job(&j);
    }
    free(raw.buf);
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
    struct tokenizer *t = load(o);
    uint32_t start, end, vocab = tok_vocab_size(t);
    if (o->bos || o->eos || o->no_sep || tok_eot(t) != TOK_NO_ID) separators(o, t, &start, &end);
    else start = end = TOK_NO_ID;       /* one document */
    uint64_t fp = tok_fingerprint(t);
    struct outfile of;
    FILE *f = outfile_open(&of, o->output);
    int ninputs;
    char **inputs = input_list(o, &ninputs);
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
                /* an end separator closes the open document; a start
                 * separator opens a new one (and closes the last) */
                if (ids[j] == end && (open_doc || start != end)) {
                    put_doc(f, &doc, o->raw, &replaced);
                    doc.len = 0;
                    open_doc = 0;
                    continue;
                }
                if (ids[j] == start) {
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
