/* unorm.c - Unicode normalization forms NFC, NFKC, NFD and NFKD (Unicode
 * Standard Annex #15, "Unicode Normalization Forms"), for tokenizer.json
 * normalizers.
 *
 * NFC and NFKC are three steps over the code points of the text (NFD and
 * NFKD the first two):
 *   1. decompose each character, again and again, by its canonical mapping
 *      (NFC) or its canonical and compatibility mappings (NFKC): e -> e +
 *      U+0301, U+FB01 "fi" -> f i (NFKC only), a Hangul syllable -> its jamo;
 *   2. put each run of non-starters (combining class > 0) in the order of
 *      their classes, keeping the order of equal classes (a stable sort):
 *      this makes "a + below + above" and "a + above + below" the same;
 *   3. compose: a character C after the last starter S becomes part of it
 *      when S + C is a primary composite (a canonical mapping of length 2
 *      not excluded from composition) and no character between them has a
 *      class >= C's (C is not "blocked").
 * Hangul is arithmetic (UAX #15 section 3.12 / Unicode chapter 3.12): a
 * syllable is SBase + (L * VCount + V) * TCount + T.
 */
#include "tok/unorm.h"
#include "core/xio.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7,
    LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT,
    RAW = 0x110000,             /* RAW + b: the byte b, not part of valid UTF-8 */
    CP_MASK = 0x1FFFFF,         /* a code point, with its class in bits 24.. */
    MAXDEC = 8192, MAXCOMP = 2048,
};

static uint32_t dec_pos[MAXDEC];        /* index of each head word in unorm_dec */
static size_t ndec;
struct comp { uint64_t pair; uint32_t c; };     /* pair: first << 21 | second */
static struct comp comp[MAXCOMP];
static size_t ncomp;
static uint32_t first_newer[256];       /* [age]: the first code point assigned after it */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int cmp_comp(const void *a, const void *b)
{
    uint64_t x = ((const struct comp *)a)->pair, y = ((const struct comp *)b)->pair;
    return (x > y) - (x < y);
}

/* The heads of unorm_dec, and the primary composites sorted by pair. */
static void init(void)
{
    for (size_t i = 0; i < unorm_ndec; i += 1 + (unorm_dec[i] >> 2 & 63)) {
        uint32_t h = unorm_dec[i];
        if (ndec == MAXDEC) abort();    /* gen_unorm.py's data outgrew this table */
        dec_pos[ndec++] = (uint32_t)i;
        if ((h & 3) == 0 && (h >> 2 & 63) == 2) {      /* canonical, length 2, not excluded */
            if (ncomp == MAXCOMP) abort();
            comp[ncomp++] = (struct comp){ (uint64_t)unorm_dec[i + 1] << 21 | unorm_dec[i + 2], h >> 8 };
        }
    }
    qsort(comp, ncomp, sizeof *comp, cmp_comp);
    for (unsigned a = 0; a < 256; a++) {
        first_newer[a] = RAW;
        for (size_t i = 0; i < unorm_nage; i++)
            if ((unorm_age[i] & 0xFF) > a) { first_newer[a] = unorm_age[i] >> 8; break; }
    }
}

/* The value of c in runs[0..n) (each first code point << 8 | value). */
static uint32_t run_value(const uint32_t *runs, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;              /* the last run starting at or before c */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (runs[mid] >> 8 <= c) lo = mid; else hi = mid;
    }
    return runs[lo] & 0xFF;
}

/* Whether c is newer than the Unicode version max_age (0: no limit). */
static int newer(uint32_t c, unsigned max_age)
{
    return max_age && c >= first_newer[max_age & 0xFF] && run_value(unorm_age, unorm_nage, c) > max_age;
}

/* The canonical combining class of c (0 for a raw byte). */
static uint32_t ccc(uint32_t c, unsigned max_age)
{
    if (c < 0x300 || c >= RAW) return 0;
    uint32_t k = run_value(unorm_ccc, unorm_nccc, c);
    return k && newer(c, max_age) ? 0 : k;
}

/* c's head word in unorm_dec, or NULL when it has no mapping. */
static const uint32_t *find_dec(uint32_t c, unsigned max_age)
{
    if (c < 0xA0 || c >= RAW) return NULL;
    size_t lo = 0, hi = ndec;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = unorm_dec[dec_pos[mid]] >> 8;
        if (k == c) return newer(c, max_age) ? NULL : &unorm_dec[dec_pos[mid]];
        if (k < c) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b, unsigned max_age)
{
    if (a - LBASE < LCOUNT && b - VBASE < VCOUNT)       /* L + V -> LV */
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a - SBASE < SCOUNT && (a - SBASE) % TCOUNT == 0 && b - TBASE - 1 < TCOUNT - 1)
        return a + (b - TBASE);                         /* LV + T -> LVT */
    if (b < 0x300) return 0;            /* every second part is U+0300 or above */
    uint64_t key = (uint64_t)a << 21 | b;
    size_t lo = 0, hi = ncomp;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (comp[mid].pair == key) return newer(comp[mid].c, max_age) ? 0 : comp[mid].c;
        if (comp[mid].pair < key) lo = mid + 1; else hi = mid;
    }
    return 0;
}

struct cps { uint32_t *v; size_t n, cap; };     /* each: class << 24 | code point */

static void put(struct cps *b, uint32_t c, unsigned max_age)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->v = xrealloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = ccc(c, max_age) << 24 | c;
}

/* Step 1: the full decomposition of c. */
static void decompose(uint32_t c, int compat, unsigned age, struct cps *b)
{
    if (c - SBASE < SCOUNT) {
        uint32_t s = c - SBASE;
        put(b, LBASE + s / NCOUNT, age);
        put(b, VBASE + s % NCOUNT / TCOUNT, age);
        if (s % TCOUNT) put(b, TBASE + s % TCOUNT, age);
        return;
    }
    const uint32_t *d = find_dec(c, age);
    if (!d || ((d[0] & 1) && !compat)) { put(b, c, age); return; }
    for (uint32_t i = 1; i <= (d[0] >> 2 & 63); i++) decompose(d[i], compat, age, b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Step 2: each run of non-starters sorted by class, stably: by insertion
 * when short (the usual one or two marks), else by qsort on (class,
 * position), which keeps a long run of marks from taking quadratic time. */
static void reorder(struct cps *b)
{
    for (size_t a = 0; a < b->n; a++) {
        if (!(b->v[a] >> 24)) continue;
        size_t e = a;
        while (e < b->n && b->v[e] >> 24) e++;
        if (e - a <= 32) {
            for (size_t i = a + 1; i < e; i++) {
                uint32_t x = b->v[i];
                size_t j = i;
                for (; j > a && b->v[j - 1] >> 24 > x >> 24; j--) b->v[j] = b->v[j - 1];
                b->v[j] = x;
            }
        } else {
            uint64_t *k = xmalloc((e - a) * sizeof *k);
            for (size_t i = a; i < e; i++) k[i - a] = (uint64_t)(b->v[i] >> 24) << 56 | (uint64_t)(i - a) << 21 | (b->v[i] & CP_MASK);
            qsort(k, e - a, sizeof *k, cmp_u64);
            for (size_t i = a; i < e; i++) b->v[i] = (uint32_t)(k[i - a] >> 56) << 24 | (uint32_t)(k[i - a] & CP_MASK);
            free(k);
        }
        a = e;
    }
}

/* Step 3: canonical composition in place.  last: the class of the last
 * character kept after the starter (0: none since it, 256: the text
 * starts with non-starters, so there is no starter). */
static void recompose(struct cps *b, unsigned max_age)
{
    if (!b->n) return;
    size_t starter = 0, out = 1;
    uint32_t last = b->v[0] >> 24 ? 256 : 0;
    for (size_t i = 1; i < b->n; i++) {
        uint32_t x = b->v[i], k = x >> 24, c;
        if (last != 256 && (last < k || last == 0) && (c = compose(b->v[starter] & CP_MASK, x & CP_MASK, max_age))) {
            b->v[starter] = c;          /* a composite's class is 0, as its first part's */
            continue;
        }
        if (!k) starter = out;
        last = k;
        b->v[out++] = x;
    }
    b->n = out;
}

/* The length of the valid UTF-8 character at s[0..n), 0 if there is none;
 * *c its code point. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *c)
{
    if (s[0] < 0x80) return *c = s[0], 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (s[0] < 0xC2 || s[0] > 0xF4 || n < len) return 0;
    uint32_t v = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v < 0xE000))
        return 0;
    return *c = v, len;
}

static void reserve(char **out, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    *cap = need > 2 * *cap ? need : 2 * *cap;
    *out = xrealloc(*out, *cap);
}

size_t unorm_utf8(int form, unsigned max_age, const char *text, size_t n, char **out, size_t *cap)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n && s[i] < 0x80) i++;
    if (i == n) {                       /* ASCII is already in both forms */
        reserve(out, cap, n + 1);
        memcpy(*out, text, n);
        return n;
    }
    pthread_once(&once, init);
    struct cps b = { 0 };
    for (i = 0; i < n;) {
        uint32_t c;
        size_t len = utf8_char(s + i, n - i, &c);
        if (len) decompose(c, form & UNORM_NFKC, max_age, &b); else put(&b, RAW + s[i], max_age);
        i += len ? len : 1;
    }
    reorder(&b);
    if (!(form & UNORM_NFD)) recompose(&b, max_age);
    reserve(out, cap, 4 * b.n + 1);
    unsigned char *o = (unsigned char *)*out;
    size_t m = 0;
    for (size_t j = 0; j < b.n; j++) {
        uint32_t c = b.v[j] & CP_MASK;
        if (c >= RAW) o[m++] = (unsigned char)(c - RAW);
        else if (c < 0x80) o[m++] = (unsigned char)c;
        else if (c < 0x800) { o[m++] = (unsigned char)(0xC0 | c >> 6); o[m++] = (unsigned char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) {
            o[m++] = (unsigned char)(0xE0 | c >> 12);
            o[m++] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
            o[m++] = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            o[m++] = (unsigned char)(0xF0 | c >> 18);
            o[m++] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
            o[m++] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
            o[m++] = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    free(b.v);
    return m;
}
