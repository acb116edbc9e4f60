/* tok_tiktoken.c - tokenizers from tiktoken rank files (.tiktoken): one
 * token per line, "BASE64 RANK", the rank being the id (tiktoken's
 * load_tiktoken_bpe).  Read by tok_load (tok_load.c) through
 * tok_format_tiktoken; the other formats are tok_bin.c and tok_hf.c. */
#include "tok/tokenizer_impl.h"
#include "core/xio.h"

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
 * code (openai_public.py).  We recognise OpenAI's three by their size. */
static const struct known {
    uint32_t ranks;
    const char *pattern;
    uint32_t vocab;
    const char *special[6];
    uint32_t special_id[6];
} KNOWN[] = {
    { 50256, "gpt2", 50257, { "<|endoftext|>" }, { 50256 } },
    { 100256, "cl100k", 100277,
      { "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>" },
      { 100257, 100258, 100259, 100260, 100276 } },
    { 199998, "o200k", 200019, { "<|endoftext|>", "<|endofprompt|>" }, { 199999, 200018 } },
};

static struct tokenizer *load_tiktoken(const char *d, size_t n, char *err, size_t errlen)
{
    /* first pass: count lines and find the largest rank */
    size_t lines = 0;
    uint64_t maxrank = 0;
    for (size_t i = 0, line = 1; i < n; line++) {
        const char *e = memchr(d + i, '\n', n - i);
        size_t len = e ? (size_t)(e - (d + i)) : n - i;
        const char *sp = memchr(d + i, ' ', len);
        if (len == 0 && !e) break;
        if (!sp) { tok_errf(err, errlen, "line %zu: not a tokenizer (expected tok.bin, a tiktoken rank file "
                             "\"BASE64 RANK\" per line, or a Hugging Face tokenizer.json)", line); return NULL; }
        uint64_t r = 0;
        const char *p = sp + 1, *end = d + i + len;
        if (p == end) { tok_errf(err, errlen, "line %zu: rank missing", line); return NULL; }
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || r > TOK_MAX_VOCAB) { tok_errf(err, errlen, "line %zu: bad rank", line); return NULL; }
            r = r * 10 + (uint64_t)(*p - '0');
        }
        if (r >= TOK_MAX_VOCAB) { tok_errf(err, errlen, "line %zu: rank %llu too large", line, (unsigned long long)r); return NULL; }
        if (r > maxrank) maxrank = r;
        lines++;
        i += len + (e ? 1 : 0);
    }
    if (!lines) { tok_errf(err, errlen, "empty rank file"); return NULL; }
    /* ranks are dense: a few holes at most, never one huge rank in a small file */
    if (maxrank >= lines + 65536) { tok_errf(err, errlen, "rank %llu in a file of %zu tokens: ranks are not dense",
                                              (unsigned long long)maxrank, lines); return NULL; }
    uint32_t nreg = (uint32_t)maxrank + 1;
    const struct known *k = NULL;
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (KNOWN[i].ranks == nreg && lines == nreg) k = &KNOWN[i];
    struct tokenizer *t = tok_alloc(TOK_TIKTOKEN, k ? k->vocab : nreg + 1,
                                    pretok_named(k ? k->pattern : "gpt2"));
    unsigned char *buf = xmalloc(n + 4);
    for (size_t i = 0, line = 1; i < n; line++) {
        const char *e = memchr(d + i, '\n', n - i);
        size_t len = e ? (size_t)(e - (d + i)) : n - i;
        if (len == 0 && !e) break;
        const char *sp = memchr(d + i, ' ', len);
        long bl = b64decode(d + i, (size_t)(sp - (d + i)), buf);
        if (bl <= 0) { tok_errf(err, errlen, "line %zu: bad base64 token", line); goto bad; }
        uint32_t r = (uint32_t)strtoul(sp + 1, NULL, 10);
        if (t->len[r] != TOK_NONE) { tok_errf(err, errlen, "line %zu: rank %u given twice", line, r); goto bad; }
        tok_set_token(t, r, buf, (size_t)bl, 0);
        i += len + (e ? 1 : 0);
    }
    free(buf);
    if (k) {
        for (int i = 0; i < 6 && k->special[i]; i++)
            tok_set_token(t, k->special_id[i], k->special[i], strlen(k->special[i]), 1);
    } else {
        tok_set_token(t, nreg, TOK_DEFAULT_EOT, strlen(TOK_DEFAULT_EOT), 1);
    }
    if (tok_finish(t, err, errlen)) { tok_free(t); return NULL; }
    return t;
bad:
    tok_free(t);
    free(buf);
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
