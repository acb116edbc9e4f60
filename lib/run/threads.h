/* threads.h - one thread count for a run's OpenMP loops and its BLAS.
 *
 * Used by training (train.c) and evaluation (evaluate.c), which set it
 * from their --threads option before any work starts.
 */
#ifndef TFS_THREADS_H
#define TFS_THREADS_H

/* Set the number of threads of OpenMP and OpenBLAS (n > 0). */
void run_set_threads(int n);

#endif
