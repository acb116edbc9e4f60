/* test_tokset.c - shards read as one stream: every window and every
 * chunked read equals the concatenation (plain shards, an empty shard,
 * compressed shards), expansion of directories and patterns, and files
 * that do not belong to the set. */
#include "unit.h"
#include "core/rng.h"
#include "core/tokset.h"
#include "core/xio.h"

#include <sys/stat.h>

#define N 3000
static uint32_t ids[N];
/* four shards cut at uneven places; shard 2 is empty */
static const size_t cut[5] = { 0, 1000, 1777, 1777, N };

/* Shard k of ids as dir/name-k.bin (zstd level zlevel, 0 = plain). */
static char *write_shard(const char *dir, int k, int zlevel, uint32_t vocab, uint64_t fp)
{
    char *path = xasprintf("%s/s-%d.bin", dir, k);
    struct tokw *w = tokw_open(path, vocab, fp, zlevel, 0);
    tokw_put(w, ids + cut[k], cut[k + 1] - cut[k]);
    tokw_close(w);
    return path;
}

static const char *make_dir(const char *name, int zlevel)
{
    static char keep[4][512]; static int n;
    char *dir = keep[n++ % 4];
    snprintf(dir, 512, "%s", unit_tmp(name));
    mkdir(dir, 0755);
    struct rng r; rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++) ids[i] = (uint32_t)rng_below(&r, 1000);
    for (int k = 0; k < 4; k++) free(write_shard(dir, k, zlevel && k == 1 ? zlevel : 0, 1000, 42));
    return dir;
}

/* Read r to its end in chunks of `chunk`; it must be ids, all of it. */
static void check_read(struct tokr *r, size_t chunk)
{
    static uint32_t back[N + 10];
    size_t got = 0, k;
    while ((k = tokr_read(r, back + got, chunk)) > 0) got += k;
    CHECK(got == N);
    CHECK(memcmp(back, ids, N * sizeof *ids) == 0);
    CHECK(tokr_read(r, back, chunk) == 0);
}

TEST(mapped_windows_equal_the_concatenation)
{
    const char *dir = make_dir("plain", 0);
    const char *arg[1] = { dir };
    struct tokr *r = tokr_open_set(arg, 1);
    CHECK(r->mapped && r->n == N && r->h.ntokens == N);
    CHECK(r->h.vocab == 1000 && r->h.fingerprint == 42);
    CHECK(tokr_files(r) == 4);
    /* windows everywhere, many of them across boundaries (the empty one too) */
    uint32_t w[64];
    int bad = 0;
    for (uint64_t off = 0; off + 64 <= N; off += 7) {
        tokr_get(r, off, 64, w);
        bad += memcmp(w, ids + off, sizeof w) != 0;
    }
    CHECK(bad == 0);
    tokr_get(r, N - 1, 1, w);
    CHECK(w[0] == ids[N - 1]);
    check_read(r, 333);
    tokr_close(r);
    r = tokr_open_set(arg, 1);
    check_read(r, N + 5);
    tokr_close(r);
}

TEST(compressed_shards_are_read_in_order)
{
    const char *dir = make_dir("mixed", 3);
    const char *arg[1] = { dir };
    struct tokr *r = tokr_open_set(arg, 1);
    CHECK(!r->mapped);              /* one compressed shard: sequential */
    CHECK(r->h.vocab == 1000);
    check_read(r, 1);
    tokr_close(r);
    r = tokr_open_set(arg, 1);
    check_read(r, 999);
    tokr_close(r);
}

TEST(files_and_patterns_in_name_order)
{
    const char *dir = make_dir("names", 0);
    char *pat = xasprintf("%s/s-*.bin", dir), *f0 = xasprintf("%s/s-0.bin", dir),
         *f3 = xasprintf("%s/s-3.bin", dir);
    const char *arg[1] = { pat };
    size_t n;
    char **v = tokset_expand(arg, 1, &n);
    CHECK(n == 4 && strcmp(v[0], f0) == 0 && strcmp(v[3], f3) == 0 && v[4] == NULL);
    tokset_free_names(v);
    /* explicit files keep the order given */
    const char *two[2] = { f3, f0 };
    v = tokset_expand(two, 2, &n);
    CHECK(n == 2 && strcmp(v[0], f3) == 0);
    tokset_free_names(v);
    struct tokr *r = tokr_open_set(arg, 1);
    check_read(r, 100);
    tokr_close(r);
    /* one file is the plain stream itself */
    r = tokr_open_set((const char *const *)&f0, 1);
    CHECK(r->set == NULL && r->mapped && r->n == 1000);
    tokr_close(r);
    char *none = xasprintf("%s/x-*.bin", dir);
    EXPECT_DIE(tokset_expand((const char *const *)&none, 1, &n), "x-*.bin: the pattern matches no file");
    const char *stdin_and[2] = { "-", f0 };
    EXPECT_EXIT(tokset_expand(stdin_and, 2, &n), 2, "'-' (standard input) cannot be one of several inputs");
    free(pat); free(f0); free(f3); free(none);
}

TEST(a_foreign_shard_is_named)
{
    const char *dir = make_dir("foreign", 0);
    const char *arg[1] = { dir };
    free(write_shard(dir, 3, 0, 1001, 42));
    EXPECT_DIE(tokr_open_set(arg, 1), "s-3.bin: vocabulary size 1001, but");
    free(write_shard(dir, 3, 0, 1000, 43));
    EXPECT_DIE(tokr_open_set(arg, 1), "s-3.bin: encoded by another tokenizer than");
    free(write_shard(dir, 3, 3, 1000, 43));     /* compressed: its header through the decoder */
    EXPECT_DIE(tokr_open_set(arg, 1), "s-3.bin: encoded by another tokenizer than");
    char *junk = xasprintf("%s/s-2.bin", dir);
    FILE *f = fopen(junk, "w"); fputs("not tokens\n", f); fclose(f);
    EXPECT_DIE(tokr_open_set(arg, 1), "s-2.bin: truncated: 11 bytes, shorter than the 1024-byte header");
    free(junk);
    char *empty = xasprintf("%s/emptydir", dir);
    mkdir(empty, 0755);
    EXPECT_DIE(tokr_open_set((const char *const *)&empty, 1), "emptydir: a directory without files");
    free(empty);
}

int main(void)
{
    tfs_set_prog("test_tokset");
    RUN(mapped_windows_equal_the_concatenation);
    RUN(compressed_shards_are_read_in_order);
    RUN(files_and_patterns_in_name_order);
    RUN(a_foreign_shard_is_named);
    return unit_summary();
}
