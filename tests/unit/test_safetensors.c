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
    p = write_raw("bf16", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", x, 4);
    EXPECT_DIE(st_open(p), "tensor w: dtype BF16 is not supported (only F32)");
    p = write_raw("trunc", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", x, 12);
    EXPECT_DIE(st_open(p), "truncated: tensor w ends at byte 16 of the data, which has 12 bytes");
    p = write_raw("size", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", x, 16);
    EXPECT_DIE(st_open(p), "tensor w: shape has 3 floats but data_offsets span 16 bytes");
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

int main(void)
{
    tfs_set_prog("test_safetensors");
    RUN(roundtrip);
    RUN(exact_layout);
    RUN(unpadded_foreign_file);
    RUN(rejects_bad_files);
    RUN(expect_names_shapes);
    RUN(writer_rejects);
    return unit_summary();
}
