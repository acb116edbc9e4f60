/* thrift.c - Thrift compact protocol decoder (see thrift.h). */
#include "parquet/thrift.h"
#include "core/xio.h"

#include <string.h>

enum { MAX_DEPTH = 64 };

void thrift_init(struct thrift *t, const void *buf, size_t len, const char *name)
{
    t->p = buf;
    t->end = t->p + len;
    t->name = name;
    t->depth = 0;
}

void thrift_corrupt(const struct thrift *t, const char *what)
{
    die("%s: corrupt metadata (%s)", t->name, what);
}

uint64_t thrift_uleb(struct thrift *t)
{
    /* ULEB128: 7 bits per byte, least significant group first, high bit =
     * "more bytes follow".  At most 10 bytes for 64 bits. */
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (t->p >= t->end) thrift_corrupt(t, "truncated varint");
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    thrift_corrupt(t, "varint longer than 10 bytes");
}

/* zigzag: 0,-1,1,-2,2 ... are stored as 0,1,2,3,4: n = (u >> 1) ^ -(u & 1) */
static int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

int64_t thrift_i64(struct thrift *t) { return unzigzag(thrift_uleb(t)); }

int32_t thrift_i32(struct thrift *t)
{
    int64_t v = thrift_i64(t);
    if (v < INT32_MIN || v > INT32_MAX) thrift_corrupt(t, "i32 out of range");
    return (int32_t)v;
}

int64_t thrift_int(struct thrift *t, int type)
{
    switch (type) {
    case TT_I8:
        if (t->p >= t->end) thrift_corrupt(t, "truncated i8");
        return (int8_t)*t->p++;
    case TT_I16: case TT_I32: return thrift_i32(t);
    case TT_I64: return thrift_i64(t);
    default: thrift_corrupt(t, "integer field of a non-integer type");
    }
}

int thrift_bool(struct thrift *t, int type)
{
    if (type == TT_TRUE) return 1;
    if (type == TT_FALSE) return 0;
    thrift_corrupt(t, "bool field of a non-bool type");
}

double thrift_double(struct thrift *t)
{
    if (t->end - t->p < 8) thrift_corrupt(t, "truncated double");
    double d;
    memcpy(&d, t->p, 8);    /* little-endian on every platform we build for */
    t->p += 8;
    return d;
}

const uint8_t *thrift_binary(struct thrift *t, size_t *len)
{
    uint64_t n = thrift_uleb(t);
    if (n > (uint64_t)(t->end - t->p)) thrift_corrupt(t, "binary longer than the metadata");
    const uint8_t *s = t->p;
    t->p += n;
    *len = (size_t)n;
    return s;
}

size_t thrift_list(struct thrift *t, int *elem)
{
    if (t->p >= t->end) thrift_corrupt(t, "truncated list header");
    uint8_t h = *t->p++;
    uint64_t n = h >> 4;
    if (n == 15) n = thrift_uleb(t);
    *elem = h & 0x0f;
    /* Every element takes at least one byte, so a count larger than the
     * bytes left is a lie: refuse it before anyone allocates for it. */
    if (n > (uint64_t)(t->end - t->p)) thrift_corrupt(t, "list longer than the metadata");
    return (size_t)n;
}

void thrift_enter(struct thrift *t)
{
    if (++t->depth > MAX_DEPTH) thrift_corrupt(t, "structures nested too deeply");
}

void thrift_leave(struct thrift *t) { t->depth--; }

int thrift_field(struct thrift *t, int *last, int *id, int *type)
{
    if (t->p >= t->end) thrift_corrupt(t, "truncated struct");
    uint8_t h = *t->p++;
    if (h == TT_STOP) return 0;
    *type = h & 0x0f;
    int delta = h >> 4;
    if (delta) *id = *last + delta;
    else {
        int64_t v = thrift_i64(t);
        if (v < INT16_MIN || v > INT16_MAX) thrift_corrupt(t, "field id out of range");
        *id = (int)v;
    }
    *last = *id;
    return 1;
}

void thrift_skip(struct thrift *t, int type)
{
    size_t n;
    int elem, last = 0, id, ft;
    switch (type) {
    case TT_TRUE: case TT_FALSE: return;            /* value is in the type */
    case TT_I8:
        if (t->p >= t->end) thrift_corrupt(t, "truncated i8");
        t->p++;
        return;
    case TT_I16: case TT_I32: case TT_I64: thrift_uleb(t); return;
    case TT_DOUBLE: thrift_double(t); return;
    case TT_BINARY: thrift_binary(t, &n); return;
    case TT_UUID:
        if (t->end - t->p < 16) thrift_corrupt(t, "truncated uuid");
        t->p += 16;
        return;
    case TT_LIST: case TT_SET:
        n = thrift_list(t, &elem);
        thrift_enter(t);
        for (size_t i = 0; i < n; i++) {
            /* inside a list a bool is one byte, not part of a header */
            if (elem == TT_TRUE || elem == TT_FALSE) thrift_skip(t, TT_I8);
            else thrift_skip(t, elem);
        }
        thrift_leave(t);
        return;
    case TT_MAP: {
        n = thrift_uleb(t);
        if (n == 0) return;
        if (n > (uint64_t)(t->end - t->p)) thrift_corrupt(t, "map longer than the metadata");
        if (t->p >= t->end) thrift_corrupt(t, "truncated map header");
        uint8_t kv = *t->p++;
        int kt = kv >> 4, vt = kv & 0x0f;
        thrift_enter(t);
        for (size_t i = 0; i < n; i++) {
            thrift_skip(t, kt == TT_TRUE || kt == TT_FALSE ? TT_I8 : kt);
            thrift_skip(t, vt == TT_TRUE || vt == TT_FALSE ? TT_I8 : vt);
        }
        thrift_leave(t);
        return;
    }
    case TT_STRUCT:
        thrift_enter(t);
        while (thrift_field(t, &last, &id, &ft)) thrift_skip(t, ft);
        thrift_leave(t);
        return;
    default:
        thrift_corrupt(t, "unknown field type");
    }
}
