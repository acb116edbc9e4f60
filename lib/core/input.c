/* input.c - byte and line input with transparent zstd and gzip
 * decompression. */
#include "core/input.h"
#include "core/xio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

struct tfs_in {
    FILE *f;
    char *name;
    int zstd, gzip;         /* at most one is set: then bytes go through dec */
    ZSTD_DStream *ds;
    z_stream z;
    int gz_open;            /* inside a gzip member (its end not yet seen) */
    /* raw bytes from the file */
    unsigned char *raw;
    size_t raw_len, raw_pos, raw_cap;
    int raw_eof;
    size_t frame_left;      /* ZSTD_decompressStream's hint: 0 = frame complete */
    /* decoded bytes waiting to be handed out */
    unsigned char *dec;
    size_t dec_len, dec_pos, dec_cap;
    /* line buffer */
    char *line;
    size_t line_cap;
    long lineno;
};

static void fill_raw(struct tfs_in *in)
{
    if (in->raw_eof) return;
    if (in->raw_pos > 0 && in->raw_pos == in->raw_len) in->raw_pos = in->raw_len = 0;
    size_t got = fread(in->raw + in->raw_len, 1, in->raw_cap - in->raw_len, in->f);
    if (got == 0) {
        if (ferror(in->f)) die_errno("error reading '%s'", in->name);
        in->raw_eof = 1;
    }
    in->raw_len += got;
}

struct tfs_in *in_open(const char *path)
{
    struct tfs_in *in = xcalloc(1, sizeof *in);
    in->f = xfopen(path, "rb");
    in->name = xstrdup(path_name(path));
    in->raw_cap = ZSTD_DStreamInSize();
    if (in->raw_cap < 4096) in->raw_cap = 4096;
    in->raw = xmalloc(in->raw_cap);
    /* Peek at the first 4 bytes: the zstd magic number 0xFD2FB528 (LE). */
    while (in->raw_len < 4 && !in->raw_eof) fill_raw(in);
    static const unsigned char magic[4] = { 0x28, 0xB5, 0x2F, 0xFD };
    if (in->raw_len >= 4 && memcmp(in->raw, magic, 4) == 0) {
        in->zstd = 1;
        in->ds = ZSTD_createDStream();
        if (!in->ds) die("out of memory creating a zstd decoder");
        ZSTD_initDStream(in->ds);
        in->dec_cap = ZSTD_DStreamOutSize();
        in->dec = xmalloc(in->dec_cap);
    } else if (in->raw_len >= 2 && in->raw[0] == 0x1f && in->raw[1] == 0x8b) {
        /* the gzip magic number (RFC 1952 section 2.3.1); window bits
         * 16 + 15 make zlib expect a gzip header and trailer */
        in->gzip = 1;
        if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK) die("out of memory creating a gzip decoder");
        in->gz_open = 1;
        in->dec_cap = 1 << 17;
        in->dec = xmalloc(in->dec_cap);
    }
    return in;
}

void in_close(struct tfs_in *in)
{
    if (!in) return;
    if (in->f != stdin) fclose(in->f);
    if (in->ds) ZSTD_freeDStream(in->ds);
    if (in->gzip) inflateEnd(&in->z);
    free(in->raw); free(in->dec); free(in->line); free(in->name);
    free(in);
}

const char *in_name(const struct tfs_in *in) { return in->name; }
long in_lineno(const struct tfs_in *in) { return in->lineno; }

/* One step of the zstd decoder: raw bytes in, decoded bytes appended to
 * in->dec. */
static void zstd_step(struct tfs_in *in)
{
    ZSTD_inBuffer ib = { in->raw, in->raw_len, in->raw_pos };
    ZSTD_outBuffer ob = { in->dec, in->dec_cap, in->dec_len };
    size_t r = ZSTD_decompressStream(in->ds, &ob, &ib);
    if (ZSTD_isError(r)) die("%s: corrupt zstd stream: %s", in->name, ZSTD_getErrorName(r));
    in->frame_left = r;
    in->raw_pos = ib.pos;
    in->dec_len = ob.pos;
}

/* The same for gzip.  A file may hold several gzip members one after
 * another (RFC 1952 section 2.2, what `cat a.gz b.gz` makes): at each
 * member's end the decoder restarts on the bytes that follow. */
static void gzip_step(struct tfs_in *in)
{
    if (!in->gz_open) { inflateReset(&in->z); in->gz_open = 1; }
    in->z.next_in = in->raw + in->raw_pos;
    in->z.avail_in = (uInt)(in->raw_len - in->raw_pos);
    in->z.next_out = in->dec + in->dec_len;
    in->z.avail_out = (uInt)(in->dec_cap - in->dec_len);
    int r = inflate(&in->z, Z_NO_FLUSH);
    if (r == Z_STREAM_END) in->gz_open = 0;
    else if (r != Z_OK) die("%s: corrupt gzip stream: %s", in->name, in->z.msg ? in->z.msg : "inflate failed");
    in->raw_pos = in->raw_len - in->z.avail_in;
    in->dec_len = in->dec_cap - in->z.avail_out;
}

/* Append more decoded bytes to in->dec (which has room); returns 0 at the
 * end of input. */
static int decode_more(struct tfs_in *in)
{
    for (;;) {
        if (in->raw_pos == in->raw_len) {
            fill_raw(in);
            if (in->raw_pos == in->raw_len) {
                if (in->zstd && in->frame_left != 0)
                    die("%s: truncated zstd stream (ends inside a frame)", in->name);
                if (in->gzip && in->gz_open)
                    die("%s: truncated gzip stream (ends inside a member)", in->name);
                return 0;
            }
        }
        size_t before = in->dec_len;
        if (in->zstd) zstd_step(in); else gzip_step(in);
        if (in->dec_len > before) return 1;
    }
}

/* Refill in->dec once it has been handed out entirely. */
static int fill_dec(struct tfs_in *in)
{
    in->dec_pos = in->dec_len = 0;
    return decode_more(in);
}

size_t in_read(struct tfs_in *in, void *buf, size_t n)
{
    unsigned char *out = buf;
    size_t done = 0;
    while (done < n) {
        if (in->zstd || in->gzip) {
            if (in->dec_pos == in->dec_len && !fill_dec(in)) break;
            size_t k = in->dec_len - in->dec_pos;
            if (k > n - done) k = n - done;
            memcpy(out + done, in->dec + in->dec_pos, k);
            in->dec_pos += k;
            done += k;
        } else {
            if (in->raw_pos == in->raw_len) {
                fill_raw(in);
                if (in->raw_pos == in->raw_len) break;
            }
            size_t k = in->raw_len - in->raw_pos;
            if (k > n - done) k = n - done;
            memcpy(out + done, in->raw + in->raw_pos, k);
            in->raw_pos += k;
            done += k;
        }
    }
    return done;
}

/* The buffered window of bytes not yet handed out, refilled on demand. */
static int window(struct tfs_in *in, unsigned char **p, size_t *n)
{
    if (in->zstd || in->gzip) {
        if (in->dec_pos == in->dec_len && !fill_dec(in)) return 0;
        *p = in->dec + in->dec_pos; *n = in->dec_len - in->dec_pos;
    } else {
        if (in->raw_pos == in->raw_len) {
            fill_raw(in);
            if (in->raw_pos == in->raw_len) return 0;
        }
        *p = in->raw + in->raw_pos; *n = in->raw_len - in->raw_pos;
    }
    return 1;
}

static void consume(struct tfs_in *in, size_t k)
{
    if (in->zstd || in->gzip) in->dec_pos += k; else in->raw_pos += k;
}

size_t in_peek(struct tfs_in *in, size_t n, const char **p)
{
    int dec = in->zstd || in->gzip;
    unsigned char **buf = dec ? &in->dec : &in->raw;
    size_t *pos = dec ? &in->dec_pos : &in->raw_pos, *len = dec ? &in->dec_len : &in->raw_len;
    size_t *cap = dec ? &in->dec_cap : &in->raw_cap;
    if (*len - *pos < n && *pos > 0) {     /* move what is left to the front */
        memmove(*buf, *buf + *pos, *len - *pos);
        *len -= *pos;
        *pos = 0;
    }
    if (*cap < n) { *cap = n; *buf = xrealloc(*buf, n); }
    while (*len - *pos < n) {
        size_t before = *len;
        if (dec) { if (!decode_more(in)) break; }
        else if (fill_raw(in), *len == before) break;
    }
    *p = (const char *)*buf + *pos;
    return *len - *pos < n ? *len - *pos : n;
}

int in_getline(struct tfs_in *in, char **line, size_t *len)
{
    size_t n = 0;
    int any = 0;
    unsigned char *p;
    size_t avail;
    while (window(in, &p, &avail)) {
        any = 1;
        unsigned char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        if (n + take + 1 > in->line_cap) {
            while (n + take + 1 > in->line_cap) in->line_cap = in->line_cap ? in->line_cap * 2 : 4096;
            in->line = xrealloc(in->line, in->line_cap);
        }
        memcpy(in->line + n, p, take);
        n += take;
        consume(in, take + (nl ? 1 : 0));
        if (nl) break;
    }
    if (!any) return 0;
    if (!in->line) { in->line_cap = 1; in->line = xmalloc(1); }
    in->line[n] = 0;
    in->lineno++;
    *line = in->line;
    *len = n;
    return 1;
}
