/* tok_tiktoken.c - tokenizers from tiktoken rank files (.tiktoken): one
 * token per line, "BASE64 RANK", the rank being the id (tiktoken's
 * load_tiktoken_bpe); the pattern and special tokens of an unknown one come
 * from struct tok_load_opts.  Read by tok_load (tok_load.c) through
 * tok_format_tiktoken; the other formats are tok_bin.c and tok_hf.c. */
#include "tok/tokenizer_impl.h"
#include "core/xio.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* RFC 4648 base64 value of c, or -1. */
static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode s[0..n) into out; returns the length or -1 when malformed. */
static long b64decode(const char *s, size_t n, unsigned char *out)
{
    if (n == 0 || n % 4) return -1;
    long k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=' && i + 4 == n && j >= 2) { v[j] = 0; pad++; continue; }
            if (pad) return -1;
            if ((v[j] = b64val(c)) < 0) return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[k++] = (unsigned char)(w >> 16);
        if (pad < 2) out[k++] = (unsigned char)(w >> 8);
        if (pad < 1) out[k++] = (unsigned char)w;
    }
    return k;
}

/* Rank files carry no pattern and no special tokens: tiktoken keeps them in
 * code (openai_public.py).  We recognise OpenAI's three by a hash of their
 * contents (content_hash: the tokens in rank order, so the file's layout
 * does not matter); any other rank file needs the pattern given
 * (--pattern), and its special tokens given (--special, --special-file).
 * The hashes were computed from the rank data of npm's tiktoken package. */
static const struct known {
    uint64_t hash;
    uint32_t ranks;
    const char *pattern;
    uint32_t vocab;
    const char *special[6];
    uint32_t special_id[6];
} KNOWN[] = {
    { 0xb12bf1f8ae57619dull, 50256, "gpt2", 50257, { "<|endoftext|>" }, { 50256 } },
    { 0x7a50a8cdbc52b72bull, 100256, "cl100k", 100277,
      { "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>" },
      { 100257, 100258, 100259, 100260, 100276 } },
    { 0x77e3932e7dd2467eull, 199998, "o200k", 200019, { "<|endoftext|>", "<|endofprompt|>" }, { 199999, 200018 } },
};

/* FNV-1a, 64 bits, over "tfs-tiktoken-ranks" and then, for each rank in
 * order, its length (4 bytes, little-endian) and its bytes. */
static uint64_t content_hash(const struct tokenizer *t, uint32_t nreg)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const char *tag = "tfs-tiktoken-ranks";
    for (const char *c = tag; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    for (uint32_t r = 0; r < nreg; r++) {
        uint32_t len = t->len[r] == TOK_NONE ? 0 : t->len[r];
        for (int i = 0; i < 4; i++) h = (h ^ ((len >> (8 * i)) & 0xFF)) * 0x100000001b3ull;
        for (uint32_t i = 0; i < len; i++) h = (h ^ (unsigned char)t->blob[t->off[r] + i]) * 0x100000001b3ull;
    }
    return h;
}

/* First pass: check every line, count them, find the largest rank. */
static int scan_ranks(const char *d, size_t n, size_t *lines_out, uint64_t *maxrank_out, char *err, size_t errlen)
{
    size_t lines = 0;
    uint64_t maxrank = 0;
    for (size_t i = 0, line = 1; i < n; line++) {
        const char *e = memchr(d + i, '\n', n - i);
        size_t len = e ? (size_t)(e - (d + i)) : n - i;
        const char *sp = memchr(d + i, ' ', len);
        if (len == 0 && !e) break;
        if (!sp) { tok_errf(err, errlen, "line %zu: not a tokenizer (expected tok.bin, a tiktoken rank file "
                             "\"BASE64 RANK\" per line, or a Hugging Face tokenizer.json)", line); return -1; }
        uint64_t r = 0;
        const char *p = sp + 1, *end = d + i + len;
        if (p == end) { tok_errf(err, errlen, "line %zu: rank missing", line); return -1; }
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || r > TOK_MAX_VOCAB) { tok_errf(err, errlen, "line %zu: bad rank", line); return -1; }
            r = r * 10 + (uint64_t)(*p - '0');
        }
        if (r >= TOK_MAX_VOCAB) { tok_errf(err, errlen, "line %zu: rank %llu too large", line, (unsigned long long)r); return -1; }
        if (r > maxrank) maxrank = r;
        lines++;
        i += len + (e ? 1 : 0);
    }
    if (!lines) { tok_errf(err, errlen, "empty rank file"); return -1; }
    /* ranks are dense: a few holes at most, never one huge rank in a small file */
    if (maxrank >= lines + 65536) { tok_errf(err, errlen, "rank %llu in a file of %zu tokens: ranks are not dense",
                                              (unsigned long long)maxrank, lines); return -1; }
    *lines_out = lines;
    *maxrank_out = maxrank;
    return 0;
}

/* The special tokens the user gave: "TEXT=ID" options, then a JSON object
 * {"TEXT": ID} file; texts[i] (malloc'd) and ids[i].  Returns the count or -1. */
static int given_specials(const struct tok_load_opts *o, char ***texts, uint32_t **ids, char *err, size_t errlen)
{
    json_t *root = NULL;
    size_t nfile = 0;
    if (o->special_file) {
        json_error_t je;
        root = json_load_file(o->special_file, 0, &je);
        if (!root || !json_is_object(root)) {
            tok_errf(err, errlen, "%s: %s", o->special_file, root ? "expected a JSON object {\"TEXT\": ID, ...}" : je.text);
            json_decref(root);
            return -1;
        }
        nfile = json_object_size(root);
    }
    int n = 0;
    *texts = xcalloc((size_t)o->nspecial + nfile + 1, sizeof **texts);
    *ids = xcalloc((size_t)o->nspecial + nfile + 1, sizeof **ids);
    for (int i = 0; i < o->nspecial; i++) {
        const char *s = o->special[i], *eq = strrchr(s, '=');
        char *end;
        unsigned long v = eq ? strtoul(eq + 1, &end, 10) : 0;
        if (!eq || eq == s || !eq[1] || *end || v >= TOK_MAX_VOCAB) {
            tok_errf(err, errlen, "--special '%s': expected TEXT=ID", s);
            goto bad;
        }
        (*texts)[n] = xmalloc((size_t)(eq - s) + 1);
        memcpy((*texts)[n], s, (size_t)(eq - s));
        (*texts)[n][eq - s] = 0;
        (*ids)[n++] = (uint32_t)v;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= TOK_MAX_VOCAB || !*key) {
            tok_errf(err, errlen, "%s: \"%s\": expected a token id", o->special_file, key);
            goto bad;
        }
        (*texts)[n] = xstrdup(key);
        (*ids)[n++] = (uint32_t)json_integer_value(v);
    }
    json_decref(root);
    return n;
bad:
    json_decref(root);
    for (int i = 0; i < n; i++) free((*texts)[i]);
    free(*texts); free(*ids);
    return -1;
}

/* Second pass: every rank's token. */
static int read_ranks(struct tokenizer *t, const char *d, size_t n, char *err, size_t errlen)
{
    unsigned char *buf = xmalloc(n + 4);
    for (size_t i = 0, line = 1; i < n; line++) {
        const char *e = memchr(d + i, '\n', n - i);
        size_t len = e ? (size_t)(e - (d + i)) : n - i;
        if (len == 0 && !e) break;
        const char *sp = memchr(d + i, ' ', len);
        long bl = b64decode(d + i, (size_t)(sp - (d + i)), buf);
        if (bl <= 0) { tok_errf(err, errlen, "line %zu: bad base64 token", line); free(buf); return -1; }
        uint32_t r = 0;                 /* digits only, checked by scan_ranks */
        for (const char *p = sp + 1; p < d + i + len; p++) r = r * 10 + (uint32_t)(*p - '0');
        if (t->len[r] != TOK_NONE) { tok_errf(err, errlen, "line %zu: rank %u given twice", line, r); free(buf); return -1; }
        tok_set_token(t, r, buf, (size_t)bl, TOK_REGULAR);
        i += len + (e ? 1 : 0);
    }
    free(buf);
    return 0;
}

static struct tokenizer *load_tiktoken(const char *path, const char *d, size_t n, const struct tok_load_opts *o,
                                       char *err, size_t errlen)
{
    (void)path;
    size_t lines;
    uint64_t maxrank;
    if (scan_ranks(d, n, &lines, &maxrank, err, errlen)) return NULL;
    char **sp = NULL;
    uint32_t *sid = NULL;
    int ns = given_specials(o, &sp, &sid, err, errlen);
    if (ns < 0) return NULL;
    uint32_t nreg = (uint32_t)maxrank + 1, vocab = nreg;
    for (int i = 0; i < ns; i++) if (sid[i] + 1 > vocab) vocab = sid[i] + 1;
    /* read the ranks; the arrays have room for the special tokens of a
     * known file (at most 21 ids past the last rank) */
    struct tokenizer *t = tok_alloc(TOK_TIKTOKEN, vocab + 256, "");
    t->vocab = vocab;
    if (read_ranks(t, d, n, err, errlen)) goto bad;
    const struct known *k = NULL;
    uint64_t h = content_hash(t, nreg);
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (KNOWN[i].ranks == nreg && lines == nreg && KNOWN[i].hash == h) k = &KNOWN[i];
    if (!k && !o->pattern) {
        tok_errf(err, errlen, "a tiktoken rank file that is not OpenAI's gpt2, cl100k_base or o200k_base: "
                 "it does not say how to cut text into pieces; give the pattern with --pattern "
                 "(and its special tokens with --special or --special-file)");
        goto bad;
    }
    free(t->pattern);
    t->pattern = xstrdup(o->pattern ? (pretok_named(o->pattern) ? pretok_named(o->pattern) : o->pattern)
                                    : pretok_named(k->pattern));
    if (k && !ns && vocab < k->vocab) t->vocab = vocab = k->vocab;
    for (int i = 0; i < ns; i++) {
        if (t->len[sid[i]] != TOK_NONE) { tok_errf(err, errlen, "special token \"%s\": id %u is taken", sp[i], sid[i]); goto bad; }
        tok_set_token(t, sid[i], sp[i], strlen(sp[i]), TOK_SPECIAL);
        if (strcmp(sp[i], TOK_DEFAULT_EOT) == 0) t->eot = sid[i];
    }
    if (k && !ns)
        for (int i = 0; i < 6 && k->special[i]; i++)
            tok_set_token(t, k->special_id[i], k->special[i], strlen(k->special[i]), TOK_SPECIAL);
    if (k && !ns) t->eot = k->special_id[0];
    if (tok_finish(t, err, errlen)) goto bad;
    for (int i = 0; i < ns; i++) free(sp[i]);
    free(sp); free(sid);
    return t;
bad:
    for (int i = 0; i < ns; i++) free(sp[i]);
    free(sp); free(sid);
    tok_free(t);
    return NULL;
}

/* A rank file has no signature: this format is the last one tried, and
 * takes whatever the others did not (its loader says when it is not a
 * rank file either). */
static int match_tiktoken(const char *d, size_t n)
{
    (void)d; (void)n;
    return 1;
}

const struct tok_format tok_format_tiktoken = { match_tiktoken, load_tiktoken };
