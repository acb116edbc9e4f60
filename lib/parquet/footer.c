/* footer.c - opening a Parquet file: the magic, the footer's FileMetaData,
 * the schema and the row groups (see parquet.h; the parts of the reader
 * are listed in pq_internal.h).
 *
 * Reference: apache/parquet-format parquet.thrift (field ids below).
 */
#include "parquet/pq_internal.h"
#include "parquet/thrift.h"
#include "core/xio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
        if (e->name_len) memcpy(pf->name, e->name, e->name_len);    /* a nameless element has no bytes */
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
            pq_charge(pq, (int64_t)((ncols + 1) * sizeof *rg->chunk), "the column chunk list");
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

void pq_pread_all(struct pq_file *pq, void *buf, size_t n, int64_t off)
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

/* The footer's FileMetaData (flen bytes): the schema's fields, the row
 * count and the row groups with their column chunks. */
static void read_file_meta(struct pq_file *pq, const uint8_t *footer, uint32_t flen)
{
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
            /* an element has at least its required name: a field header,
             * a length and the struct's stop byte */
            if (nel > (size_t)(t.end - t.p) / 3) thrift_corrupt(&t, "schema list longer than the footer could hold");
            if (have_schema) thrift_corrupt(&t, "a second schema");
            pq_charge(pq, (int64_t)((nel + 1) * sizeof *el), "the schema");
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
            die("%s: encrypted Parquet files are not supported", pq->name);
        } else thrift_skip(&t, ft);
    }
    thrift_leave(&t);
    if (!have_schema) thrift_corrupt(&t, "no schema");
    build_fields(pq, &t, el, nel);
    free(el);
    pq_release(pq, (int64_t)((nel + 1) * sizeof *el));

    pq->nrg = (int)nrg;
    pq->rg_first = 0;
    pq->rg_end = (int)nrg;
    pq_charge(pq, (int64_t)((nrg + 1) * sizeof *pq->rg), "the row group list");
    pq->rg = xcalloc(nrg + 1, sizeof *pq->rg);
    if (rg_start) {
        struct thrift r;
        thrift_init(&r, rg_start, (size_t)(footer + flen - rg_start), pq->name);
        for (size_t i = 0; i < nrg; i++) read_row_group(pq, &r, &pq->rg[i]);
    }
}

struct pq_file *pq_open(const char *path) { return pq_open_lazy(path, -1, NULL, NULL, 0); }

void pq_charge(struct pq_file *pq, int64_t bytes, const char *what)
{
    if (bytes < 0 || bytes > pq->budget - pq->used)
        die("%s: decoding needs more than the memory budget of %lld MiB (%s: %lld MiB more); "
            "if the file is genuine, raise the budget with --max-memory", pq->name,
            (long long)(pq->budget >> 20), what, (long long)((bytes + (1 << 20) - 1) >> 20));
    pq->used += bytes;
}

void pq_release(struct pq_file *pq, int64_t bytes) { pq->used -= bytes; }

struct pq_file *pq_open_lazy(const char *path, int64_t size, pq_need_fn need, void *arg, int64_t max_memory)
{
    struct pq_file *pq = xcalloc(1, sizeof *pq);
    pq->name = xstrdup(path);
    pq->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pq->fd < 0) die_errno("cannot open '%s'", path);
    struct stat st;
    if (fstat(pq->fd, &st) != 0) die_errno("%s", path);
    pq->size = size >= 0 ? size : st.st_size;
    pq->need = need;
    pq->need_arg = arg;
    /* the default budget grows with the file: what its bytes can decode to */
    pq->budget = PQ_BUDGET_BASE + (pq->size > (INT64_MAX - PQ_BUDGET_BASE) / PQ_BUDGET_PER_BYTE
                                   ? INT64_MAX - PQ_BUDGET_BASE : PQ_BUDGET_PER_BYTE * pq->size);
    if (max_memory > pq->budget) pq->budget = max_memory;
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
    pq_pread_all(pq, head, 4, 0);
    pq_pread_all(pq, tail, 8, pq->size - 8);
    if (memcmp(tail + 4, "PARE", 4) == 0)
        die("%s: encrypted Parquet files (PARE footer) are not supported", path);
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0)
        die("%s: not a Parquet file (no PAR1 magic)", path);
    uint32_t flen = rd32(tail);
    if ((int64_t)flen > pq->size - 12 || flen > MAX_FOOTER_BYTES)
        die("%s: corrupt footer length %u (file is %lld bytes)", path, flen, (long long)pq->size);
    pq_charge(pq, flen, "the footer");
    uint8_t *footer = xmalloc(flen);
    pq_pread_all(pq, footer, flen, pq->size - 8 - flen);

    read_file_meta(pq, footer, flen);

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
    pq_release(pq, flen);
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

void pq_keep_row_groups(struct pq_file *pq, int first, int end)
{
    if (first < 0 || first > end || end > pq->nrg)
        die("%s: row groups %d to %d asked for, but the file has %d", pq->name, first, end, pq->nrg);
    pq->rg_first = first;
    pq->rg_end = end;
}

int pq_find(const struct pq_file *pq, const char *name)
{
    for (int f = 0; f < pq->nfields; f++)
        if (strcmp(pq->field[f].name, name) == 0) return f;
    return -1;
}
