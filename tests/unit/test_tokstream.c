/* test_tokstream.c - the token stream format: round trips (uint16/uint32,
 * file/pipe, plain/zstd) and rejection of corrupt, truncated, foreign input. */
#include "unit.h"
#include "core/tokstream.h"
#include "core/xio.h"
#include "core/rng.h"

#include <fcntl.h>
#include <stdint.h>

#define N 5000

static void make_ids(uint32_t *ids, size_t n, uint32_t vocab, uint64_t seed)
{
    struct rng r; rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)rng_below(&r, vocab);
}

/* Write ids to path (in two chunks), read them back both ways. */
static void roundtrip(const char *name, uint32_t vocab, int zlevel, int via_pipe)
{
    static uint32_t ids[N], back[N + 1];
    make_ids(ids, N, vocab, vocab + (uint64_t)zlevel);
    const char *path = unit_tmp(name);
    struct tokw *w = tokw_open(path, vocab, 0x1122334455667788ull, zlevel, 0);
    tokw_put(w, ids, 1234);
    tokw_put(w, ids + 1234, N - 1234);
    CHECK(tokw_count(w) == N);
    tokw_close(w);

    struct tokr *r;
    if (via_pipe) {
        /* Feed the file through a pipe on stdin: the sequential reader. */
        int fd[2];
        CHECK(pipe(fd) == 0);
        if (fork() == 0) {
            close(fd[0]);
            size_t len; char *data = read_file(path, &len);
            if (write(fd[1], data, len) != (ssize_t)len) _exit(1);
            _exit(0);
        }
        close(fd[1]);
        int saved = dup(0);
        dup2(fd[0], 0); close(fd[0]);
        r = tokr_open("-");
        size_t got = 0, k;
        while ((k = tokr_read(r, back + got, 777)) > 0) got += k;
        CHECK(got == N);
        CHECK(!r->mapped);
        tokr_close(r);
        dup2(saved, 0); close(saved);
        clearerr(stdin);
        while (wait(NULL) > 0) {}
    } else {
        r = tokr_open(path);
        CHECK(r->mapped == !zlevel);
        CHECK(r->h.ntokens == (zlevel ? 0 : N));
        uint64_t n; uint32_t *all = tokr_slurp(r, &n);
        CHECK(n == N);
        memcpy(back, all, N * sizeof *back);
        free(all);
        if (r->mapped) {
            uint32_t w3[3];
            tokr_get(r, 100, 3, w3);
            CHECK(w3[0] == ids[100] && w3[2] == ids[102]);
        }
        tokr_close(r);
    }
    CHECK(memcmp(ids, back, N * sizeof *ids) == 0);
    r = tokr_open(path);
    CHECK(r->h.vocab == vocab);
    CHECK(r->h.wide == (vocab > 65536));
    CHECK(r->h.fingerprint == 0x1122334455667788ull);
    tokr_close(r);
}

TEST(u16_file) { roundtrip("a16.bin", 1000, 0, 0); }
TEST(u32_file) { roundtrip("a32.bin", 100000, 0, 0); }
TEST(u16_zstd_file) { roundtrip("z16.bin", 65536, 3, 0); }
TEST(u32_zstd_file) { roundtrip("z32.bin", 70000, 1, 0); }
TEST(u16_pipe) { roundtrip("p16.bin", 50257, 0, 1); }
TEST(u32_zstd_pipe) { roundtrip("pz32.bin", 200000, 3, 1); }

/* The header layout is llm.c's: check the bytes themselves. */
TEST(header_bytes)
{
    const char *path = unit_tmp("h.bin");
    struct tokw *w = tokw_open(path, 300, 0xAABBCCDD00112233ull, 0, 0);
    uint32_t ids[2] = { 7, 299 };
    tokw_put(w, ids, 2);
    tokw_close(w);
    size_t len; unsigned char *d = (unsigned char *)read_file(path, &len);
    CHECK(len == 1024 + 4);
    int32_t h[6]; memcpy(h, d, sizeof h);
    CHECK(h[0] == 20240520 && h[1] == 1 && h[2] == 2 && h[3] == 300);
    CHECK((uint32_t)h[4] == 0x00112233u && (uint32_t)h[5] == 0xAABBCCDDu);
    CHECK(d[1024] == 7 && d[1025] == 0 && d[1026] == 43 && d[1027] == 1);
    free(d);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb"); fwrite(p, 1, n, f); fclose(f);
}

static const char *make_valid(const char *name, uint32_t vocab, int ntok)
{
    const char *p = unit_tmp(name);
    static char keep[8][512]; static int k;
    char *path = keep[k++ % 8];
    snprintf(path, 512, "%s", p);
    struct tokw *w = tokw_open(path, vocab, 1, 0, 0);
    for (int i = 0; i < ntok; i++) { uint32_t id = (uint32_t)i % vocab; tokw_put(w, &id, 1); }
    tokw_close(w);
    return path;
}

TEST(rejects_truncated)
{
    const char *path = make_valid("t.bin", 100, 50);
    truncate(path, 1024 + 60);      /* 30 of 50 tokens */
    EXPECT_DIE(tokr_open(path), "t.bin: truncated or corrupt: header says 50 tokens, file holds 30");
    truncate(path, 1024 + 61);      /* half a token */
    EXPECT_DIE(tokr_open(path), "t.bin: truncated: 61 bytes of ids is not a multiple of 2");
    truncate(path, 500);
    EXPECT_DIE(tokr_open(path), "shorter than the 1024-byte header");
}

TEST(rejects_foreign)
{
    const char *path = unit_tmp("foreign.bin");
    char junk[2000];
    memset(junk, 'x', sizeof junk);
    write_bytes(path, junk, sizeof junk);
    EXPECT_DIE(tokr_open(path), "foreign.bin: not a token stream (wrong magic number); create one with bpe-encode");
    write_bytes(path, "{\"text\": \"hi\"}\n", 15);
    EXPECT_DIE(tokr_open(path), "foreign.bin: truncated: 15 bytes, shorter than the 1024-byte header");
    write_bytes(path, "", 0);
    EXPECT_DIE(tokr_open(path), "foreign.bin: empty input");
}

TEST(rejects_bad_version_and_reserved)
{
    const char *path = make_valid("v.bin", 100, 10);
    int fd = open(path, O_WRONLY);
    int32_t two = 2;
    pwrite(fd, &two, 4, 4);
    close(fd);
    EXPECT_DIE(tokr_open(path), "v.bin: unsupported version of a uint16 token stream (expected 1)");
    path = make_valid("r.bin", 100, 10);
    fd = open(path, O_WRONLY);
    pwrite(fd, &two, 4, 400);
    close(fd);
    EXPECT_DIE(tokr_open(path), "r.bin: corrupt header: reserved fields are not zero");
}

TEST(rejects_out_of_range_ids)
{
    const char *path = make_valid("o.bin", 100, 10);
    int fd = open(path, O_WRONLY);
    uint16_t big = 100;
    pwrite(fd, &big, 2, 1024 + 2 * 7);
    close(fd);
    EXPECT_DIE(tokr_open(path), "o.bin: token 100 at position 7 is out of range (vocabulary size 100)");
}

TEST(truncated_zstd)
{
    const char *path = unit_tmp("tz.bin");
    struct tokw *w = tokw_open(path, 1000, 1, 3, 0);
    uint32_t ids[3000];
    make_ids(ids, 3000, 1000, 9);
    tokw_put(w, ids, 3000);
    tokw_close(w);
    size_t len; char *d = read_file(path, &len);
    write_bytes(path, d, len - 5);
    free(d);
    EXPECT_DIE({ struct tokr *r = tokr_open(path); uint64_t n; free(tokr_slurp(r, &n)); },
               "tz.bin: truncated zstd stream");
}

TEST(no_partial_file_on_death)
{
    /* A writer that dies before close leaves neither the file nor its temp. */
    const char *path = unit_tmp("dead.bin");
    EXPECT_DIE({ struct tokw *w = tokw_open(path, 10, 1, 0, 0); uint32_t id = 11; tokw_put(w, &id, 1); },
               "token id 11 >= vocabulary 10");
    CHECK(access(path, F_OK) != 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", unit_tmpdir);
    CHECK(system(cmd) != 0);
}

int main(void)
{
    tfs_set_prog("test_tokstream");
    RUN(u16_file); RUN(u32_file); RUN(u16_zstd_file); RUN(u32_zstd_file);
    RUN(u16_pipe); RUN(u32_zstd_pipe); RUN(header_bytes);
    RUN(rejects_truncated); RUN(rejects_foreign); RUN(rejects_bad_version_and_reserved);
    RUN(rejects_out_of_range_ids); RUN(truncated_zstd); RUN(no_partial_file_on_death);
    return unit_summary();
}
