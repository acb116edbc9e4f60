/* parquet.h - a reader for flat Parquet files, written as JSON Lines.
 *
 * Parquet (apache/parquet-format) stores a table column by column:
 *
 *   "PAR1" | row group 0: chunk of col 0 | chunk of col 1 | ... | row group 1 ...
 *          | FileMetaData (Thrift compact, thrift.h) | u32 LE footer length | "PAR1"
 *
 * Each column chunk is a sequence of pages (an optional dictionary page,
 * then data pages), each a Thrift PageHeader followed by its body, which
 * may be compressed (SNAPPY, GZIP, ZSTD, LZ4_RAW, LZ4).  A data page holds
 * definition levels (for OPTIONAL columns: 1 = value present, 0 = null) and
 * then the present values in one of the encodings (PLAIN, dictionary
 * indices, RLE, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
 * DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT).
 *
 * This reader handles flat schemas: top-level REQUIRED or OPTIONAL columns of
 * type BOOLEAN, INT32, INT64, INT96 (timestamps), FLOAT, DOUBLE, BYTE_ARRAY
 * and FIXED_LEN_BYTE_ARRAY.  It decodes the pages of a row group as its
 * rows are written (the first rows are out before the last page is read),
 * so memory holds about one page per column, never the file, and is
 * bounded by the decode budget below.  Nested columns,
 * encrypted files, decimals and unknown codecs or encodings are refused
 * with a message naming the file, the column and the feature.
 *
 * Every error in a file (truncation, lengths that point outside it,
 * impossible counts) stops the program with "prog: FILE: what" (exit 1).
 *
 * The code: footer.c (opening, schema, row groups), codecs.c, decoders.c
 * (value encodings), parquet.c (pages, chunks, rows out), thrift.c; what
 * they share is in pq_internal.h.
 */
#ifndef TFS_PARQUET_H
#define TFS_PARQUET_H

#include <stdint.h>
#include <stdio.h>

#include "core/jbuf.h"

/* Physical types (parquet.thrift enum Type). */
enum { PQ_BOOLEAN, PQ_INT32, PQ_INT64, PQ_INT96, PQ_FLOAT, PQ_DOUBLE, PQ_BYTE_ARRAY, PQ_FIXED };

/* A top-level field of the schema. */
struct pq_field {
    char *name;
    int type;           /* physical type, for a primitive field */
    int type_length;    /* width of a FIXED_LEN_BYTE_ARRAY */
    int optional;       /* 1: max definition level 1 (nulls possible) */
    int leaf;           /* index of its column chunk in a row group; -1 when nested */
    const char *unsupported;  /* why it cannot be read (nested, decimal ...), or NULL */
};

struct pq_file;

/* Open and read the footer; dies with "prog: PATH: what" if it is not a
 * readable Parquet file. */
struct pq_file *pq_open(const char *path);
/* The decode budget: what reading a file may allocate (footer, and for
 * each column of a row group its decompressed pages, levels, indices and
 * values held at once).
 * Run-length encoding lets a few bytes claim millions of values, so no
 * count in a file is trusted to size memory; past the budget the reader
 * stops with "FILE: decoding needs more than the memory budget ...".
 * Default: PQ_BUDGET_BASE + PQ_BUDGET_PER_BYTE x the file's size, plus
 * PQ_BUDGET_PER_VALUE for each value asked (rows of a limit x columns).
 * max_memory > 0 raises it to that many bytes. */
#define PQ_BUDGET_BASE      ((int64_t)64 << 20)
#define PQ_BUDGET_PER_BYTE  16
#define PQ_BUDGET_PER_VALUE 64
void pq_close(struct pq_file *pq);
/* The same for a file whose bytes arrive on demand: before reading bytes
 * [off, off + len) the reader calls need(arg, off, len), which must put
 * them in the file at path (a sparse local copy of a remote file of `size`
 * bytes; hf-fetch fills it with HTTP Range requests).  The reader asks for
 * the footer, then one row group at a time: the chunks of the columns
 * read, those less than 64 KiB apart in one call, and no other byte; so a
 * --limit that ends in the first row group fetches only that much. */
typedef void (*pq_need_fn)(void *arg, int64_t off, int64_t len);
struct pq_file *pq_open_lazy(const char *path, int64_t size, pq_need_fn need, void *arg, int64_t max_memory);

int pq_nfields(const struct pq_file *pq);
const struct pq_field *pq_field(const struct pq_file *pq, int i);
int pq_find(const struct pq_file *pq, const char *name);     /* -1 if absent */
int64_t pq_num_rows(const struct pq_file *pq);
int pq_num_row_groups(const struct pq_file *pq);
/* Write only the row groups [first, end) (0 <= first <= end <= the
 * number of row groups; dies otherwise).  The default is all of them.
 * A lazy file then fetches only those row groups' column chunks. */
void pq_keep_row_groups(struct pq_file *pq, int first, int end);

/* Which fields to write, under which keys.  n = 0 means every field under
 * its own name.  With skip_null a row whose selected value is null is left
 * out (used for {"text": ...} output).  Stops after `limit` rows written
 * (limit < 0: no limit).  Returns the number of rows written.  A limit
 * raises the decode budget by PQ_BUDGET_PER_VALUE per value asked. */
struct pq_select {
    int n;
    const int *field;       /* (n) field indices */
    const char *const *key; /* (n) output keys */
    int skip_null;
};
int64_t pq_write_jsonl(struct pq_file *pq, struct jbuf *out, const struct pq_select *sel, int64_t limit);

#endif
