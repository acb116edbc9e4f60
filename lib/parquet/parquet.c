/* parquet.c - flat Parquet files to JSON Lines (see parquet.h): the
 * column chunks of a row group are walked page by page, their values
 * decoded (decoders.c, codecs.c), and the rows written out.  The file and
 * its footer are opened by footer.c; pq_internal.h lists the parts.
 */
#include "parquet/pq_internal.h"
#include "parquet/thrift.h"
#include "core/xio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * Column state
 * ====================================================================== */

void pq_col_die(const struct colvec *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    die("%s: column '%s': %s", c->pq->name, c->f->name, msg);
}

void pq_col_charge(struct colvec *c, int64_t bytes, const char *what)
{
    char w[400];
    snprintf(w, sizeof w, "column '%s', %s", c->f->name, what);
    pq_charge(c->pq, bytes, w);
    c->charged += bytes;
}

uint8_t *pq_keep(struct colvec *c, size_t n)
{
    pq_col_charge(c, (int64_t)n, "page data");
    if (c->nbuf == c->capbuf) {
        c->capbuf = c->capbuf ? 2 * c->capbuf : 8;
        c->buf = xrealloc(c->buf, (size_t)c->capbuf * sizeof *c->buf);
        c->buf_len = xrealloc(c->buf_len, (size_t)c->capbuf * sizeof *c->buf_len);
    }
    c->buf_len[c->nbuf] = n;
    return c->buf[c->nbuf++] = xmalloc(n ? n : 1);
}

static void colvec_free(struct colvec *c)
{
    if (c->pq) pq_release(c->pq, c->charged);
    for (int i = 0; i < c->nbuf; i++) free(c->buf[i]);
    free(c->buf); free(c->buf_len); free(c->def); free(c->fixed); free(c->var);
    free(c->dict_fixed); free(c->dict_var); free(c->idx);
    memset(c, 0, sizeof *c);
}

/* Make room for `more` present values (the file has already shown that
 * they exist: callers check the bytes before asking). */
void pq_grow(struct colvec *c, int64_t more)
{
    if (c->nv + more <= c->cap) return;
    int64_t cap = c->cap ? c->cap : 1024;
    while (cap < c->nv + more) cap *= 2;
    /* never more than the row group's rows (the callers' counts are
     * bounded by them), and what it costs comes out of the budget first */
    if (cap > c->rows && c->nv + more <= c->rows) cap = c->rows;
    int64_t each = c->width ? c->width : (int64_t)sizeof *c->var;
    if (cap > INT64_MAX / each) pq_col_die(c, "too many values");
    pq_col_charge(c, (cap - c->cap) * each, "values");
    if (c->width) c->fixed = xrealloc(c->fixed, (size_t)cap * (size_t)c->width);
    else c->var = xrealloc(c->var, (size_t)cap * sizeof *c->var);
    c->cap = cap;
}

/* ======================================================================
 * Pages and column chunks
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
    if (h->type < 0 || h->usize < 0 || h->csize < 0) pq_col_die(c, "page header lacks its sizes");
    if ((uint64_t)h->csize > (uint64_t)(end - t.p)) pq_col_die(c, "page runs past its column chunk");
    if ((uint64_t)h->usize > MAX_PAGE_BYTES) pq_col_die(c, "page claims %lld bytes uncompressed", (long long)h->usize);
    /* no codec expands its input without bound: a page cannot claim more
     * than its compressed bytes could make (plus v2's uncompressed levels) */
    int64_t ratio = pq_max_ratio(c->codec);
    if (ratio > 0 && h->usize > h->csize * ratio + 4096)
        pq_col_die(c, "page claims %lld bytes uncompressed from %lld compressed, more than its codec can expand to",
                   (long long)h->usize, (long long)h->csize);
    return t.p;
}

/* Body of a page, decompressed when needed.  `skip` leading bytes are
 * never compressed (v2 levels) and are copied in front. */
static const uint8_t *page_body(struct colvec *c, const uint8_t *body, const struct page_header *h, size_t skip, int compressed)
{
    if (c->codec == CODEC_NONE || !compressed) {
        if (h->csize != h->usize) pq_col_die(c, "uncompressed page with different sizes (%lld, %lld)", (long long)h->csize, (long long)h->usize);
        return body;
    }
    if ((uint64_t)skip > (uint64_t)h->csize || (uint64_t)skip > (uint64_t)h->usize) pq_col_die(c, "page levels longer than the page");
    uint8_t *out = pq_keep(c, (size_t)h->usize);
    memcpy(out, body, skip);
    size_t cn = (size_t)h->csize - skip, un = (size_t)h->usize - skip;
    /* an empty v2 page may have no compressed bytes at all */
    if (un > 0 || cn > 0) pq_decompress(c, body + skip, cn, out + skip, un);
    return out;
}

/* Start a column chunk: check its type, fetch its bytes (a lazy file) or
 * read them (no mapping); its pages are decoded by next_page. */
static void start_chunk(struct pq_file *pq, const struct chunk_meta *cm, struct colvec *c)
{
    const struct pq_field *f = c->f;
    int phys = cm->type;
    if (phys != f->type) pq_col_die(c, "chunk type %d differs from the schema's %d", phys, f->type);
    c->codec = cm->codec;
    static const int widths[] = { 1, 4, 8, 12, 4, 8, 0, 0 };
    c->width = f->type == PQ_FIXED ? f->type_length : widths[f->type];
    const uint8_t *raw;
    if (pq->map) {
        if (pq->need && cm->size) pq->need(pq->need_arg, cm->start, cm->size);
        raw = pq->map + cm->start;
    } else {
        uint8_t *buf = pq_keep(c, (size_t)cm->size);
        pq_pread_all(pq, buf, (size_t)cm->size, cm->start);
        raw = buf;
    }
    c->pg = raw;
    c->pg_end = raw + cm->size;
    c->nkeep = c->nbuf;
}

/* Every row decoded so far is written: drop their levels, values and the
 * page buffers they pointed into (not the chunk's copy or dictionary). */
static void drop_written(struct colvec *c)
{
    for (int i = c->nkeep; i < c->nbuf; i++) {
        free(c->buf[i]);
        pq_release(c->pq, (int64_t)c->buf_len[i]);
        c->charged -= (int64_t)c->buf_len[i];
    }
    c->nbuf = c->nkeep;
    c->nv = c->cursor = 0;
    c->base = c->nlev;
}

/* Decode the chunk's next page (a dictionary page, a data page, or one
 * that is not ours and is skipped). */
static void next_page(struct colvec *c)
{
    if (c->pg >= c->pg_end) pq_col_die(c, "column chunk ends after %lld of %lld rows", (long long)c->nlev, (long long)c->rows);
    struct page_header h;
    const uint8_t *body = read_page_header(c, c->pg, c->pg_end, &h);
    c->pg = body + h.csize;
    switch (h.type) {
    case PAGE_DICT: {
        const uint8_t *b = page_body(c, body, &h, 0, 1);
        pq_dict_page(c, b, (size_t)h.usize, h.num_values, h.encoding);
        c->nkeep = c->nbuf;     /* dictionary values point into its buffer */
        break;
    }
    case PAGE_DATA: {
        const uint8_t *b = page_body(c, body, &h, 0, 1);
        pq_data_page(c, b, (size_t)h.usize, 1, b, b + h.usize, h.num_values, h.encoding, h.def_encoding);
        break;
    }
    case PAGE_DATA_V2: {
        /* [repetition levels][definition levels][values]; a flat
         * column's repetition levels are all 0 (some writers still
         * store them): skip them */
        if (h.rep_len < 0 || h.def_len < 0 || h.rep_len + h.def_len > h.csize)
            pq_col_die(c, "page levels longer than the page");
        int64_t lv = h.rep_len + h.def_len;
        const uint8_t *b = page_body(c, body, &h, (size_t)lv, h.is_compressed);
        pq_data_page(c, b + h.rep_len, (size_t)h.def_len, 0, b + lv, b + h.usize, h.num_values, h.encoding, ENC_RLE);
        break;
    }
    default:    /* index pages and future page types: not ours */
        break;
    }
}

/* Make row r of the column decoded: pages are read only as rows need them. */
static void have_row(struct colvec *c, int64_t r)
{
    while (c->nlev <= r) {
        drop_written(c);
        next_page(c);
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

static int cmp_span(const void *x, const void *y)
{
    const int64_t *a = x, *b = y;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* A file whose bytes arrive on demand: ask at once for the chunks of the
 * row group that the n columns read, those less than 64 KiB apart in one
 * call, so that they come in few requests, and never a byte outside the
 * row group's chunks (a share of row groups fetches only its own). */
static void need_row_group(struct pq_file *pq, const struct rowgroup_meta *rg, const struct colvec *cv, int n)
{
    int64_t (*span)[2] = xcalloc((size_t)n + 1, sizeof *span);
    int m = 0;
    for (int i = 0; i < n; i++) {
        const struct chunk_meta *cm = &rg->chunk[cv[i].f->leaf];
        if (cm->size > 0) { span[m][0] = cm->start; span[m][1] = cm->start + cm->size; m++; }
    }
    qsort(span, (size_t)m, sizeof *span, cmp_span);
    for (int i = 0; i < m;) {
        int64_t a = span[i][0], b = span[i][1];
        for (i++; i < m && span[i][0] - b < 65536; i++)
            if (span[i][1] > b) b = span[i][1];
        pq->need(pq->need_arg, a, b - a);
    }
    free(span);
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
    /* the values asked for raise the budget: a limit of L rows may need
     * that many rows of each column decoded */
    int64_t base_budget = pq->budget, room = (INT64_MAX - pq->budget) / PQ_BUDGET_PER_VALUE / (n + 1);
    if (limit > 0) pq->budget += (limit < room ? limit : room) * n * PQ_BUDGET_PER_VALUE;
    int64_t written = 0;
    struct colvec *cv = xcalloc((size_t)n + 1, sizeof *cv);
    for (int g = pq->rg_first; g < pq->rg_end && (limit < 0 || written < limit); g++) {
        int64_t rows = pq->rg[g].num_rows;
        for (int i = 0; i < n; i++) {
            cv[i].pq = pq;
            cv[i].f = &pq->field[field[i]];
            cv[i].rows = rows;
        }
        if (pq->need) need_row_group(pq, &pq->rg[g], cv, n);
        for (int i = 0; i < n; i++) start_chunk(pq, &pq->rg[g].chunk[cv[i].f->leaf], &cv[i]);
        for (int64_t r = 0; r < rows && (limit < 0 || written < limit); r++) {
            int skip = 0;
            for (int i = 0; i < n; i++) have_row(&cv[i], r);
            if (sel->skip_null)
                for (int i = 0; i < n; i++)
                    if (cv[i].def && !cv[i].def[r - cv[i].base]) skip = 1;
            if (!skip) jb_raw(out, "{", 1);
            for (int i = 0; i < n; i++) {
                struct colvec *c = &cv[i];
                int present = !c->def || c->def[r - c->base];
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
    pq->budget = base_budget;
    return written;
}
