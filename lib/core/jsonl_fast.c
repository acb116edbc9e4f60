/* jsonl_fast.c - the common JSONL line read without jansson.
 *
 * A corpus line is almost always a flat object with the text in one
 * string field: {"text": "...", "id": 12}.  Building a jansson object for
 * it (a hash table, a copy of every string, a number conversion) costs as
 * much as tokenizing the text.  jsonl_fast_field checks the line against the
 * JSON grammar (RFC 8259) in one pass and finds the field, and decodes only
 * that string.  It is deliberately partial: whenever a line is anything
 * but the plain case, it returns 0 and the caller parses the line with
 * jansson, which then accepts it or names the error exactly as before:
 *   - a syntax error anywhere, invalid UTF-8, a control character in a
 *     string, a lone surrogate (\ud800 without its pair);
 *   - a top-level value that is not an object, a missing field, a field
 *     that is not a string or occurs twice, a key with an escape;
 *   - a number longer than 15 characters or with a 3-digit exponent
 *     (jansson refuses one that overflows), nesting deeper than 32.
 * The two agree on every line the fast path accepts: tests/unit/test_jsonl.c
 * compares them on mutated lines.
 */
#include "core/jsonl.h"

#include <stdint.h>
#include <string.h>

struct scan { unsigned char *p, *end; };

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int hex4(const unsigned char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 16;
        if (d == 16) return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

typedef uint8_t u8x16 __attribute__((vector_size(16)));

/* The string at s->p (a '"'): checks it and steps past it; its contents
 * are [*a, *b), *esc tells whether it holds an escape.  0 when invalid. */
static int string(struct scan *s, unsigned char **a, unsigned char **b, int *esc)
{
    unsigned char *p = s->p + 1, *e = s->end;
    *a = p;
    *esc = 0;
    for (;;) {
        /* sixteen plain bytes at a time, as one vector (GCC's vector
         * extension: SSE2 on x86-64, NEON on ARM): each lane's compares
         * give 0xFF where the byte needs a look.  On a little-endian
         * machine the first such byte is the lowest set byte of the two
         * words (count trailing zeros); elsewhere the loops below find it */
        while (e - p >= 16) {
            u8x16 x;
            memcpy(&x, p, 16);
            u8x16 m = (u8x16)((x < 0x20) | (x >= 0x80) | (x == '"') | (x == '\\'));
            uint64_t w[2];
            memcpy(w, &m, 16);
            if (w[0] | w[1]) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                p += w[0] ? (size_t)__builtin_ctzll(w[0]) / 8 : 8 + (size_t)__builtin_ctzll(w[1]) / 8;
                goto look;
#else
                break;
#endif
            }
            p += 16;
        }
        /* eight plain bytes at a time: a byte needs a look when it is below
         * 0x20, 0x80 or above, '"' or '\\' (the "has a zero byte" trick:
         * (x - 0x01..) & ~x & 0x80.. is non-zero iff some byte of x is 0) */
        while (e - p >= 8) {
            uint64_t x, lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
            memcpy(&x, p, 8);
            uint64_t q = x ^ (lo * '"'), b = x ^ (lo * '\\');
            if (((x - lo * 0x20) | x | ((q - lo) & ~q) | ((b - lo) & ~b)) & hi) break;
            p += 8;
        }
        while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    look:
        if (p >= e) return 0;
        unsigned c = *p;
        if (c == '"') break;
        if (c < 0x20) return 0;
        if (c >= 0x80) {
            int k = utf8_seq_len(p, (size_t)(e - p));
            if (!k) return 0;
            p += k;
            continue;
        }
        *esc = 1;                               /* a backslash */
        if (++p >= e) return 0;
        c = *p;
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') { p++; continue; }
        unsigned u, v;
        if (c != 'u' || e - p < 5 || !hex4(p + 1, &u)) return 0;
        p += 5;
        if (u >= 0xDC00 && u <= 0xDFFF) return 0;                      /* a low surrogate alone */
        if (u >= 0xD800 && u <= 0xDBFF) {                               /* needs its low half */
            if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &v) || v < 0xDC00 || v > 0xDFFF) return 0;
            p += 6;
        }
    }
    *b = p;
    s->p = p + 1;
    return 1;
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]{1,2})?, 15 characters at most. */
static int number(struct scan *s)
{
    unsigned char *p = s->p, *e = s->end, *start = p;
    if (p < e && *p == '-') p++;
    if (p >= e || *p < '0' || *p > '9') return 0;
    if (*p == '0') p++;
    else while (p < e && *p >= '0' && *p <= '9') p++;
    if (p < e && *p == '.') {
        if (++p >= e || *p < '0' || *p > '9') return 0;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-')) p++;
        unsigned char *d = p;
        while (p < e && *p >= '0' && *p <= '9') p++;
        if (p == d || p - d > 2) return 0;      /* no overflow to HUGE_VAL, which jansson refuses */
    }
    if (p - start > 15) return 0;
    s->p = p;
    return 1;
}

static int literal(struct scan *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return 0;
    s->p += n;
    return 1;
}

static int value(struct scan *s, int depth);

/* An object or array at s->p ('{' or '['), its members checked. */
static int container(struct scan *s, int depth)
{
    unsigned char close = *s->p == '{' ? '}' : ']', *a, *b;
    int esc;
    if (depth > 32) return 0;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) { s->p++; return 1; }
    for (;;) {
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"' || !string(s, &a, &b, &esc)) return 0;
            ws(s);
            if (s->p >= s->end || *s->p++ != ':') return 0;
        }
        if (!value(s, depth + 1)) return 0;
        ws(s);
        if (s->p >= s->end) return 0;
        if (*s->p == close) { s->p++; return 1; }
        if (*s->p++ != ',') return 0;
        ws(s);
    }
}

static int value(struct scan *s, int depth)
{
    unsigned char *a, *b;
    int esc;
    ws(s);
    if (s->p >= s->end) return 0;
    switch (*s->p) {
    case '"': return string(s, &a, &b, &esc);
    case '{': case '[': return container(s, depth);
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    default: return number(s);
    }
}

/* Decode the escapes of the checked string [a, b) in place (the result is
 * never longer); returns its length. */
static size_t unescape(unsigned char *a, unsigned char *b)
{
    unsigned char *o = a;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    for (unsigned char *p = a; p < b;) {
        if (*p != '\\') {                      /* the plain run up to the next backslash */
            unsigned char *q = memchr(p, '\\', (size_t)(b - p));
            size_t k = (size_t)((q ? q : b) - p);
            memmove(o, p, k);
            o += k;
            p += k;
            continue;
        }
        if (p[1] != 'u') { *o++ = (unsigned char)to[strchr(from, p[1]) - from]; p += 2; continue; }
        unsigned u, v;
        hex4(p + 2, &u);
        p += 6;
        if (u >= 0xD800 && u <= 0xDBFF) { hex4(p + 2, &v); p += 6; u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00); }
        if (u < 0x80) *o++ = (unsigned char)u;
        else if (u < 0x800) { *o++ = (unsigned char)(0xC0 | u >> 6); *o++ = (unsigned char)(0x80 | (u & 0x3F)); }
        else if (u < 0x10000) {
            *o++ = (unsigned char)(0xE0 | u >> 12);
            *o++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
            *o++ = (unsigned char)(0x80 | (u & 0x3F));
        } else {
            *o++ = (unsigned char)(0xF0 | u >> 18);
            *o++ = (unsigned char)(0x80 | (u >> 12 & 0x3F));
            *o++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
            *o++ = (unsigned char)(0x80 | (u & 0x3F));
        }
    }
    return (size_t)(o - a);
}

int jsonl_fast_field(char *line, size_t n, const char *field, const char **text, size_t *len)
{
    struct scan s = { (unsigned char *)line, (unsigned char *)line + n };
    unsigned char *a, *b, *va = NULL, *vb = NULL;
    int esc, vesc = 0;
    size_t flen = strlen(field);
    ws(&s);
    if (s.p >= s.end || *s.p++ != '{') return 0;
    ws(&s);
    if (s.p < s.end && *s.p == '}') return 0;           /* {}: no field */
    for (;;) {
        if (s.p >= s.end || *s.p != '"' || !string(&s, &a, &b, &esc) || esc) return 0;
        ws(&s);
        if (s.p >= s.end || *s.p++ != ':') return 0;
        ws(&s);
        if ((size_t)(b - a) == flen && memcmp(a, field, flen) == 0) {
            if (va || s.p >= s.end || *s.p != '"' || !string(&s, &va, &vb, &vesc)) return 0;
        } else if (!value(&s, 1)) return 0;
        ws(&s);
        if (s.p >= s.end) return 0;
        if (*s.p == '}') break;
        if (*s.p++ != ',') return 0;
        ws(&s);
    }
    s.p++;
    ws(&s);
    if (s.p != s.end || !va) return 0;
    *len = vesc ? unescape(va, vb) : (size_t)(vb - va);
    va[*len] = 0;                       /* a C string too, like jansson's */
    *text = (const char *)va;
    return 1;
}
