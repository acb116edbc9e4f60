/* tokstream.c - the token stream format: writer and reader. */
#include "core/tokstream.h"
#include "core/tokset.h"
#include "core/input.h"
#include "core/xio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* ---- header ---- */
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tok_header_encode(const struct tok_header *h, unsigned char out[TOK_HEADER_BYTES])
{
    memset(out, 0, TOK_HEADER_BYTES);
    put32(out + 0, h->wide ? TOK_MAGIC32 : TOK_MAGIC16);
    put32(out + 4, h->wide ? TOK_VERSION32 : TOK_VERSION16);
    /* llm.c reads [2] as an int32: counts beyond 2^31-1 are written as 0 (unknown). */
    put32(out + 8, h->ntokens <= INT32_MAX ? (uint32_t)h->ntokens : 0);
    put32(out + 12, h->vocab);
    put32(out + 16, (uint32_t)h->fingerprint);
    put32(out + 20, (uint32_t)(h->fingerprint >> 32));
}

const char *tok_header_decode(struct tok_header *h, const unsigned char in[TOK_HEADER_BYTES])
{
    uint32_t magic = get32(in), version = get32(in + 4);
    memset(h, 0, sizeof *h);
    if (magic == TOK_MAGIC16) {
        if (version != TOK_VERSION16) return "unsupported version of a uint16 token stream (expected 1)";
        h->wide = 0;
    } else if (magic == TOK_MAGIC32) {
        if (version != TOK_VERSION32) return "unsupported version of a uint32 token stream (expected 7)";
        h->wide = 1;
    } else {
        return "not a token stream (wrong magic number); create one with bpe-encode";
    }
    int32_t n = (int32_t)get32(in + 8);
    if (n < 0) return "corrupt header: negative token count";
    h->ntokens = (uint64_t)n;
    h->vocab = get32(in + 12);
    if (h->vocab == 0) return "corrupt header: vocabulary size 0";
    if (!h->wide && h->vocab > 65536) return "corrupt header: uint16 stream with a vocabulary above 65536";
    h->fingerprint = (uint64_t)get32(in + 16) | (uint64_t)get32(in + 20) << 32;
    for (int i = 6; i < TOK_HEADER_INTS; i++)
        if (get32(in + 4 * i) != 0) return "corrupt header: reserved fields are not zero";
    return NULL;
}

/* ---- writer ---- */
struct tokw {
    struct outfile out;
    FILE *f;
    struct tok_header h;
    off_t start;            /* file offset of the header, -1 if not seekable */
    ZSTD_CStream *zs;
    unsigned char *zbuf;
    size_t zcap;
    unsigned char *buf;     /* packed ids */
    size_t buf_len, buf_cap;
    size_t unsynced;        /* bytes written since the last outfile_writeback */
};

static void raw_write(struct tokw *w, const void *p, size_t n)
{
    if (!w->zs) { xfwrite(p, 1, n, w->f); return; }
    ZSTD_inBuffer ib = { p, n, 0 };
    while (ib.pos < ib.size) {
        ZSTD_outBuffer ob = { w->zbuf, w->zcap, 0 };
        size_t r = ZSTD_compressStream2(w->zs, &ob, &ib, ZSTD_e_continue);
        if (ZSTD_isError(r)) die("zstd compression failed: %s", ZSTD_getErrorName(r));
        xfwrite(w->zbuf, 1, ob.pos, w->f);
    }
}

struct tokw *tokw_open(const char *path, uint32_t vocab, uint64_t fingerprint, int zstd_level, int force)
{
    struct tokw *w = xcalloc(1, sizeof *w);
    w->f = outfile_open(&w->out, path);
    if (w->f == stdout) refuse_binary_tty(stdout, force);
    w->h.wide = vocab > 65536;
    w->h.vocab = vocab;
    w->h.fingerprint = fingerprint;
    w->start = -1;
    if (!zstd_level) {
        struct stat st;
        if (fstat(fileno(w->f), &st) == 0 && S_ISREG(st.st_mode)) {
            fflush(w->f);
            w->start = lseek(fileno(w->f), 0, SEEK_CUR);
        }
    } else {
        w->zs = ZSTD_createCStream();
        if (!w->zs) die("out of memory creating a zstd encoder");
        ZSTD_CCtx_setParameter(w->zs, ZSTD_c_compressionLevel, zstd_level);
        w->zcap = ZSTD_CStreamOutSize();
        w->zbuf = xmalloc(w->zcap);
    }
    unsigned char hdr[TOK_HEADER_BYTES];
    tok_header_encode(&w->h, hdr);
    raw_write(w, hdr, sizeof hdr);
    w->buf_cap = 1 << 16;
    w->buf = xmalloc(w->buf_cap);
    return w;
}

/* Every 2 MB, the disk starts writing what came before (xio.h), so that
 * closing a long stream waits for the last 2 MB at most. */
#define WRITEBACK_BYTES (2u << 20)

static void flush_buf(struct tokw *w)
{
    raw_write(w, w->buf, w->buf_len);
    w->unsynced += w->buf_len;
    w->buf_len = 0;
    if (w->unsynced >= WRITEBACK_BYTES) {
        outfile_writeback(&w->out);
        w->unsynced = 0;
    }
}

void tokw_put(struct tokw *w, const uint32_t *ids, size_t n)
{
    size_t width = w->h.wide ? 4 : 2;
    w->h.ntokens += n;
    while (n) {
        if (w->buf_len + width > w->buf_cap) flush_buf(w);
        size_t k = (w->buf_cap - w->buf_len) / width;      /* as many as the buffer holds */
        if (k > n) k = n;
        unsigned char *p = w->buf + w->buf_len;
        uint32_t top = 0;                                   /* the largest id, checked once */
        /* one loop per width: simple enough for the compiler to unroll
         * and keep everything in registers */
        if (width == 2)
            for (size_t i = 0; i < k; i++) {
                uint32_t v = ids[i];
                top = v > top ? v : top;
                p[2 * i] = (unsigned char)v; p[2 * i + 1] = (unsigned char)(v >> 8);
            }
        else
            for (size_t i = 0; i < k; i++) {
                uint32_t v = ids[i];
                top = v > top ? v : top;
                p[4 * i] = (unsigned char)v; p[4 * i + 1] = (unsigned char)(v >> 8);
                p[4 * i + 2] = (unsigned char)(v >> 16); p[4 * i + 3] = (unsigned char)(v >> 24);
            }
        if (top >= w->h.vocab) die("internal error: token id %u >= vocabulary %u", top, w->h.vocab);
        w->buf_len += k * width;
        ids += k;
        n -= k;
    }
}

uint64_t tokw_count(const struct tokw *w) { return w->h.ntokens; }

void tokw_close(struct tokw *w)
{
    flush_buf(w);
    if (w->zs) {
        for (;;) {
            ZSTD_inBuffer ib = { NULL, 0, 0 };
            ZSTD_outBuffer ob = { w->zbuf, w->zcap, 0 };
            size_t left = ZSTD_compressStream2(w->zs, &ob, &ib, ZSTD_e_end);
            if (ZSTD_isError(left)) die("zstd compression failed: %s", ZSTD_getErrorName(left));
            xfwrite(w->zbuf, 1, ob.pos, w->f);
            if (left == 0) break;
        }
        ZSTD_freeCStream(w->zs);
    } else if (w->start >= 0) {
        /* Fill in the count now that it is known. */
        unsigned char cnt[4];
        put32(cnt, w->h.ntokens <= INT32_MAX ? (uint32_t)w->h.ntokens : 0);
        if (fflush(w->f) != 0) die_errno("write error");
        if (pwrite(fileno(w->f), cnt, 4, w->start + 8) != 4) die_errno("cannot update the token count");
    }
    outfile_commit(&w->out);
    free(w->buf); free(w->zbuf);
    free(w);
}

/* ---- reader ---- */
static void check_ids(const struct tokr *r, const unsigned char *p, uint64_t n, uint64_t base)
{
    uint32_t vocab = r->h.vocab;
    if (r->h.wide) {
        for (uint64_t i = 0; i < n; i++) {
            uint32_t id = get32(p + 4 * i);
            if (id >= vocab)
                die("%s: token %u at position %llu is out of range (vocabulary size %u)",
                    r->name, id, (unsigned long long)(base + i), vocab);
        }
    } else if (vocab < 65536) {
        for (uint64_t i = 0; i < n; i++) {
            uint32_t id = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
            if (id >= vocab)
                die("%s: token %u at position %llu is out of range (vocabulary size %u)",
                    r->name, id, (unsigned long long)(base + i), vocab);
        }
    }
}

struct tokr *tokr_open(const char *path)
{
    struct tokr *r = xcalloc(1, sizeof *r);
    r->name = xstrdup(path_name(path));
    int fd = strcmp(path, "-") == 0 ? -1 : open(path, O_RDONLY);
    if (strcmp(path, "-") != 0 && fd < 0) die_errno("cannot open '%s'", path);
    struct stat st;
    unsigned char hdr[TOK_HEADER_BYTES];
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 4) {
        unsigned char magic[4];
        if (pread(fd, magic, 4, 0) != 4) die_errno("%s: read error", r->name);
        static const unsigned char zmagic[4] = { 0x28, 0xB5, 0x2F, 0xFD };
        if (memcmp(magic, zmagic, 4) != 0) {
            /* Plain file: map it. */
            if ((size_t)st.st_size < TOK_HEADER_BYTES)
                die("%s: truncated: %lld bytes, shorter than the 1024-byte header", r->name, (long long)st.st_size);
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) die_errno("%s: cannot map", r->name);
            close(fd);
            const char *err = tok_header_decode(&r->h, m);
            if (err) die("%s: %s", r->name, err);
            size_t width = r->h.wide ? 4 : 2;
            size_t body = (size_t)st.st_size - TOK_HEADER_BYTES;
            if (body % width)
                die("%s: truncated: %zu bytes of ids is not a multiple of %zu", r->name, body, width);
            uint64_t have = body / width;
            if (r->h.ntokens && r->h.ntokens != have)
                die("%s: truncated or corrupt: header says %llu tokens, file holds %llu",
                    r->name, (unsigned long long)r->h.ntokens, (unsigned long long)have);
            r->mapped = 1;
            r->map_len = (size_t)st.st_size;
            r->data = (const unsigned char *)m + TOK_HEADER_BYTES;
            r->n = have;
            check_ids(r, r->data, have, 0);
            return r;
        }
    }
    if (fd >= 0) close(fd);
    r->in = in_open(path);
    size_t got = in_read(r->in, hdr, sizeof hdr);
    if (got == 0) die("%s: empty input, expected a token stream; create one with bpe-encode", r->name);
    if (got < sizeof hdr) die("%s: truncated: %zu bytes, shorter than the 1024-byte header", r->name, got);
    const char *err = tok_header_decode(&r->h, hdr);
    if (err) die("%s: %s", r->name, err);
    r->buf = xmalloc(1 << 16);
    return r;
}

void tokr_close(struct tokr *r)
{
    if (!r) return;
    if (r->set) { tokset_close(r->set); free(r->name); free(r); return; }
    if (r->mapped) munmap((void *)(r->data - TOK_HEADER_BYTES), r->map_len);
    if (r->in) in_close(r->in);
    free(r->buf); free(r->name);
    free(r);
}

void tokr_get(const struct tokr *r, uint64_t off, size_t n, uint32_t *out)
{
    if (!r->mapped || off + n > r->n) die("internal error: tokr_get out of range");
    if (r->set) { tokset_get(r, off, n, out); return; }
    if (r->h.wide) for (size_t i = 0; i < n; i++) out[i] = get32(r->data + 4 * (off + i));
    else for (size_t i = 0; i < n; i++) {
        const unsigned char *p = r->data + 2 * (off + i);
        out[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    }
}

size_t tokr_read(struct tokr *r, uint32_t *out, size_t max)
{
    if (r->set) return tokset_read(r, out, max);
    if (r->mapped) {
        uint64_t left = r->n - r->pos;
        size_t k = max < left ? max : (size_t)left;
        tokr_get(r, r->pos, k, out);
        r->pos += k;
        return k;
    }
    size_t width = r->h.wide ? 4 : 2, done = 0;
    while (done < max) {
        size_t want = (max - done) * width;
        if (want > (1 << 16)) want = 1 << 16;
        size_t got = in_read(r->in, r->buf, want);
        if (got % width) {
            /* An odd tail may just be a short read: top it up. */
            got += in_read(r->in, r->buf + got, width - got % width);
            if (got % width) die("%s: truncated: the stream ends inside a token", r->name);
        }
        if (got == 0) break;
        size_t k = got / width;
        check_ids(r, r->buf, k, r->pos);
        if (width == 4) for (size_t i = 0; i < k; i++) out[done + i] = get32(r->buf + 4 * i);
        else for (size_t i = 0; i < k; i++) out[done + i] = (uint32_t)r->buf[2 * i] | (uint32_t)r->buf[2 * i + 1] << 8;
        done += k;
        r->pos += k;
    }
    if (done == 0 && r->h.ntokens && r->pos != r->h.ntokens)
        die("%s: truncated: header says %llu tokens, stream holds %llu", r->name,
            (unsigned long long)r->h.ntokens, (unsigned long long)r->pos);
    if (r->h.ntokens && r->pos > r->h.ntokens)
        die("%s: corrupt: more tokens than the %llu the header announces", r->name,
            (unsigned long long)r->h.ntokens);
    if (!r->mapped && done == 0) r->n = r->pos;
    return done;
}

uint32_t *tokr_slurp(struct tokr *r, uint64_t *n)
{
    size_t cap = r->mapped ? (size_t)(r->n - r->pos) + 1 : (1 << 20), len = 0;
    uint32_t *ids = xmalloc(cap * sizeof *ids);
    for (;;) {
        if (len == cap) ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        size_t k = tokr_read(r, ids + len, cap - len);
        if (!k) break;
        len += k;
    }
    *n = len;
    return ids;
}
