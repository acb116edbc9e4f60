/* rangecache.h - the byte ranges of a Parquet file read without
 * downloading it whole (hf-fetch --limit on a large file, --list's
 * footers), kept between runs so that the next run asks for none of them
 * again.
 *
 *   $HF_HOME/tfs-hf-fetch/datasets--ORG--NAME/ranges/ETAG         a sparse copy:
 *                                     the bytes fetched, at their offsets
 *   $HF_HOME/tfs-hf-fetch/datasets--ORG--NAME/ranges/ETAG.ranges  "START END"
 *                                     a line: the intervals the copy holds
 *
 * A line is appended only once its bytes are written and synced, so the
 * list never claims a byte the copy does not hold: an interrupted run
 * leaves at most bytes that no line claims, fetched again next time.  The
 * ETAG is the file's sha256 (LFS) or git oid, so its bytes never change.
 * Small reads in the last 64 KiB are widened to those 64 KiB, so that the
 * footer length and the footer (and the whole of a small file) usually
 * come in one request; other reads (column chunks) are not widened, and a
 * request leaves out what is already held at either end of it, so that a
 * share of the row groups (hf-fetch --shard) asks for its own bytes only.
 */
#ifndef TFS_RANGECACHE_H
#define TFS_RANGECACHE_H

#include <stdint.h>

#include "hub/hfcache.h"
#include "hub/hub.h"

struct rcache {
    struct hub *h;
    const char *repo, *sha, *path;  /* the file asked for (path in the repo) */
    char *copy, *list;              /* the sparse copy and its list of intervals */
    int fd;                         /* the copy, open read-write */
    int64_t size;
    int whole;                      /* the copy holds the whole file */
    int n, cap;
    int64_t (*have)[2];             /* [start, end) intervals held */
};

/* Open (or start) the cached copy of file f of commit sha. */
void rcache_open(struct rcache *r, const struct hfcache *c, struct hub *h, const char *sha, const struct hf_file *f);
/* A pq_need_fn (parquet.h): make bytes [off, off + len) present in the copy. */
void rcache_need(void *arg, int64_t off, int64_t len);
void rcache_close(struct rcache *r);

#endif
