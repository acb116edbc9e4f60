/* fetchpool.c - parallel downloads into the cache, in order (see fetchpool.h). */
#include "hub/fetchpool.h"
#include "core/xio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct fetchpool {
    int jobs, nfiles, started;
    const struct hfcache *c;
    struct hub *h;
    const char *sha;
    const struct hf_file *files;
    pid_t *pid;             /* (nfiles) the child fetching file i; 0: none (cached, or reaped) */
};

/* On the parent's death: the downloads stop too. */
static void stop_children(void *arg)
{
    struct fetchpool *p = arg;
    for (int i = 0; i < p->nfiles; i++)
        if (p->pid[i] > 0) { kill(p->pid[i], SIGTERM); waitpid(p->pid[i], NULL, 0); p->pid[i] = 0; }
}

/* The child: fetch file i with a Hub connection of its own, then exit.
 * Its standard output goes nowhere: only the parent writes rows. */
static _Noreturn void child(const struct fetchpool *p, int i, pid_t parent)
{
    /* a parent killed by a signal (SIGPIPE from `| head`, say) runs no
     * handler: the kernel ends its downloads then (Linux) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    tfs_on_die_remove(stop_children, (void *)p);    /* the parent's business, not ours */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) { dup2(null, 1); close(null); }
    struct hub h;
    /* no progress bars from N children at once; warnings stay when
     * stderr is a log, not a terminal */
    hub_init(&h, 0, p->h->quiet || isatty(2));
    free(hfc_fetch(p->c, &h, p->sha, &p->files[i]));
    hub_free(&h);
    _exit(0);
}

static void start(struct fetchpool *p, int i)
{
    if (hfc_cached(p->c, p->sha, &p->files[i])) return;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) die_errno("cannot start a download process");
    if (pid == 0) child(p, i, parent);
    p->pid[i] = pid;
}

struct fetchpool *fetchpool_new(int jobs, const struct hfcache *c, struct hub *h, const char *sha,
                                const struct hf_file *files, int nfiles)
{
    struct fetchpool *p = xcalloc(1, sizeof *p);
    *p = (struct fetchpool){ jobs < 1 ? 1 : jobs, nfiles, 0, c, h, sha, files,
                             xcalloc((size_t)(nfiles ? nfiles : 1), sizeof *p->pid) };
    tfs_on_die(stop_children, p);
    return p;
}

char *fetchpool_get(struct fetchpool *p, int i)
{
    /* keep the window [i, i + jobs) downloading */
    while (p->started < p->nfiles && p->started < i + p->jobs) start(p, p->started++);
    if (p->pid[i] > 0) {
        int st;
        while (waitpid(p->pid[i], &st, 0) < 0)
            if (errno != EINTR) die_errno("waiting for the download of '%s'", p->files[i].path);
        p->pid[i] = 0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (WIFSIGNALED(st))
                die("%s: the download of '%s' was killed by signal %d", p->c->repo, p->files[i].path,
                    WTERMSIG(st));
            die_reported();     /* the child said why */
        }
    }
    /* in the cache now: the parent only links it (no request) */
    return hfc_fetch(p->c, p->h, p->sha, &p->files[i]);
}

void fetchpool_free(struct fetchpool *p)
{
    if (!p) return;
    stop_children(p);
    tfs_on_die_remove(stop_children, p);
    free(p->pid);
    free(p);
}
