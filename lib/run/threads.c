/* threads.c - thread set-up of a run (see threads.h). */
#include "run/threads.h"

#include <cblas.h>
#include <omp.h>

void run_set_threads(int n)
{
    /* One thread count for both: OpenBLAS is the OpenMP build (Makefile),
     * so its GEMMs and our loops share libgomp's team. */
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}
