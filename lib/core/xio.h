/* xio.h - checked I/O and allocation, diagnostics, atomic output files.
 *
 * Every program in the suite reports errors the same way:
 *     prog: what went wrong            (data/runtime error, exit 1)
 *     prog: FILE:LINE: what is wrong   (bad input at a known place, exit 1)
 *     prog: bad usage ... + "Try 'prog --help'."   (exit 2, see opts.h)
 * The x* wrappers keep the shape of the libc call they wrap; on failure they
 * print the program name, the caller's source file and line, what failed and
 * strerror(errno), then exit(1).  They live here, in one translation unit
 * (style.md, principle 6), not as inline functions in headers.
 */
#ifndef TFS_XIO_H
#define TFS_XIO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Exit codes, the same for every program (documented in tfs(7)). */
enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2 };

/* The program name used as the prefix of every diagnostic; set once by main. */
extern const char *tfs_prog;
void tfs_set_prog(const char *argv0);

/* Print "prog: message" to stderr and exit(1).  die_errno appends ": strerror(errno)". */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit 1 after the handlers below, printing nothing: the cause was already
 * reported (by a child process, say). */
_Noreturn void die_reported(void);
/* Print "prog: message" to stderr and continue. */
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vwarnx(const char *fmt, va_list ap);

/* Functions run by die() before it exits (e.g. removing a half-written temp
 * file, saving a checkpoint).  Registered handlers run last-in first-out. */
void tfs_on_die(void (*fn)(void *), void *arg);
void tfs_on_die_remove(void (*fn)(void *), void *arg);
/* For the fuzz harnesses only (tests/fuzz/fuzz.c): when set, die() calls
 * this after the handlers above instead of exit(1).  The hook must not
 * return (it longjmps back to the harness), so that one process can try
 * millions of inputs although every parser stops on bad input by dying. */
extern void (*tfs_die_hook)(void);

#define xmalloc(n)          xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, sz)      xcalloc_at((n), (sz), __FILE__, __LINE__)
#define xrealloc(p, n)      xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s)          xstrdup_at((s), __FILE__, __LINE__)
#define xfopen(path, mode)  xfopen_at((path), (mode), __FILE__, __LINE__)
#define xfread(p, sz, n, f) xfread_at((p), (sz), (n), (f), __FILE__, __LINE__)
#define xfwrite(p, sz, n, f) xfwrite_at((p), (sz), (n), (f), __FILE__, __LINE__)
#define xfclose(f)          xfclose_at((f), __FILE__, __LINE__)

void *xmalloc_at(size_t n, const char *file, int line);
/* n bytes (free() them) for a large table of random lookups.  From 2 MiB
 * on, aligned to 2 MiB and marked for the kernel's transparent huge pages
 * (madvise, Linux): one TLB entry then covers 2 MiB instead of 4 KiB, and
 * filling the table takes one page fault per 2 MiB instead of 512.  Where
 * the kernel says no it is an ordinary allocation. */
void *xmalloc_huge(size_t n);
void *xcalloc_at(size_t n, size_t sz, const char *file, int line);
/* n zero bytes (free() them), every page of them already written: for a
 * table read before it is written, such as a cache.  calloc's fresh pages
 * are first mapped to the kernel's shared zero page when read, and the
 * first write to each then costs a second fault that copies it and flushes
 * the TLB entry; with two threads of the process running, that flush
 * interrupts the other core too (an inter-processor interrupt).  Blocks
 * of 4 MB or more get huge pages, as advise_huge_pages. */
void *xzalloc_written(size_t n);
void *xrealloc_at(void *p, size_t n, const char *file, int line);
char *xstrdup_at(const char *s, const char *file, int line);
/* Ask the kernel to back the block p[0..n) with huge pages (2 MB on x86)
 * where it can: for big tables read at random places, where a TLB miss on
 * nearly every access otherwise adds to each cache miss.  A hint only;
 * blocks under 4 MB are left alone (Linux's transparent huge pages, mode
 * "madvise").  For a block from malloc, calloc or realloc (one that grows,
 * or should stay zeroed lazily); xmalloc_huge allocates a new one aligned. */
void advise_huge_pages(void *p, size_t n);
/* printf into a new string (free it); dies when memory runs out. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* path "-" means stdin (mode "r...") or stdout (mode "w..."). */
FILE *xfopen_at(const char *path, const char *mode, const char *file, int line);
/* Reads exactly n items or dies: a short read is reported as truncation. */
void xfread_at(void *p, size_t sz, size_t n, FILE *f, const char *file, int line);
void xfwrite_at(const void *p, size_t sz, size_t n, FILE *f, const char *file, int line);
/* Flushes and closes; a failed flush (disk full, closed pipe) is an error. */
void xfclose_at(FILE *f, const char *file, int line);

/* The display name of a path for messages: "-" is shown as "<stdin>". */
const char *path_name(const char *path);

/* Read a whole file (or "-" for stdin) into memory, NUL-terminated. */
char *read_file(const char *path, size_t *len);

/* ---- atomic output files ------------------------------------------------
 * A file that is written under a temporary name in the same directory and
 * renamed over its real name only when complete, so a crash, an error or a
 * signal never leaves a partial file looking finished.  "-" writes stdout.
 *     struct outfile o; FILE *f = outfile_open(&o, "tok.bin");
 *     ... write to f ...
 *     outfile_commit(&o);            // fflush + fsync + rename
 * If the program dies before the commit, the temp file is removed.  A path
 * that names a device or a FIFO (/dev/null, a named pipe) is written in
 * place, never replaced. */
struct outfile {
    char *path;     /* final name (NULL for stdout) */
    char *tmp;      /* temporary name */
    FILE *f;
    long long synced;   /* bytes handed to outfile_writeback so far */
};
FILE *outfile_open(struct outfile *o, const char *path);
void outfile_commit(struct outfile *o);
/* Start writing to disk what has been written to o->f so far, and return
 * at once: a long output calls it now and then (every few MB), so that the
 * fsync of outfile_commit finds little left to do.  Without it that fsync
 * writes the whole file at the end, while nothing else runs (about 30 ms
 * for 100 MB here), which is serial time in a multi-threaded program.
 * Errors are left to the commit's fsync to report. */
void outfile_writeback(struct outfile *o);
void outfile_abort(struct outfile *o);
/* Drop the cached pages of the regular file at path, if there is one; its
 * contents stay as they are.  Renaming a new output over a file frees that
 * file's cached pages in the rename, at the very end (about 15 ms for a
 * 66 MB token stream here): a program with a second thread idle at the
 * start calls this there, on the output it will replace. */
void drop_cached_pages(const char *path);

/* Refuse to write binary data to a terminal unless forced (style.md, 9). */
void refuse_binary_tty(FILE *f, int force);

/* Is this FILE a terminal? (for progress display and binary refusal) */
int is_tty(FILE *f);

#endif
