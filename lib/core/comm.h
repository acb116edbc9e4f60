/* comm.h - the processes of one run and what they say to each other: a
 * thin layer over MPI (the Message Passing Interface, here Debian's
 * OpenMPI) for data-parallel training (run/dist.h).
 *
 * A program started by `mpirun -np N` is one of N processes, its rank
 * r = 0 .. N-1.  comm_init joins the others only when a launcher started
 * it (mpirun sets OMPI_COMM_WORLD_SIZE, Slurm's srun PMIX_RANK or
 * PMI_RANK); otherwise nothing of MPI runs and every call below is the
 * identity of a world of one: rank 0 of size 1, the reductions return
 * their input.  So a plain run does exactly what it did before MPI.
 *
 * Every failure of a call (a peer that died, a broken connection) stops
 * the program with a message naming the rank and the call, exit 1; mpirun
 * then ends the others.
 */
#ifndef TFS_COMM_H
#define TFS_COMM_H

#include <stddef.h>
#include <stdint.h>

/* Join the run when a launcher started this process (see above); the
 * second call does nothing.  comm_finalize leaves it (at the end of a run
 * that succeeded; a program that dies leaves without it). */
void comm_init(void);
void comm_finalize(void);

int comm_active(void);      /* MPI was initialised (even with one process) */
int comm_rank(void);        /* this process's rank, 0 without MPI */
int comm_size(void);        /* processes in the run, 1 without MPI */

/* buf[i] = sum over the ranks of buf[i], in place, on every rank.  Floats
 * go in buckets of a few MiB, each started (MPI_Iallreduce) before the
 * previous ones are waited for, so several are on the wire at once. */
void comm_sum_floats(float *buf, size_t n);
/* The same in three parts, to overlap the sums with computation: start
 * the sums of buf (they run while the caller computes, as far as MPI
 * progresses them: comm_sum_poll lets it, between pieces of work), then
 * wait for every sum started (comm_sum_finish); buf must not be touched
 * in between. */
void comm_sum_start(float *buf, size_t n);
void comm_sum_poll(void);
void comm_sum_finish(void);
void comm_sum_doubles(double *buf, int n);
/* The largest of the ranks' values, on every rank. */
int comm_max_int(int x);
/* Every rank's `bytes` bytes at `mine`, in rank order, into all (size x bytes). */
void comm_gather_all(const void *mine, void *all, size_t bytes);
/* All ranks wait for each other. */
void comm_barrier(void);
/* A problem every rank sees alike: rank 0 says it (as die() would), all
 * wait for that, then every rank exits 1, so that mpirun's ending of the
 * others cannot cut rank 0's message short. */
_Noreturn void comm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ZeRO-1's two halves over a block of n floats cut into comm_size()
 * slices, slice r = [comm_slice_lo(n, r), comm_slice_lo(n, r + 1)), each
 * sent in buckets of the same size as comm_sum_floats' (a reduce to, and
 * a broadcast from, the slice's owner), so that MPI needs no scratch block
 * as large as the whole:
 *   comm_reduce_scatter: slice r of the sum over the ranks of buf, into
 *     buf's slice r on rank r (the rest of buf is left undefined);
 *   comm_all_gather: every rank's slice r of buf to all ranks;
 *   comm_gather_to0: every rank's slice (mine, its own length) into all,
 *     on rank 0 only (all may be NULL elsewhere; mine NULL on rank 0: its
 *     slice is already in place in all). */
size_t comm_slice_lo(size_t n, int r);
void comm_reduce_scatter(float *buf, size_t n);
void comm_all_gather(float *buf, size_t n);
void comm_gather_to0(const float *mine, float *all, size_t n);

/* Seconds this process spent inside the calls above, waiting for the
 * others or for the network, since comm_init. */
double comm_seconds(void);

#endif
