/* codecs.c - decompression of Parquet pages (Compression.md): SNAPPY,
 * GZIP, ZSTD, LZ4_RAW and the deprecated LZ4 (see pq_internal.h).
 */
#include "parquet/pq_internal.h"

#include <string.h>

#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

static const char *codec_name(int c)
{
    static const char *names[] = { "UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW" };
    return c >= 0 && c < 8 ? names[c] : "unknown";
}

int64_t pq_max_ratio(int codec)
{
    switch (codec) {
    case CODEC_SNAPPY: return 32;       /* a 3-byte copy yields 64 bytes: ~21.3 */
    case CODEC_GZIP: return 1032;       /* DEFLATE's limit: 258 bytes per 2 bits */
    case CODEC_LZ4: case CODEC_LZ4_RAW: return 256;     /* a match byte yields <= 255 */
    case CODEC_ZSTD: return 1 << 17;    /* an RLE block: 128 KiB from one byte */
    default: return 0;
    }
}

static void gunzip(struct colvec *c, const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    /* A GZIP page may hold several gzip members one after another (RFC 1952
     * section 2.2): inflate, and at each member's end restart on the rest. */
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) pq_col_die(c, "zlib initialisation failed");
    z.next_in = (Bytef *)src; z.avail_in = (uInt)n;
    z.next_out = dst; z.avail_out = (uInt)dn;
    for (;;) {
        int r = inflate(&z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) {
            if (z.avail_in == 0 || z.avail_out == 0) break;
            inflateReset(&z);
            continue;
        }
        if (r != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
            inflateEnd(&z);
            pq_col_die(c, "corrupt GZIP page");
        }
        if (z.avail_out == 0) break;
    }
    size_t got = dn - z.avail_out;
    inflateEnd(&z);
    if (got != dn) pq_col_die(c, "GZIP page holds %zu bytes, header says %zu", got, dn);
}

/* Hadoop's LZ4 framing (codec LZ4, deprecated): blocks of
 * [u32 BE decompressed size][u32 BE compressed size][LZ4 block]. */
static int lz4_hadoop(const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    size_t in = 0, out = 0;
    while (in + 8 <= n) {
        uint32_t du = (uint32_t)src[in] << 24 | (uint32_t)src[in + 1] << 16 | (uint32_t)src[in + 2] << 8 | src[in + 3];
        uint32_t cu = (uint32_t)src[in + 4] << 24 | (uint32_t)src[in + 5] << 16 | (uint32_t)src[in + 6] << 8 | src[in + 7];
        in += 8;
        if (cu > n - in || du > dn - out) return 0;
        int k = LZ4_decompress_safe((const char *)src + in, (char *)dst + out, (int)cu, (int)du);
        if (k < 0 || (uint32_t)k != du) return 0;
        in += cu; out += du;
    }
    return in == n && out == dn;
}

/* Decompress a page body of n bytes into exactly dn bytes. */
void pq_decompress(struct colvec *c, const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    switch (c->codec) {
    case CODEC_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != dn)
            pq_col_die(c, "corrupt SNAPPY page");
        if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK || len != dn)
            pq_col_die(c, "corrupt SNAPPY page");
        return;
    }
    case CODEC_GZIP: gunzip(c, src, n, dst, dn); return;
    case CODEC_ZSTD: {
        /* ZSTD_decompress also walks several frames one after another. */
        uint8_t dummy;
        size_t r = ZSTD_decompress(dn ? dst : &dummy, dn, src, n);
        if (ZSTD_isError(r)) pq_col_die(c, "corrupt ZSTD page: %s", ZSTD_getErrorName(r));
        if (r != dn) pq_col_die(c, "ZSTD page holds %zu bytes, header says %zu", r, dn);
        return;
    }
    case CODEC_LZ4_RAW: {
        if (n > INT32_MAX || dn > INT32_MAX) pq_col_die(c, "LZ4 page too large");
        int k = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)dn);
        if (k < 0 || (size_t)k != dn) pq_col_die(c, "corrupt LZ4_RAW page");
        return;
    }
    case CODEC_LZ4:
        /* Writers disagreed on this codec's framing: try Hadoop's, then a
         * bare LZ4 block, as other readers do. */
        if (n <= INT32_MAX && dn <= INT32_MAX && !lz4_hadoop(src, n, dst, dn)) {
            int k = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)dn);
            if (k < 0 || (size_t)k != dn) pq_col_die(c, "corrupt LZ4 page");
        }
        return;
    default:
        pq_col_die(c, "compression codec %s is not supported", codec_name(c->codec));
    }
}
