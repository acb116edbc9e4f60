/* jbuf.c - buffered JSON output for rows (see jbuf.h). */
#include "core/jbuf.h"
#include "core/jsonl.h"
#include "core/xio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <unistd.h>

enum { JB_FLUSH_AT = 1 << 16 };

void jb_init(struct jbuf *b, FILE *f)
{
    memset(b, 0, sizeof *b);
    b->f = f;
    b->cap = 2 * JB_FLUSH_AT;
    b->p = xmalloc(b->cap);
}

static void reserve(struct jbuf *b, size_t more)
{
    if (b->n + more <= b->cap) return;
    while (b->n + more > b->cap) b->cap *= 2;
    b->p = xrealloc(b->p, b->cap);
}

static void hand_over(struct jbuf *b)
{
    /* large blocks go straight to the file descriptor: stdio would only
     * copy them once more */
    int fd = b->n ? fileno(b->f) : -1;
    if (fd >= 0 && fflush(b->f) == 0) {
        size_t done = 0;
        while (done < b->n) {
            ssize_t k = write(fd, b->p + done, b->n - done);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) die_errno("write error");
            done += (size_t)k;
        }
    } else if (b->n && fwrite(b->p, 1, b->n, b->f) != b->n) die_errno("write error");
    b->bytes += b->n;
    b->n = 0;
}

void jb_flush(struct jbuf *b)
{
    hand_over(b);
    if (fflush(b->f) != 0) die_errno("write error");
}

void jb_free(struct jbuf *b)
{
    if (!b->p) return;
    jb_flush(b);
    free(b->p);
    b->p = NULL;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void jb_endrow(struct jbuf *b)
{
    reserve(b, 1);
    b->p[b->n++] = '\n';
    if (b->n >= JB_FLUSH_AT) hand_over(b);
}

/* Bytes that can be copied as they are: printable ASCII except '"' and '\\'. */
static const unsigned char plain[256] = {
#define R8(x) x, x, x, x, x, x, x, x
    R8(0), R8(0), R8(0), R8(0),              /* 0x00-0x1f: control */
    1, 1, 0, 1, 1, 1, 1, 1, R8(1),           /* 0x20-0x2f, '"' = 0x22 */
    R8(1), R8(1), R8(1), R8(1),              /* 0x30-0x4f */
    R8(1), 1, 1, 1, 1, 0, 1, 1, 1,           /* 0x50-0x5f, '\\' = 0x5c */
    R8(1), R8(1), R8(1), R8(1),              /* 0x60-0x7f */
#undef R8
};

void jb_str(struct jbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    /* worst case: every byte becomes \u00XX (6) or U+FFFD (3) */
    reserve(b, 6 * n + 2);
    char *o = b->p + b->n;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        /* 8 bytes at a time while none needs attention, copied as they are
         * checked (one pass over the text).  SWAR: a byte b is flagged when
         * b < 0x20, b == '"', b == '\\' or b >= 0x80; a borrow may flag a
         * clean word, never miss a byte. */
        const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, u + i, 8);
            uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
            if ((v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high) break;
            memcpy(o, &v, 8);
            o += 8;
            i += 8;
        }
        while (i < n && plain[u[i]]) *o++ = (char)u[i++];
        if (i >= n) break;
        unsigned c = u[i];
        if (c >= 0x80) {
            int k = utf8_seq_len(u + i, n - i);
            if (k) { memcpy(o, u + i, (size_t)k); o += k; i += (size_t)k; }
            else { memcpy(o, "\xEF\xBF\xBD", 3); o += 3; b->replaced++; i++; }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default: {
            static const char hex[] = "0123456789abcdef";
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        }
        }
        i++;
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
}

void jb_u64(struct jbuf *b, uint64_t v)
{
    char tmp[24];
    int k = 0;
    do { tmp[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    reserve(b, (size_t)k);
    while (k) b->p[b->n++] = tmp[--k];
}

void jb_i64(struct jbuf *b, int64_t v)
{
    if (v < 0) { jb_raw(b, "-", 1); jb_u64(b, (uint64_t)0 - (uint64_t)v); }
    else jb_u64(b, (uint64_t)v);
}

/* Doubles are written with the fewest significant digits (at least 15)
 * that read back to the same value; 17 always suffice (9 for a float).
 * One printf gives the 17 digits; shorter candidates are those digits
 * rounded to k places, each checked with strtod.  (Rounding the rounded
 * digits can, on an exact tie, miss a k-digit form: the result is then one
 * digit longer than needed, never wrong.)  The text follows printf's %.kg:
 * scientific when the exponent is below -4 or at least k, trailing zeros
 * dropped; a result that looks like an integer keeps a ".0" so readers see
 * a float. */
static int format_g(char *out, int neg, const char *dig, int k, int x)
{
    int m = k, n = 0;
    while (m > 1 && dig[m - 1] == '0') m--;         /* trailing zeros go */
    if (neg) out[n++] = '-';
    if (x < -4 || x >= k) {                         /* d.ddde+XX */
        out[n++] = dig[0];
        if (m > 1) { out[n++] = '.'; memcpy(out + n, dig + 1, (size_t)m - 1); n += m - 1; }
        n += sprintf(out + n, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x >= 0) {                            /* ddd.ddd */
        for (int i = 0; i <= x; i++) out[n++] = i < m ? dig[i] : '0';
        if (m > x + 1) { out[n++] = '.'; memcpy(out + n, dig + x + 1, (size_t)(m - x - 1)); n += m - x - 1; }
    } else {                                        /* 0.000ddd */
        out[n++] = '0'; out[n++] = '.';
        for (int i = 0; i < -x - 1; i++) out[n++] = '0';
        memcpy(out + n, dig, (size_t)m); n += m;
    }
    out[n] = 0;
    return n;
}

static void put_real(struct jbuf *b, double v, int min_digits, int is_float)
{
    if (!isfinite(v)) { jb_raw(b, "null", 4); return; }
    int max_digits = is_float ? 9 : 17;
    char e[48], dig[24], rd[24], tmp[48];
    snprintf(e, sizeof e, "%.*e", max_digits - 1, v);    /* [-]d.dddde[+-]XX */
    const char *p = e;
    int neg = *p == '-';
    if (neg) p++;
    int nd = 0;
    for (; *p && *p != 'e'; p++) if (*p != '.') dig[nd++] = *p;
    int x = atoi(p + 1), len = 0;
    for (int k = min_digits; k <= max_digits; k++) {
        if (k == max_digits) { len = format_g(tmp, neg, dig, k, x); break; }
        /* a cut at "5" then zeros is a tie only in the rounded digits, not
         * in v: let printf round v itself */
        int tie = dig[k] == '5';
        for (int i = k + 1; tie && i < max_digits; i++) tie = dig[i] == '0';
        if (tie) {
            len = snprintf(tmp, sizeof tmp, "%.*g", k, v);
            if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
            continue;
        }
        /* round the digits half-up to k places, carrying to the left */
        memcpy(rd, dig, (size_t)k);
        int xk = x;
        if (dig[k] >= '5') {
            int i = k - 1;
            while (i >= 0 && rd[i] == '9') rd[i--] = '0';
            if (i >= 0) rd[i]++;
            else { memmove(rd + 1, rd, (size_t)k - 1); rd[0] = '1'; xk++; }
        }
        len = format_g(tmp, neg, rd, k, xk);
        if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
    }
    if (!strpbrk(tmp, ".e")) { tmp[len++] = '.'; tmp[len++] = '0'; tmp[len] = 0; }
    jb_raw(b, tmp, (size_t)len);
}

void jb_double(struct jbuf *b, double v) { put_real(b, v, 15, 0); }
void jb_float(struct jbuf *b, float v) { put_real(b, v, 6, 1); }

void jb_json(struct jbuf *b, const struct json_t *cv)
{
    json_t *v = (json_t *)cv;   /* jansson's getters take non-const */
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        jb_raw(b, "{", 1);
        json_object_foreach(v, k, x) {
            if (!first) jb_raw(b, ", ", 2);
            first = 0;
            jb_str(b, k, strlen(k));
            jb_raw(b, ": ", 2);
            jb_json(b, x);
        }
        jb_raw(b, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        jb_raw(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) jb_raw(b, ", ", 2);
            jb_json(b, json_array_get(v, i));
        }
        jb_raw(b, "]", 1);
        break;
    }
    case JSON_STRING: jb_str(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: jb_i64(b, json_integer_value(v)); break;
    case JSON_REAL: jb_double(b, json_real_value(v)); break;
    case JSON_TRUE: jb_raw(b, "true", 4); break;
    case JSON_FALSE: jb_raw(b, "false", 5); break;
    case JSON_NULL: jb_raw(b, "null", 4); break;
    }
}
