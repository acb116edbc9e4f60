/* tokenizer.c - the tokenizer object: building it (tok_alloc, tok_set_token,
 * tok_finish), its fingerprint, its properties, truncation and the
 * human-readable dump.  It calls no loader: the file formats build on it
 * (tok_bin.c: tfs's tok.bin; tok_tiktoken.c; tok_hf.c) and tok_load.c picks
 * the format of a file.  Encoding is in bpe_encode.c, training in
 * bpe_train.c. */
#include "tok/tokenizer_impl.h"
#include "core/xio.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ---- */

struct tokenizer *tok_alloc(enum tok_kind kind, uint32_t vocab, const char *pattern)
{
    struct tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = kind;
    t->vocab = vocab;
    t->pattern = xstrdup(pattern);
    t->off = xcalloc(vocab, sizeof *t->off);
    t->len = xmalloc((size_t)vocab * sizeof *t->len);
    for (uint32_t i = 0; i < vocab; i++) t->len[i] = TOK_NONE;
    t->is_special = xcalloc(vocab, 1);
    t->eot = t->bos = t->eos = t->unk = TOK_NONE;
    for (int b = 0; b < 256; b++) t->fallback_id[b] = TOK_NONE;
    t->whole_piece = 1;
    return t;
}

void tok_set_token(struct tokenizer *t, uint32_t id, const void *bytes, size_t len, int special)
{
    if (t->blob_len + len > t->blob_cap) {
        size_t c = t->blob_cap ? t->blob_cap : 4096;
        while (c < t->blob_len + len) c *= 2;
        t->blob = xrealloc(t->blob, c);
        t->blob_cap = c;
    }
    memcpy(t->blob + t->blob_len, bytes, len);
    t->off[id] = t->blob_len;
    t->len[id] = (uint32_t)len;
    t->blob_len += len;
    t->is_special[id] = (unsigned char)special;
    if (special && special != TOK_BYTE) {
        t->special_ids = xrealloc(t->special_ids, (t->nspecial + 1) * sizeof *t->special_ids);
        t->special_flags = xrealloc(t->special_flags, t->nspecial + 1);
        t->special_flags[t->nspecial] = 0;
        t->special_ids[t->nspecial++] = id;
    }
}

/* FNV-1a, 64 bits (Fowler, Noll, Vo; draft-eastlake-fnv): h = (h ^ byte) * P. */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * FNV_PRIME;
    return h;
}
static uint64_t fnv32(uint64_t h, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
    return fnv(h, b, 4);
}

/* The fingerprint names the encoding function, not the file: the pattern,
 * the merge rule, and every id's bytes and kind.  The same tokenizer read
 * from tok.bin, a rank file or a tokenizer.json gets the same fingerprint
 * when it encodes the same way. */
static uint64_t fingerprint(const struct tokenizer *t)
{
    uint64_t h = fnv(FNV_OFFSET, "tfs-tokenizer-1", 16);
    h = fnv(h, t->pattern, strlen(t->pattern) + 1);
    h = fnv32(h, (uint32_t)t->merge_list << 1 | (uint32_t)t->whole_piece);
    h = fnv32(h, t->vocab);
    for (uint32_t id = 0; id < t->vocab; id++) {
        h = fnv32(h, t->len[id]);
        if (t->len[id] == TOK_NONE) continue;
        h = fnv32(h, t->is_special[id]);
        h = fnv(h, t->blob + t->off[id], t->len[id]);
    }
    if (t->merge_list)
        for (uint32_t i = 0; i < t->nmerges; i++) h = fnv32(fnv32(h, t->merges[i][0]), t->merges[i][1]);
    /* a tokenizer.json's text rules (absent from tok.bin and rank files,
     * whose fingerprints are therefore unchanged by them) */
    if (t->char_level || t->prefix_space || t->nrw) {
        h = fnv32(h, (uint32_t)t->char_level | (uint32_t)t->prefix_space << 1);
        for (int i = 0; i < t->nrw; i++) {
            h = fnv32(h, (uint32_t)t->rw[i].op);
            h = fnv(fnv(h, t->rw[i].a, t->rw[i].al + 1), t->rw[i].b, t->rw[i].bl + 1);
        }
    }
    return h ? h : 1;
}

const char *tok_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return err;
}

/* Whether token id goes into the tables of regular tokens' bytes. */
static int tabled(const struct tokenizer *t, uint32_t id)
{
    return t->len[id] != TOK_NONE && t->is_special[id] != TOK_SPECIAL && t->is_special[id] != TOK_ADDED &&
           t->is_special[id] != TOK_BYTE;
}

/* The tables' slots are random places in megabytes of memory: inserted
 * one after the other, each token waits for its slot's cache line.  So the
 * tokens go in blocks of LOAD_BLOCK: first each one's hash, asking the
 * memory for its slot (a prefetch), then the insertions, by which time
 * most of those lines have arrived. */
enum { LOAD_BLOCK = 16 };

/* Regular token bytes -> id in t->ids (the bytes must be unique).  Returns
 * the first token that is empty or repeats an earlier one's bytes (that
 * one's id in *dup, UINT64_MAX when empty), or UINT32_MAX. */
static uint32_t build_ids(struct tokenizer *t, uint64_t *dup)
{
    uint64_t h[LOAD_BLOCK];
    for (uint32_t lo = 0; lo < t->vocab; lo += LOAD_BLOCK) {
        uint32_t hi = t->vocab - lo < LOAD_BLOCK ? t->vocab : lo + LOAD_BLOCK;
        for (uint32_t id = lo; id < hi; id++)
            if (tabled(t, id) && t->len[id]) {
                h[id - lo] = bytemap_hash(t->blob + t->off[id], t->len[id]);
                __builtin_prefetch(&t->ids.slot[h[id - lo] & (t->ids.cap - 1)]);
            }
        for (uint32_t id = lo; id < hi; id++) {
            if (!tabled(t, id)) continue;
            if (t->len[id] == 0) { *dup = UINT64_MAX; return id; }
            int added;
            uint64_t *v = bytemap_put_h(&t->ids, h[id - lo], t->blob + t->off[id], t->len[id], &added);
            if (!added) { *dup = *v; return id; }
            *v = id;
        }
    }
    return UINT32_MAX;
}

/* The short regular tokens in the short-token table (stok.h), the bytes'
 * own tokens in byte_id, the two-byte ones in pair2. */
static void build_short(struct tokenizer *t)
{
    uint64_t h[LOAD_BLOCK];
    for (uint32_t lo = 0; lo < t->vocab; lo += LOAD_BLOCK) {
        uint32_t hi = t->vocab - lo < LOAD_BLOCK ? t->vocab : lo + LOAD_BLOCK;
        for (uint32_t id = lo; id < hi; id++)
            if (tabled(t, id) && t->len[id] && t->len[id] <= STOK_MAX)
                h[id - lo] = stok_prefetch(&t->stok, (const unsigned char *)t->blob + t->off[id], t->len[id]);
        for (uint32_t id = lo; id < hi; id++) {
            if (!tabled(t, id) || !t->len[id]) continue;
            const unsigned char *b = (const unsigned char *)t->blob + t->off[id];
            if (t->len[id] == 1) t->byte_id[b[0]] = id;
            if (t->len[id] <= STOK_MAX) stok_put_h(&t->stok, h[id - lo], b, t->len[id], id);
            if (t->len[id] == 2 && t->is_special[id] == TOK_REGULAR) t->pair2[b[0] | b[1] << 8] = id;
        }
    }
}

const char *tok_finish(struct tokenizer *t, char *err, size_t errlen)
{
    char perr[256];
    t->pre = pretok_new(t->pattern, perr, sizeof perr);
    if (!t->pre) return tok_errf(err, errlen, "bad pre-tokenization pattern: %s", perr);
    if (t->bos == TOK_NONE) t->bos = t->eot;
    if (t->eos == TOK_NONE) t->eos = t->eot;
    bytemap_init(&t->ids, t->vocab);
    for (int b = 0; b < 256; b++) t->byte_id[b] = TOK_NONE;
    t->pair2 = xmalloc(65536 * sizeof *t->pair2);
    for (size_t i = 0; i < 65536; i++) t->pair2[i] = TOK_NONE;
    stok_init(&t->stok, t->vocab);
    /* (The two tables and the fingerprint are independent, but building
     * them in parallel sections was slower with two threads than with one
     * on our 2-core machine: the insertions wait for memory, not the core.) */
    uint64_t dup = 0;
    uint32_t bad = build_ids(t, &dup);
    if (bad == UINT32_MAX) build_short(t);
    t->fingerprint = fingerprint(t);
    if (bad != UINT32_MAX && dup == UINT64_MAX) return tok_errf(err, errlen, "token %u is empty", bad);
    if (bad != UINT32_MAX)
        return tok_errf(err, errlen, "tokens %llu and %u have the same bytes", (unsigned long long)dup, bad);
    /* tok.bin and rank files cover every byte; a tokenizer.json trained by
     * HF covers the bytes its corpus held, and drops (or maps to its unk
     * token) any other, as HF does */
    if (t->kind != TOK_HF)
        for (int b = 0; b < 256; b++)
            if (t->byte_id[b] == TOK_NONE) return tok_errf(err, errlen, "byte 0x%02X is not a token (not a byte-level BPE)", b);
    /* the pairs that merge, with their rank and result */
    if (t->merge_list) {
        u64map_init(&t->pairs, t->nmerges);
        for (uint32_t i = 0; i < t->nmerges; i++) {
            uint32_t l = t->merges[i][0], r = t->merges[i][1];
            char buf[1024], *p = buf;
            size_t n = (size_t)t->len[l] + t->len[r];
            if (n > sizeof buf) p = xmalloc(n);
            memcpy(p, t->blob + t->off[l], t->len[l]);
            memcpy(p + t->len[l], t->blob + t->off[r], t->len[r]);
            const uint64_t *id = bytemap_get(&t->ids, p, n);
            if (p != buf) free(p);
            if (!id) return tok_errf(err, errlen, "merge %u makes a token that is not in the vocabulary", i + 1);
            int added;
            uint64_t *v = u64map_put(&t->pairs, (uint64_t)l << 32 | r, &added);
            if (added) *v = (uint64_t)i << 32 | *id;
        }
    }
    /* else tiktoken's rule: a pair merges when its concatenation is a
     * token, and the rank is that token's id; the encoder looks the
     * concatenation up (bpe_encode.c, pair_rank) */
    return NULL;
}

struct tokenizer *tok_from_merges(const char *pattern, const uint32_t (*merges)[2], uint32_t nmerges,
                                  const char *const *special, const size_t *special_len, uint32_t nspecial)
{
    struct tokenizer *t = tok_alloc(TOK_TFS, 256 + nmerges + nspecial, pattern);
    for (int b = 0; b < 256; b++) { unsigned char c = (unsigned char)b; tok_set_token(t, (uint32_t)b, &c, 1, 0); }
    t->nmerges = nmerges;
    t->merges = xmalloc((nmerges ? nmerges : 1) * sizeof *t->merges);
    char *buf = NULL;
    size_t cap = 0;
    for (uint32_t i = 0; i < nmerges; i++) {
        uint32_t l = merges[i][0], r = merges[i][1], id = 256 + i;
        t->merges[i][0] = l; t->merges[i][1] = r;
        size_t n = (size_t)t->len[l] + t->len[r];
        if (n > cap) { cap = 2 * n; buf = xrealloc(buf, cap); }
        memcpy(buf, t->blob + t->off[l], t->len[l]);
        memcpy(buf + t->len[l], t->blob + t->off[r], t->len[r]);
        tok_set_token(t, id, buf, n, 0);
    }
    free(buf);
    for (uint32_t i = 0; i < nspecial; i++)
        tok_set_token(t, 256 + nmerges + i, special[i], special_len[i], TOK_SPECIAL);
    if (nspecial) t->eot = 256 + nmerges;      /* the first special token */
    return t;
}

void tok_free(struct tokenizer *t)
{
    if (!t) return;
    pretok_free(t->pre);
    free(t->pattern); free(t->blob); free(t->off); free(t->len); free(t->is_special);
    free(t->special_ids); free(t->special_flags); free(t->merges);
    for (int i = 0; i < t->nrw; i++) { free(t->rw[i].a); free(t->rw[i].b); }
    free(t->rw); free(t->space_sym);
    if (t->ids.slot) bytemap_free(&t->ids);
    stok_free(&t->stok);
    free(t->pair2);
    if (t->pairs.key) u64map_free(&t->pairs);
    free(t);
}

/* ---- properties ---- */
uint32_t tok_vocab_size(const struct tokenizer *t) { return t->vocab; }
uint32_t tok_eot(const struct tokenizer *t) { return t->eot; }
uint32_t tok_bos(const struct tokenizer *t) { return t->bos; }
uint32_t tok_eos(const struct tokenizer *t) { return t->eos; }
uint64_t tok_fingerprint(const struct tokenizer *t) { return t->fingerprint; }
enum tok_kind tok_kind(const struct tokenizer *t) { return t->kind; }
const char *tok_pattern(const struct tokenizer *t) { return t->pattern; }
uint32_t tok_num_merges(const struct tokenizer *t) { return t->nmerges; }
uint32_t tok_num_special(const struct tokenizer *t) { return t->nspecial; }

const char *tok_special(const struct tokenizer *t, uint32_t i, size_t *len, uint32_t *id)
{
    if (i >= t->nspecial) return NULL;
    uint32_t s = t->special_ids[i];
    if (len) *len = t->len[s];
    if (id) *id = s;
    return t->blob + t->off[s];
}

const unsigned char *tok_token(const struct tokenizer *t, uint32_t id, size_t *len)
{
    if (id >= t->vocab || t->len[id] == TOK_NONE) return NULL;
    *len = t->len[id];
    return (const unsigned char *)t->blob + t->off[id];
}

int tok_is_special(const struct tokenizer *t, uint32_t id) { return id < t->vocab && t->is_special[id] == TOK_SPECIAL; }

int tok_merge_of(const struct tokenizer *t, uint32_t id, uint32_t *left, uint32_t *right)
{
    if (t->kind != TOK_TFS || id < 256 || id >= 256 + t->nmerges) return -1;
    *left = t->merges[id - 256][0];
    *right = t->merges[id - 256][1];
    return 0;
}

struct tokenizer *tok_truncate(const struct tokenizer *t, uint32_t k)
{
    if (t->kind != TOK_TFS) die("tok_truncate: only tokenizers trained by tfs can be truncated");
    if (k < 256 + t->nspecial || k > t->vocab)
        die("tok_truncate: vocabulary size %u is outside [%u, %u]", k, 256 + t->nspecial, t->vocab);
    uint32_t m = k - 256 - t->nspecial;
    const char **sp = xmalloc((t->nspecial + 1) * sizeof *sp);
    size_t *sl = xmalloc((t->nspecial + 1) * sizeof *sl);
    for (uint32_t i = 0; i < t->nspecial; i++) sp[i] = tok_special(t, i, &sl[i], NULL);
    struct tokenizer *r = tok_from_merges(t->pattern, (const uint32_t (*)[2])t->merges, m, sp, sl, t->nspecial);
    free(sp); free(sl);
    char err[256];
    if (tok_finish(r, err, sizeof err)) die("tok_truncate: %s", err);
    return r;
}

/* ---- human-readable dump ---- */
static void put_escaped(FILE *f, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\\') fputs("\\\\", f);
        else if (c >= 0x20 && c < 0x7f) fputc(c, f);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else fprintf(f, "\\x%02x", c);
    }
}

void tok_dump(const struct tokenizer *t, FILE *f)
{
    fprintf(f, "# tfs tokenizer: %u ids, %u merges, %u special, fingerprint %016llx\n# pattern: %s\n"
               "# id\tmerge\tbytes (\\xHH for bytes outside printable ASCII)\n",
            t->vocab, t->nmerges, t->nspecial, (unsigned long long)t->fingerprint, t->pattern);
    for (uint32_t id = 0; id < t->vocab; id++) {
        if (t->len[id] == TOK_NONE) continue;
        uint32_t l, r;
        fprintf(f, "%u\t", id);
        if (t->is_special[id] == TOK_SPECIAL) fputs("special", f);
        else if (t->is_special[id] == TOK_BYTE) fputs("byte", f);
        else if (t->is_special[id]) fputs("added", f);
        else if (tok_merge_of(t, id, &l, &r) == 0) fprintf(f, "%u+%u", l, r);
        else fputs("-", f);
        fputc('\t', f);
        put_escaped(f, (const unsigned char *)t->blob + t->off[id], t->len[id]);
        fputc('\n', f);
    }
}
