/* pretok.h - pre-tokenization: split text into pieces with a regular
 * expression before byte-pair encoding (GPT-2 style).
 *
 * BPE never merges across a piece boundary, so the pattern decides what a
 * token can span: "Hello world!!" with the gpt2 pattern gives the pieces
 *     "Hello" " world" "!!"
 * and no token will ever hold "o w".
 *
 * Patterns are PCRE2 (UTF + UCP: \p{L}, \w and friends are Unicode-aware),
 * compiled with PCRE2_DOLLAR_ENDONLY so '$' means the end of the text as in
 * tiktoken's Rust regex engine.  The named patterns reproduce tiktoken's
 * (gpt2, cl100k_base, o200k_base); their \s is spelled out as the Unicode
 * White_Space set, which is what Rust's \s matches (PCRE2's \s would miss
 * U+0085).
 *
 * The pieces always cover the input exactly, byte for byte:
 *   - invalid UTF-8 bytes never match a pattern item (PCRE2_MATCH_INVALID_UTF);
 *     the pattern is applied to the valid stretches between them;
 *   - any bytes no match covers (invalid UTF-8, or text a user's pattern does
 *     not match) form a piece of their own, so encoding stays lossless.
 *     (tiktoken drops text its pattern does not match; the named patterns
 *     match every valid character, so on valid UTF-8 the two agree.)
 */
#ifndef TFS_PRETOK_H
#define TFS_PRETOK_H

#include <stddef.h>

struct pretok;          /* a compiled pattern, shared read-only by threads */
struct pretok_ctx;      /* per-thread match state */

/* The pattern string for a name ("gpt2", "cl100k", "o200k", also with the
 * tiktoken suffix "_base"), or NULL when name is not one of them. */
const char *pretok_named(const char *name);
/* The short name of a pattern string if it is one of the named ones, else NULL. */
const char *pretok_name_of(const char *pattern);

/* Compile a pattern (a name or a PCRE2 regex).  On error returns NULL and
 * writes "position N: what" to err. */
struct pretok *pretok_new(const char *name_or_regex, char *err, size_t errlen);
void pretok_free(struct pretok *p);
const char *pretok_pattern(const struct pretok *p);     /* the regex itself */

struct pretok_ctx *pretok_ctx_new(const struct pretok *p);
void pretok_ctx_free(struct pretok_ctx *c);

/* Call fn(arg, piece, len) for each piece of s[0..n), in order.  The
 * pieces concatenate to s exactly. */
typedef void (*pretok_fn)(void *arg, const char *piece, size_t len);
void pretok_split(struct pretok_ctx *c, const char *s, size_t n, pretok_fn fn, void *arg);

/* The named patterns are also written out by hand (pretok_fast.c), and
 * pretok_split uses that code for them: the same pieces, several times
 * faster.  PCRE2 stays the reference: pretok_split_reference always uses
 * it, and so does pretok_split while pretok_reference is set
 * (bpe-encode --reference). */
extern int pretok_reference;
void pretok_split_reference(struct pretok_ctx *c, const char *s, size_t n, pretok_fn fn, void *arg);
/* The hand-written splitter: kind 1 gpt2, 2 cl100k, 3 o200k
 * (pretok_fast_kind of a pretok_name_of, 0 for any other pattern). */
int pretok_fast_kind(const char *name);
void pretok_fast_split(int kind, const char *s, size_t n, pretok_fn fn, void *arg);

#endif
