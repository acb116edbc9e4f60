/* tok_bin.c - tfs's own tokenizer file, tok.bin: written by bpe-train,
 * read by tok_load (tok_load.c) through tok_format_bin.  The other formats
 * are tok_tiktoken.c and tok_hf.c.
 *
 * Little-endian; see tfs-tokenizer(5):
 *   0  8  magic "tfs-tok\n"
 *   8  4  version (1)
 *  12  4  vocabulary size V = 256 + M + S
 *  16  4  M, the number of merges
 *  20  4  S, the number of special tokens (>= 1; the first is end-of-text)
 *  24  4  P, the length of the pattern in bytes
 *  28  4  0 (reserved)
 *  32  8  fingerprint
 *  40     the pattern (P bytes, UTF-8, no terminator)
 *         S times: a 4-byte length, then the special token's bytes
 *         M times: two 4-byte ids, left and right (each < 256 + its index)
 * and nothing after. */
#include "tok/tokenizer_impl.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

#define TOKBIN_MAGIC "tfs-tok\n"
#define TOKBIN_VERSION 1
#define TOKBIN_HEADER 40

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void xput32(FILE *f, uint32_t v) { unsigned char b[4]; put32(b, v); xfwrite(b, 1, 4, f); }

void tok_save(const struct tokenizer *t, const char *path)
{
    if (t->kind != TOK_TFS)
        die("%s: only a tokenizer trained by tfs can be written as tok.bin (export it with --export-hf)", path_name(path));
    struct outfile o;
    FILE *f = outfile_open(&o, path);
    unsigned char h[TOKBIN_HEADER] = { 0 };
    memcpy(h, TOKBIN_MAGIC, 8);
    put32(h + 8, TOKBIN_VERSION);
    put32(h + 12, t->vocab);
    put32(h + 16, t->nmerges);
    put32(h + 20, t->nspecial);
    put32(h + 24, (uint32_t)strlen(t->pattern));
    put32(h + 32, (uint32_t)t->fingerprint);
    put32(h + 36, (uint32_t)(t->fingerprint >> 32));
    xfwrite(h, 1, sizeof h, f);
    xfwrite(t->pattern, 1, strlen(t->pattern), f);
    for (uint32_t i = 0; i < t->nspecial; i++) {
        size_t n;
        const char *s = tok_special(t, i, &n, NULL);
        xput32(f, (uint32_t)n);
        xfwrite(s, 1, n, f);
    }
    for (uint32_t i = 0; i < t->nmerges; i++) { xput32(f, t->merges[i][0]); xput32(f, t->merges[i][1]); }
    outfile_commit(&o);
}

static struct tokenizer *load_tokbin(const char *path, const char *data, size_t n, const struct tok_load_opts *o,
                                     char *err, size_t errlen)
{
    (void)path; (void)o;
    const unsigned char *d = (const unsigned char *)data;
#define BAD(...) do { tok_errf(err, errlen, __VA_ARGS__); goto bad; } while (0)
    struct tokenizer *t = NULL;
    uint32_t (*merges)[2] = NULL;
    const char **sp = NULL;
    size_t *sl = NULL;
    char *pattern = NULL;
    if (n < 8) BAD("truncated tok.bin: %zu bytes", n);
    if (n < TOKBIN_HEADER) BAD("truncated tok.bin: %zu bytes, shorter than its %d-byte header", n, TOKBIN_HEADER);
    uint32_t version = get32(d + 8), vocab = get32(d + 12), m = get32(d + 16), s = get32(d + 20), plen = get32(d + 24);
    uint64_t fp = (uint64_t)get32(d + 32) | (uint64_t)get32(d + 36) << 32;
    if (version != TOKBIN_VERSION) BAD("tok.bin version %u is not supported (this build reads version %d)", version, TOKBIN_VERSION);
    if (get32(d + 28) != 0) BAD("corrupt tok.bin: reserved header field is not zero");
    if (s == 0) BAD("corrupt tok.bin: no special tokens (the end-of-text token is required)");
    if (vocab > TOK_MAX_VOCAB || m > TOK_MAX_VOCAB || s > TOK_MAX_VOCAB || (uint64_t)256 + m + s != vocab)
        BAD("corrupt tok.bin: vocabulary size %u is not 256 + %u merges + %u special tokens", vocab, m, s);
    size_t pos = TOKBIN_HEADER;
    if (plen > n - pos) BAD("truncated tok.bin: the pattern runs past the end of the file");
    pattern = xmalloc((size_t)plen + 1);
    memcpy(pattern, d + pos, plen);
    pattern[plen] = 0;
    if (strlen(pattern) != plen) BAD("corrupt tok.bin: the pattern contains a NUL byte");
    pos += plen;
    if ((n - pos) / 4 < s) BAD("truncated tok.bin: %u special tokens expected, %zu bytes left", s, n - pos);
    sp = xcalloc(s, sizeof *sp);
    sl = xcalloc(s, sizeof *sl);
    for (uint32_t i = 0; i < s; i++) {
        if (n - pos < 4) BAD("truncated tok.bin: special token %u is missing", i + 1);
        uint32_t k = get32(d + pos);
        pos += 4;
        if (k == 0) BAD("corrupt tok.bin: special token %u is empty", i + 1);
        if (k > n - pos) BAD("truncated tok.bin: special token %u runs past the end of the file", i + 1);
        sp[i] = (const char *)d + pos;
        sl[i] = k;
        pos += k;
    }
    if ((n - pos) / 8 < m) BAD("truncated tok.bin: %u merges expected, %zu bytes left", m, n - pos);
    if (n - pos != (size_t)m * 8) BAD("corrupt tok.bin: %zu unexpected bytes after the merges", n - pos - (size_t)m * 8);
    merges = xmalloc(((size_t)m + 1) * sizeof *merges);
    for (uint32_t i = 0; i < m; i++, pos += 8) {
        merges[i][0] = get32(d + pos);
        merges[i][1] = get32(d + pos + 4);
        if (merges[i][0] >= 256 + i || merges[i][1] >= 256 + i)
            BAD("corrupt tok.bin: merge %u (id %u) uses an id that is not defined before it", i + 1, 256 + i);
    }
    t = tok_from_merges(pattern, (const uint32_t (*)[2])merges, m, sp, sl, s);
    if (tok_finish(t, err, errlen)) { char tmp[300]; snprintf(tmp, sizeof tmp, "corrupt tok.bin: %s", err); snprintf(err, errlen, "%s", tmp); goto bad; }
    if (t->fingerprint != fp)
        BAD("corrupt tok.bin: fingerprint %016llx in the header, %016llx computed from the contents",
            (unsigned long long)fp, (unsigned long long)t->fingerprint);
    free(merges); free(sp); free(sl); free(pattern);
    return t;
bad:
    tok_free(t);
    free(merges); free(sp); free(sl); free(pattern);
    return NULL;
#undef BAD
}

/* Any file that starts like the magic, even one too short to hold all of
 * it, is a tok.bin (the loader then says it is truncated). */
static int match_tokbin(const char *d, size_t n)
{
    return memcmp(d, TOKBIN_MAGIC, n < 8 ? n : 8) == 0;
}

const struct tok_format tok_format_bin = { match_tokbin, load_tokbin };
