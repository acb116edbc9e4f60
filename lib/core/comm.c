/* comm.c - the processes of a run, over MPI (see comm.h). */
#include "core/comm.h"
#include "core/xio.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int active, rank, size = 1;
static double waited;           /* seconds inside MPI calls */
static MPI_Request *pending;    /* the sums started and not yet finished */
static int npending, cap_pending;

/* A launcher started us: OpenMPI's mpirun, or a PMI/PMIx one (Slurm). */
static int launched(void)
{
    const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* An MPI call that failed: name it and the rank, and stop. */
static void check(int err, const char *call)
{
    if (err == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(err, msg, &len);
    die("rank %d of %d: %s failed: %.*s (did another process of the run stop?)", rank, size, call, len, msg);
}

void comm_init(void)
{
    if (active || !launched()) return;
    int provided;
    /* only the main thread calls MPI; OpenMP's threads never do */
    check(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    /* errors come back to check() instead of aborting without a word */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    active = 1;
}

void comm_finalize(void)
{
    free(pending);
    pending = NULL;
    npending = cap_pending = 0;
    if (!active) return;
    MPI_Finalize();
    active = 0;
}

int comm_active(void) { return active; }
int comm_rank(void) { return rank; }
int comm_size(void) { return size; }
double comm_seconds(void) { return waited; }

/* Buckets of 1 Mi floats (4 MiB): big enough that each message costs
 * mostly bandwidth, small enough that several are in flight at once. */
#define BUCKET ((size_t)1 << 20)

void comm_sum_start(float *buf, size_t n)
{
    if (size == 1 || !n) return;
    double t0 = MPI_Wtime();
    for (size_t lo = 0; lo < n; lo += BUCKET) {
        size_t k = n - lo < BUCKET ? n - lo : BUCKET;
        if (npending == cap_pending) {
            cap_pending = cap_pending ? 2 * cap_pending : 64;
            pending = xrealloc(pending, (size_t)cap_pending * sizeof *pending);
        }
        check(MPI_Iallreduce(MPI_IN_PLACE, buf + lo, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                             &pending[npending++]), "MPI_Iallreduce");
    }
    waited += MPI_Wtime() - t0;
}

void comm_sum_poll(void)
{
    if (!npending) return;
    int done;
    double t0 = MPI_Wtime();
    check(MPI_Testall(npending, pending, &done, MPI_STATUSES_IGNORE), "MPI_Testall (gradient sum)");
    waited += MPI_Wtime() - t0;
}

void comm_sum_finish(void)
{
    if (!npending) return;
    double t0 = MPI_Wtime();
    check(MPI_Waitall(npending, pending, MPI_STATUSES_IGNORE), "MPI_Waitall (gradient sum)");
    npending = 0;
    waited += MPI_Wtime() - t0;
}

void comm_sum_floats(float *buf, size_t n)
{
    comm_sum_start(buf, n);
    comm_sum_finish();
}

void comm_sum_doubles(double *buf, int n)
{
    if (size == 1) return;
    double t0 = MPI_Wtime();
    check(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    waited += MPI_Wtime() - t0;
}

int comm_max_int(int x)
{
    if (size == 1) return x;
    double t0 = MPI_Wtime();
    check(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    waited += MPI_Wtime() - t0;
    return x;
}

void comm_gather_all(const void *mine, void *all, size_t bytes)
{
    if (size == 1) { memmove(all, mine, bytes); return; }
    double t0 = MPI_Wtime();
    check(MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather");
    waited += MPI_Wtime() - t0;
}

void comm_barrier(void)
{
    if (size == 1) return;
    double t0 = MPI_Wtime();
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    waited += MPI_Wtime() - t0;
}

void comm_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (rank == 0) vwarnx(fmt, ap);
    va_end(ap);
    comm_barrier();
    comm_finalize();
    exit(1);
}

/* ---- slices (ZeRO-1) --------------------------------------------------------
 * n floats in size nearly equal slices: r's starts at floor(n r / size). */
size_t comm_slice_lo(size_t n, int r)
{
    return (size_t)((uint64_t)n * (uint64_t)r / (uint64_t)size);
}

/* The buckets of every rank's slice, each a message of its own rooted at
 * the slice's owner, WINDOW of them in flight at a time (a reduce's owner
 * holds a bucket-sized scratch per message under way): *nreq requests in
 * a new array, those from *first on still to be waited for.  Bucketed, MPI
 * needs no scratch the size of the block. */
#define WINDOW 4
static MPI_Request *slice_buckets(float *buf, size_t n, int reduce, int *nreq, int *first)
{
    size_t total = 0;
    for (int r = 0; r < size; r++)
        total += (comm_slice_lo(n, r + 1) - comm_slice_lo(n, r) + BUCKET - 1) / BUCKET;
    MPI_Request *req = xmalloc((total ? total : 1) * sizeof *req);
    int k = 0, f = 0;
    for (int r = 0; r < size; r++) {
        size_t lo = comm_slice_lo(n, r), hi = comm_slice_lo(n, r + 1);
        for (size_t a = lo; a < hi; a += BUCKET) {
            int len = (int)(hi - a < BUCKET ? hi - a : BUCKET);
            /* every rank starts them in the same order: waiting for the
             * oldest cannot block a peer that has not started it */
            if (k - f >= WINDOW) check(MPI_Wait(&req[f++], MPI_STATUS_IGNORE), "MPI_Wait");
            if (reduce)     /* the owner's bucket += everyone's */
                check(MPI_Ireduce(rank == r ? MPI_IN_PLACE : buf + a, buf + a, len, MPI_FLOAT, MPI_SUM, r,
                                  MPI_COMM_WORLD, &req[k++]), "MPI_Ireduce");
            else            /* the owner's bucket to everyone */
                check(MPI_Ibcast(buf + a, len, MPI_FLOAT, r, MPI_COMM_WORLD, &req[k++]), "MPI_Ibcast");
        }
    }
    *nreq = k;
    *first = f;
    return req;
}

/* Post the slices' messages (a reduce to each owner, or a broadcast from it)
 * and wait for those slice_buckets left in flight. */
static void slices_wait(float *buf, size_t n, int reduce, const char *what)
{
    if (size == 1) return;
    double t0 = MPI_Wtime();
    int k, f;
    MPI_Request *req = slice_buckets(buf, n, reduce, &k, &f);
    check(MPI_Waitall(k - f, req + f, MPI_STATUSES_IGNORE), what);
    free(req);
    waited += MPI_Wtime() - t0;
}

void comm_reduce_scatter(float *buf, size_t n)
{
    slices_wait(buf, n, 1, "MPI_Waitall (gradient reduce-scatter)");
}

void comm_all_gather(float *buf, size_t n)
{
    slices_wait(buf, n, 0, "MPI_Waitall (parameter all-gather)");
}

/* counts[r] and displs[r] of the slices, as MPI's ints */
static void slice_table(size_t n, int *counts, int *displs)
{
    for (int r = 0; r < size; r++) {
        size_t lo = comm_slice_lo(n, r), hi = comm_slice_lo(n, r + 1);
        if (hi - lo > (size_t)0x7fffffff) die("a slice of %zu floats is too large for one MPI message", hi - lo);
        counts[r] = (int)(hi - lo);
        displs[r] = (int)lo;
    }
}

void comm_gather_to0(const float *mine, float *all, size_t n)
{
    if (size == 1) { if (mine) memmove(all, mine, n * sizeof *all); return; }
    double t0 = MPI_Wtime();
    int *counts = xmalloc(2 * (size_t)size * sizeof *counts), *displs = counts + size;
    slice_table(n, counts, displs);
    const void *send = rank == 0 && !mine ? MPI_IN_PLACE : mine;
    check(MPI_Gatherv(send, counts[rank], MPI_FLOAT, all, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    free(counts);
    waited += MPI_Wtime() - t0;
}
