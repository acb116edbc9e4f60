/* tok_load.c - tok_load: read a tokenizer file of any supported format.
 *
 * Each format (tokenizer_impl.h: struct tok_format) says whether a file
 * looks like it and loads it: tok_bin.c, tok_hf.c, tok_tiktoken.c.  The
 * first format in FORMATS that matches loads the file; the tiktoken rank
 * file has no signature and matches anything, so it comes last. */
#include "tok/tokenizer_impl.h"
#include "core/xio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct tok_format *const FORMATS[] = { &tok_format_bin, &tok_format_hf, &tok_format_tiktoken };

/* Read a whole file without dying. */
static char *slurp(const char *path, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { tok_errf(err, errlen, "cannot open: %s", strerror(errno)); return NULL; }
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) buf = xrealloc(buf, cap *= 2);
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    int e = ferror(f);
    fclose(f);
    if (e) { free(buf); tok_errf(err, errlen, "read error"); return NULL; }
    *n = len;
    return buf;
}

struct tokenizer *tok_load_with(const char *path, const struct tok_load_opts *o, char *err, size_t errlen)
{
    static const struct tok_load_opts none = { 0 };
    if (!o) o = &none;
    size_t n;
    char *d = slurp(path, &n, err, errlen);
    if (!d) return NULL;
    struct tokenizer *t = NULL;
    if (n == 0) tok_errf(err, errlen, "empty file, not a tokenizer");
    else
        for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
            if (FORMATS[i]->match(d, n)) { t = FORMATS[i]->load(path, d, n, o, err, errlen); break; }
    free(d);
    /* only a rank file lacks a pattern and special tokens */
    if (t && t->kind != TOK_TIKTOKEN && (o->pattern || o->nspecial || o->special_file)) {
        tok_errf(err, errlen, "%s holds its own pattern and special tokens; --pattern and --special apply to "
                 "tiktoken rank files", t->kind == TOK_TFS ? "a tok.bin" : "a tokenizer.json");
        tok_free(t);
        t = NULL;
    }
    return t;
}

struct tokenizer *tok_load_err(const char *path, char *err, size_t errlen)
{
    return tok_load_with(path, NULL, err, errlen);
}

struct tokenizer *tok_load(const char *path)
{
    char err[512];
    struct tokenizer *t = tok_load_err(path, err, sizeof err);
    if (!t) die("%s: %s", path, err);
    return t;
}
