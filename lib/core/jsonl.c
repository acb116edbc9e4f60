/* jsonl.c - JSON Lines reader and writer. */
#include "core/jsonl.h"
#include "core/input.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

struct jsonl_reader {
    struct tfs_in *in;
    char *field;
    int skip_bad;
    long bad, docs;
    json_t *cur;
};

struct jsonl_reader *jsonl_open(const char *path, const char *field, int skip_bad)
{
    struct jsonl_reader *r = xcalloc(1, sizeof *r);
    r->in = in_open(path);
    r->field = field ? xstrdup(field) : NULL;
    r->skip_bad = skip_bad;
    return r;
}

void jsonl_close(struct jsonl_reader *r)
{
    if (!r) return;
    if (r->cur) json_decref(r->cur);
    in_close(r->in);
    free(r->field);
    free(r);
}

long jsonl_line(const struct jsonl_reader *r) { return in_lineno(r->in); }
long jsonl_bad(const struct jsonl_reader *r) { return r->bad; }
long jsonl_docs(const struct jsonl_reader *r) { return r->docs; }
const char *jsonl_name(const struct jsonl_reader *r) { return in_name(r->in); }

/* Report a malformed line: fatal, or counted when skipping. */
static void bad_line(struct jsonl_reader *r, const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (!r->skip_bad)
        die("%s:%ld: %s", in_name(r->in), in_lineno(r->in), msg);
    r->bad++;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) return 0;
    return 1;
}

/* Parse one line with jansson: the object (with the field, if asked), or
 * NULL when the line is malformed (reported, or counted when skipping). */
static json_t *parse_line(struct jsonl_reader *r, const char *line, size_t len, int need_field)
{
    json_error_t err;
    json_t *v = json_loadb(line, len, JSON_ALLOW_NUL, &err);
    if (!v) {
        bad_line(r, "malformed JSON: %s%s", err.text, "");
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        bad_line(r, "expected a JSON object, got %s%s", "another value", "");
        return NULL;
    }
    if (need_field) {
        json_t *f = json_object_get(v, r->field);
        if (!f) {
            json_decref(v);
            bad_line(r, "no field \"%s\" (choose one with --field)%s", r->field, "");
            return NULL;
        }
        if (!json_is_string(f)) {
            json_decref(v);
            bad_line(r, "field \"%s\" is not a string%s", r->field, "");
            return NULL;
        }
    }
    return v;
}

/* Parse lines until one is a JSON object (and has the field, if asked).
 * With want_text, the plain case goes through jsonl_fast_field instead:
 * then *text, *len are set and the return value is (json_t *)1. */
static json_t *next_object(struct jsonl_reader *r, int need_field, const char **text, size_t *tlen)
{
    char *line;
    size_t len;
    if (r->cur) { json_decref(r->cur); r->cur = NULL; }
    while (in_getline(r->in, &line, &len)) {
        if (blank(line, len)) continue;
        if (text && jsonl_fast_field(line, len, r->field, text, tlen)) {
            r->docs++;
            return (json_t *)1;
        }
        json_t *v = parse_line(r, line, len, need_field);
        if (!v) continue;
        r->cur = v;
        r->docs++;
        return v;
    }
    return NULL;
}

int jsonl_next(struct jsonl_reader *r, const char **text, size_t *len)
{
    json_t *v = next_object(r, 1, text, len);
    if (!v) return 0;
    if (v == (json_t *)1) return 1;
    json_t *f = json_object_get(v, r->field);
    *text = json_string_value(f);
    *len = json_string_length(f);
    return 1;
}

json_t *jsonl_next_object(struct jsonl_reader *r)
{
    return next_object(r, 0, NULL, NULL);
}

/* ---- several inputs ---- */
void jsonl_multi_init(struct jsonl_multi *m, char **paths, int n, const char *field, int skip_bad)
{
    static char *dash[] = { "-" };
    memset(m, 0, sizeof *m);
    m->paths = n > 0 ? paths : dash;
    m->n = n > 0 ? n : 1;
    m->field = field;
    m->skip_bad = skip_bad;
}

int jsonl_multi_next(struct jsonl_multi *m, const char **text, size_t *len)
{
    for (;;) {
        if (!m->cur) {
            if (m->i >= m->n) return 0;
            m->cur = jsonl_open(m->paths[m->i++], m->field, m->skip_bad);
        }
        if (jsonl_next(m->cur, text, len)) { m->docs++; return 1; }
        m->bad += jsonl_bad(m->cur);
        jsonl_close(m->cur);
        m->cur = NULL;
    }
}

void jsonl_multi_close(struct jsonl_multi *m)
{
    if (m->cur) { m->bad += jsonl_bad(m->cur); jsonl_close(m->cur); }
    m->cur = NULL;
}

/* ---- UTF-8 (RFC 3629) ----
 *   U+0000..U+007F     0xxxxxxx
 *   U+0080..U+07FF     110xxxxx 10xxxxxx                 (lead C2..DF)
 *   U+0800..U+FFFF     1110xxxx 10xxxxxx 10xxxxxx        (E0: 2nd A0..BF; ED: 2nd 80..9F)
 *   U+10000..U+10FFFF  11110xxx 10xxxxxx 10xxxxxx 10xxxxxx (F0: 2nd 90..BF; F4: 2nd 80..8F)
 * The narrowed second-byte ranges exclude overlong forms and surrogates. */
int utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if ((size_t)len > n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t utf8_check(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        int k = utf8_seq_len(u + i, n - i);
        if (!k) return i;
        i += (size_t)k;
    }
    return n;
}

/* ---- writer ---- */
size_t json_put_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t replaced = 0, i = 0, run = 0;
    putc('"', f);
    while (i < n) {
        unsigned c = u[i];
        /* Copy runs of plain bytes in one call. */
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { i++; run++; continue; }
        if (run) { xfwrite(u + i - run, 1, run, f); run = 0; }
        if (c >= 0x80) {
            int k = utf8_seq_len(u + i, n - i);
            if (k) { xfwrite(u + i, 1, (size_t)k, f); i += (size_t)k; }
            else { fputs("\xEF\xBF\xBD", f); replaced++; i++; }
            continue;
        }
        switch (c) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:   fprintf(f, "\\u%04x", c); break;
        }
        i++;
    }
    if (run) xfwrite(u + i - run, 1, run, f);
    putc('"', f);
    return replaced;
}

size_t jsonl_put_text(FILE *f, const char *key, const char *s, size_t n)
{
    putc('{', f);
    json_put_string(f, key, strlen(key));
    fputs(": ", f);
    size_t r = json_put_string(f, s, n);
    fputs("}\n", f);
    if (ferror(f)) die_errno("write error");
    return r;
}
