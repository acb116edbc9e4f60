/* test_input.c - core/input.c: lines and bytes from plain, gzip and zstd
 * files (compressed here with zlib and libzstd, the reference codecs),
 * several gzip members, truncated and corrupt streams, and in_peek; and
 * xio.h's xzalloc_written. */
#include "unit.h"
#include "core/input.h"
#include "core/xio.h"

#include <sys/mman.h>
#include <zlib.h>
#include <zstd.h>

/* One gzip member holding src (zlib's deflate with a gzip wrapper). */
static unsigned char *gzip_of(const char *src, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *out = xmalloc(cap);
    z.next_in = (Bytef *)src; z.avail_in = (uInt)n;
    z.next_out = out; z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) abort();
}

/* A text of `lines` numbered lines, some ending in "\r\n". */
static char *make_text(int lines, size_t *n)
{
    size_t cap = (size_t)lines * 40 + 1, len = 0;
    char *t = xmalloc(cap);
    for (int i = 0; i < lines; i++)
        len += (size_t)snprintf(t + len, cap - len, "line %d of the text%s\n", i, i % 7 == 3 ? "\r" : "");
    *n = len;
    return t;
}

/* Every line of the file at path must be the next line of text. */
static void check_lines(const char *path, const char *text, size_t n)
{
    struct tfs_in *in = in_open(path);
    const char *p = text, *end = text + n;
    char *line;
    size_t len;
    long count = 0;
    while (in_getline(in, &line, &len)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        CHECK(nl != NULL);
        if (!nl) break;
        CHECK(len == (size_t)(nl - p) && memcmp(line, p, len) == 0);
        p = nl + 1;
        count++;
        CHECK(in_lineno(in) == count);
    }
    CHECK(p == end);
    in_close(in);
}

/* in_read of the whole file must give text back. */
static void check_bytes(const char *path, const char *text, size_t n)
{
    struct tfs_in *in = in_open(path);
    char *back = xmalloc(n + 100);
    size_t got = 0, k;
    while ((k = in_read(in, back + got, 1000)) > 0 && got < n + 1) got += k;
    CHECK(got == n && memcmp(back, text, n) == 0);
    free(back);
    in_close(in);
}

TEST(gzip_lines_and_bytes)
{
    size_t n, gn;
    char *text = make_text(20000, &n);
    unsigned char *gz = gzip_of(text, n, &gn);
    CHECK(gn < n);
    const char *path = unit_tmp("a.jsonl.gz");
    write_bytes(path, gz, gn);
    check_lines(path, text, n);
    check_bytes(path, text, n);
    free(gz); free(text);
}

TEST(gzip_members_one_after_another)
{
    /* what `cat a.gz b.gz > ab.gz` makes (RFC 1952 section 2.2) */
    size_t n, n1, n2;
    char *text = make_text(3000, &n);
    size_t half = (size_t)(strchr(text + n / 2, '\n') + 1 - text);
    unsigned char *g1 = gzip_of(text, half, &n1), *g2 = gzip_of(text + half, n - half, &n2);
    unsigned char *both = xmalloc(n1 + n2);
    memcpy(both, g1, n1);
    memcpy(both + n1, g2, n2);
    const char *path = unit_tmp("ab.gz");
    write_bytes(path, both, n1 + n2);
    check_lines(path, text, n);
    check_bytes(path, text, n);
    free(g1); free(g2); free(both); free(text);
}

TEST(gzip_truncated_or_corrupt)
{
    size_t n, gn;
    char *text = make_text(2000, &n);
    unsigned char *gz = gzip_of(text, n, &gn);
    const char *p = unit_tmp("cut.gz");
    write_bytes(p, gz, gn - 9);     /* loses the trailer and some data */
    EXPECT_DIE({ struct tfs_in *in = in_open(p); char b[4096]; while (in_read(in, b, sizeof b)) {} },
               "truncated gzip stream");
    /* a wrong CRC-32 in the trailer */
    gz[gn - 8] ^= 0xff;
    const char *q = unit_tmp("crc.gz");
    write_bytes(q, gz, gn);
    EXPECT_DIE({ struct tfs_in *in = in_open(q); char b[4096]; while (in_read(in, b, sizeof b)) {} },
               "corrupt gzip stream");
    free(gz); free(text);
}

/* in_peek shows the next bytes without consuming them, also beyond the
 * reader's buffer size, for plain, gzip and zstd input. */
TEST(peek)
{
    size_t n, gn;
    char *text = make_text(30000, &n);   /* ~700 kB: more than one buffer */
    unsigned char *gz = gzip_of(text, n, &gn);
    size_t zcap = ZSTD_compressBound(n), zn;
    unsigned char *zs = xmalloc(zcap);
    zn = ZSTD_compress(zs, zcap, text, n, 3);
    CHECK(!ZSTD_isError(zn));
    const char *names[3] = { "p.txt", "p.txt.gz", "p.txt.zst" };
    const void *data[3] = { text, gz, zs };
    size_t len[3] = { n, gn, zn };
    for (int k = 0; k < 3; k++) {
        const char *path = unit_tmp(names[k]);
        write_bytes(path, data[k], len[k]);
        struct tfs_in *in = in_open(path);
        const char *p;
        size_t want = 500000;
        CHECK(in_peek(in, want, &p) == want && memcmp(p, text, want) == 0);
        char *line;
        size_t ll;
        CHECK(in_getline(in, &line, &ll) && ll == strlen("line 0 of the text") && !memcmp(line, text, ll));
        size_t at = ll + 1;
        CHECK(in_peek(in, 10, &p) == 10 && memcmp(p, text + at, 10) == 0);
        /* past the end: only what is left */
        CHECK(in_peek(in, n + 5, &p) == n - at && memcmp(p, text + at, n - at) == 0);
        char b[64];
        CHECK(in_read(in, b, sizeof b) == sizeof b && memcmp(b, text + at, sizeof b) == 0);
        in_close(in);
    }
    free(zs); free(gz); free(text);
}

/* xzalloc_written: zero bytes, also where malloc hands back memory that was
 * used before (filled with 0xab and freed just above), and every whole page
 * of the block already in memory (mincore), not left to fault in later. */
TEST(zalloc_written)
{
    size_t sizes[] = { 1, 100, 4096 + 17, (size_t)300 << 10, (size_t)5 << 20 };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        unsigned char *old = xmalloc(n);
        memset(old, 0xab, n);
        free(old);
        unsigned char *p = xzalloc_written(n);
        /* residency first: reading the bytes would map untouched pages */
        uintptr_t page = 4096, lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + n) & ~(page - 1);
        if (hi > lo) {
            size_t pages = (hi - lo) / page, resident = 0;
            unsigned char *vec = xmalloc(pages);
            CHECK(mincore((void *)lo, hi - lo, vec) == 0);
            for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
            CHECK(resident == pages);
            free(vec);
        }
        size_t nonzero = 0;
        for (size_t i = 0; i < n; i++) nonzero += p[i] != 0;
        CHECK(nonzero == 0);
        free(p);
    }
}

int main(void)
{
    RUN(gzip_lines_and_bytes);
    RUN(gzip_members_one_after_another);
    RUN(gzip_truncated_or_corrupt);
    RUN(peek);
    RUN(zalloc_written);
    return unit_summary();
}
