/* parquet.c - flat Parquet files to JSON Lines (see parquet.h).
 *
 * Sections: limits and helpers -> footer (schema, row groups) -> codecs ->
 * bit-level decoders (RLE/bit-packed hybrid, delta) -> pages -> column
 * chunks -> rows out.
 *
 * References: apache/parquet-format parquet.thrift (field ids below),
 * Encodings.md (the value encodings), Compression.md (codecs).
 */
#include "parquet/parquet.h"
#include "parquet/thrift.h"
#include "core/xio.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

/* ======================================================================
 * Limits and helpers
 * ====================================================================== */

/* A corrupt file can claim any count; these bound what we allocate before
 * the data has proved it holds that much. */
#define MAX_PAGE_BYTES   ((size_t)1 << 30)     /* one decompressed page */
#define MAX_FOOTER_BYTES ((size_t)1 << 28)
/* Rows in one row group.  Values are decoded one row group at a time, and
 * run-length encoding lets a few bytes claim millions of values, so this is
 * what bounds memory: at most ~21 bytes of bookkeeping per row (pointer and
 * length of a string, a dictionary index, a definition level), 350 MB.
 * Writers use far smaller row groups (pyarrow: 1Mi rows at most). */
#define MAX_ROWS         ((int64_t)1 << 24)
#define MAX_STRING_BYTES ((size_t)1 << 30)     /* rebuilt DELTA_BYTE_ARRAY bytes per page */

enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICT = 2, PAGE_DATA_V2 = 3 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_DELTA_BINARY = 5,
       ENC_DELTA_LENGTH = 6, ENC_DELTA_BYTE_ARRAY = 7, ENC_RLE_DICT = 8, ENC_BYTE_STREAM_SPLIT = 9 };
enum { CODEC_NONE = 0, CODEC_SNAPPY = 1, CODEC_GZIP = 2, CODEC_LZO = 3, CODEC_BROTLI = 4,
       CODEC_LZ4 = 5, CODEC_ZSTD = 6, CODEC_LZ4_RAW = 7 };

static const char *codec_name(int c)
{
    static const char *names[] = { "UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW" };
    return c >= 0 && c < 8 ? names[c] : "unknown";
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }  /* LE hosts */
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ======================================================================
 * Footer: schema and row groups
 * ====================================================================== */

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
};

/* One SchemaElement (parquet.thrift), as much as we need of it. */
struct schema_el {
    const uint8_t *name; size_t name_len;
    int type, type_length, repetition, num_children, converted, logical;
    int has_type;
};

static void read_schema_el(struct thrift *t, struct schema_el *e)
{
    int last = 0, id, ft;
    memset(e, 0, sizeof *e);
    e->type = -1; e->converted = -1; e->logical = -1;
    thrift_enter(t);
    while (thrift_field(t, &last, &id, &ft)) {
        switch (id) {
        case 1: e->type = (int)thrift_int(t, ft); e->has_type = 1; break;
        case 2: e->type_length = (int)thrift_int(t, ft); break;
        case 3: e->repetition = (int)thrift_int(t, ft); break;
        case 4: if (ft != TT_BINARY) thrift_corrupt(t, "schema name"); e->name = thrift_binary(t, &e->name_len); break;
        case 5: e->num_children = (int)thrift_int(t, ft); break;
        case 6: e->converted = (int)thrift_int(t, ft); break;
        case 10:    /* LogicalType: a union, the set field's id names the type */
            if (ft != TT_STRUCT) thrift_corrupt(t, "logical type");
            {
                int l2 = 0, id2, ft2;
                thrift_enter(t);
                while (thrift_field(t, &l2, &id2, &ft2)) { e->logical = id2; thrift_skip(t, ft2); }
                thrift_leave(t);
            }
            break;
        default: thrift_skip(t, ft);
        }
    }
    thrift_leave(t);
}

/* Count the leaves (primitive columns) in the subtree at el[*i], advancing
 * *i past it. */
static int subtree_leaves(struct thrift *t, const struct schema_el *el, size_t n, size_t *i, int depth)
{
    if (*i >= n) thrift_corrupt(t, "schema has fewer elements than its groups claim");
    if (depth > 64) thrift_corrupt(t, "schema nested too deeply");
    const struct schema_el *e = &el[(*i)++];
    if (e->num_children <= 0) return 1;
    int leaves = 0;
    for (int c = 0; c < e->num_children; c++) leaves += subtree_leaves(t, el, n, i, depth + 1);
    return leaves;
}

static void build_fields(struct pq_file *pq, struct thrift *t, const struct schema_el *el, size_t n)
{
    if (n < 1 || el[0].num_children < 0) thrift_corrupt(t, "empty schema");
    pq->nfields = el[0].num_children;
    if ((size_t)pq->nfields > n - 1) thrift_corrupt(t, "schema root claims more children than elements");
    pq->field = xcalloc((size_t)pq->nfields + 1, sizeof *pq->field);
    size_t i = 1;
    int leaf = 0;
    for (int f = 0; f < pq->nfields; f++) {
        const struct schema_el *e = &el[i];
        struct pq_field *pf = &pq->field[f];
        pf->name = xmalloc(e->name_len + 1);
        memcpy(pf->name, e->name, e->name_len);
        pf->name[e->name_len] = 0;
        int leaves = subtree_leaves(t, el, n, &i, 0);
        pf->leaf = -1;
        pf->type = e->type;
        pf->type_length = e->type_length;
        pf->optional = e->repetition == 1;
        if (e->num_children > 0) pf->unsupported = "a nested group (struct, list or map)";
        else if (e->repetition == 2) pf->unsupported = "a repeated field";
        else if (!e->has_type || e->type < 0 || e->type > PQ_FIXED) pf->unsupported = "of an unknown physical type";
        else if (e->converted == 5 || e->logical == 5) pf->unsupported = "a DECIMAL";
        else if (e->logical == 15) pf->unsupported = "a FLOAT16";
        else if (e->converted == 21) pf->unsupported = "an INTERVAL";
        else if (e->type == PQ_FIXED && e->type_length <= 0) thrift_corrupt(t, "FIXED_LEN_BYTE_ARRAY without a length");
        else pf->leaf = leaf;
        leaf += leaves;
    }
    if (i != n) thrift_corrupt(t, "schema elements left over after the root's children");
    pq->nleaves = leaf;
}

static void read_column_meta(struct thrift *t, struct chunk_meta *cm)
{
    int last = 0, id, ft;
    int64_t data_off = -1, dict_off = -1, size = -1;
    cm->type = -1; cm->codec = -1; cm->num_values = -1;
    thrift_enter(t);
    while (thrift_field(t, &last, &id, &ft)) {
        switch (id) {
        case 1: cm->type = (int)thrift_int(t, ft); break;
        case 4: cm->codec = (int)thrift_int(t, ft); break;
        case 5: cm->num_values = thrift_int(t, ft); break;
        case 7: size = thrift_int(t, ft); break;
        case 9: data_off = thrift_int(t, ft); break;
        case 11: dict_off = thrift_int(t, ft); break;
        default: thrift_skip(t, ft);
        }
    }
    thrift_leave(t);
    if (cm->type < 0 || cm->codec < 0 || cm->num_values < 0 || size < 0 || data_off < 0)
        thrift_corrupt(t, "column metadata lacks a required field");
    /* The chunk starts at its dictionary page when there is one (some
     * writers put 0 there to mean "none"). */
    cm->start = dict_off > 0 && dict_off < data_off ? dict_off : data_off;
    cm->size = size;
}

static void read_row_group(struct pq_file *pq, struct thrift *t, struct rowgroup_meta *rg)
{
    int last = 0, id, ft, have_rows = 0;
    size_t ncols = 0;
    rg->num_rows = -1;
    thrift_enter(t);
    while (thrift_field(t, &last, &id, &ft)) {
        if (id == 1 && ft == TT_LIST) {
            int elem;
            ncols = thrift_list(t, &elem);
            if (elem != TT_STRUCT) thrift_corrupt(t, "row group columns");
            if (ncols != (size_t)pq->nleaves)
                die("%s: a row group has %zu column chunks but the schema %d columns", pq->name, ncols, pq->nleaves);
            rg->chunk = xcalloc(ncols + 1, sizeof *rg->chunk);
            for (size_t c = 0; c < ncols; c++) {
                /* ColumnChunk: 1 file_path, 2 file_offset, 3 meta_data,
                 * 8 crypto_metadata, 9 encrypted_column_metadata */
                int l2 = 0, id2, ft2, have_meta = 0;
                thrift_enter(t);
                while (thrift_field(t, &l2, &id2, &ft2)) {
                    if (id2 == 3 && ft2 == TT_STRUCT) { read_column_meta(t, &rg->chunk[c]); have_meta = 1; }
                    else if (id2 == 1) die("%s: column chunks in other files are not supported", pq->name);
                    else if (id2 == 8 || id2 == 9) die("%s: encrypted columns are not supported", pq->name);
                    else thrift_skip(t, ft2);
                }
                thrift_leave(t);
                if (!have_meta) thrift_corrupt(t, "column chunk without metadata");
            }
        } else if (id == 3) { rg->num_rows = thrift_int(t, ft); have_rows = 1; }
        else thrift_skip(t, ft);
    }
    thrift_leave(t);
    if (!have_rows || rg->num_rows < 0) thrift_corrupt(t, "row group without a row count");
    if (!rg->chunk) {
        if (pq->nleaves) thrift_corrupt(t, "row group without columns");
        rg->chunk = xcalloc(1, sizeof *rg->chunk);
    }
}

static void pread_all(struct pq_file *pq, void *buf, size_t n, int64_t off)
{
    if (pq->need && n) pq->need(pq->need_arg, off, (int64_t)n);
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(pq->fd, (char *)buf + done, n - done, (off_t)(off + (int64_t)done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die_errno("%s: read error", pq->name);
        if (k == 0) die("%s: file truncated", pq->name);
        done += (size_t)k;
    }
}

struct pq_file *pq_open(const char *path) { return pq_open_lazy(path, -1, NULL, NULL); }

struct pq_file *pq_open_lazy(const char *path, int64_t size, pq_need_fn need, void *arg)
{
    /* Column chunks are tens of MB, allocated and freed once per row group.
     * glibc serves blocks that large with fresh mmap()s by default, so
     * every row group would fault in its pages anew; keep them in the heap
     * for reuse instead. */
    static int malloc_tuned;
    if (!malloc_tuned) {
        mallopt(M_MMAP_THRESHOLD, 1 << 30);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
        malloc_tuned = 1;
    }
    struct pq_file *pq = xcalloc(1, sizeof *pq);
    pq->name = xstrdup(path);
    pq->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pq->fd < 0) die_errno("cannot open '%s'", path);
    struct stat st;
    if (fstat(pq->fd, &st) != 0) die_errno("%s", path);
    pq->size = size >= 0 ? size : st.st_size;
    pq->need = need;
    pq->need_arg = arg;
    /* Column chunks are read straight from a read-only mapping: no copy
     * from the page cache, and uncompressed pages are used in place. */
    if (pq->size > 0 && (uint64_t)pq->size <= SIZE_MAX && (int64_t)st.st_size >= pq->size) {
        void *m = mmap(NULL, (size_t)pq->size, PROT_READ, MAP_SHARED, pq->fd, 0);
        if (m != MAP_FAILED) pq->map = m;
    }

    /* "PAR1" at both ends; the 4 bytes before the trailing magic give the
     * footer length. */
    uint8_t head[4], tail[8];
    if (pq->size < 12) die("%s: not a Parquet file (too short)", path);
    pread_all(pq, head, 4, 0);
    pread_all(pq, tail, 8, pq->size - 8);
    if (memcmp(tail + 4, "PARE", 4) == 0)
        die("%s: encrypted Parquet files (PARE footer) are not supported", path);
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0)
        die("%s: not a Parquet file (no PAR1 magic)", path);
    uint32_t flen = rd32(tail);
    if ((int64_t)flen > pq->size - 12 || flen > MAX_FOOTER_BYTES)
        die("%s: corrupt footer length %u (file is %lld bytes)", path, flen, (long long)pq->size);
    uint8_t *footer = xmalloc(flen);
    pread_all(pq, footer, flen, pq->size - 8 - flen);

    /* FileMetaData: 1 version, 2 schema, 3 num_rows, 4 row_groups,
     * 8 encryption_algorithm (plaintext footer of an encrypted file). */
    struct thrift t;
    thrift_init(&t, footer, flen, pq->name);
    int last = 0, id, ft, elem, have_schema = 0;
    struct schema_el *el = NULL;
    size_t nel = 0;
    const uint8_t *rg_start = NULL;
    size_t nrg = 0;
    thrift_enter(&t);
    while (thrift_field(&t, &last, &id, &ft)) {
        if (id == 2 && ft == TT_LIST) {
            nel = thrift_list(&t, &elem);
            if (elem != TT_STRUCT) thrift_corrupt(&t, "schema list");
            el = xcalloc(nel + 1, sizeof *el);
            for (size_t i = 0; i < nel; i++) read_schema_el(&t, &el[i]);
            have_schema = 1;
        } else if (id == 3) {
            pq->num_rows = thrift_int(&t, ft);
        } else if (id == 4 && ft == TT_LIST) {
            /* Row groups come after the schema in every writer's output, but
             * remember where they start and read them once both are known. */
            nrg = thrift_list(&t, &elem);
            if (elem != TT_STRUCT) thrift_corrupt(&t, "row group list");
            rg_start = t.p;
            for (size_t i = 0; i < nrg; i++) thrift_skip(&t, TT_STRUCT);
        } else if (id == 8) {
            die("%s: encrypted Parquet files are not supported", path);
        } else thrift_skip(&t, ft);
    }
    thrift_leave(&t);
    if (!have_schema) thrift_corrupt(&t, "no schema");
    build_fields(pq, &t, el, nel);
    free(el);

    pq->nrg = (int)nrg;
    pq->rg = xcalloc(nrg + 1, sizeof *pq->rg);
    if (rg_start) {
        struct thrift r;
        thrift_init(&r, rg_start, (size_t)(footer + flen - rg_start), pq->name);
        for (size_t i = 0; i < nrg; i++) read_row_group(pq, &r, &pq->rg[i]);
    }
    /* Every chunk must lie between the leading magic and the footer. */
    int64_t data_end = pq->size - 8 - (int64_t)flen;
    for (int g = 0; g < pq->nrg; g++) {
        if (pq->rg[g].num_rows > MAX_ROWS)
            die("%s: row group %d claims %lld rows (more than this reader's limit of %lld)", path, g,
                (long long)pq->rg[g].num_rows, (long long)MAX_ROWS);
        for (int c = 0; c < pq->nleaves; c++) {
            const struct chunk_meta *cm = &pq->rg[g].chunk[c];
            if (cm->start < 4 || cm->size < 0 || cm->start > data_end || cm->size > data_end - cm->start)
                die("%s: row group %d, column chunk %d: byte range outside the file", path, g, c);
        }
    }
    free(footer);
    return pq;
}

void pq_close(struct pq_file *pq)
{
    if (!pq) return;
    if (pq->map) munmap((void *)pq->map, (size_t)pq->size);
    close(pq->fd);
    for (int f = 0; f < pq->nfields; f++) free(pq->field[f].name);
    for (int g = 0; g < pq->nrg; g++) free(pq->rg[g].chunk);
    free(pq->field); free(pq->rg); free(pq->name);
    free(pq);
}

int pq_nfields(const struct pq_file *pq) { return pq->nfields; }
const struct pq_field *pq_field(const struct pq_file *pq, int i) { return &pq->field[i]; }
int64_t pq_num_rows(const struct pq_file *pq) { return pq->num_rows; }
int pq_num_row_groups(const struct pq_file *pq) { return pq->nrg; }

int pq_find(const struct pq_file *pq, const char *name)
{
    for (int f = 0; f < pq->nfields; f++)
        if (strcmp(pq->field[f].name, name) == 0) return f;
    return -1;
}

/* ======================================================================
 * Column state: the decoded values of one column in one row group
 * ====================================================================== */

struct bytes { const uint8_t *p; uint32_t len; };

struct colvec {
    const struct pq_file *pq;
    const struct pq_field *f;
    int codec;
    int width;              /* bytes per value of a fixed-size type; 0 for BYTE_ARRAY */
    int64_t rows;           /* rows in the row group */
    int64_t nlev;           /* rows decoded so far */
    uint8_t *def;           /* (rows) 1 = present; NULL for REQUIRED */
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
    int nbuf, capbuf;
    uint32_t *idx;          /* scratch: dictionary indices of a page */
    int64_t idx_cap;
    int64_t cursor;         /* next present value to write */
};

_Noreturn __attribute__((format(printf, 2, 3)))
static void col_die(const struct colvec *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    die("%s: column '%s': %s", c->pq->name, c->f->name, msg);
}

static uint8_t *keep(struct colvec *c, size_t n)
{
    if (c->nbuf == c->capbuf) {
        c->capbuf = c->capbuf ? 2 * c->capbuf : 8;
        c->buf = xrealloc(c->buf, (size_t)c->capbuf * sizeof *c->buf);
    }
    return c->buf[c->nbuf++] = xmalloc(n ? n : 1);
}

static void colvec_free(struct colvec *c)
{
    for (int i = 0; i < c->nbuf; i++) free(c->buf[i]);
    free(c->buf); free(c->def); free(c->fixed); free(c->var);
    free(c->dict_fixed); free(c->dict_var); free(c->idx);
    memset(c, 0, sizeof *c);
}

/* Make room for `more` present values (the file has already shown that
 * they exist: callers check the bytes before asking). */
static void grow(struct colvec *c, int64_t more)
{
    if (c->nv + more <= c->cap) return;
    int64_t cap = c->cap ? c->cap : 1024;
    while (cap < c->nv + more) cap *= 2;
    if (c->width) c->fixed = xrealloc(c->fixed, (size_t)cap * (size_t)c->width);
    else c->var = xrealloc(c->var, (size_t)cap * sizeof *c->var);
    c->cap = cap;
}

/* ======================================================================
 * Codecs
 * ====================================================================== */

static void gunzip(struct colvec *c, const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    /* A GZIP page may hold several gzip members one after another (RFC 1952
     * section 2.2): inflate, and at each member's end restart on the rest. */
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) col_die(c, "zlib initialisation failed");
    z.next_in = (Bytef *)src; z.avail_in = (uInt)n;
    z.next_out = dst; z.avail_out = (uInt)dn;
    for (;;) {
        int r = inflate(&z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) {
            if (z.avail_in == 0 || z.avail_out == 0) break;
            inflateReset(&z);
            continue;
        }
        if (r != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
            inflateEnd(&z);
            col_die(c, "corrupt GZIP page");
        }
        if (z.avail_out == 0) break;
    }
    size_t got = dn - z.avail_out;
    inflateEnd(&z);
    if (got != dn) col_die(c, "GZIP page holds %zu bytes, header says %zu", got, dn);
}

/* Hadoop's LZ4 framing (codec LZ4, deprecated): blocks of
 * [u32 BE decompressed size][u32 BE compressed size][LZ4 block]. */
static int lz4_hadoop(const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    size_t in = 0, out = 0;
    while (in + 8 <= n) {
        uint32_t du = (uint32_t)src[in] << 24 | (uint32_t)src[in + 1] << 16 | (uint32_t)src[in + 2] << 8 | src[in + 3];
        uint32_t cu = (uint32_t)src[in + 4] << 24 | (uint32_t)src[in + 5] << 16 | (uint32_t)src[in + 6] << 8 | src[in + 7];
        in += 8;
        if (cu > n - in || du > dn - out) return 0;
        int k = LZ4_decompress_safe((const char *)src + in, (char *)dst + out, (int)cu, (int)du);
        if (k < 0 || (uint32_t)k != du) return 0;
        in += cu; out += du;
    }
    return in == n && out == dn;
}

/* Decompress a page body of n bytes into exactly dn bytes. */
static void decompress(struct colvec *c, const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    switch (c->codec) {
    case CODEC_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != dn)
            col_die(c, "corrupt SNAPPY page");
        if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK || len != dn)
            col_die(c, "corrupt SNAPPY page");
        return;
    }
    case CODEC_GZIP: gunzip(c, src, n, dst, dn); return;
    case CODEC_ZSTD: {
        /* ZSTD_decompress also walks several frames one after another. */
        uint8_t dummy;
        size_t r = ZSTD_decompress(dn ? dst : &dummy, dn, src, n);
        if (ZSTD_isError(r)) col_die(c, "corrupt ZSTD page: %s", ZSTD_getErrorName(r));
        if (r != dn) col_die(c, "ZSTD page holds %zu bytes, header says %zu", r, dn);
        return;
    }
    case CODEC_LZ4_RAW: {
        if (n > INT32_MAX || dn > INT32_MAX) col_die(c, "LZ4 page too large");
        int k = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)dn);
        if (k < 0 || (size_t)k != dn) col_die(c, "corrupt LZ4_RAW page");
        return;
    }
    case CODEC_LZ4:
        /* Writers disagreed on this codec's framing: try Hadoop's, then a
         * bare LZ4 block, as other readers do. */
        if (n <= INT32_MAX && dn <= INT32_MAX && !lz4_hadoop(src, n, dst, dn)) {
            int k = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)dn);
            if (k < 0 || (size_t)k != dn) col_die(c, "corrupt LZ4 page");
        }
        return;
    default:
        col_die(c, "compression codec %s is not supported", codec_name(c->codec));
    }
}

/* ======================================================================
 * Bit-level decoders
 * ====================================================================== */

/* Value i of a little-endian bit-packed run of `bw`-bit values starting at
 * p, where bytes [p, end) are available (reads past end are zero). */
static inline uint64_t unpack(const uint8_t *p, const uint8_t *end, int64_t i, int bw)
{
    uint64_t bit = (uint64_t)i * (uint64_t)bw;
    const uint8_t *q = p + (bit >> 3);
    int shift = (int)(bit & 7);
    uint64_t lo;
    if (end - q >= 8) lo = rd64(q);
    else { lo = 0; for (int k = 0; k < end - q; k++) lo |= (uint64_t)q[k] << (8 * k); }
    uint64_t v = lo >> shift;
    if (shift + bw > 64) {  /* the value spills into a ninth byte */
        uint64_t hi = q + 8 < end ? q[8] : 0;
        v |= hi << (64 - shift);
    }
    return bw == 64 ? v : v & (((uint64_t)1 << bw) - 1);
}

static uint64_t uleb(const uint8_t **pp, const uint8_t *end, int *ok)
{
    uint64_t v = 0;
    const uint8_t *p = *pp;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end) { *ok = 0; return 0; }
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *pp = p; return v; }
    }
    *ok = 0;
    return 0;
}

/* The RLE / bit-packed hybrid (Encodings.md): a sequence of runs, each
 * introduced by a ULEB128 header h:
 *   h & 1 == 1: (h >> 1) groups of 8 values, bit-packed LSB first, bw bits each
 *   h & 1 == 0: one value in ceil(bw/8) bytes, repeated (h >> 1) times
 * Example, bw = 1: 03 A5 = one bit-packed group 1,0,1,0,0,1,0,1;
 *                  10 01 = 8 repeats of 1.
 * Decodes n values into out; returns the end of what was read, or NULL if
 * the data ends early. */
static const uint8_t *rle_hybrid(const uint8_t *p, const uint8_t *end, int bw, uint32_t *out, int64_t n)
{
    int64_t got = 0;
    int ok = 1;
    size_t vbytes = (size_t)(bw + 7) / 8;
    while (got < n) {
        uint64_t h = uleb(&p, end, &ok);
        if (!ok) return NULL;
        if (h & 1) {
            uint64_t count = (h >> 1) * 8;
            int64_t take = (uint64_t)(n - got) < count ? n - got : (int64_t)count;
            size_t need = (size_t)(((uint64_t)take * (uint64_t)bw + 7) / 8);
            size_t run = (size_t)((h >> 1) * (uint64_t)bw);    /* bytes of the whole run */
            if ((size_t)(end - p) < need) return NULL;
            if (bw == 0) memset(out + got, 0, (size_t)take * sizeof *out);
            else for (int64_t i = 0; i < take; i++) out[got + i] = (uint32_t)unpack(p, end, i, bw);
            got += take;
            p += run <= (size_t)(end - p) ? run : (size_t)(end - p);
        } else {
            uint64_t count = h >> 1;
            if ((size_t)(end - p) < vbytes) return NULL;
            uint32_t v = 0;
            for (size_t k = 0; k < vbytes; k++) v |= (uint32_t)p[k] << (8 * k);
            p += vbytes;
            int64_t take = (uint64_t)(n - got) < count ? n - got : (int64_t)count;
            for (int64_t i = 0; i < take; i++) out[got + i] = v;
            got += take;
        }
    }
    return p;
}

/* DELTA_BINARY_PACKED (Encodings.md): header
 *   <block size> <miniblocks per block> <total count> <first value (zigzag)>
 * then blocks of <min delta (zigzag)> <one bit width byte per miniblock>
 * <miniblocks of bit-packed (delta - min delta)>.  Each value is the
 * previous one plus min delta plus its packed number, in wrapping 64-bit
 * arithmetic.  Example: 7 5 3 1 2 3 4 5 -> deltas -2 -2 -2 1 1 1 1,
 * min delta -2, packed 0 0 0 3 3 3 3 with bit width 2.
 * Decodes the header's total count of values, which must be <= max, into
 * out (NULL: only count); *total = that count.  Returns the end of the
 * encoded data or NULL if it is corrupt. */
static const uint8_t *delta_binary(const uint8_t *p, const uint8_t *end, int64_t *out, int64_t max, int64_t *total)
{
    int ok = 1;
    uint64_t block = uleb(&p, end, &ok), nmini = uleb(&p, end, &ok), count = uleb(&p, end, &ok);
    uint64_t zz = uleb(&p, end, &ok);
    if (!ok || block == 0 || block % 128 != 0 || nmini == 0 || block % nmini != 0 ||
        (block / nmini) % 32 != 0 || block > (1u << 20) || count > (uint64_t)max)
        return NULL;
    uint64_t per_mini = block / nmini;
    *total = (int64_t)count;
    uint64_t v = (zz >> 1) ^ -(zz & 1);
    if (count == 0) return p;
    if (out) out[0] = (int64_t)v;
    uint64_t done = 1;
    while (done < count) {
        uint64_t mzz = uleb(&p, end, &ok);
        if (!ok || (uint64_t)(end - p) < nmini) return NULL;
        uint64_t min_delta = (mzz >> 1) ^ -(mzz & 1);
        const uint8_t *widths = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && done < count; m++) {
            int bw = widths[m];
            if (bw > 64) return NULL;
            size_t bytes = (size_t)(per_mini * (uint64_t)bw / 8);
            uint64_t take = count - done < per_mini ? count - done : per_mini;
            /* the last miniblock may be cut short by some writers: require
             * only the bytes holding the values we take */
            size_t need = (size_t)((take * (uint64_t)bw + 7) / 8);
            if ((size_t)(end - p) < need) return NULL;
            for (uint64_t i = 0; i < take; i++) {
                v += min_delta + (bw ? unpack(p, end, (int64_t)i, bw) : 0);
                if (out) out[done + i] = (int64_t)v;
            }
            done += take;
            p += bytes <= (size_t)(end - p) ? bytes : (size_t)(end - p);
        }
    }
    return p;
}

/* ======================================================================
 * Pages
 * ====================================================================== */

/* PLAIN values: fixed-size types are stored back to back (BOOLEAN: one bit
 * each, LSB first); BYTE_ARRAY is u32 LE length + bytes per value.  Appends
 * n values to (fixed, var) at index `at`. */
static void plain_values(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n,
                         uint8_t *fixed, struct bytes *var, int64_t at)
{
    size_t avail = (size_t)(end - p);
    if (c->f->type == PQ_BOOLEAN) {
        if ((uint64_t)avail * 8 < (uint64_t)n) col_die(c, "page too short for its BOOLEAN values");
        for (int64_t i = 0; i < n; i++) fixed[at + i] = (p[i >> 3] >> (i & 7)) & 1;
    } else if (c->width) {
        if ((uint64_t)avail / (uint64_t)c->width < (uint64_t)n) col_die(c, "page too short for its values");
        memcpy(fixed + at * c->width, p, (size_t)n * (size_t)c->width);
    } else {
        for (int64_t i = 0; i < n; i++) {
            if (end - p < 4) col_die(c, "page too short for its BYTE_ARRAY values");
            uint32_t len = rd32(p);
            p += 4;
            if ((size_t)(end - p) < len) col_die(c, "BYTE_ARRAY value runs past its page");
            var[at + i].p = p;
            var[at + i].len = len;
            p += len;
        }
    }
}

static void dict_page(struct colvec *c, const uint8_t *p, size_t n, int64_t count, int encoding)
{
    if (c->have_dict) col_die(c, "a second dictionary page");
    if (encoding != ENC_PLAIN && encoding != ENC_PLAIN_DICT) col_die(c, "dictionary page encoding %d", encoding);
    /* PLAIN values take a bit (BOOLEAN), their width, or at least the 4
     * bytes of a length (BYTE_ARRAY): a lying count is caught before it
     * allocates */
    uint64_t most = c->f->type == PQ_BOOLEAN ? (uint64_t)n * 8 : c->width ? n / (size_t)c->width : n / 4;
    if (count < 0 || (uint64_t)count > most) col_die(c, "dictionary page claims %lld values in %zu bytes", (long long)count, n);
    c->ndict = count;
    if (c->width) c->dict_fixed = xmalloc((size_t)count * (size_t)c->width + 1);
    else c->dict_var = xmalloc(((size_t)count + 1) * sizeof *c->dict_var);
    plain_values(c, p, p + n, count, c->dict_fixed, c->dict_var, 0);
    c->have_dict = 1;
}

/* Decode `n` present values of one data page from [p, end). */
static void page_values(struct colvec *c, const uint8_t *p, const uint8_t *end, int64_t n, int encoding)
{
    grow(c, n);
    int64_t at = c->nv;
    switch (encoding) {
    case ENC_PLAIN:
        plain_values(c, p, end, n, c->fixed, c->var, at);
        break;
    case ENC_PLAIN_DICT: case ENC_RLE_DICT: {
        if (!c->have_dict) col_die(c, "dictionary-encoded page without a dictionary");
        if (end - p < 1) col_die(c, "dictionary page without a bit width");
        int bw = *p++;
        if (bw > 32) col_die(c, "dictionary index bit width %d", bw);
        if (n > c->idx_cap) { c->idx_cap = n; c->idx = xrealloc(c->idx, (size_t)n * sizeof *c->idx); }
        if (n && !rle_hybrid(p, end, bw, c->idx, n)) col_die(c, "dictionary indices run past their page");
        for (int64_t i = 0; i < n; i++) {
            uint32_t k = c->idx[i];
            if (k >= (uint64_t)c->ndict) col_die(c, "dictionary index %u out of range (%lld entries)", k, (long long)c->ndict);
            if (c->width) memcpy(c->fixed + (at + i) * c->width, c->dict_fixed + (size_t)k * (size_t)c->width, (size_t)c->width);
            else c->var[at + i] = c->dict_var[k];
        }
        break;
    }
    case ENC_RLE: {     /* BOOLEAN only: u32 LE length, then the hybrid with bit width 1 */
        if (c->f->type != PQ_BOOLEAN) col_die(c, "RLE encoding on a non-BOOLEAN column");
        if (end - p < 4) col_die(c, "RLE page too short");
        uint32_t len = rd32(p);
        p += 4;
        if ((size_t)(end - p) < len) col_die(c, "RLE data runs past its page");
        if (n > c->idx_cap) { c->idx_cap = n; c->idx = xrealloc(c->idx, (size_t)n * sizeof *c->idx); }
        if (n && !rle_hybrid(p, p + len, 1, c->idx, n)) col_die(c, "RLE booleans run past their data");
        for (int64_t i = 0; i < n; i++) c->fixed[at + i] = (uint8_t)c->idx[i];
        break;
    }
    case ENC_DELTA_BINARY: {
        if (c->f->type != PQ_INT32 && c->f->type != PQ_INT64) col_die(c, "DELTA_BINARY_PACKED on a non-integer column");
        int64_t *tmp = xmalloc(((size_t)n + 1) * sizeof *tmp), total;
        if (!delta_binary(p, end, tmp, n, &total) || total != n) { free(tmp); col_die(c, "corrupt DELTA_BINARY_PACKED data"); }
        for (int64_t i = 0; i < n; i++) {
            if (c->width == 4) { int32_t v = (int32_t)(uint32_t)tmp[i]; memcpy(c->fixed + (at + i) * 4, &v, 4); }
            else memcpy(c->fixed + (at + i) * 8, &tmp[i], 8);
        }
        free(tmp);
        break;
    }
    case ENC_DELTA_LENGTH: case ENC_DELTA_BYTE_ARRAY: {
        if (c->width && c->f->type != PQ_FIXED) col_die(c, "a DELTA byte-array encoding on a numeric column");
        int64_t *prefix = NULL, *len = xmalloc(((size_t)n + 1) * sizeof *len), total;
        if (encoding == ENC_DELTA_BYTE_ARRAY) {
            /* prefix lengths, then DELTA_LENGTH_BYTE_ARRAY suffixes; value i =
             * first prefix[i] bytes of value i-1, then suffix i.
             * Example: "apple", "apply", "ape" -> prefixes 0 4 2, suffixes "apple" "y" "e" */
            prefix = xmalloc(((size_t)n + 1) * sizeof *prefix);
            p = delta_binary(p, end, prefix, n, &total);
            if (!p || total != n) { free(prefix); free(len); col_die(c, "corrupt DELTA_BYTE_ARRAY prefix lengths"); }
        }
        p = delta_binary(p, end, len, n, &total);
        if (!p || total != n) { free(prefix); free(len); col_die(c, "corrupt DELTA_LENGTH_BYTE_ARRAY lengths"); }
        /* suffixes: lengths, then all bytes back to back */
        uint64_t sum = 0, rebuilt = 0, prev = 0;
        for (int64_t i = 0; i < n; i++) {
            if (len[i] < 0 || len[i] > UINT32_MAX) { free(prefix); free(len); col_die(c, "negative byte-array length"); }
            sum += (uint64_t)len[i];
            if (prefix) {
                if (prefix[i] < 0 || (uint64_t)prefix[i] > prev) { free(prefix); free(len); col_die(c, "DELTA_BYTE_ARRAY prefix longer than the previous value"); }
                prev = (uint64_t)prefix[i] + (uint64_t)len[i];
                rebuilt += prev;
                if (rebuilt > MAX_STRING_BYTES) { free(prefix); free(len); col_die(c, "DELTA_BYTE_ARRAY values too large"); }
            }
        }
        if (sum > (uint64_t)(end - p)) { free(prefix); free(len); col_die(c, "byte-array data runs past its page"); }
        uint8_t *out = prefix ? keep(c, (size_t)rebuilt) : NULL;
        const uint8_t *prev_p = NULL;     /* the previous value, for the next prefix */
        size_t o = 0;
        for (int64_t i = 0; i < n; i++) {
            struct bytes b;
            if (prefix) {
                uint8_t *dst = out + o;
                if (prefix[i]) memcpy(dst, prev_p, (size_t)prefix[i]);
                memcpy(dst + prefix[i], p, (size_t)len[i]);
                b.p = dst; b.len = (uint32_t)(prefix[i] + len[i]);
                o += b.len;
                prev_p = dst;
            } else { b.p = p; b.len = (uint32_t)len[i]; }
            p += len[i];
            if (!c->width) c->var[at + i] = b;
            else if (b.len != (uint32_t)c->width) { free(prefix); free(len); col_die(c, "value of the wrong fixed length"); }
            else memcpy(c->fixed + (at + i) * c->width, b.p, b.len);
        }
        free(prefix); free(len);
        break;
    }
    case ENC_BYTE_STREAM_SPLIT: {
        /* byte k of value i is at k*n + i: the bytes of equal significance
         * are grouped, which compresses better for floating point */
        if (!c->width || c->f->type == PQ_BOOLEAN) col_die(c, "BYTE_STREAM_SPLIT on a variable-length column");
        if ((uint64_t)(end - p) / (uint64_t)c->width < (uint64_t)n) col_die(c, "BYTE_STREAM_SPLIT page too short");
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < c->width; k++) c->fixed[(at + i) * c->width + k] = p[(int64_t)k * n + i];
        break;
    }
    default:
        col_die(c, "encoding %d is not supported", encoding);
    }
    c->nv += n;
}

/* Definition levels of `nvalues` rows, then their present values. */
static void data_page(struct colvec *c, const uint8_t *lev, size_t lev_len, int v1,
                      const uint8_t *val, const uint8_t *val_end, int64_t nvalues, int encoding, int def_encoding)
{
    if (nvalues < 0 || nvalues > c->rows - c->nlev)
        col_die(c, "a page holds more values (%lld) than its row group has rows left (%lld)",
                (long long)nvalues, (long long)(c->rows - c->nlev));
    int64_t present = nvalues;
    if (c->f->optional) {
        /* v1: u32 LE length + hybrid; v2: the hybrid alone, length from the header */
        const uint8_t *p = lev, *end = lev + lev_len;
        if (v1) {
            if (def_encoding != ENC_RLE) col_die(c, "definition level encoding %d is not supported", def_encoding);
            if (end - p < 4) col_die(c, "page too short for its definition levels");
            uint32_t len = rd32(p);
            p += 4;
            if ((size_t)(end - p) < len) col_die(c, "definition levels run past their page");
            end = p + len;
            val = end;
        }
        if (nvalues > c->idx_cap) { c->idx_cap = nvalues; c->idx = xrealloc(c->idx, (size_t)nvalues * sizeof *c->idx); }
        if (nvalues && !rle_hybrid(p, end, 1, c->idx, nvalues)) col_die(c, "definition levels run past their data");
        present = 0;
        for (int64_t i = 0; i < nvalues; i++) {
            if (c->idx[i] > 1) col_die(c, "definition level %u in a flat column", c->idx[i]);
            c->def[c->nlev + i] = (uint8_t)c->idx[i];
            present += c->idx[i];
        }
    }
    c->nlev += nvalues;
    if (present) page_values(c, val, val_end, present, encoding);
}

/* ======================================================================
 * Column chunks
 * ====================================================================== */

/* PageHeader (parquet.thrift): 1 type, 2 uncompressed_page_size,
 * 3 compressed_page_size, 5 DataPageHeader, 7 DictionaryPageHeader,
 * 8 DataPageHeaderV2. */
struct page_header {
    int type;
    int64_t usize, csize;
    int64_t num_values;
    int encoding, def_encoding;
    int64_t def_len, rep_len;
    int is_compressed;
};

static void read_sub(struct thrift *t, struct page_header *h, int which)
{
    int last = 0, id, ft;
    thrift_enter(t);
    while (thrift_field(t, &last, &id, &ft)) {
        if (which == 5 || which == 7) {         /* DataPageHeader / DictionaryPageHeader */
            if (id == 1) h->num_values = thrift_int(t, ft);
            else if (id == 2) h->encoding = (int)thrift_int(t, ft);
            else if (id == 3 && which == 5) h->def_encoding = (int)thrift_int(t, ft);
            else thrift_skip(t, ft);
        } else {                                /* DataPageHeaderV2 */
            if (id == 1) h->num_values = thrift_int(t, ft);
            else if (id == 4) h->encoding = (int)thrift_int(t, ft);
            else if (id == 5) h->def_len = thrift_int(t, ft);
            else if (id == 6) h->rep_len = thrift_int(t, ft);
            else if (id == 7) h->is_compressed = thrift_bool(t, ft);
            else thrift_skip(t, ft);
        }
    }
    thrift_leave(t);
}

static const uint8_t *read_page_header(struct colvec *c, const uint8_t *p, const uint8_t *end, struct page_header *h)
{
    struct thrift t;
    char what[600];
    snprintf(what, sizeof what, "%s: column '%s': page header", c->pq->name, c->f->name);
    thrift_init(&t, p, (size_t)(end - p), what);
    memset(h, 0, sizeof *h);
    h->type = -1; h->usize = -1; h->csize = -1; h->num_values = -1; h->is_compressed = 1;
    int last = 0, id, ft;
    thrift_enter(&t);
    while (thrift_field(&t, &last, &id, &ft)) {
        if (id == 1) h->type = (int)thrift_int(&t, ft);
        else if (id == 2) h->usize = thrift_int(&t, ft);
        else if (id == 3) h->csize = thrift_int(&t, ft);
        else if ((id == 5 || id == 7 || id == 8) && ft == TT_STRUCT) read_sub(&t, h, id);
        else thrift_skip(&t, ft);
    }
    thrift_leave(&t);
    if (h->type < 0 || h->usize < 0 || h->csize < 0) col_die(c, "page header lacks its sizes");
    if ((uint64_t)h->csize > (uint64_t)(end - t.p)) col_die(c, "page runs past its column chunk");
    if ((uint64_t)h->usize > MAX_PAGE_BYTES) col_die(c, "page claims %lld bytes uncompressed", (long long)h->usize);
    return t.p;
}

/* Body of a page, decompressed when needed.  `skip` leading bytes are
 * never compressed (v2 levels) and are copied in front. */
static const uint8_t *page_body(struct colvec *c, const uint8_t *body, const struct page_header *h, size_t skip, int compressed)
{
    if (c->codec == CODEC_NONE || !compressed) {
        if (h->csize != h->usize) col_die(c, "uncompressed page with different sizes (%lld, %lld)", (long long)h->csize, (long long)h->usize);
        return body;
    }
    if ((uint64_t)skip > (uint64_t)h->csize || (uint64_t)skip > (uint64_t)h->usize) col_die(c, "page levels longer than the page");
    uint8_t *out = keep(c, (size_t)h->usize);
    memcpy(out, body, skip);
    size_t cn = (size_t)h->csize - skip, un = (size_t)h->usize - skip;
    /* an empty v2 page may have no compressed bytes at all */
    if (un > 0 || cn > 0) decompress(c, body + skip, cn, out + skip, un);
    return out;
}

static void read_chunk(struct pq_file *pq, const struct chunk_meta *cm, struct colvec *c)
{
    const struct pq_field *f = c->f;
    int phys = cm->type;
    if (phys != f->type) col_die(c, "chunk type %d differs from the schema's %d", phys, f->type);
    c->codec = cm->codec;
    static const int widths[] = { 1, 4, 8, 12, 4, 8, 0, 0 };
    c->width = f->type == PQ_FIXED ? f->type_length : widths[f->type];
    if (f->optional) c->def = xcalloc((size_t)c->rows + 1, 1);

    const uint8_t *raw;
    if (pq->map) {
        if (pq->need && cm->size) pq->need(pq->need_arg, cm->start, cm->size);
        raw = pq->map + cm->start;
    } else {
        uint8_t *buf = keep(c, (size_t)cm->size);
        pread_all(pq, buf, (size_t)cm->size, cm->start);
        raw = buf;
    }
    const uint8_t *p = raw, *end = raw + cm->size;
    while (c->nlev < c->rows) {
        if (p >= end) col_die(c, "column chunk ends after %lld of %lld rows", (long long)c->nlev, (long long)c->rows);
        struct page_header h;
        const uint8_t *body = read_page_header(c, p, end, &h);
        p = body + h.csize;
        switch (h.type) {
        case PAGE_DICT: {
            const uint8_t *b = page_body(c, body, &h, 0, 1);
            dict_page(c, b, (size_t)h.usize, h.num_values, h.encoding);
            break;
        }
        case PAGE_DATA: {
            const uint8_t *b = page_body(c, body, &h, 0, 1);
            data_page(c, b, (size_t)h.usize, 1, b, b + h.usize, h.num_values, h.encoding, h.def_encoding);
            break;
        }
        case PAGE_DATA_V2: {
            /* [repetition levels][definition levels][values]; a flat
             * column's repetition levels are all 0 (some writers still
             * store them): skip them */
            if (h.rep_len < 0 || h.def_len < 0 || h.rep_len + h.def_len > h.csize)
                col_die(c, "page levels longer than the page");
            int64_t lv = h.rep_len + h.def_len;
            const uint8_t *b = page_body(c, body, &h, (size_t)lv, h.is_compressed);
            data_page(c, b + h.rep_len, (size_t)h.def_len, 0, b + lv, b + h.usize, h.num_values, h.encoding, ENC_RLE);
            break;
        }
        default:    /* index pages and future page types: not ours */
            break;
        }
    }
}

/* ======================================================================
 * Rows out
 * ====================================================================== */

/* INT96 timestamps (Impala, Spark): 8 bytes nanoseconds of the day, then 4
 * bytes Julian day number (day 2440588 = 1970-01-01).  Written as an ISO
 * 8601 string "YYYY-MM-DDTHH:MM:SS[.fraction]". */
static void put_int96(struct jbuf *o, const uint8_t *v)
{
    uint64_t nanos = rd64(v);
    int64_t jd = (int32_t)rd32(v + 8);
    /* civil date from days since 1970-01-01 (the proleptic Gregorian
     * calendar counted in 400-year eras of 146097 days) */
    int64_t z = jd - 2440588 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    uint64_t s = nanos / 1000000000u, frac = nanos % 1000000000u;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02llu:%02llu:%02llu", (long long)y, (long long)m,
                     (long long)d, (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
                     (unsigned long long)(s % 60));
    if (frac) {
        n += snprintf(buf + n, sizeof buf - (size_t)n, ".%09llu", (unsigned long long)frac);
        while (buf[n - 1] == '0') n--;
    }
    jb_str(o, buf, (size_t)n);
}

static void put_value(struct jbuf *o, const struct colvec *c, int64_t k)
{
    const uint8_t *v = c->width ? c->fixed + k * c->width : NULL;
    switch (c->f->type) {
    case PQ_BOOLEAN: if (*v) jb_raw(o, "true", 4); else jb_raw(o, "false", 5); break;
    case PQ_INT32: { int32_t x; memcpy(&x, v, 4); jb_i64(o, x); break; }
    case PQ_INT64: { int64_t x; memcpy(&x, v, 8); jb_i64(o, x); break; }
    case PQ_INT96: put_int96(o, v); break;
    case PQ_FLOAT: { float x; memcpy(&x, v, 4); jb_float(o, x); break; }
    case PQ_DOUBLE: { double x; memcpy(&x, v, 8); jb_double(o, x); break; }
    case PQ_BYTE_ARRAY: jb_str(o, (const char *)c->var[k].p, c->var[k].len); break;
    case PQ_FIXED: jb_str(o, (const char *)v, (size_t)c->width); break;
    }
}

int64_t pq_write_jsonl(struct pq_file *pq, struct jbuf *out, const struct pq_select *sel, int64_t limit)
{
    int n = sel->n ? sel->n : pq->nfields;
    int *field = xmalloc((size_t)(n + 1) * sizeof *field);
    char **key = xmalloc((size_t)(n + 1) * sizeof *key);    /* pre-escaped "\"key\": " */
    size_t *key_len = xmalloc((size_t)(n + 1) * sizeof *key_len);
    struct jbuf kb;
    for (int i = 0; i < n; i++) {
        field[i] = sel->n ? sel->field[i] : i;
        const struct pq_field *f = &pq->field[field[i]];
        if (f->unsupported) die("%s: column '%s' is %s: hf-fetch reads flat columns of basic types only", pq->name, f->name, f->unsupported);
        const char *k = sel->n ? sel->key[i] : f->name;
        jb_init(&kb, NULL);
        if (i) jb_raw(&kb, ", ", 2);
        jb_str(&kb, k, strlen(k));
        jb_raw(&kb, ": ", 2);
        key[i] = kb.p; key_len[i] = kb.n;   /* the buffer is ours now */
    }
    int64_t written = 0;
    struct colvec *cv = xcalloc((size_t)n + 1, sizeof *cv);
    for (int g = 0; g < pq->nrg && (limit < 0 || written < limit); g++) {
        int64_t rows = pq->rg[g].num_rows;
        for (int i = 0; i < n; i++) {
            cv[i].pq = pq;
            cv[i].f = &pq->field[field[i]];
            cv[i].rows = rows;
            read_chunk(pq, &pq->rg[g].chunk[cv[i].f->leaf], &cv[i]);
        }
        for (int64_t r = 0; r < rows && (limit < 0 || written < limit); r++) {
            int skip = 0;
            if (sel->skip_null)
                for (int i = 0; i < n; i++)
                    if (cv[i].def && !cv[i].def[r]) skip = 1;
            if (!skip) jb_raw(out, "{", 1);
            for (int i = 0; i < n; i++) {
                struct colvec *c = &cv[i];
                int present = !c->def || c->def[r];
                if (skip) { c->cursor += present; continue; }
                jb_raw(out, key[i], key_len[i]);
                if (present) put_value(out, c, c->cursor++);
                else jb_raw(out, "null", 4);
            }
            if (skip) continue;
            jb_raw(out, "}", 1);
            jb_endrow(out);
            written++;
        }
        for (int i = 0; i < n; i++) colvec_free(&cv[i]);
    }
    for (int i = 0; i < n; i++) free(key[i]);
    free(cv); free(field); free(key); free(key_len);
    return written;
}
