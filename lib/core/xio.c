/* xio.c - checked I/O and allocation, diagnostics, atomic output files. */
#include "core/xio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

const char *tfs_prog = "tfs";

void tfs_set_prog(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    tfs_prog = slash ? slash + 1 : argv0;
}

/* ---- cleanup handlers run by die() ---- */
#define MAX_ON_DIE 16
static struct { void (*fn)(void *); void *arg; } on_die[MAX_ON_DIE];
static int n_on_die;

void tfs_on_die(void (*fn)(void *), void *arg)
{
    if (n_on_die < MAX_ON_DIE) { on_die[n_on_die].fn = fn; on_die[n_on_die].arg = arg; n_on_die++; }
}

void tfs_on_die_remove(void (*fn)(void *), void *arg)
{
    for (int i = n_on_die - 1; i >= 0; i--)
        if (on_die[i].fn == fn && on_die[i].arg == arg) {
            memmove(&on_die[i], &on_die[i + 1], (size_t)(n_on_die - i - 1) * sizeof on_die[0]);
            n_on_die--;
            return;
        }
}

void (*tfs_die_hook)(void);

/* The handlers, then the exit (or the fuzz harness's longjmp). */
static _Noreturn void run_on_die(void)
{
    while (n_on_die > 0) { n_on_die--; on_die[n_on_die].fn(on_die[n_on_die].arg); }
    if (tfs_die_hook) tfs_die_hook();
    exit(EXIT_DATA);
}

void vwarnx(const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s: ", tfs_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void warnx(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); vwarnx(fmt, ap); va_end(ap);
}

void die(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); vwarnx(fmt, ap); va_end(ap);
    run_on_die();
}

void die_reported(void)
{
    run_on_die();
}

void die_errno(const char *fmt, ...)
{
    int e = errno;
    fflush(stdout);
    va_list ap; va_start(ap, fmt);
    fprintf(stderr, "%s: ", tfs_prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(e));
    run_on_die();
}

/* ---- allocation ---- */
void *xmalloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p) die_errno("%s:%d: out of memory allocating %zu bytes", file, line, n);
    return p;
}

void *xmalloc_huge(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < huge) return xmalloc(n);
    void *p = NULL;
    size_t rounded = (n + huge - 1) & ~(huge - 1);
    if (posix_memalign(&p, huge, rounded)) die("out of memory allocating %zu bytes", n);
    madvise(p, rounded, MADV_HUGEPAGE);     /* a hint: its failure changes nothing */
    return p;
}

/* The whole 4 KB pages inside p[0..n), [*lo, *hi): what madvise may be
 * given of a block from malloc (none when *hi <= *lo). */
static inline void whole_pages(const void *p, size_t n, uintptr_t *lo, uintptr_t *hi)
{
    const uintptr_t page = 4096;
    *lo = ((uintptr_t)p + page - 1) & ~(page - 1);
    *hi = ((uintptr_t)p + n) & ~(page - 1);
}

void *xzalloc_written(size_t n)
{
    void *p = xmalloc(n);
    advise_huge_pages(p, n);    /* before the pages exist: then they are huge */
#ifdef MADV_POPULATE_WRITE
    /* Linux 5.14+: fault the whole pages in with one call, not one fault
     * each (EINVAL on older kernels: memset below faults them instead) */
    uintptr_t lo, hi;
    whole_pages(p, n, &lo, &hi);
    if (n >= ((size_t)64 << 10) && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
#endif
    memset(p, 0, n);
    return p;
}

void *xcalloc_at(size_t n, size_t sz, const char *file, int line)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) die_errno("%s:%d: out of memory allocating %zu x %zu bytes", file, line, n, sz);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) die_errno("%s:%d: out of memory reallocating to %zu bytes", file, line, n);
    return q;
}

void advise_huge_pages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    uintptr_t lo, hi;
    whole_pages(p, n, &lo, &hi);
    if (n >= ((size_t)4 << 20) && hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);    /* a hint: errors ignored */
#else
    (void)p; (void)n;
#endif
}

char *xstrdup_at(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc_at(n, file, line);
    memcpy(d, s, n);
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory formatting a string");
    va_end(ap);
    return s;
}

/* ---- stdio ---- */
const char *path_name(const char *path)
{
    return (!path || strcmp(path, "-") == 0) ? "<stdin>" : path;
}

FILE *xfopen_at(const char *path, const char *mode, const char *file, int line)
{
    (void)file; (void)line;
    if (strcmp(path, "-") == 0) return mode[0] == 'r' ? stdin : stdout;
    FILE *f = fopen(path, mode);
    /* The user needs the path and the reason, not our source location. */
    if (!f) die_errno("cannot open '%s'", path);
    return f;
}

void xfread_at(void *p, size_t sz, size_t n, FILE *f, const char *file, int line)
{
    if (fread(p, sz, n, f) != n) {
        if (ferror(f)) die_errno("%s:%d: read error", file, line);
        die("%s:%d: unexpected end of file (input truncated?)", file, line);
    }
}

void xfwrite_at(const void *p, size_t sz, size_t n, FILE *f, const char *file, int line)
{
    if (n && fwrite(p, sz, n, f) != n) die_errno("%s:%d: write error", file, line);
}

void xfclose_at(FILE *f, const char *file, int line)
{
    if (f == stdin) return;
    if (f == stdout) {
        if (fflush(f) != 0) die_errno("%s:%d: error writing standard output", file, line);
        return;
    }
    if (fclose(f) != 0) die_errno("%s:%d: error closing file", file, line);
}

char *read_file(const char *path, size_t *len)
{
    FILE *f = xfopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) die_errno("error reading '%s'", path_name(path));
    if (f != stdin) fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* ---- atomic output files ---- */
static void outfile_cleanup(void *arg)
{
    struct outfile *o = arg;
    if (!o->tmp) return;
    unlink(o->tmp);
    /* say what the error above means for the file (disk full while saving
     * a checkpoint: the previous one is still there, whole) */
    if (access(o->path, F_OK) == 0)
        warnx("'%s' was not replaced: it still holds its previous contents", o->path);
    else warnx("'%s' was not written", o->path);
}

/* Signals that end the program also remove the temp file.  Only the most
 * recent open outfile is tracked for signals; programs write one at a time. */
static struct outfile *sig_outfile;
static void outfile_on_signal(int sig)
{
    if (sig_outfile && sig_outfile->tmp) unlink(sig_outfile->tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

FILE *outfile_open(struct outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (!path || strcmp(path, "-") == 0) { o->f = stdout; return o->f; }
    /* A device or a FIFO (/dev/null, a named pipe) is written in place: a
     * temp file renamed over it would replace the device itself (as root,
     * /dev/null would become a regular file).  Only regular files, or paths
     * that do not exist yet, get the temp-and-rename treatment. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        o->f = fopen(path, "wb");
        if (!o->f) die_errno("cannot open '%s'", path);
        return o->f;
    }
    o->path = xstrdup(path);
    size_t n = strlen(path) + 32;
    o->tmp = xmalloc(n);
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "wb");
    if (!o->f) die_errno("cannot create '%s'", o->tmp);
    tfs_on_die(outfile_cleanup, o);
    sig_outfile = o;
    /* Take over the terminating signals that the program has not claimed. */
    int sigs[] = { SIGHUP, SIGINT, SIGTERM, SIGPIPE };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            signal(sigs[i], outfile_on_signal);
    }
    return o->f;
}

/* After a rename, the new directory entry is durable only once the
 * directory itself is synced (rename(2) promises atomicity, not
 * durability): without it a power cut can bring back the old file or none. */
static void fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xasprintf("%.*s", (int)(slash == path ? 1 : slash - path), path) : xstrdup(".");
    /* a folder we may write but not read (mode -wx) cannot be opened to
     * sync: the rename is done, so that is not an error; nor is EINVAL, a
     * file system that cannot sync folders */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL) die_errno("cannot sync directory '%s'", dir);
    if (fd >= 0) close(fd);
    free(dir);
}

void outfile_commit(struct outfile *o)
{
    if (!o->path) { xfclose(o->f); return; }
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0) die_errno("error writing '%s'", o->tmp);
    if (fclose(o->f) != 0) die_errno("error closing '%s'", o->tmp);
    o->f = NULL;
    if (rename(o->tmp, o->path) != 0) die_errno("cannot rename '%s' to '%s'", o->tmp, o->path);
    tfs_on_die_remove(outfile_cleanup, o);
    fsync_dir_of(o->path);
    if (sig_outfile == o) sig_outfile = NULL;
    free(o->tmp); free(o->path);
    o->tmp = o->path = NULL;
}

void outfile_writeback(struct outfile *o)
{
    if (!o->path) return;       /* stdout or a device: not synced at the end either */
    if (fflush(o->f) != 0) die_errno("error writing '%s'", o->tmp);
#ifdef SYNC_FILE_RANGE_WRITE
    /* Linux: queue the dirty pages of the new range for writing, without
     * waiting for them (the commit's fsync waits) */
    off_t end = ftello(o->f);
    if (end > o->synced) {
        (void)sync_file_range(fileno(o->f), (off_t)o->synced, end - (off_t)o->synced, SYNC_FILE_RANGE_WRITE);
        o->synced = end;
    }
#endif
}

void drop_cached_pages(const char *path)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

void outfile_abort(struct outfile *o)
{
    if (!o->path) return;
    if (o->f) fclose(o->f);
    o->f = NULL;
    unlink(o->tmp);
    tfs_on_die_remove(outfile_cleanup, o);
    if (sig_outfile == o) sig_outfile = NULL;
    free(o->tmp); free(o->path);
    o->tmp = o->path = NULL;
}

int is_tty(FILE *f)
{
    return isatty(fileno(f));
}

void refuse_binary_tty(FILE *f, int force)
{
    if (!force && is_tty(f))
        die("refusing to write binary data to a terminal (redirect it, use -o FILE, or -f to force)");
}
