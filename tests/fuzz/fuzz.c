/* fuzz.c - the libFuzzer entry point around each harness's fuzz_target(),
 * with die() turned into a return (see fuzz.h for the design). */
#include "fuzz.h"
#include "core/xio.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* From the sanitizer runtimes (gcc's and clang's; gcc ships no header). */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *));

static jmp_buf on_die;
static int active;              /* inside fuzz_target: track what it holds */
static pthread_t main_thread;

/* ---- heap blocks: an open-addressing set of live pointers ---- */
#define HEAP_SLOTS (1u << 20)
static const void *heap[HEAP_SLOTS];
static size_t heap_n;
/* every slot filled since the last reset (a slot refilled by the deletion's
 * shift was filled before), so a reset need not sweep the whole table */
#define USED_MAX (1u << 22)
static uint32_t used[USED_MAX];
static size_t used_n;

static size_t slot_of(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;   /* Fibonacci hashing */
    return (size_t)(h >> 44) & (HEAP_SLOTS - 1);
}

static int tracking(void) { return active && pthread_equal(pthread_self(), main_thread); }

static void on_malloc(const volatile void *p, size_t n)
{
    (void)n;
    if (!tracking() || heap_n >= HEAP_SLOTS / 2) return;    /* past half full: stop tracking */
    size_t i = slot_of((const void *)p);
    while (heap[i]) i = (i + 1) & (HEAP_SLOTS - 1);
    heap[i] = (const void *)p;
    heap_n++;
    if (used_n < USED_MAX) used[used_n] = (uint32_t)i;
    used_n++;
}

static void on_free(const volatile void *p)
{
    if (!tracking() || !p) return;
    size_t i = slot_of((const void *)p);
    while (heap[i] && heap[i] != (const void *)p) i = (i + 1) & (HEAP_SLOTS - 1);
    if (!heap[i]) return;
    /* backward-shift deletion keeps every probe chain unbroken */
    for (size_t j = (i + 1) & (HEAP_SLOTS - 1); heap[j]; j = (j + 1) & (HEAP_SLOTS - 1)) {
        size_t home = slot_of(heap[j]);
        if (((j - home) & (HEAP_SLOTS - 1)) >= ((j - i) & (HEAP_SLOTS - 1))) { heap[i] = heap[j]; i = j; }
    }
    heap[i] = NULL;
    heap_n--;
}

/* ---- FILEs, descriptors and mappings, through the linker's --wrap ---- */
#define MAX_RES 64
static FILE *files[MAX_RES];
static int fds[MAX_RES];
static struct { void *p; size_t n; } maps[MAX_RES];

FILE *__real_fopen(const char *path, const char *mode);
int __real_fclose(FILE *f);
int __real_open(const char *path, int flags, ...);
int __real_close(int fd);
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __real_munmap(void *a, size_t n);

FILE *__wrap_fopen(const char *path, const char *mode)
{
    FILE *f = __real_fopen(path, mode);
    if (f && tracking())
        for (int i = 0; i < MAX_RES; i++) if (!files[i]) { files[i] = f; break; }
    return f;
}

int __wrap_fclose(FILE *f)
{
    for (int i = 0; i < MAX_RES; i++) if (files[i] == f) files[i] = NULL;
    return __real_fclose(f);
}

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    int fd = __real_open(path, flags, mode);
    if (fd >= 0 && tracking())
        for (int i = 0; i < MAX_RES; i++) if (fds[i] < 0) { fds[i] = fd; break; }
    return fd;
}

int __wrap_close(int fd)
{
    for (int i = 0; i < MAX_RES; i++) if (fds[i] == fd) fds[i] = -1;
    return __real_close(fd);
}

void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    void *p = __real_mmap(a, n, prot, flags, fd, off);
    if (p != MAP_FAILED && tracking())
        for (int i = 0; i < MAX_RES; i++) if (!maps[i].p) { maps[i].p = p; maps[i].n = n; break; }
    return p;
}

int __wrap_munmap(void *a, size_t n)
{
    for (int i = 0; i < MAX_RES; i++) if (maps[i].p == a) maps[i].p = NULL;
    return __real_munmap(a, n);
}

/* ---- the entry point ---- */
static char *tmpdir;

static void remove_tmpdir(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", tmpdir);
    free(cmd);
}

static _Noreturn void die_hook(void) { longjmp(on_die, 1); }

static void init(void)
{
    main_thread = pthread_self();
    for (int i = 0; i < MAX_RES; i++) fds[i] = -1;
    tfs_set_prog("fuzz");
    tfs_die_hook = die_hook;
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    /* in memory where we can: each input is written out as a file */
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char *t = xasprintf("%s/tfs-fuzz.XXXXXX", base);
    if (!mkdtemp(t)) { perror(t); exit(1); }
    tmpdir = t;
    atexit(remove_tmpdir);
}

/* What a parse that died still held: closed and unmapped; its heap blocks
 * are left allocated but marked as not leaked. */
/* Forget the tracked blocks; with free_them, free them too. */
static void heap_reset(int free_them)
{
    int all = used_n > USED_MAX;
    for (size_t k = 0; k < (all ? HEAP_SLOTS : used_n) && heap_n; k++) {
        size_t i = all ? k : used[k];
        if (!heap[i]) continue;
        if (free_them) free((void *)heap[i]);
        heap[i] = NULL;
        heap_n--;
    }
    used_n = 0;
}

/* What a parse that died still held: its FILEs closed (while tracking, so
 * the blocks fclose frees leave the set), descriptors closed, mappings
 * unmapped, then its remaining heap blocks freed.  That keeps libFuzzer's
 * malloc and free counts equal, so it runs LeakSanitizer only after inputs
 * that did not die, and memory does not grow over millions of runs. */
static void release(void)
{
    active = 1;
    for (int i = 0; i < MAX_RES; i++) {
        if (files[i]) __wrap_fclose(files[i]);
        if (fds[i] >= 0) __wrap_close(fds[i]);
        if (maps[i].p) __wrap_munmap(maps[i].p, maps[i].n);
    }
    active = 0;
    heap_reset(1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static int ready;
    if (!ready) { init(); ready = 1; }
    if (setjmp(on_die) == 0) {
        active = 1;
        fuzz_target(data, n);
        active = 0;
    } else {
        active = 0;
        release();
    }
    /* a clean run frees its blocks itself; forget what is left (LSan's job) */
    heap_reset(0);
    return 0;
}

const char *fuzz_file(const char *name, const void *data, size_t n)
{
    static char *path;
    int was = active;
    active = 0;                     /* the harness's own file, not the parser's */
    free(path);
    path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) { perror(path); abort(); }
    active = was;
    return path;
}

FILE *fuzz_devnull(void)
{
    static FILE *f;
    int was = active;
    active = 0;
    if (!f && !(f = fopen("/dev/null", "w"))) { perror("/dev/null"); abort(); }
    active = was;
    return f;
}

size_t fuzz_split(const uint8_t *data, size_t n, const uint8_t **rest, size_t *rest_n)
{
    const uint8_t *sep = memmem(data, n, "\n--\n", 4);
    if (!sep) { *rest = data + n; *rest_n = 0; return n; }
    *rest = sep + 4;
    *rest_n = n - (size_t)(sep + 4 - data);
    return (size_t)(sep - data);
}
