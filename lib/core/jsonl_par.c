/* jsonl_par.c - the double-buffered reader of jsonl_par.h, with OpenMP tasks.
 *
 * One thread (inside "omp single") reads; the work on a batch is cut into
 * tasks that the other threads of the team pick up.  The reading thread
 * joins in at each "taskwait", which also orders the batches: batch k's
 * end() runs after its tasks, once batch k+1's tasks are created, so the
 * other threads work on batch k+1 while it runs (for bpe-encode, writing
 * batch k's ids).  Before the first batch, prepare() may run on another
 * thread while this one reads ahead (read_ahead). */
#include "core/jsonl_par.h"
#include "core/jsonl.h"
#include "core/progress.h"
#include "core/xio.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void batch_add(struct jsonl_batch *b, const char *text, size_t len)
{
    if (b->n == b->cdocs) {
        b->cdocs = b->cdocs ? 2 * b->cdocs : 1024;
        b->off = xrealloc(b->off, b->cdocs * sizeof *b->off);
        b->len = xrealloc(b->len, b->cdocs * sizeof *b->len);
        b->text = xrealloc(b->text, b->cdocs * sizeof *b->text);
    }
    if (b->used + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (b->used + len > cap) cap *= 2;
        if (b->borrowed) {      /* out of the lender's room: into a buffer of its own */
            char *own = xmalloc(cap);
            memcpy(own, b->buf, b->used);
            b->buf = own;
            b->borrowed = 0;
        } else b->buf = xrealloc(b->buf, cap);
        b->cap = cap;
    }
    memcpy(b->buf + b->used, text, len);
    b->off[b->n] = b->used;
    b->len[b->n++] = len;
    b->used += len;
}

static int multi_next(void *src, const char **text, size_t *len)
{
    return jsonl_multi_next(src, text, len);
}

/* Fill b with documents until it holds limit bytes; 0 once the input is done. */
static int batch_fill(const struct jsonl_par *p, struct jsonl_batch *b, size_t limit, uint64_t *bytes)
{
    int (*next)(void *, const char **, size_t *) = p->next ? p->next : multi_next;
    const char *text;
    size_t len;
    int more = 1;
    b->n = b->used = 0;
    /* Reserve the buffer at its final size at once: the limit and a margin
     * for the document that crosses it.  Grown from 1 MB by realloc, it was
     * copied at each doubling into new pages, and each new 4 KB page costs
     * a fault (about 2.3 us on the Zen 4 VM of the README).  Only documents
     * longer than the margin still grow it (batch_add).  The batch is empty
     * here, so nothing needs copying. */
    size_t want = limit + limit / 4;
    if (!b->borrowed && b->cap < want) {
        free(b->buf);
        b->buf = xmalloc(want);
        b->cap = want;
    }
    while (b->used < limit && (more = next(p->src, &text, &len))) {
        batch_add(b, text, len);
        *bytes += len;
    }
    /* the buffer may have moved while growing: point at the texts now */
    for (size_t i = 0; i < b->n; i++) b->text[i] = b->buf + b->off[i];
    return more;
}

/* Cut b into tasks of about equal bytes (a document may be one line of a
 * dictionary or a whole man page, so equal counts of documents made tasks
 * of very unequal length).  48 tasks per thread: enough to balance, and to
 * keep short the wait at the end of a batch, when one thread finishes its
 * last task before the others; few enough that libgomp queues them all.
 * With more than 64 tasks per thread queued, libgomp runs a new task at
 * once in the thread creating it, which here is the reading thread: it
 * would stop reading ahead.  (Each task but the last holds at least
 * used / tasks bytes, so there are at most tasks + 1.) */
static void batch_spawn(const struct jsonl_par *p, const struct jsonl_batch *b)
{
    size_t tasks = 48 * (size_t)p->threads;
    size_t target = b->used / tasks + 1;
    for (size_t lo = 0, hi; lo < b->n; lo = hi) {
        size_t bytes = b->len[lo];
        for (hi = lo + 1; hi < b->n && bytes < target; hi++) bytes += b->len[hi];
        #pragma omp task firstprivate(lo, hi)
        p->work(p->arg, b, lo, hi, omp_get_thread_num());
    }
}

/* The most batches read ahead while prepare() runs: 64 of bpe-encode's
 * 1 MB, far more than the 10 to 60 ms of loading a vocabulary take. */
#define AHEAD_MAX 64

/* Run prepare() as a task, which the other thread picks up, and read
 * batches into ahead[] until it has returned (or the input ends, or
 * AHEAD_MAX are read).  Returns how many; *more as batch_fill. */
static size_t read_ahead(const struct jsonl_par *p, struct jsonl_batch *ahead, struct jsonl_batch *b,
                         uint64_t *bytes, int *more)
{
    size_t n = 0;
    int done = 0;
    /* The first batches read ahead lie back to back in b[0]'s buffer, then
     * in b[1]'s, each reserved at its final size: once those batches are
     * done, the regular batches reuse pages already faulted in, instead of
     * new ones (reading ahead costs the memory it fills: with o200k, whose
     * load takes longest, about 30 MB).  The next batches get buffers of
     * their own. */
    size_t full = p->batch_bytes + p->batch_bytes / 4, room = p->ahead_bytes + p->ahead_bytes / 4, at = 0;
    int lender = 0;
    #pragma omp task shared(done)
    {
        p->prepare(p->arg);
        #pragma omp atomic write seq_cst
        done = 1;
    }
    for (;;) {
        int d;
        #pragma omp atomic read seq_cst
        d = done;
        if (d || !*more || n == AHEAD_MAX) break;
        struct jsonl_batch *a = &ahead[n++];
        while (lender < 2 && full - at < room) { lender++; at = 0; }
        if (lender < 2) {
            if (!b[lender].buf) { b[lender].buf = xmalloc(full); b[lender].cap = full; }
            a->buf = b[lender].buf + at;
            a->cap = full - at;
            a->borrowed = lender + 1;
        }
        *more = batch_fill(p, a, p->ahead_bytes, bytes);
        if (a->borrowed) at += a->used;
    }
    #pragma omp taskwait
    return n;
}

static void batch_free(struct jsonl_batch *b)
{
    if (!b->borrowed) free(b->buf);
    free(b->off); free(b->len); free(b->text);
    memset(b, 0, sizeof *b);
}

uint64_t jsonl_par_run(const struct jsonl_par *p)
{
    struct jsonl_batch b[2] = { { .slot = 0 }, { .slot = 1 } };
    struct jsonl_batch ahead[AHEAD_MAX];
    size_t nahead = 0, taken = 0;
    uint64_t bytes = 0;
    struct progress prog;
    memset(ahead, 0, sizeof ahead);
    if (p->prepare && p->threads == 1) p->prepare(p->arg);
    progress_start(&prog, p->what, 0, p->quiet);
    #pragma omp parallel num_threads(p->threads)
    #pragma omp single
    {
        int more = 1;
        struct jsonl_batch *prev = NULL;        /* the batch whose end() is due */
        int prev_ahead = 0;                     /* and it is one of ahead[] */
        int nb = 0;                             /* the b[] to fill next */
        if (p->prepare && p->threads > 1) nahead = read_ahead(p, ahead, b, &bytes, &more);
        for (int cur = 0; taken < nahead || more; cur ^= 1) {
            /* The batches read ahead are worked on where they are, in the
             * slot of their turn, and freed once ended: moving them into b[]
             * made b[]'s buffers grow again from 1 MB, and kept them all
             * until the end, to be freed while the other threads had
             * nothing left to do. */
            struct jsonl_batch *bc;
            int bc_ahead = taken < nahead;
            if (bc_ahead) {
                bc = &ahead[taken++];                                       /* read already */
                bc->slot = cur;
            } else {
                /* b[0] and b[1] take turns; the first after the batches
                 * read ahead is the one whose buffer prev does not lie in
                 * (its tasks may still run; the earlier batches have ended) */
                if (prev_ahead && prev->borrowed) nb = 2 - prev->borrowed;
                bc = &b[nb];
                nb ^= 1;
                bc->slot = cur;
                more = batch_fill(p, bc, p->batch_bytes, &bytes);            /* meanwhile: work on prev */
            }
            int last = taken == nahead && !more;
            #pragma omp taskwait
            progress_update(&prog, bytes, "%.1f MB", (double)bytes / 1e6);
            if (p->begin) p->begin(p->arg, bc);
            batch_spawn(p, bc);
            if (prev) {                                                     /* meanwhile: work on bc */
                if (p->end) p->end(p->arg, prev);
                if (prev_ahead) batch_free(prev);
            }
            prev = bc;
            prev_ahead = bc_ahead;
            if (last) {
                #pragma omp taskwait
                if (p->end) p->end(p->arg, bc);
            }
        }
    }
    progress_end(&prog);
    for (int i = 0; i < 2; i++) batch_free(&b[i]);
    for (size_t i = 0; i < nahead; i++) batch_free(&ahead[i]);
    return bytes;
}
