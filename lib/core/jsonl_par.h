/* jsonl_par.h - read documents serially, process them in parallel.
 *
 * Reading JSON is serial (one stream, line by line), the work on each
 * document (pre-tokenizing, counting, encoding) is not.  jsonl_par_run
 * overlaps the two: while the calling thread reads batch k+1 into one
 * buffer, the other threads work on batch k, held in the other buffer
 * (double buffering).  Each batch goes through three callbacks:
 *
 *   begin(arg, b)               the reading thread, once b is filled and
 *                               before any work on it (size per-batch state)
 *   work(arg, b, lo, hi, k)     any thread k (0 <= k < threads), on the
 *                               documents lo..hi-1 of b; runs in parallel
 *                               with other work calls and with the reading
 *   end(arg, b)                 the reading thread, once every work call on b
 *                               has returned; batches end in input order.  The
 *                               work on the next batch runs meanwhile: end
 *                               may use b's per-batch state, not the workers'
 *
 * A caller may also give
 *
 *   prepare(arg)                once, on another thread, at the start (for
 *                               bpe-encode, loading the tokenizer); the
 *                               first begin waits for it
 *
 * With more than one thread the reading thread reads ahead meanwhile, into
 * extra buffers of ahead_bytes each (at most AHEAD_MAX of them): the work on
 * those batches then starts at once when prepare returns, and the time
 * prepare takes is no longer time that only one thread works.  prepare
 * must not die (it runs while the reading thread may): it keeps its errors
 * for begin to report.  With one thread it runs first, then the reading.
 *
 * begin, end and prepare may be NULL.  b->slot is 0 and 1 in turn, batch
 * after batch, so a caller can keep per-batch state in two copies: the
 * batch being worked on and the one being ended or begun.  A work call runs on one thread from start to end, so per-thread
 * state indexed by k needs no locking.
 *
 * Users: bpe-train's word counting (tok/bpe_train.c) and bpe-encode
 * (tok/tokfilter.c).  The JSONL parsing itself is jsonl.h.
 */
#ifndef TFS_JSONL_PAR_H
#define TFS_JSONL_PAR_H

#include <stddef.h>
#include <stdint.h>

struct jsonl_batch {
    int slot;                   /* 0 or 1, in turn: its per-batch state */
    size_t n;                   /* documents */
    const char **text;          /* (n) document i is text[i][0..len[i]) */
    size_t *len;                /* (n) */
    /* the rest is the reader's */
    char *buf;
    size_t used, cap, *off, cdocs;
    int borrowed;               /* 0: buf is its own; 1 or 2: it lies in the
                                 * buffer of b[borrowed - 1] (read ahead) */
};

struct jsonl_par {
    int threads;                /* >= 1 */
    size_t batch_bytes;         /* a batch is full once it holds this many bytes */
    const char *what;           /* the progress display's label */
    int quiet;                  /* no progress display */
    /* The documents: next() returns 1 with the next one in *text, *len (the
     * bytes are copied before the next call), 0 at the end.  NULL: src is
     * a struct jsonl_multi (jsonl.h). */
    int (*next)(void *src, const char **text, size_t *len);
    void *src;
    void (*begin)(void *arg, const struct jsonl_batch *b);
    void (*work)(void *arg, const struct jsonl_batch *b, size_t lo, size_t hi, int thread);
    void (*end)(void *arg, const struct jsonl_batch *b);
    void (*prepare)(void *arg);
    size_t ahead_bytes;         /* the size of a batch read while prepare runs */
    void *arg;
};

/* Read every document and run the callbacks; returns the bytes read. */
uint64_t jsonl_par_run(const struct jsonl_par *p);

#endif
