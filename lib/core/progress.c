/* progress.c - one-line progress display on stderr (tty only). */
#include "core/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(struct progress *p, const char *what, uint64_t total, int quiet)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->total = total;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->t0 = p->last = now_seconds();
}

static void human(char *buf, size_t n, double v)
{
    if (v >= 1e9) snprintf(buf, n, "%.1fG", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.1fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
}

static void hms(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void draw(struct progress *p, const char *extra)
{
    double el = now_seconds() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char d[32], r[32], e[32], eta[32] = "";
    human(d, sizeof d, (double)p->done);
    human(r, sizeof r, rate);
    hms(e, sizeof e, el);
    if (p->total) {
        const int W = 24;
        double frac = (double)p->done / (double)p->total;
        if (frac > 1) frac = 1;
        int fill = (int)(frac * W);
        char bar[32];
        for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
        bar[W] = 0;
        if (rate > 0 && p->done < p->total) hms(eta, sizeof eta, (double)(p->total - p->done) / rate);
        fprintf(stderr, "\r%s [%s] %3.0f%% %s/s %s%s%s %s\033[K", p->what, bar, 100 * frac, r, e,
                eta[0] ? " ETA " : "", eta, extra);
    } else {
        fprintf(stderr, "\r%s %s (%s/s) %s %s\033[K", p->what, d, r, e, extra);
    }
    fflush(stderr);
    p->drawn = 1;
}

void progress_update(struct progress *p, uint64_t done, const char *fmt, ...)
{
    p->done = done;
    if (!p->enabled) return;
    double t = now_seconds();
    if (t - p->last < 0.1 && done != p->total) return;
    p->last = t;
    char extra[160] = "";
    if (fmt) {
        va_list ap; va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    draw(p, extra);
}

void progress_end(struct progress *p)
{
    if (!p->enabled) return;
    if (p->drawn) draw(p, "");
    fputc('\n', stderr);
    p->enabled = 0;
}
