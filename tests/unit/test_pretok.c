/* test_pretok.c - the hand-written pre-tokenizers (pretok_fast.c) against
 * PCRE2 running the regexes they replace (pretok_split_reference):
 *   - every code point's classes (uclass_data.c, generated from the Unicode
 *     data) against PCRE2's own \p{..} tables;
 *   - the pieces of hand-picked strings with each subtlety of the patterns;
 *   - the pieces of random strings drawn from letters of every class, white
 *     space, contractions, digits, marks, emoji and invalid UTF-8, and of
 *     random bytes.
 * A mismatch prints the pattern and the string as hex. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tok/pretok.h"
#include "tok/uclass.h"
#include "core/xio.h"
#include "unit.h"

#include <pcre2.h>
#include <stdint.h>

static const char *NAMES[] = { "gpt2", "cl100k", "o200k" };

/* ---- classes ---- */

/* Whether PCRE2 (UTF, UCP) matches the one-character regex re at c. */
static int pcre_class(pcre2_code *re, pcre2_match_data *md, uint32_t c)
{
    unsigned char u[4];
    size_t n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (n == 1) u[0] = (unsigned char)c;
    else if (n == 2) { u[0] = (unsigned char)(0xC0 | c >> 6); u[1] = (unsigned char)(0x80 | (c & 0x3F)); }
    else if (n == 3) { u[0] = (unsigned char)(0xE0 | c >> 12); u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F)); u[2] = (unsigned char)(0x80 | (c & 0x3F)); }
    else { u[0] = (unsigned char)(0xF0 | c >> 18); u[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
           u[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F)); u[3] = (unsigned char)(0x80 | (c & 0x3F)); }
    return pcre2_match(re, u, n, 0, PCRE2_ANCHORED, md, NULL) >= 0;
}

TEST(classes_of_every_code_point)
{
    static const struct { unsigned flag; const char *re; } C[] = {
        { UC_L, "\\p{L}" }, { UC_N, "\\p{N}" }, { UC_WS, "[\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}]" },
        { UC_UP, "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]" }, { UC_LO, "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]" }, { UC_NL, "[\\r\\n]" },
    };
    uclass_init();
    CHECK(strcmp(uclass_unicode_version, "14.0.0") == 0);
    int bad = 0;
    for (size_t k = 0; k < sizeof C / sizeof C[0]; k++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)C[k].re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
        CHECK(re != NULL);
        if (!re) continue;
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        uint32_t step = getenv("TFS_ASAN") ? 7 : 1;
        for (uint32_t c = 0; c < 0x110000; c += step) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            int want = pcre_class(re, md, c), got = (uclass_table[c] & C[k].flag) != 0;
            if (want != got && bad++ < 10) fprintf(stderr, "  U+%04X: %s is %d in PCRE2, %d in uclass\n", c, C[k].re, want, got);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
    }
    CHECK(bad == 0);
}

/* ---- pieces ---- */

struct split { size_t at[4096]; int n; const char *base; };
static void record(void *arg, const char *p, size_t n)
{
    struct split *s = arg;
    if (s->n < 4096) s->at[s->n] = (size_t)(p - s->base) << 16 | n;
    s->n++;
}

/* Whether fast and reference split s[0..n) alike (prints the first few that do not). */
static int same_split(struct pretok_ctx *c, int kind, const char *name, const char *s, size_t n)
{
    static struct split a, b;
    static int shown;
    a.n = b.n = 0;
    a.base = b.base = s;
    pretok_split_reference(c, s, n, record, &a);
    pretok_fast_split(kind, s, n, record, &b);
    int same = a.n == b.n && memcmp(a.at, b.at, (size_t)(a.n < 4096 ? a.n : 4096) * sizeof a.at[0]) == 0;
    if (!same && shown++ < 5) {
        fprintf(stderr, "  %s splits differently:", name);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", (unsigned char)s[i]);
        fprintf(stderr, "\n   pcre2:");
        for (int i = 0; i < a.n && i < 4096; i++) fprintf(stderr, " %zu+%zu", a.at[i] >> 16, a.at[i] & 0xFFFF);
        fprintf(stderr, "\n   fast: ");
        for (int i = 0; i < b.n && i < 4096; i++) fprintf(stderr, " %zu+%zu", b.at[i] >> 16, b.at[i] & 0xFFFF);
        fprintf(stderr, "\n");
    }
    return same;
}

TEST(hand_picked_strings)
{
    static const char *S[] = {
        "Hello world!! It's 2024   ok\n", "a  b", "a \n b", "a\n\n b", "  \n\n  x", " \r\n", "x \t\ty", "x   ",
        "I'LL DON'T we'Re 'sa 's 'x '", "don\xc5\xbft 'S 'ſ", "12345678 1 22 333 4444", " ?!x ... //\n\n/x",
        "ABCdef ABC DEFghi\xcc\x81 \xcc\x81\xcc\x81x \xcc\x81", "\xca\xb0\xca\xb0 a\xca\xb0 \xc7\x85x \xc7\x85",
        "\xe4\xb8\xad\xe6\x96\x87 \xe4\xb8\xad", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 x", "a\xc2\x85\xc2\x85 b",
        "\xc2\xa0x \xe3\x80\x80y", "x\xff y", " \xff", "  \xff", "a\xc3", "\xe2\x82 a", "\xed\xa0\x80",
        "\xc0\x80\xf4\x90\x80\x80", "'\xff", "1\xff" "2", "\xd9\xa0\xd9\xa1\xd9\xa2\xd9\xa3", "\xc2\xb2\xc2\xb3",
        "x'll'\xff", "Ab'S", "ab's'\xff", "\r\r\n \n", "\t\n", "a\n", "A\xcc\x81'S", "\xcc\x81" "A", "!\xcc\x81" "a",
    };
    for (int k = 0; k < 3; k++) {
        char err[256];
        struct pretok *p = pretok_new(NAMES[k], err, sizeof err);
        struct pretok_ctx *c = pretok_ctx_new(p);
        int kind = pretok_fast_kind(NAMES[k]), bad = 0;
        CHECK(kind == k + 1);
        for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) bad += !same_split(c, kind, NAMES[k], S[i], strlen(S[i]));
        CHECK(bad == 0);
        pretok_ctx_free(c);
        pretok_free(p);
    }
}

/* Random strings of the characters that the patterns tell apart. */
static const char *ATOMS[] = {
    "a", "b", "Z", "Q", "s", "S", "t", "T", "re", "RE", "ve", "Ve", "m", "ll", "LL", "d", "D", "'", "'", "'",
    "\xc5\xbf", "0", "7", "12", " ", " ", " ", "  ", "\n", "\r", "\r\n", "\t", "\x0b", "\x0c", "/", "!", ".", ",",
    "-", "\"", "(", "\xc2\x85", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xe1\x9a\x80", "\xe2\x80\xaf",
    "\xcc\x81", "\xe0\xa4\x82", "\xe2\x83\x9d",            /* marks: Mn, Mc, Me */
    "\xc3\x89", "\xc3\xa9", "\xc7\x85", "\xca\xb0", "\xd7\x90", "\xe4\xb8\xad",    /* Lu Ll Lt Lm Lo Lo */
    "\xce\xa9", "\xd0\xb6", "\xd9\xa3", "\xc2\xb2", "\xe2\x85\xa0",                 /* Greek, Cyrillic, Nd No Nl */
    "\xf0\x9f\x98\x80", "\xe2\x82\xac", "\xc2\xa9", "\xef\xbf\xbd", "\xf0\x9d\x90\x80", "\xf0\x90\x8c\xb0",
    "\xff", "\x80", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xf0\x9f", "\x00",
};

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

TEST(random_strings)
{
    int rounds = getenv("TFS_ASAN") ? 20000 : 200000;
    uint64_t seed = 7;
    char buf[512];
    for (int k = 0; k < 3; k++) {
        char err[256];
        struct pretok *p = pretok_new(NAMES[k], err, sizeof err);
        struct pretok_ctx *c = pretok_ctx_new(p);
        int kind = pretok_fast_kind(NAMES[k]), bad = 0;
        for (int r = 0; r < rounds; r++) {
            size_t n = 0, atoms = 1 + next(&seed) % 24;
            for (size_t a = 0; a < atoms; a++) {
                if (r % 8 == 7) { buf[n++] = (char)next(&seed); continue; }    /* random bytes */
                const char *x = ATOMS[next(&seed) % (sizeof ATOMS / sizeof ATOMS[0])];
                size_t l = x[0] ? strlen(x) : 1;
                memcpy(buf + n, x, l);
                n += l;
            }
            bad += !same_split(c, kind, NAMES[k], buf, n);
        }
        CHECK(bad == 0);
        pretok_ctx_free(c);
        pretok_free(p);
    }
}

TEST(reference_switch)
{
    /* pretok_split follows pretok_reference; both give the same pieces */
    char err[256];
    struct pretok *p = pretok_new("cl100k", err, sizeof err);
    struct pretok_ctx *c = pretok_ctx_new(p);
    static struct split a, b;
    const char *s = "It's 12345 \xff ok  \n\n";
    a.base = b.base = s;
    pretok_split(c, s, strlen(s), record, &a);
    pretok_reference = 1;
    pretok_split(c, s, strlen(s), record, &b);
    pretok_reference = 0;
    CHECK(a.n == b.n && a.n == 9 && memcmp(a.at, b.at, (size_t)a.n * sizeof a.at[0]) == 0);
    CHECK(pretok_fast_kind(pretok_name_of("[a-z]+")) == 0);
    pretok_ctx_free(c);
    pretok_free(p);
}

int main(void)
{
    RUN(classes_of_every_code_point);
    RUN(hand_picked_strings);
    RUN(random_strings);
    RUN(reference_switch);
    return unit_summary();
}
