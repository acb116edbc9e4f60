/* unit.h - a minimal unit-test harness for the C tests.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); }
 *   int main(void) { RUN(name); return unit_summary(); }
 *
 * Each failed CHECK prints file:line and the expression; a test passes when
 * none of its checks failed.  unit_summary prints "N passed, N failed" and
 * returns non-zero when anything failed.
 *
 * Tests that must check that a function dies (exit 1 with a message) use
 * EXPECT_DIE(stmt, "message part"): the statement runs in a forked child
 * whose stderr is captured and searched.
 */
#ifndef TFS_UNIT_H
#define TFS_UNIT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int unit_failed_checks, unit_passed, unit_failed;

#define TEST(name) static void test_##name(void)
#define CHECK(cond) do { if (!(cond)) { unit_failed_checks++; \
    fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); if (!(fabs(a_ - b_) <= (tol))) { \
    unit_failed_checks++; fprintf(stderr, "  %s:%d: %s = %.9g, expected %s = %.9g (tol %g)\n", \
    __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); } } while (0)
#define RUN(name) unit_run(#name, test_##name)

static inline void unit_run(const char *name, void (*fn)(void))
{
    int before = unit_failed_checks;
    fn();
    if (unit_failed_checks == before) { unit_passed++; printf("ok - %s\n", name); }
    else { unit_failed++; printf("not ok - %s\n", name); }
    fflush(stdout);
}

static inline int unit_summary(void)
{
    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}

/* Run stmt in a child; pass when it exits with `code` and its stderr
 * contains `needle`. */
#define EXPECT_DIE(stmt, needle) EXPECT_EXIT(stmt, 1, needle)
#define EXPECT_EXIT(stmt, code, needle) do { \
    int fd_[2]; fflush(stdout); fflush(stderr); \
    if (pipe(fd_) != 0) { perror("pipe"); exit(2); } \
    pid_t pid_ = fork(); \
    if (pid_ == 0) { close(fd_[0]); dup2(fd_[1], 2); stmt; _exit(0); } \
    close(fd_[1]); char buf_[4096]; size_t n_ = 0; ssize_t k_; \
    while (n_ < sizeof buf_ - 1 && (k_ = read(fd_[0], buf_ + n_, sizeof buf_ - 1 - n_)) > 0) n_ += (size_t)k_; \
    buf_[n_] = 0; close(fd_[0]); int st_; waitpid(pid_, &st_, 0); \
    if (!WIFEXITED(st_) || WEXITSTATUS(st_) != (code) || !strstr(buf_, (needle))) { unit_failed_checks++; \
        fprintf(stderr, "  %s:%d: expected exit %d with \"%s\"; got status %d, stderr: %s\n", \
        __FILE__, __LINE__, (code), (needle), WIFEXITED(st_) ? WEXITSTATUS(st_) : -1, buf_); } \
} while (0)

/* A scratch directory for the test's files, removed at exit. */
static char unit_tmpdir[256];
static pid_t unit_tmp_owner;
static inline void unit_rmtmp(void)
{
    if (getpid() != unit_tmp_owner) return;     /* not in EXPECT_DIE children */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", unit_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", unit_tmpdir);
}
static inline const char *unit_tmp(const char *name)
{
    static char path[512];
    if (!unit_tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(unit_tmpdir, sizeof unit_tmpdir, "%s/tfs-unit-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(unit_tmpdir)) { perror("mkdtemp"); exit(2); }
        unit_tmp_owner = getpid();
        atexit(unit_rmtmp);
    }
    snprintf(path, sizeof path, "%s/%s", unit_tmpdir, name);
    return path;
}

#endif
