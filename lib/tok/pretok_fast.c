/* pretok_fast.c - the named pre-tokenization patterns (gpt2, cl100k,
 * o200k) written out by hand, splitting exactly as PCRE2 does with the
 * regexes of pretok.c, which stay the reference (bpe-encode --reference,
 * tests/unit/test_pretok.c).
 *
 * A regex engine tries the alternatives of a pattern in order at each
 * position and backtracks inside each; for these fixed patterns the
 * backtracking can be worked out once, by hand, into a few loops over the
 * characters' classes (uclass.h).  Each m_NAME(s, n, i) below returns where
 * the pattern's match starting at i ends; the comment above it shows the
 * alternatives it follows.  Three rules need care:
 *
 *   \s+(?!\S)    a run of white space, less its last character when a
 *                non-space follows (that character then starts the next
 *                piece, " world"), unless the run is one character long;
 *   \s*[\r\n]+   white space up to and including its last \r or \n;
 *   invalid UTF-8  (PCRE2_MATCH_INVALID_UTF) no pattern item matches an
 *                invalid byte, and a match cannot cross one: an invalid
 *                byte acts as the end of the text, and a run of them is a
 *                piece of its own.
 */
#include "tok/pretok.h"
#include "tok/uclass.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ---- the classes ---- */

uint8_t uclass_table[0x110000];
static pthread_once_t uclass_once = PTHREAD_ONCE_INIT;

static void uclass_fill(void)
{
    for (size_t r = 0; r < uclass_nruns; r++) {
        uint32_t a = uclass_runs[r] >> 8, b = r + 1 < uclass_nruns ? uclass_runs[r + 1] >> 8 : 0x110000;
        for (uint32_t c = a; c < b; c++) uclass_table[c] = (uint8_t)uclass_runs[r];
    }
    uclass_table['\r'] |= UC_NL;
    uclass_table['\n'] |= UC_NL;
}

void uclass_init(void) { pthread_once(&uclass_once, uclass_fill); }

#define X_END 0x40      /* "no character": the end of the text, or an invalid byte */

/* The length of the valid UTF-8 character at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), its code point
 * in *cp; 0 when the bytes are not one. */
static inline size_t utf8_dec(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint32_t b = s[0], c;
    if (b < 0xC2) return 0;                     /* (ASCII is handled by the caller) */
    if (b < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = (b & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (b < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        c = (b & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        *cp = c;
        return 3;
    }
    if (b < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        c = (b & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        if (c < 0x10000 || c > 0x10FFFF) return 0;
        *cp = c;
        return 4;
    }
    return 0;
}

/* The flags of the character at i, its length in *k; X_END (*k = 0) at
 * the end of the text or at an invalid byte. */
static inline __attribute__((always_inline)) unsigned at(const uint8_t *s, size_t n, size_t i, size_t *k)
{
    if (i >= n) { *k = 0; return X_END; }
    if (s[i] < 0x80) { *k = 1; return uclass_table[s[i]]; }
    uint32_t cp = 0;
    *k = utf8_dec(s + i, n - i, &cp);
    return *k ? uclass_table[cp] : X_END;
}

typedef uint8_t u8x16 __attribute__((vector_size(16)));

/* Where the run of ASCII letters from i ends, looked at sixteen bytes at a
 * time (GCC's vector extension: SSE2 on x86-64, NEON on ARM), or earlier:
 * the byte loops of run() go on from there.  Words are the most common
 * runs, and a word of English fits in one look.  A byte is a letter when
 * (byte | 0x20) - 'a' < 26 as an unsigned byte (| 0x20 lowers the case;
 * bytes of 0x80 and above, and the neighbours of the alphabet, fail). */
static inline size_t ascii_letters(const uint8_t *s, size_t n, size_t i)
{
    while (n - i >= 16) {
        u8x16 x;
        memcpy(&x, s + i, 16);
        u8x16 other = (u8x16)((u8x16)((x | 0x20) - 'a') >= 26);
        uint64_t w[2];
        memcpy(w, &other, 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (w[0]) return i + (size_t)__builtin_ctzll(w[0]) / 8;
        if (w[1]) return i + 8 + (size_t)__builtin_ctzll(w[1]) / 8;
#else
        if (w[0] | w[1]) return i;
#endif
        i += 16;
    }
    return i;
}

/* Where the run of characters from i that have a flag of `mask` ends. */
static inline size_t run(const uint8_t *s, size_t n, size_t i, unsigned mask)
{
    size_t k;
    for (;;) {
        if (mask == UC_L) i = ascii_letters(s, n, i);
        while (i < n && s[i] < 0x80 && (uclass_table[s[i]] & mask)) i++;     /* ASCII: one byte, one lookup */
        if (i >= n || s[i] < 0x80 || !(at(s, n, i, &k) & mask)) return i;
        i += k;
    }
}

/* Where the run of characters from i that have no flag of `mask` ends
 * ([^\s\p{L}\p{N}]+ with mask = UC_WS | UC_L | UC_N). */
static inline size_t run_not(const uint8_t *s, size_t n, size_t i, unsigned mask)
{
    size_t k;
    unsigned f;
    for (;;) {
        while (i < n && s[i] < 0x80 && !(uclass_table[s[i]] & mask)) i++;
        if (i >= n || s[i] < 0x80 || (f = at(s, n, i, &k)) == X_END || (f & mask)) return i;
        i += k;
    }
}

/* \p{N}{1,3} at i (a number). */
static inline size_t digits3(const uint8_t *s, size_t n, size_t i)
{
    size_t k;
    for (int d = 0; d < 3 && (at(s, n, i, &k) & UC_N); d++) i += k;
    return i;
}

/* 's|'t|'re|'ve|'m|'ll|'d at i: its length, else 0.  Case-insensitively
 * with ci, where PCRE2's caseless matching also takes U+017F LATIN SMALL
 * LETTER LONG S (C5 BF) for s. */
static inline size_t contraction(const uint8_t *s, size_t n, size_t i, int ci)
{
    if (i + 1 >= n || s[i] != '\'') return 0;
    unsigned a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
    if (ci) {
        if (a == 0xC5 && b == 0xBF) return 3;
        if (a >= 'A' && a <= 'Z') a |= 0x20;
        if (b >= 'A' && b <= 'Z') b |= 0x20;
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (((a == 'r' || a == 'v') && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* The white-space alternatives at i (a white-space character):
 *   nl: \s*[\r\n]+   the run up to and including its last \r or \n;
 *       \s+(?!\S)     the run, less its last character when a non-space
 *                     follows and the run is longer than one character;
 *       \s+           the run (of one character, then). */
static inline size_t white(const uint8_t *s, size_t n, size_t i, int nl)
{
    size_t j = i, last = i, nl_end = 0, k;
    unsigned f;
    while ((f = at(s, n, j, &k)) & UC_WS) {
        last = j;
        j += k;
        if (f & UC_NL) nl_end = j;
    }
    if (nl && nl_end) return nl_end;
    if (f == X_END) return j;
    return last > i ? last : j;
}

/* ---- the patterns ---- */

/* gpt2:  's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t m_gpt2(const uint8_t *s, size_t n, size_t i)
{
    size_t k, c = contraction(s, n, i, 0), a = i;
    if (c) return i + c;
    unsigned f = at(s, n, i, &k);
    if (s[i] == ' ') {                  /* " ?": the space goes with a following non-space */
        unsigned g = at(s, n, i + 1, &k);
        if (g != X_END && !(g & UC_WS)) { a = i + 1; f = g; }
    }
    if (f & UC_L) return run(s, n, a, UC_L);
    if (f & UC_N) return run(s, n, a, UC_N);
    if (!(f & UC_WS)) return run_not(s, n, a, UC_WS | UC_L | UC_N);
    return white(s, n, i, 0);
}

/* cl100k:  (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *        | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+ */
static size_t m_cl100k(const uint8_t *s, size_t n, size_t i)
{
    size_t k, k2, c = contraction(s, n, i, 1), a = i;
    if (c) return i + c;
    unsigned f = at(s, n, i, &k);
    if (f & UC_L) return run(s, n, i, UC_L);
    if (!(f & (UC_N | UC_NL)) && (at(s, n, i + k, &k2) & UC_L)) return run(s, n, i + k, UC_L);
    if (f & UC_N) return digits3(s, n, i);
    if (s[i] == ' ') {
        unsigned g = at(s, n, i + 1, &k2);
        if (g != X_END && !(g & (UC_WS | UC_L | UC_N))) { a = i + 1; f = g; }
    }
    if (!(f & UC_WS)) return run(s, n, run_not(s, n, a, UC_WS | UC_L | UC_N), UC_NL);
    return white(s, n, i, 1);
}

/* o200k's letters, from a:
 *   first = 1:  [UP]*[LO]+   the longest UP run, backing off to its last
 *                            character that is also LO when no LO follows it;
 *   first = 0:  [UP]+[LO]*
 * then (?i:'s|'t|'re|'ve|'m|'ll|'d)?.  UP = Lu Lt Lm Lo M, LO = Ll Lm Lo M.
 * Returns the end, or 0 when they do not match. */
static inline size_t letters(const uint8_t *s, size_t n, size_t a, int first)
{
    size_t j = a, lo = SIZE_MAX, k;
    unsigned f;
    while ((f = at(s, n, j, &k)) & UC_UP) {
        if (f & UC_LO) lo = j;
        j += k;
    }
    if (first) {
        if (f & UC_LO) lo = j;
        if (lo == SIZE_MAX) return 0;
        j = run(s, n, lo, UC_LO);
    } else {
        if (j == a) return 0;
        j = run(s, n, j, UC_LO);
    }
    return j + contraction(s, n, j, 1);
}

/* o200k:  [^\r\n\p{L}\p{N}]?[UP]*[LO]+(?i:'s|...)? | [^\r\n\p{L}\p{N}]?[UP]+[LO]*(?i:'s|...)?
 *       | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * The optional first character is tried taken, then not taken: a mark
 * (\p{M}) is both that character and a letter of the runs. */
static size_t m_o200k(const uint8_t *s, size_t n, size_t i)
{
    size_t k, k2, e, a = i;
    unsigned f = at(s, n, i, &k);
    int p = !(f & (UC_L | UC_N | UC_NL));
    if (p && (e = letters(s, n, i + k, 1))) return e;
    if ((e = letters(s, n, i, 1))) return e;
    if (p && (e = letters(s, n, i + k, 0))) return e;
    if ((e = letters(s, n, i, 0))) return e;
    if (f & UC_N) return digits3(s, n, i);
    if (s[i] == ' ') {
        unsigned g = at(s, n, i + 1, &k2);
        if (g != X_END && !(g & (UC_WS | UC_L | UC_N))) { a = i + 1; f = g; }
    }
    if (!(f & UC_WS)) {
        e = run_not(s, n, a, UC_WS | UC_L | UC_N);
        while (e < n && (s[e] == '\r' || s[e] == '\n' || s[e] == '/')) e++;
        return e;
    }
    return white(s, n, i, 1);
}

int pretok_fast_kind(const char *name)
{
    if (!name) return 0;
    if (name[0] == 'g') return 1;
    if (name[0] == 'c') return 2;
    if (name[0] == 'o') return 3;
    return 0;
}

void pretok_fast_split(int kind, const char *text, size_t n, pretok_fn fn, void *arg)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0, k;
    while (i < n) {
        size_t e;
        if (at(s, n, i, &k) == X_END) {         /* a run of invalid bytes */
            e = i + 1;
            while (e < n && at(s, n, e, &k) == X_END) e++;
        } else
            e = kind == 1 ? m_gpt2(s, n, i) : kind == 2 ? m_cl100k(s, n, i) : m_o200k(s, n, i);
        fn(arg, text + i, e - i);
        i = e;
    }
}
