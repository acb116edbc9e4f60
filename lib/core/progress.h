/* progress.h - a one-line progress display on stderr.
 *
 *   struct progress p; progress_start(&p, "merges", total, quiet);
 *   for (...) progress_update(&p, done, "loss %.3f", loss);
 *   progress_end(&p);
 *
 * Silent when stderr is not a terminal or when quiet is set, so logs and
 * pipes never receive carriage returns.  Redraws at most 10 times a second.
 * With a known total it draws a bar, the percentage and an ETA; with
 * total 0 it shows the count and the rate.
 */
#ifndef TFS_PROGRESS_H
#define TFS_PROGRESS_H

#include <stdint.h>

struct progress {
    const char *what;
    uint64_t total, done;
    double t0, last;
    int enabled, drawn;
};

void progress_start(struct progress *p, const char *what, uint64_t total, int quiet);
void progress_update(struct progress *p, uint64_t done, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void progress_end(struct progress *p);

/* Seconds since an arbitrary fixed point (monotonic clock). */
double now_seconds(void);

#endif
