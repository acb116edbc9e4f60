/* test_unorm.c - NFC and NFKC (unorm.c) against the Unicode Consortium's own
 * conformance data, NormalizationTest.txt of Debian's unicode-data (read
 * through bzcat), every line of it:
 *     NFC:  c2 == NFC(c1) == NFC(c2) == NFC(c3),  c4 == NFC(c4) == NFC(c5)
 *     NFKC: c4 == NFKC(c1) == NFKC(c2) == NFKC(c3) == NFKC(c4) == NFKC(c5)
 *     NFD:  c3 == NFD(c1) == NFD(c2) == NFD(c3),  c5 == NFD(c4) == NFD(c5)
 *     NFKD: c5 == NFKD(c1) == NFKD(c2) == NFKD(c3) == NFKD(c4) == NFKD(c5)
 * and every code point that part 1 does not list is its own NFC, NFKC, NFD
 * and NFKD.
 * Then the cases the file cannot hold: invalid UTF-8 kept byte for byte,
 * and a long run of marks (sorted without quadratic time).
 */
#include "tok/unorm.h"
#include "unit.h"

#include <stdint.h>

#define TEST_FILE "/usr/share/unicode/NormalizationTest.txt"

static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* "0044 0307" -> its UTF-8 in o; the length. */
static size_t field(const char *f, char *o)
{
    size_t n = 0;
    char *end;
    for (;;) {
        unsigned long c = strtoul(f, &end, 16);
        if (end == f) return n;
        n += put_utf8(o + n, (uint32_t)c);
        f = end;
    }
}

static char *buf;
static size_t cap;

/* Whether form(x) is want (form: unorm.h's UNORM_NFC ...). */
static int is(int compat, const char *x, size_t xn, const char *want, size_t wn)
{
    size_t m = unorm_utf8(compat, 0, x, xn, &buf, &cap);
    return m == wn && memcmp(buf, want, m) == 0;
}

static unsigned char listed[0x110000];

TEST(normalization_test_txt)
{
    FILE *f = popen("bzcat " TEST_FILE ".bz2 2>/dev/null || cat " TEST_FILE, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[4096], c[5][512];
    size_t cn[5];
    int lines = 0, bad = 0, part = -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '@') { part = atoi(line + 5); continue; }
        if (line[0] == '#' || line[0] == '\n') continue;
        char *p = line;
        for (int k = 0; k < 5; k++) {
            cn[k] = field(p, c[k]);
            p = strchr(p, ';') + 1;
        }
        if (part == 1) listed[strtoul(line, NULL, 16)] = 1;
        lines++;
        int ok = is(0, c[0], cn[0], c[1], cn[1]) && is(0, c[1], cn[1], c[1], cn[1]) && is(0, c[2], cn[2], c[1], cn[1]) &&
                 is(0, c[3], cn[3], c[3], cn[3]) && is(0, c[4], cn[4], c[3], cn[3]);
        ok = ok && is(2, c[0], cn[0], c[2], cn[2]) && is(2, c[1], cn[1], c[2], cn[2]) && is(2, c[2], cn[2], c[2], cn[2]) &&
             is(2, c[3], cn[3], c[4], cn[4]) && is(2, c[4], cn[4], c[4], cn[4]);
        for (int k = 0; k < 5; k++) ok = ok && is(1, c[k], cn[k], c[3], cn[3]) && is(3, c[k], cn[k], c[4], cn[4]);
        if (!ok && bad++ < 10) fprintf(stderr, "  NormalizationTest.txt: %s", line);
    }
    pclose(f);
    printf("# %d lines of NormalizationTest.txt (Unicode %s data)\n", lines, unorm_unicode_version);
    CHECK(lines > 19000);
    CHECK(bad == 0);
    int inv = 0;
    for (uint32_t x = 0; x < 0x110000; x++) {
        if (listed[x] || (x >= 0xD800 && x < 0xE000)) continue;
        char u[4];
        size_t n = put_utf8(u, x);
        if ((!is(0, u, n, u, n) || !is(1, u, n, u, n) || !is(2, u, n, u, n) || !is(3, u, n, u, n)) && inv++ < 10) fprintf(stderr, "  U+%04X changes\n", x);
    }
    CHECK(inv == 0);
}

TEST(hand_picked)
{
    /* e + acute -> é; ﬁ -> fi (NFKC only); fullwidth Ａ -> A; 가 from jamo */
    CHECK(is(0, "e\xcc\x81", 3, "\xc3\xa9", 2));
    CHECK(is(2, "\xc3\xa9", 2, "e\xcc\x81", 3));
    CHECK(is(3, "\xef\xac\x81\xea\xb0\x80", 6, "fi\xe1\x84\x80\xe1\x85\xa1", 8));
    CHECK(is(0, "\xef\xac\x81", 3, "\xef\xac\x81", 3));
    CHECK(is(1, "\xef\xac\x81", 3, "fi", 2));
    CHECK(is(1, "\xef\xbc\xa1", 3, "A", 1));
    CHECK(is(0, "\xe1\x84\x80\xe1\x85\xa1", 6, "\xea\xb0\x80", 3));
    /* invalid UTF-8 is kept, and blocks nothing around it */
    CHECK(is(0, "\xff" "e\xcc\x81\x80", 5, "\xff\xc3\xa9\x80", 4));
    CHECK(is(1, "\xed\xa0\x80\xc3", 4, "\xed\xa0\x80\xc3", 4));
    CHECK(is(0, "", 0, "", 0));
    /* as Unicode 9.0 (HF's): U+1E030 (15.0, <super> U+0430) is unassigned */
    size_t k = unorm_utf8(1, UNORM_AGE_HF, "\xf0\x9e\x80\xb0", 4, &buf, &cap);
    CHECK(k == 4 && memcmp(buf, "\xf0\x9e\x80\xb0", 4) == 0);
    CHECK(is(1, "\xf0\x9e\x80\xb0", 4, "\xd0\xb0", 2));
    /* a: 2000 marks alternating below (220) and above (230): belows first */
    size_t n = 4001;
    char *x = malloc(n), *want = malloc(n);
    x[0] = want[0] = 'a';
    for (size_t i = 0; i < 1000; i++) {
        memcpy(x + 1 + 4 * i, "\xcc\x81\xcc\xa3", 4);          /* U+0301 (230), U+0323 (220) */
        memcpy(want + 1 + 2 * i, "\xcc\xa3", 2);
        memcpy(want + 2001 + 2 * i, "\xcc\x81", 2);
    }
    /* NFC: a + the first U+0323 compose to U+1EA1 (3 bytes for 1 + 2), the
     * other marks stay, in class order */
    CHECK(is(0, x, n, "\xe1\xba\xa1", 3) == 0);
    size_t m = unorm_utf8(0, 0, x, n, &buf, &cap);
    CHECK(m == n && memcmp(buf, "\xe1\xba\xa1", 3) == 0 && memcmp(buf + 3, want + 3, n - 3) == 0);
    free(x);
    free(want);
}

int main(void)
{
    RUN(normalization_test_txt);
    RUN(hand_picked);
    free(buf);
    return unit_summary();
}
