/* datafile.h - read a dataset file as rows and write them as JSON Lines.
 *
 * Formats (hfdata.h decides which from the name):
 *   Parquet      flat columns (parquet.h)
 *   JSON Lines   one object a line
 *   JSON         a top-level array of objects (or JSON Lines under a .json name)
 *   text         one row {"text": line} per line; or, when a line that is
 *                exactly <|endoftext|> appears in the first MiB, documents
 *                separated by such lines (TinyStories' own .txt files)
 * Text formats may be compressed with gzip or zstd, recognised by their
 * magic numbers (1F 8B; 28 B5 2F FD), whatever the file name says.
 */
#ifndef TFS_DATAFILE_H
#define TFS_DATAFILE_H

#include <stdint.h>

#include "core/jbuf.h"
#include "parquet/parquet.h"

/* Which columns to write, under which keys. */
struct row_sel {
    int n;                      /* 0: whole rows, every column */
    const char *const *src;     /* (n) column names in the file */
    const char *const *key;     /* (n) keys in the output */
    int text_only;              /* leave out rows whose value is null or not a string */
    int64_t max_memory;         /* Parquet decode budget (parquet.h); 0: the default */
    int rg_first, rg_end;       /* Parquet: rg_end > 0 writes only row groups [rg_first, rg_end) */
};

/* A Parquet file whose bytes arrive on demand (see pq_open_lazy). */
struct lazy_src {
    int64_t size;
    pq_need_fn need;
    void *arg;
};

/* Write the rows of the file at `path` (named `name` in messages), at most
 * `limit` of them (limit < 0: all).  lazy: NULL, or how to fetch the bytes
 * of a Parquet file as they are needed.  Returns the number written. */
int64_t datafile_write(const char *path, const char *name, int format, const struct row_sel *sel,
                       struct jbuf *out, int64_t limit, const struct lazy_src *lazy);

#endif
