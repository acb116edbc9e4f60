/* datafile.c - dataset files (Parquet, JSON Lines, JSON, text) to JSON
 * Lines rows (see datafile.h). */
#include "hub/datafile.h"
#include "hub/hfdata.h"
#include "core/input.h"
#include "parquet/parquet.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* Next line without its '\n' (and '\r'): 1, or 0 at the end.  Input
 * (input.h) undoes gzip and zstd. */
static int next_line(struct tfs_in *in, const char **line, size_t *n)
{
    char *l;
    if (!in_getline(in, &l, n)) return 0;
    if (*n && l[*n - 1] == '\r') (*n)--;
    *line = l;
    return 1;
}

/* ======================================================================
 * Rows of JSON objects
 * ====================================================================== */

/* Write one object with the selected columns; 0 if left out. */
static int put_object(json_t *o, const char *name, long lineno, const struct row_sel *sel, struct jbuf *out)
{
    if (!json_is_object(o)) die("%s:%ld: a row is not a JSON object", name, lineno);
    if (sel->n == 0) { jb_json(out, o); jb_endrow(out); return 1; }
    if (sel->text_only) {
        json_t *v = json_object_get(o, sel->src[0]);
        if (!json_is_string(v)) return 0;
    }
    jb_raw(out, "{", 1);
    for (int i = 0; i < sel->n; i++) {
        if (i) jb_raw(out, ", ", 2);
        jb_str(out, sel->key[i], strlen(sel->key[i]));
        jb_raw(out, ": ", 2);
        json_t *v = json_object_get(o, sel->src[i]);
        if (v) jb_json(out, v); else jb_raw(out, "null", 4);
    }
    jb_raw(out, "}", 1);
    jb_endrow(out);
    return 1;
}

static void check_columns(json_t *o, const char *name, long lineno, const struct row_sel *sel)
{
    /* a column missing from the first row is a misspelt --columns, not data */
    for (int i = 0; i < sel->n; i++)
        if (json_is_object(o) && !json_object_get(o, sel->src[i])) {
            const char *k;
            json_t *v;
            char have[1024] = "";
            json_object_foreach(o, k, v) {
                if (have[0]) strncat(have, ", ", sizeof have - strlen(have) - 1);
                strncat(have, k, sizeof have - strlen(have) - 1);
            }
            die("%s:%ld: no column '%s'; columns: %s", name, lineno, sel->src[i], have);
        }
}

static int64_t json_lines(struct tfs_in *s, const char *name, const struct row_sel *sel, struct jbuf *out,
                          int64_t limit)
{
    const char *line;
    size_t n;
    int64_t written = 0;
    int first = 1;
    while ((limit < 0 || written < limit) && next_line(s, &line, &n)) {
        size_t k = 0;
        while (k < n && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == n) continue;
        json_error_t err;
        json_t *o = json_loadb(line, n, JSON_ALLOW_NUL, &err);
        if (!o) die("%s:%ld: invalid JSON: %s", name, in_lineno(s), err.text);
        if (first) { check_columns(o, name, in_lineno(s), sel); first = 0; }
        written += put_object(o, name, in_lineno(s), sel, out);
        json_decref(o);
    }
    return written;
}

/* skip: the bytes of white space before the array's '[' */
static int64_t json_array_rows(struct tfs_in *s, const char *name, size_t skip, const struct row_sel *sel,
                               struct jbuf *out, int64_t limit)
{
    /* a JSON document must be parsed whole; datasets does the same */
    size_t len = 0, cap = 1 << 20;
    char *doc = xmalloc(cap);
    for (size_t k; (k = in_read(s, doc + len, cap - len)) > 0;) {
        len += k;
        if (len == cap) doc = xrealloc(doc, cap *= 2);
    }
    json_error_t err;
    json_t *a = json_loadb(doc + skip, len - skip, JSON_ALLOW_NUL, &err);
    free(doc);
    if (!a) die("%s:%d: invalid JSON: %s", name, err.line, err.text);
    if (!json_is_array(a)) die("%s: expected a JSON array of objects", name);
    int64_t written = 0;
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) {
        if (limit >= 0 && written >= limit) break;
        if (i == 0) check_columns(o, name, 1, sel);
        written += put_object(o, name, 1, sel, out);
    }
    json_decref(a);
    return written;
}

/* ======================================================================
 * Text
 * ====================================================================== */

static const char EOT[] = "<|endoftext|>";

static void put_text(const char *key, const char *s, size_t n, struct jbuf *out)
{
    jb_raw(out, "{", 1);
    jb_str(out, key, strlen(key));
    jb_raw(out, ": ", 2);
    jb_str(out, s, n);
    jb_raw(out, "}", 1);
    jb_endrow(out);
}

static int64_t text_rows(struct tfs_in *s, const char *name, const struct row_sel *sel, struct jbuf *out,
                         int64_t limit)
{
    /* the column of a text file is "text", as in `datasets` */
    const char *key = "text";
    if (sel->n) {
        if (sel->n != 1 || strcmp(sel->src[0], "text")) die("%s: a text file has one column, 'text'", name);
        key = sel->key[0];
    }
    /* documents separated by <|endoftext|> lines, if the first MiB has one */
    const char *head;
    size_t nhead = in_peek(s, 1 << 20, &head);
    int docs = 0;
    for (const char *p = head, *end = head + nhead; p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), EOT, sizeof EOT - 1);
        if (!hit) break;
        const char *after = hit + sizeof EOT - 1;
        if ((hit == head || hit[-1] == '\n') &&
            (after == end || *after == '\n' || *after == '\r')) { docs = 1; break; }
        p = hit + 1;
    }
    int64_t written = 0;
    const char *line;
    size_t n;
    if (!docs) {
        while ((limit < 0 || written < limit) && next_line(s, &line, &n)) {
            put_text(key, line, n, out);
            written++;
        }
        return written;
    }
    /* a document: the lines between separators, blank lines at its ends trimmed */
    char *doc = NULL;
    size_t dlen = 0, dcap = 0;
    int more = 1;
    while (more && (limit < 0 || written < limit)) {
        more = next_line(s, &line, &n);
        if (!more || (n == sizeof EOT - 1 && !memcmp(line, EOT, n))) {
            size_t a = 0, b = dlen;
            while (a < b && (doc[a] == '\n' || doc[a] == ' ')) a++;
            while (b > a && (doc[b - 1] == '\n' || doc[b - 1] == ' ')) b--;
            if (b > a) { put_text(key, doc + a, b - a, out); written++; }
            dlen = 0;
            continue;
        }
        if (dlen + n + 1 > dcap) { dcap = 2 * (dlen + n + 1); doc = xrealloc(doc, dcap); }
        memcpy(doc + dlen, line, n);
        dlen += n;
        doc[dlen++] = '\n';
    }
    free(doc);
    return written;
}

/* ======================================================================
 * Dispatch
 * ====================================================================== */

static int64_t parquet_rows(const char *path, const char *name, const struct row_sel *sel, struct jbuf *out,
                            int64_t limit, const struct lazy_src *lazy)
{
    struct pq_file *pq = lazy ? pq_open_lazy(path, lazy->size, lazy->need, lazy->arg, sel->max_memory)
                              : pq_open_lazy(path, -1, NULL, NULL, sel->max_memory);
    int *field = xcalloc((size_t)sel->n + 1, sizeof *field);
    for (int i = 0; i < sel->n; i++) {
        field[i] = pq_find(pq, sel->src[i]);
        if (field[i] < 0) {
            size_t cap = 64;
            for (int f = 0; f < pq_nfields(pq); f++) cap += strlen(pq_field(pq, f)->name) + 2;
            char *have = xmalloc(cap);
            have[0] = 0;
            for (int f = 0; f < pq_nfields(pq); f++) { if (f) strcat(have, ", "); strcat(have, pq_field(pq, f)->name); }
            die("%s: no column '%s'; columns: %s", name, sel->src[i], have);
        }
    }
    if (sel->rg_end > 0) pq_keep_row_groups(pq, sel->rg_first, sel->rg_end);
    struct pq_select ps = { sel->n, field, sel->key, sel->text_only };
    int64_t n = pq_write_jsonl(pq, out, &ps, limit);
    free(field);
    pq_close(pq);
    return n;
}

int64_t datafile_write(const char *path, const char *name, int format, const struct row_sel *sel,
                       struct jbuf *out, int64_t limit, const struct lazy_src *lazy)
{
    if (format == HF_PARQUET) return parquet_rows(path, name, sel, out, limit, lazy);
    if (format != HF_JSONL && format != HF_JSON && format != HF_TEXT)
        die("%s: the %s format is not supported", name, hf_format_name(format));
    struct tfs_in *s = in_open(path);
    int64_t n;
    if (format == HF_TEXT) n = text_rows(s, name, sel, out, limit);
    else {
        /* .json holds either one array or JSON Lines: look at the first
         * byte that is not white space */
        const char *p;
        size_t k = 0, have = 0;
        for (size_t want = 4096;; want *= 2) {
            have = in_peek(s, want, &p);
            while (k < have && strchr(" \t\r\n", p[k])) k++;
            if (k < have || have < want) break;
        }
        if (k < have && p[k] == '[') n = json_array_rows(s, name, k, sel, out, limit);
        else n = json_lines(s, name, sel, out, limit);
    }
    in_close(s);
    return n;
}
