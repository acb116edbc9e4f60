/* fetchpool.h - the files of a split downloaded N at a time, used in order.
 *
 * hf-fetch -j N: while the rows of file i are converted, files i+1 ..
 * i+N-1 are already downloading, each in a child process of its own
 * (fork: one libcurl handle and one download per process, the cache's
 * rules unchanged: resume, retries, size and digest checks, the blob lock
 * of hfcache.h).  The parent converts file i only when it is complete, so
 * the output is the same, byte for byte, as one download at a time.
 *
 *   fetchpool_get(p, 0)  starts files 0..N-1, waits for file 0
 *   fetchpool_get(p, 1)  starts file N, waits for file 1   ...
 *
 * Bounded: at most N children at once, whatever the number of files; the
 * parent holds no descriptor for them (it waits for their exit status),
 * and each child streams its file to disk.  A child that fails has said
 * why on stderr; the parent then stops (exit 1), and so do the others.
 */
#ifndef TFS_FETCHPOOL_H
#define TFS_FETCHPOOL_H

#include "hub/hfcache.h"
#include "hub/hub.h"

struct fetchpool;

/* Files files[0..nfiles) of commit sha, jobs at a time; h is the parent's
 * Hub connection (for files already cached: no child).  The arrays must
 * outlive the pool. */
struct fetchpool *fetchpool_new(int jobs, const struct hfcache *c, struct hub *h, const char *sha,
                                const struct hf_file *files, int nfiles);
/* The local path of file i (free it), once it is in the cache; files are
 * asked for in order. */
char *fetchpool_get(struct fetchpool *p, int i);
/* Stops the children still running (their partial files resume later). */
void fetchpool_free(struct fetchpool *p);

#endif
