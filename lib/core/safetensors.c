/* safetensors.c - read and write the safetensors format (see safetensors.h
 * for the layout).
 *
 * Format facts used here, from the specification at
 * https://huggingface.co/docs/safetensors (and github.com/huggingface/safetensors,
 * README "Format"):
 *   - the first 8 bytes are the header size N as a little-endian uint64;
 *   - the header is a UTF-8 JSON object; "__metadata__" maps strings to
 *     strings; every other key is a tensor {"dtype", "shape", "data_offsets"};
 *   - data_offsets [begin, end) are relative to the byte buffer after the
 *     header; the buffer must be entirely indexed by the tensors, without
 *     holes and without overlaps;
 *   - the header may be padded with spaces (0x20) so the buffer starts on an
 *     8-byte boundary; we always pad when writing.
 * The reader maps the file read-only and hands out pointers into the map, so
 * opening a 500 MB F32 checkpoint costs no copy; F16 and BF16 tensors are
 * converted to f32 copies once the whole header has been checked.  If a foreign writer left the
 * buffer misaligned for floats, we copy the file once into an anonymous
 * mapping shifted so that the buffer is aligned.
 */
#include "core/safetensors.h"
#include "core/xio.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes floats as they lie in memory: a little-endian machine is required"
#endif

/* ---- writer ------------------------------------------------------------- */

/* ---- dtypes ------------------------------------------------------------- */
/* The element types of the specification and their sizes in bytes. */
static const struct { const char *name; int size; } DTYPES[] = {
    { "F32", 4 }, { "F16", 2 }, { "BF16", 2 },     /* ours: enum st_dtype order */
    { "F64", 8 }, { "I64", 8 }, { "U64", 8 }, { "I32", 4 }, { "U32", 4 }, { "I16", 2 },
    { "U16", 2 }, { "I8", 1 }, { "U8", 1 }, { "BOOL", 1 }, { "F8_E4M3", 1 }, { "F8_E5M2", 1 },
};

const char *st_dtype_name(enum st_dtype d) { return d <= ST_BF16 ? DTYPES[d].name : "other"; }

int st_dtype_parse(const char *s)
{
    for (int i = 0; i <= ST_BF16; i++)
        if (!strcmp(s, DTYPES[i].name)) return i;
    return -1;
}

/* bfloat16 is the top half of an IEEE binary32: 1 sign, 8 exponent, 7
 * fraction bits.  binary16 (F16) has 1 sign, 5 exponent (bias 15) and 10
 * fraction bits. */
float st_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);             /* inf, NaN */
    else if (e) u = sign | ((e - 15 + 127) << 23) | (m << 13);      /* normal */
    else if (!m) u = sign;                                          /* +-0 */
    else {
        /* subnormal: m * 2^-24; shift m up until its leading 1 is bit 10 */
        int k = -1;
        do { m <<= 1; k++; } while (!(m & 0x400));
        u = sign | ((uint32_t)(127 - 15 - k) << 23) | ((m & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);     /* quiet NaN */
    /* add half an ulp of bf16, minus one unless the kept lsb is 1: ties go to even */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

uint16_t st_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00;                     /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00;                    /* >= 65520 rounds to inf */
    if (a < 0x38800000u) {
        /* below 2^-14: a subnormal of f16, m * 2^-24; round a / 2^-24 to even */
        if (a < 0x33000000u) return sign;                          /* below half of 2^-24 */
        uint32_t mant = (a & 0x7fffff) | 0x800000, e = a >> 23;    /* value = mant * 2^(e-150) */
        int shift = 126 - (int)e;                                  /* to units of 2^-24: 14..24 */
        uint32_t r = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    /* normal: rebias the exponent, round the 23-bit fraction to 10 bits */
    uint32_t v = a - ((127u - 15u) << 23);
    v += 0xfffu + ((v >> 13) & 1);
    return sign | (uint16_t)(v >> 13);
}

/* ---- writer ------------------------------------------------------------- */

struct st_writer {
    int n, cap;
    struct st_tensor *t;        /* name owned, data borrowed */
    json_t *meta;               /* object of string -> string */
    enum st_dtype dtype;        /* what st_write writes */
};

void st_writer_dtype(struct st_writer *w, enum st_dtype d)
{
    if (d > ST_BF16) die("safetensors: internal error: no writer for dtype %d", (int)d);
    w->dtype = d;
}

struct st_writer *st_writer_new(void)
{
    struct st_writer *w = xcalloc(1, sizeof *w);
    w->meta = json_object();
    return w;
}

void st_add(struct st_writer *w, const char *name, const float *data, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > ST_MAX_DIMS) die("safetensors: tensor %s: %d dimensions (at most %d)", name, ndim, ST_MAX_DIMS);
    if (!strcmp(name, "__metadata__")) die("safetensors: '__metadata__' cannot name a tensor");
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) die("safetensors: tensor %s added twice", name);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->t = xrealloc(w->t, (size_t)w->cap * sizeof *w->t);
    }
    struct st_tensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->ndim = ndim;
    t->nelem = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) die("safetensors: tensor %s: negative dimension", name);
        t->shape[i] = shape[i];
        t->nelem *= (size_t)shape[i];
    }
    t->data = data;
}

void st_meta(struct st_writer *w, const char *key, const char *value)
{
    if (json_object_set_new(w->meta, key, json_string(value)) != 0)
        die("safetensors: metadata %s: not valid UTF-8", key);
}

void st_write(struct st_writer *w, const char *path)
{
    /* The header: tensors in the order they were added, their bytes laid out
     * back to back in the same order. */
    json_t *h = json_object();
    if (json_object_size(w->meta) > 0) json_object_set(h, "__metadata__", w->meta);
    uint64_t off = 0, esize = (uint64_t)DTYPES[w->dtype].size;
    for (int i = 0; i < w->n; i++) {
        const struct st_tensor *t = &w->t[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        uint64_t end = off + (uint64_t)t->nelem * esize;
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", DTYPES[w->dtype].name, "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)end);
        if (!e || json_object_set_new(h, t->name, e) != 0) die("safetensors: tensor name %s: not valid UTF-8", t->name);
        off = end;
    }
    char *js = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!js) die("safetensors: could not build the header of %s", path);
    json_decref(h);
    size_t jlen = strlen(js), n = (jlen + 7) / 8 * 8;       /* pad to 8 bytes */
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)n >> (8 * i));

    struct outfile o;
    FILE *f = outfile_open(&o, path);
    xfwrite(len8, 1, 8, f);
    xfwrite(js, 1, jlen, f);
    for (size_t i = jlen; i < n; i++) fputc(' ', f);
    uint16_t buf[4096];
    for (int i = 0; i < w->n; i++) {
        const struct st_tensor *t = &w->t[i];
        if (!t->nelem) continue;
        if (w->dtype == ST_F32) { xfwrite(t->data, sizeof(float), t->nelem, f); continue; }
        for (size_t at = 0; at < t->nelem; at += 4096) {       /* 16-bit: converted in chunks */
            size_t k = t->nelem - at < 4096 ? t->nelem - at : 4096;
            for (size_t j = 0; j < k; j++)
                buf[j] = w->dtype == ST_BF16 ? st_f32_to_bf16(t->data[at + j]) : st_f32_to_f16(t->data[at + j]);
            xfwrite(buf, sizeof *buf, k, f);
        }
    }
    outfile_commit(&o);
    free(js);
}

void st_writer_free(struct st_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    free(w->t);
    json_decref(w->meta);
    free(w);
}

/* ---- reader ------------------------------------------------------------- */

static int cmp_by_offset(const void *a, const void *b)
{
    const size_t *x = a, *y = b;     /* pairs (begin, end) */
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* The header's "__metadata__": a map of strings to strings. */
static void read_metadata(struct st_file *f, const char *path, json_t *val)
{
    if (!json_is_object(val)) die("%s: header: __metadata__ is not an object", path);
    size_t nm = json_object_size(val);
    f->meta_keys = xcalloc(nm ? nm : 1, sizeof *f->meta_keys);
    f->meta_values = xcalloc(nm ? nm : 1, sizeof *f->meta_values);
    const char *mk;
    json_t *mv;
    json_object_foreach(val, mk, mv) {
        if (!json_is_string(mv)) die("%s: header: __metadata__ value %s is not a string", path, mk);
        f->meta_keys[f->nmeta] = xstrdup(mk);
        f->meta_values[f->nmeta] = xstrdup(json_string_value(mv));
        f->nmeta++;
    }
}

/* One tensor's entry of the header: dtype, shape and data_offsets,
 * checked against the data buffer; its byte range goes to ranges. */
static void read_tensor(struct st_file *f, const char *path, const char *key, json_t *val,
                        const unsigned char *buf, size_t buflen, size_t *ranges, const unsigned char **raw)
{
    if (!json_is_object(val)) die("%s: tensor %s: not a JSON object", path, key);
    json_t *dt = json_object_get(val, "dtype"), *sh = json_object_get(val, "shape"),
           *of = json_object_get(val, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of))
        die("%s: tensor %s: needs dtype, shape and data_offsets", path, key);
    const char *dn = json_string_value(dt);
    int di = -1;
    for (int i = 0; i < (int)(sizeof DTYPES / sizeof DTYPES[0]); i++)
        if (!strcmp(dn, DTYPES[i].name)) di = i;
    if (di < 0) die("%s: tensor %s: unknown dtype '%.20s'", path, key, dn);
    size_t esize = (size_t)DTYPES[di].size;
    struct st_tensor *t = &f->tensors[f->ntensors];
    t->dtype = di <= ST_BF16 ? (enum st_dtype)di : ST_OTHER;
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", DTYPES[di].name);
    t->name = xstrdup(key);
    t->ndim = (int)json_array_size(sh);
    if (t->ndim > ST_MAX_DIMS) die("%s: tensor %s: %d dimensions (at most %d)", path, key, t->ndim, ST_MAX_DIMS);
    /* nelem in uint64 with an overflow guard: the product must stay
     * below the buffer size anyway. */
    uint64_t ne = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *x = json_array_get(sh, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            die("%s: tensor %s: shape entries must be non-negative integers", path, key);
        t->shape[d] = json_integer_value(x);
        if (t->shape[d] && ne > (uint64_t)buflen / (uint64_t)t->shape[d] + 1)
            die("%s: tensor %s: shape larger than the file", path, key);
        ne *= (uint64_t)t->shape[d];
    }
    if (json_array_size(of) != 2 || !json_is_integer(json_array_get(of, 0)) ||
        !json_is_integer(json_array_get(of, 1)))
        die("%s: tensor %s: data_offsets must be [begin, end]", path, key);
    json_int_t b = json_integer_value(json_array_get(of, 0)), e = json_integer_value(json_array_get(of, 1));
    if (b < 0 || e < b) die("%s: tensor %s: bad data_offsets [%lld, %lld]", path, key, (long long)b, (long long)e);
    if ((uint64_t)e > buflen)
        die("%s: truncated: tensor %s ends at byte %lld of the data, which has %zu bytes",
            path, key, (long long)e, buflen);
    if ((uint64_t)(e - b) != ne * esize)
        die("%s: tensor %s: shape has %llu elements of %zu bytes but data_offsets span %lld bytes",
            path, key, (unsigned long long)ne, esize, (long long)(e - b));
    t->nelem = (size_t)ne;
    /* F32 at a 4-byte boundary: used in place; anything else waits for
     * convert() (data NULL), which st_open calls once all is checked */
    t->data = t->dtype == ST_F32 && b % 4 == 0 ? (const float *)(const void *)(buf + b) : NULL;
    raw[f->ntensors] = buf + b;
    ranges[2 * f->ntensors] = (size_t)b;
    ranges[2 * f->ntensors + 1] = (size_t)e;
    f->ntensors++;
}

/* The f32 copy of each 16-bit (or misaligned F32) tensor, from its bytes
 * raw[i] in the file.  Tensors of other dtypes keep data NULL. */
static void convert(struct st_file *f, const unsigned char *const *raw)
{
    for (int i = 0; i < f->ntensors; i++) {
        struct st_tensor *t = &f->tensors[i];
        if (t->data || t->dtype == ST_OTHER) continue;
        t->owned = xmalloc((t->nelem ? t->nelem : 1) * sizeof(float));
        for (size_t j = 0; j < t->nelem; j++) {
            if (t->dtype == ST_F32) { memcpy(&t->owned[j], raw[i] + 4 * j, 4); continue; }
            uint16_t h = (uint16_t)(raw[i][2 * j] | raw[i][2 * j + 1] << 8);     /* little-endian */
            t->owned[j] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
        t->data = t->owned;
    }
}

struct st_file *st_open(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) die_errno("%s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) die_errno("%s", path);
    if (!S_ISREG(sb.st_mode)) die("%s: not a regular file", path);
    size_t len = (size_t)sb.st_size;
    if (len < 8) die("%s: not a safetensors file (%zu bytes, shorter than the 8-byte header size)", path, len);

    unsigned char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) die_errno("%s: mmap", path);
    close(fd);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)map[i] << (8 * i);
    if (n > len - 8) die("%s: truncated or not a safetensors file (header of %llu bytes, file of %zu)",
                         path, (unsigned long long)n, len);

    /* Floats must be 4-byte aligned: the map is page aligned, so the buffer
     * is aligned when 8 + n is.  Otherwise copy into a shifted mapping. */
    size_t map_len = len;
    void *base = map;
    if ((8 + n) % sizeof(float)) {
        size_t shift = sizeof(float) - (8 + n) % sizeof(float);
        map_len = len + shift;
        unsigned char *copy = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (copy == MAP_FAILED) die_errno("%s: mmap", path);
        memcpy(copy + shift, map, len);
        munmap(map, len);
        base = copy;
        map = copy + shift;
    }
    const unsigned char *buf = map + 8 + n;
    size_t buflen = len - 8 - (size_t)n;

    json_error_t err;
    json_t *h = json_loadb((const char *)map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &err);
    if (!h) die("%s: header: invalid JSON at byte %d: %s", path, err.position, err.text);
    if (!json_is_object(h)) die("%s: header: not a JSON object", path);

    struct st_file *f = xcalloc(1, sizeof *f);
    f->path = xstrdup(path);
    f->map = base;
    f->map_len = map_len;
    size_t cap = json_object_size(h);
    f->tensors = xcalloc(cap ? cap : 1, sizeof *f->tensors);
    size_t *ranges = xcalloc(cap ? 2 * cap : 1, sizeof *ranges);
    const unsigned char **raw = xcalloc(cap ? cap : 1, sizeof *raw);

    const char *key;
    json_t *val;
    json_object_foreach(h, key, val) {
        if (!strcmp(key, "__metadata__")) read_metadata(f, path, val);
        else read_tensor(f, path, key, val, buf, buflen, ranges, raw);
    }
    json_decref(h);

    /* Sorted by offset, each tensor must start where the previous ended and
     * the last must end with the buffer: no overlap, no hole. */
    qsort(ranges, (size_t)f->ntensors, 2 * sizeof *ranges, cmp_by_offset);
    size_t at = 0;
    for (int i = 0; i < f->ntensors; i++) {
        if (ranges[2 * i] < at) die("%s: tensors overlap at data byte %zu", path, ranges[2 * i]);
        if (ranges[2 * i] > at) die("%s: hole in the data at bytes %zu..%zu", path, at, ranges[2 * i]);
        at = ranges[2 * i + 1];
    }
    if (at != buflen) die("%s: %zu bytes after the last tensor", path, buflen - at);
    free(ranges);
    convert(f, raw);
    free(raw);
    return f;
}

/* ---- sharded models --------------------------------------------------- */

struct st_file *st_open_index(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!j) die("%s:%d: %s", path, err.line, err.text);
    json_t *wm = json_object_get(j, "weight_map"), *md = json_object_get(j, "metadata");
    if (!json_is_object(wm)) die("%s: no \"weight_map\" object (not a safetensors index)", path);
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;

    /* The shards, in the order the map first names them. */
    struct st_file *f = xcalloc(1, sizeof *f);
    f->path = xstrdup(path);
    size_t nw = json_object_size(wm);
    const char **names = xcalloc(nw ? nw : 1, sizeof *names);
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        const char *s = json_string_value(val);
        if (!s || !*s || strchr(s, '/') || !strcmp(s, "..") || !strcmp(s, "."))
            die("%s: weight_map: tensor %s: the shard must be a file name in the same directory", path, key);
        int seen = 0;
        for (int i = 0; i < f->nparts && !seen; i++) seen = !strcmp(names[i], s);
        if (!seen) names[f->nparts++] = s;
    }
    if (!f->nparts) die("%s: the weight_map is empty", path);
    f->parts = xcalloc((size_t)f->nparts, sizeof *f->parts);
    int total = 0;
    for (int i = 0; i < f->nparts; i++) {
        size_t n = (size_t)dirlen + strlen(names[i]) + 1;
        char *sp = xmalloc(n);
        snprintf(sp, n, "%.*s%s", dirlen, path, names[i]);
        f->parts[i] = st_open(sp);
        free(sp);
        total += f->parts[i]->ntensors;
    }

    /* Every tensor where the map says, and every mapped tensor present. */
    f->tensors = xcalloc(total ? (size_t)total : 1, sizeof *f->tensors);
    for (int i = 0; i < f->nparts; i++)
        for (int k = 0; k < f->parts[i]->ntensors; k++) {
            const struct st_tensor *t = &f->parts[i]->tensors[k];
            const char *want = json_string_value(json_object_get(wm, t->name));
            if (!want) die("%s: shard %s holds tensor %s, which the weight_map does not list", path, names[i], t->name);
            if (strcmp(want, names[i]))
                die("%s: tensor %s is in shard %s, but the weight_map says %s", path, t->name, names[i], want);
            struct st_tensor *c = &f->tensors[f->ntensors++];
            *c = *t;
            c->name = xstrdup(t->name);
            c->owned = NULL;        /* the shard owns the data */
        }
    json_object_foreach(wm, key, val)
        if (!st_find(f, key)) die("%s: the weight_map puts tensor %s in %s, which does not hold it",
                                  path, key, json_string_value(val));

    /* Metadata: the index's own ("total_size": a number), then the first shard's. */
    size_t nm = (json_is_object(md) ? json_object_size(md) : 0) + (size_t)f->parts[0]->nmeta;
    f->meta_keys = xcalloc(nm ? nm : 1, sizeof *f->meta_keys);
    f->meta_values = xcalloc(nm ? nm : 1, sizeof *f->meta_values);
    if (json_is_object(md))
        json_object_foreach(md, key, val) {
            char num[32];
            const char *v = json_string_value(val);
            if (!v && json_is_integer(val)) { snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val)); v = num; }
            if (!v) continue;
            f->meta_keys[f->nmeta] = xstrdup(key);
            f->meta_values[f->nmeta++] = xstrdup(v);
        }
    for (int i = 0; i < f->parts[0]->nmeta; i++) {
        if (st_meta_get(f, f->parts[0]->meta_keys[i])) continue;
        f->meta_keys[f->nmeta] = xstrdup(f->parts[0]->meta_keys[i]);
        f->meta_values[f->nmeta++] = xstrdup(f->parts[0]->meta_values[i]);
    }
    free(names);
    json_decref(j);
    return f;
}

char *st_peek_meta(const char *path, const char *key)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char len8[8];
    char *r = NULL, *h = NULL;
    uint64_t n = 0;
    if (fread(len8, 1, 8, f) == 8) {
        for (int i = 0; i < 8; i++) n |= (uint64_t)len8[i] << (8 * i);
        if (n && n < (1u << 30) && (h = malloc((size_t)n)) && fread(h, 1, (size_t)n, f) == n) {
            json_t *j = json_loadb(h, (size_t)n, 0, NULL);
            const char *v = json_string_value(json_object_get(json_object_get(j, "__metadata__"), key));
            if (v) r = xstrdup(v);
            json_decref(j);
        }
    }
    free(h);
    fclose(f);
    return r;
}

struct st_file *st_open_any(const char *path)
{
    size_t n = strlen(path);
    if (n >= 11 && !strcmp(path + n - 11, ".index.json")) return st_open_index(path);
    return st_open(path);
}

void st_close(struct st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->ntensors; i++) { free(f->tensors[i].name); free(f->tensors[i].owned); }
    for (int i = 0; i < f->nmeta; i++) { free(f->meta_keys[i]); free(f->meta_values[i]); }
    for (int i = 0; i < f->nparts; i++) st_close(f->parts[i]);
    free(f->parts);
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    if (f->map) munmap(f->map, f->map_len);
    free(f->path);
    free(f);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
    for (int i = 0; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta_get(const struct st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(s, cap, "(");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(s + k, cap - k, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (k < cap) snprintf(s + k, cap - k, ")");
}

const float *st_expect(const struct st_file *f, const char *name, int ndim, const int64_t *shape)
{
    const struct st_tensor *t = st_find(f, name);
    if (!t) die("%s: no tensor %s", f->path, name);
    if (!t->data && t->nelem)
        die("%s: tensor %s has dtype %s; only F32, F16 and BF16 are read", f->path, name, t->dtype_name);
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char want[256], got[256];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        die("%s: tensor %s has shape %s, expected %s", f->path, name, got, want);
    }
    return t->data;
}
