/* pretok.c - pre-tokenization with PCRE2 (see pretok.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tok/pretok.h"
#include "tok/uclass.h"
#include "core/xio.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* Unicode White_Space (PropList.txt): what Rust's \s matches, and so what
 * tiktoken's patterns mean.  PCRE2's \s under UCP lacks U+0085 (NEL). */
#define WS "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* tiktoken's patterns (openai_public.py; the same strings ship in npm's
 * tiktoken/encoders/NAME.json), with \s and \S spelled out as above. */
static const struct { const char *name, *pattern; } NAMED[] = {
    { "gpt2",
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+" },
    { "cl100k",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
      "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+" },
    { "o200k",
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
      "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
      "|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+" },
};
#define NNAMED (sizeof NAMED / sizeof NAMED[0])

struct pretok {
    char *pattern;
    pcre2_code *code;
    int jit;                    /* JIT compilation succeeded */
    int fast;                   /* pretok_fast_kind of a named pattern, else 0 */
};

int pretok_reference;

struct pretok_ctx {
    const struct pretok *p;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
};

const char *pretok_named(const char *name)
{
    for (size_t i = 0; i < NNAMED; i++) {
        size_t k = strlen(NAMED[i].name);
        if (strncmp(name, NAMED[i].name, k) == 0 && (name[k] == 0 || strcmp(name + k, "_base") == 0))
            return NAMED[i].pattern;
    }
    return NULL;
}

const char *pretok_name_of(const char *pattern)
{
    for (size_t i = 0; i < NNAMED; i++)
        if (strcmp(pattern, NAMED[i].pattern) == 0) return NAMED[i].name;
    return NULL;
}

struct pretok *pretok_new(const char *name_or_regex, char *err, size_t errlen)
{
    const char *pat = pretok_named(name_or_regex);
    if (!pat) pat = name_or_regex;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                                     &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errlen, "position %zu: %s", (size_t)eo, (char *)msg);
        return NULL;
    }
    struct pretok *p = xcalloc(1, sizeof *p);
    p->pattern = xstrdup(pat);
    p->code = code;
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    p->fast = pretok_fast_kind(pretok_name_of(pat));
    if (p->fast) uclass_init();
    return p;
}

void pretok_free(struct pretok *p)
{
    if (!p) return;
    pcre2_code_free(p->code);
    free(p->pattern);
    free(p);
}

const char *pretok_pattern(const struct pretok *p) { return p->pattern; }

struct pretok_ctx *pretok_ctx_new(const struct pretok *p)
{
    struct pretok_ctx *c = xcalloc(1, sizeof *c);
    c->p = p;
    c->md = pcre2_match_data_create_from_pattern(p->code, NULL);
    c->mc = pcre2_match_context_create(NULL);
    if (!c->md || !c->mc) die("out of memory for a PCRE2 match context");
    if (p->jit) {
        /* Long pieces (a megabyte of spaces) need more than the default 32 KiB. */
        c->js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
        if (!c->js) die("out of memory for a PCRE2 JIT stack");
        pcre2_jit_stack_assign(c->mc, NULL, c->js);
    }
    return c;
}

void pretok_ctx_free(struct pretok_ctx *c)
{
    if (!c) return;
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mc);
    if (c->js) pcre2_jit_stack_free(c->js);
    free(c);
}

/* Length of the character at s (1 for an invalid byte), to step over an
 * empty match. */
static size_t char_len(const unsigned char *s, size_t n)
{
    size_t k = 1;
    if (*s >= 0xC0) while (k < n && k < 4 && (s[k] & 0xC0) == 0x80) k++;
    return k;
}

void pretok_split(struct pretok_ctx *c, const char *s, size_t n, pretok_fn fn, void *arg)
{
    if (c->p->fast && !pretok_reference) pretok_fast_split(c->p->fast, s, n, fn, arg);
    else pretok_split_reference(c, s, n, fn, arg);
}

void pretok_split_reference(struct pretok_ctx *c, const char *s, size_t n, pretok_fn fn, void *arg)
{
    const struct pretok *p = c->p;
    size_t pos = 0, gap = 0;    /* gap: start of bytes no match has covered yet */
    while (pos < n) {
        int rc = p->jit ? pcre2_jit_match(p->code, (PCRE2_SPTR)s, n, pos, 0, c->md, c->mc)
                        : pcre2_match(p->code, (PCRE2_SPTR)s, n, pos, 0, c->md, c->mc);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            die("pre-tokenization pattern failed at byte %zu: %s", pos, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t a = ov[0], b = ov[1];
        if (b <= a) {           /* empty match: step over one character */
            pos = a + char_len((const unsigned char *)s + a, n - a);
            continue;
        }
        if (a > gap) fn(arg, s + gap, a - gap);
        fn(arg, s + a, b - a);
        pos = gap = b;
    }
    if (gap < n) fn(arg, s + gap, n - gap);
}
