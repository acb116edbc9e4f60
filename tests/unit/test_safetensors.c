/* test_safetensors.c - safetensors round trip, the exact byte layout of a
 * small file, and rejection of truncated, corrupt and foreign files. */
#include "unit.h"
#include "core/safetensors.h"
#include "core/xio.h"

#include <stdint.h>

/* Write raw bytes: an 8-byte little-endian header length, the header, data. */
static const char *write_raw(const char *name, const char *header, const void *data, size_t dlen)
{
    const char *path = unit_tmp(name);
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(header);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, n, f);
    if (dlen) fwrite(data, 1, dlen, f);
    fclose(f);
    return path;
}

TEST(roundtrip)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {-1.5f, 0.25f, 1e-30f}, s = 42;
    struct st_writer *w = st_writer_new();
    st_add(w, "transformer.wte.weight", a, 2, (int64_t[]){2, 3});
    st_add(w, "b", b, 1, (int64_t[]){3});
    st_add(w, "empty", NULL, 2, (int64_t[]){0, 5});
    st_add(w, "scalar", &s, 0, NULL);
    st_meta(w, "config", "{\"layers\": 4}");
    st_meta(w, "note", "caf\xc3\xa9");
    const char *path = unit_tmp("rt.safetensors");
    st_write(w, path);
    st_writer_free(w);

    struct st_file *f = st_open(path);
    CHECK(f->ntensors == 4);
    const struct st_tensor *t = st_find(f, "transformer.wte.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->nelem == 6);
    CHECK(t && !memcmp(t->data, a, sizeof a));
    CHECK(((uintptr_t)t->data & 3) == 0);
    const float *pb = st_expect(f, "b", 1, (int64_t[]){3});
    CHECK(!memcmp(pb, b, sizeof b));
    t = st_find(f, "empty");
    CHECK(t && t->nelem == 0 && t->ndim == 2);
    t = st_find(f, "scalar");
    CHECK(t && t->ndim == 0 && t->nelem == 1 && t->data[0] == 42);
    CHECK(st_find(f, "missing") == NULL);
    CHECK(!strcmp(st_meta_get(f, "config"), "{\"layers\": 4}"));
    CHECK(!strcmp(st_meta_get(f, "note"), "caf\xc3\xa9"));
    CHECK(st_meta_get(f, "other") == NULL);
    st_close(f);
    /* the header alone */
    char *m = st_peek_meta(path, "note");
    CHECK(m && !strcmp(m, "caf\xc3\xa9"));
    free(m);
    CHECK(st_peek_meta(path, "other") == NULL);
    CHECK(st_peek_meta(unit_tmp("does-not-exist"), "note") == NULL);
}

/* The bytes of a one-tensor file, as the specification lays them out: the
 * header is padded with spaces to a multiple of 8 and the data follows. */
TEST(exact_layout)
{
    float x[2] = {1.0f, -2.0f};
    struct st_writer *w = st_writer_new();
    st_add(w, "x", x, 1, (int64_t[]){2});
    const char *path = unit_tmp("layout.safetensors");
    st_write(w, path);
    st_writer_free(w);
    size_t len;
    char *d = read_file(path, &len);
    const char *json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t jl = strlen(json), n = (jl + 7) / 8 * 8;
    CHECK(len == 8 + n + 8);
    CHECK((unsigned char)d[0] == n && !d[1] && !d[2] && !d[3] && !d[4] && !d[5] && !d[6] && !d[7]);
    CHECK(!memcmp(d + 8, json, jl));
    for (size_t i = jl; i < n; i++) CHECK(d[8 + i] == ' ');
    /* 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian */
    CHECK(!memcmp(d + 8 + n, "\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
    free(d);
}

/* A file from another writer whose header is not padded: the data would be
 * misaligned for floats; the reader must still hand out correct values. */
TEST(unpadded_foreign_file)
{
    float x[3] = {3.5f, -1, 7};
    const char *p = write_raw("unpadded.safetensors",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"__metadata__\":{\"format\":\"pt\"}} ",
        x, sizeof x);
    struct st_file *f = st_open(p);
    const float *w = st_expect(f, "w", 1, (int64_t[]){3});
    CHECK(((uintptr_t)w & 3) == 0);
    CHECK(w[0] == 3.5f && w[1] == -1 && w[2] == 7);
    CHECK(!strcmp(st_meta_get(f, "format"), "pt"));
    st_close(f);
}

TEST(rejects_bad_files)
{
    float x[4] = {0};
    const char *p;
    p = write_raw("short", "", NULL, 0);
    { FILE *f = fopen(p, "wb"); fwrite("abc", 1, 3, f); fclose(f); }
    EXPECT_DIE(st_open(p), "shorter than the 8-byte header size");
    p = write_raw("hugeheader", "{\"w\":1}", NULL, 0);
    { FILE *f = fopen(p, "r+b"); fputc(0xff, f); fclose(f); }
    EXPECT_DIE(st_open(p), "truncated or not a safetensors file");
    p = write_raw("badjson", "{\"w\": [1, 2", NULL, 0);
    EXPECT_DIE(st_open(p), "header: invalid JSON");
    p = write_raw("dup", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", x, 4);
    EXPECT_DIE(st_open(p), "header: invalid JSON");
    p = write_raw("q4", "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,4]}}", x, 4);
    EXPECT_DIE(st_open(p), "tensor w: unknown dtype 'Q4_K'");
    p = write_raw("trunc", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", x, 12);
    EXPECT_DIE(st_open(p), "truncated: tensor w ends at byte 16 of the data, which has 12 bytes");
    p = write_raw("size", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", x, 16);
    EXPECT_DIE(st_open(p), "tensor w: shape has 3 elements of 4 bytes but data_offsets span 16 bytes");
    p = write_raw("overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", x, 12);
    EXPECT_DIE(st_open(p), "tensors overlap");
    p = write_raw("hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", x, 12);
    EXPECT_DIE(st_open(p), "hole in the data");
    p = write_raw("tail", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", x, 8);
    EXPECT_DIE(st_open(p), "4 bytes after the last tensor");
    p = write_raw("negshape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", x, 4);
    EXPECT_DIE(st_open(p), "shape entries must be non-negative integers");
    p = write_raw("hugeshape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],"
                               "\"data_offsets\":[0,4]}}", x, 4);
    EXPECT_DIE(st_open(p), "shape larger than the file");
    p = write_raw("meta", "{\"__metadata__\":{\"k\":1}}", NULL, 0);
    EXPECT_DIE(st_open(p), "__metadata__ value k is not a string");
    EXPECT_DIE(st_open(unit_tmp("does-not-exist")), "does-not-exist");
}

TEST(expect_names_shapes)
{
    float x[6] = {0};
    struct st_writer *w = st_writer_new();
    st_add(w, "h.0.w", x, 2, (int64_t[]){2, 3});
    const char *path = unit_tmp("expect.safetensors");
    st_write(w, path);
    st_writer_free(w);
    struct st_file *f = st_open(path);
    EXPECT_DIE(st_expect(f, "h.0.w", 2, (int64_t[]){3, 2}), "tensor h.0.w has shape (2, 3), expected (3, 2)");
    EXPECT_DIE(st_expect(f, "h.0.w", 1, (int64_t[]){6}), "tensor h.0.w has shape (2, 3), expected (6)");
    EXPECT_DIE(st_expect(f, "h.1.w", 1, (int64_t[]){6}), "no tensor h.1.w");
    st_close(f);
}

TEST(writer_rejects)
{
    float x = 0;
    struct st_writer *w = st_writer_new();
    st_add(w, "a", &x, 1, (int64_t[]){1});
    EXPECT_DIE(st_add(w, "a", &x, 1, (int64_t[]){1}), "tensor a added twice");
    EXPECT_DIE(st_add(w, "__metadata__", &x, 1, (int64_t[]){1}), "cannot name a tensor");
    st_writer_free(w);
}

/* The 16-bit conversions against independent references: the compiler's
 * own _Float16 conversion for F16, and for BF16 the nearer (ties: even) of
 * the two bf16 values around f, chosen in double precision. */
static uint32_t lcg(uint64_t *s) { *s = *s * 6364136223846793005u + 1442695040888963407u; return (uint32_t)(*s >> 32); }

static uint16_t bf16_reference(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    double dl = fabs((double)f - (double)st_bf16_to_f32(lo));
    double dh = isinf(st_bf16_to_f32(hi)) ? fabs((double)f - ldexp(1.0, 128) * (f < 0 ? -1 : 1))
                                          : fabs((double)f - (double)st_bf16_to_f32(hi));
    if (dl < dh) return lo;
    if (dh < dl) return hi;
    return (lo & 1) ? hi : lo;
}

TEST(sixteen_bit_conversions)
{
    /* every 16-bit pattern survives 16 -> 32 -> 16 (NaNs stay NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float a = st_f16_to_f32((uint16_t)h), b = st_bf16_to_f32((uint16_t)h);
        if (isnan(a) ? !isnan(st_f16_to_f32(st_f32_to_f16(a))) : st_f32_to_f16(a) != h) bad++;
        if (isnan(b) ? !isnan(st_bf16_to_f32(st_f32_to_bf16(b))) : st_f32_to_bf16(b) != h) bad++;
    }
    CHECK(bad == 0);
    CHECK(st_f16_to_f32(0x3c00) == 1.0f && st_f16_to_f32(0xc000) == -2.0f);
    CHECK(st_f16_to_f32(0x0001) == ldexpf(1, -24) && st_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(st_bf16_to_f32(0x3f80) == 1.0f && st_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80);  /* tie: even */
    CHECK(st_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82);                                /* tie: even, up */
    CHECK(st_f32_to_f16(65520.0f) == 0x7c00 && st_f32_to_f16(65519.0f) == 0x7bff);
    /* random floats over the whole range, and small ones around f16's subnormals */
    uint64_t s = 7;
    int bad16 = 0, badbf = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = lcg(&s);
        if (i & 1) u = (u & 0x80000000u) | (0x30000000u + u % 0x18000000u);     /* |f| in 2^-31 .. 2^17 */
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue;
        if (st_f32_to_bf16(f) != bf16_reference(f)) badbf++;
#ifdef __FLT16_MAX__
        _Float16 r = (_Float16)f;
        uint16_t ru;
        memcpy(&ru, &r, 2);
        if (st_f32_to_f16(f) != ru) bad16++;
#endif
    }
    CHECK(bad16 == 0);
    CHECK(badbf == 0);
}

/* F16 and BF16 files: read as f32; written with st_writer_dtype; a tensor of
 * another dtype is listed but refused by st_expect. */
TEST(sixteen_bit_files)
{
    float a[4] = {1, -2.5f, 3.140625f, 1e-3f};
    struct st_writer *w = st_writer_new();
    st_writer_dtype(w, ST_BF16);
    st_add(w, "a", a, 1, (int64_t[]){4});
    const char *path = unit_tmp("bf16.safetensors");
    st_write(w, path);
    st_writer_free(w);
    size_t len;
    char *d = read_file(path, &len);
    CHECK(strstr(d + 8, "\"dtype\":\"BF16\"") != NULL);
    CHECK(len % 8 == 0 && len - 8 - (size_t)(unsigned char)d[0] == 8);     /* 4 x 2 bytes */
    free(d);
    struct st_file *f = st_open(path);
    const float *r = st_expect(f, "a", 1, (int64_t[]){4});
    CHECK(f->tensors[0].dtype == ST_BF16);
    for (int i = 0; i < 4; i++) CHECK(r[i] == st_bf16_to_f32(st_f32_to_bf16(a[i])));
    CHECK(r[0] == 1 && r[1] == -2.5f && r[2] == 3.140625f);
    st_close(f);

    /* a foreign F16 file with an I64 buffer and a misaligned F32 tensor */
    unsigned char data[3 * 2 + 8 + 4];
    uint16_t h[3] = { 0x3c00, 0xbc00, 0x0001 };     /* 1, -1, 2^-24 */
    int64_t iv = 5;
    float fv = 0.5f;
    memcpy(data, h, 6);
    memcpy(data + 6, &iv, 8);
    memcpy(data + 14, &fv, 4);      /* not at a 4-byte boundary */
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                      "\"pos\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[6,14]},"
                      "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[14,18]}}      ";
    path = write_raw("f16", hdr, data, sizeof data);
    f = st_open(path);
    r = st_expect(f, "h", 1, (int64_t[]){3});
    CHECK(r[0] == 1 && r[1] == -1 && r[2] == ldexpf(1, -24));
    CHECK(st_expect(f, "x", 1, (int64_t[]){1})[0] == 0.5f);
    CHECK(st_find(f, "pos") && st_find(f, "pos")->data == NULL);
    EXPECT_DIE(st_expect(f, "pos", 1, (int64_t[]){1}), "tensor pos has dtype I64; only F32, F16 and BF16 are read");
    st_close(f);
}

/* A sharded model: model.safetensors.index.json and two shards. */
static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

TEST(sharded)
{
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    struct st_writer *w = st_writer_new();
    st_add(w, "a", a, 1, (int64_t[]){2});
    st_meta(w, "format", "pt");
    st_write(w, unit_tmp("model-00001-of-00002.safetensors"));
    st_writer_free(w);
    w = st_writer_new();
    st_writer_dtype(w, ST_F16);
    st_add(w, "b", b, 1, (int64_t[]){3});
    st_write(w, unit_tmp("model-00002-of-00002.safetensors"));
    st_writer_free(w);
    char *index = xstrdup(unit_tmp("model.safetensors.index.json"));
    write_text(index, "{\"metadata\": {\"total_size\": 14}, \"weight_map\": {"
                      "\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\"}}");
    struct st_file *f = st_open_any(index);
    CHECK(f->ntensors == 2);
    CHECK(!memcmp(st_expect(f, "a", 1, (int64_t[]){2}), a, sizeof a));
    CHECK(!memcmp(st_expect(f, "b", 1, (int64_t[]){3}), b, sizeof b));
    CHECK(st_meta_get(f, "total_size") && !strcmp(st_meta_get(f, "total_size"), "14"));
    CHECK(st_meta_get(f, "format") && !strcmp(st_meta_get(f, "format"), "pt"));
    st_close(f);
    write_text(index, "{\"weight_map\": {\"a\": \"model-00002-of-00002.safetensors\", "
                      "\"b\": \"model-00002-of-00002.safetensors\"}}");
    EXPECT_DIE(st_open_any(index), "the weight_map puts tensor a in model-00002-of-00002.safetensors, which does not hold it");
    write_text(index, "{\"weight_map\": {\"b\": \"model-00002-of-00002.safetensors\", "
                      "\"a\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00001-of-00002.safetensors\"}}");
    EXPECT_DIE(st_open_any(index), "tensor a is in shard model-00001-of-00002.safetensors, but the weight_map says model-00002");
    write_text(index, "{\"weight_map\": {\"a\": \"../model-00001-of-00002.safetensors\"}}");
    EXPECT_DIE(st_open_any(index), "tensor a: the shard must be a file name in the same directory");
    write_text(index, "{\"metadata\": {}}");
    EXPECT_DIE(st_open_any(index), "no \"weight_map\" object");
    free(index);
}

int main(void)
{
    tfs_set_prog("test_safetensors");
    RUN(roundtrip);
    RUN(exact_layout);
    RUN(unpadded_foreign_file);
    RUN(rejects_bad_files);
    RUN(expect_names_shapes);
    RUN(writer_rejects);
    RUN(sixteen_bit_conversions);
    RUN(sixteen_bit_files);
    RUN(sharded);
    return unit_summary();
}
