/* pq_internal.h - what the parts of the Parquet reader share (not an API:
 * parquet.h is).
 *
 * The reader is split along the format's own lines:
 *   footer.c    the footer: schema, row groups, opening a file
 *   codecs.c    page decompression (SNAPPY, GZIP, ZSTD, LZ4_RAW, LZ4)
 *   decoders.c  the value encodings (PLAIN, dictionary, RLE/bit-packed
 *               hybrid, DELTA_*, BYTE_STREAM_SPLIT) and definition levels
 *   parquet.c   page headers, column chunks, rows out as JSON Lines
 *   thrift.c    the Thrift compact protocol of all metadata
 *
 * References: apache/parquet-format parquet.thrift (field ids),
 * Encodings.md (the value encodings), Compression.md (codecs).
 */
#ifndef TFS_PQ_INTERNAL_H
#define TFS_PQ_INTERNAL_H

#include "parquet/parquet.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A corrupt file can claim any count; these bound what we allocate before
 * the data has proved it holds that much. */
#define MAX_PAGE_BYTES   ((size_t)1 << 30)     /* one decompressed page */
#define MAX_FOOTER_BYTES ((size_t)1 << 28)
/* Rows in one row group: a sanity bound (pyarrow writes 1Mi rows at most).
 * What bounds memory is the decode budget (parquet.h): run-length encoding
 * lets a few bytes claim millions of values, and each costs its width or
 * ~21 bytes of bookkeeping (pointer and length of a string, a dictionary
 * index, a definition level). */
#define MAX_ROWS         ((int64_t)1 << 24)
#define MAX_STRING_BYTES ((size_t)1 << 30)     /* rebuilt DELTA_BYTE_ARRAY bytes per page */

enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICT = 2, PAGE_DATA_V2 = 3 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_DELTA_BINARY = 5,
       ENC_DELTA_LENGTH = 6, ENC_DELTA_BYTE_ARRAY = 7, ENC_RLE_DICT = 8, ENC_BYTE_STREAM_SPLIT = 9 };
enum { CODEC_NONE = 0, CODEC_SNAPPY = 1, CODEC_GZIP = 2, CODEC_LZO = 3, CODEC_BROTLI = 4,
       CODEC_LZ4 = 5, CODEC_ZSTD = 6, CODEC_LZ4_RAW = 7 };

static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }  /* LE hosts */
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- the file and its footer (footer.c) ---- */

struct chunk_meta {
    int type, codec;
    int64_t num_values;
    int64_t start, size;    /* byte range of the chunk's pages in the file */
};

struct rowgroup_meta {
    int64_t num_rows;
    struct chunk_meta *chunk;   /* (nleaves) */
};

struct pq_file {
    int fd;
    char *name;
    int64_t size;
    pq_need_fn need;            /* fetch bytes before reading them, or NULL */
    void *need_arg;
    const uint8_t *map;         /* the whole file, mapped read-only (NULL: use pread) */
    int nfields, nleaves;
    struct pq_field *field;     /* (nfields) top-level fields */
    int64_t num_rows;
    int nrg;
    struct rowgroup_meta *rg;   /* (nrg) */
    int rg_first, rg_end;       /* the row groups pq_write_jsonl writes (pq_keep_row_groups) */
    int64_t budget, used;       /* decode budget (parquet.h) and what is allocated of it */
};

/* Account for `bytes` about to be allocated for `what`; dies when the
 * decode budget would be exceeded.  pq_release gives them back. */
void pq_charge(struct pq_file *pq, int64_t bytes, const char *what);
void pq_release(struct pq_file *pq, int64_t bytes);

/* Read n bytes at off (fetching them first for a lazy file); dies on a
 * short file. */
void pq_pread_all(struct pq_file *pq, void *buf, size_t n, int64_t off);

/* ---- column state: the decoded values of one column in one row group
 * (parquet.c).  Pages are decoded as the rows are written: when every row
 * decoded so far is out, the values and page buffers are dropped and the
 * next page is decoded, so a row group's first rows are out before its
 * last page is read, and memory holds about one page per column. ---- */

struct bytes { const uint8_t *p; uint32_t len; };

struct colvec {
    struct pq_file *pq;
    const struct pq_field *f;
    int codec;
    int width;              /* bytes per value of a fixed-size type; 0 for BYTE_ARRAY */
    int64_t rows;           /* rows in the row group */
    int64_t nlev;           /* rows decoded so far */
    int64_t base;           /* the row of def[0] and of the first value held */
    uint8_t *def;           /* (nlev - base) 1 = present; NULL for REQUIRED */
    int64_t def_cap;
    const uint8_t *pg, *pg_end; /* the chunk's pages not decoded yet */
    int64_t nv, cap;        /* present values decoded, allocated */
    uint8_t *fixed;         /* (cap * width) fixed-size values */
    struct bytes *var;      /* (cap) byte arrays, pointing into bufs */
    /* the dictionary page's values */
    int64_t ndict;
    uint8_t *dict_fixed;
    struct bytes *dict_var;
    int have_dict;
    /* buffers that byte arrays point into, freed with the row group */
    uint8_t **buf;
    size_t *buf_len;
    int nbuf, capbuf;
    int nkeep;              /* buf[0, nkeep) live as long as the chunk (its copy, the dictionary) */
    uint32_t *idx;          /* scratch: dictionary indices of a page */
    int64_t idx_cap;
    int64_t cursor;         /* next present value to write */
    int64_t charged;        /* bytes of the decode budget held, released with the row group */
};

/* pq_charge for a column's row group: released by colvec_free. */
void pq_col_charge(struct colvec *c, int64_t bytes, const char *what);

/* "prog: FILE: column 'NAME': what", exit 1. */
_Noreturn __attribute__((format(printf, 2, 3)))
void pq_col_die(const struct colvec *c, const char *fmt, ...);
/* A buffer of n bytes that lives as long as the row group's values. */
uint8_t *pq_keep(struct colvec *c, size_t n);
/* Make room for `more` present values. */
void pq_grow(struct colvec *c, int64_t more);

/* ---- codecs.c ---- */

/* The most a codec's output can be per input byte (0: no compression). */
int64_t pq_max_ratio(int codec);

/* Decompress a page body of n bytes with the chunk's codec into exactly dn
 * bytes. */
void pq_decompress(struct colvec *c, const uint8_t *src, size_t n, uint8_t *dst, size_t dn);

/* ---- decoders.c ---- */

/* n values of the RLE / bit-packed hybrid, bw bits each, into out;
 * returns the end of what was read, or NULL if the data ends early. */
const uint8_t *pq_rle_hybrid(const uint8_t *p, const uint8_t *end, int bw, uint32_t *out, int64_t n);
/* DELTA_BINARY_PACKED: up to max values into out (NULL: only count);
 * *total = their count.  Returns the end of the data or NULL if corrupt. */
const uint8_t *pq_delta_binary(const uint8_t *p, const uint8_t *end, int64_t *out, int64_t max, int64_t *total);

/* The dictionary page of a column chunk: `count` PLAIN values in n bytes. */
void pq_dict_page(struct colvec *c, const uint8_t *p, size_t n, int64_t count, int encoding);
/* A data page: the definition levels of `nvalues` rows in [lev, lev +
 * lev_len) (v1: length-prefixed, and the values follow them), then the
 * present values in [val, val_end). */
void pq_data_page(struct colvec *c, const uint8_t *lev, size_t lev_len, int v1,
                  const uint8_t *val, const uint8_t *val_end, int64_t nvalues, int encoding, int def_encoding);

#endif
