/* stats_pretok.c - statistics of pre-tokens: the pieces a pre-tokenizer
 * pattern cuts text into, counted by content.  See stats.h. */
#include "stats.h"
#include "xio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const PT_NAMES[NPT] = {
    [PT_SINGLE] = "single characters",
    [PT_SPACES] = "white-space runs",
    [PT_PUNCT] = "punctuation-heavy",
    [PT_NUMBER] = "numbers",
};

const char *pt_class_name(int k) { return k >= 0 && k < NPT ? PT_NAMES[k] : "?"; }

/* Examples with the gpt2 pattern's pieces:
 *   "a" "."          single (and "." is punct)
 *   "\n\n" "   "     spaces
 *   "!!" " ..."      punct
 *   " 2024" "7"      number ("7" also single) */
unsigned pretok_classes(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t chars = 0, spaces = 0, punct = 0, digits = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int k = utf8_decode(u + i, n - i, &cp);
        if (!k) { chars++; i++; continue; }    /* an invalid byte: some other character */
        int sc = script_of(cp);
        chars++;
        if (sc == SC_SPACE) spaces++;
        else if (sc == SC_ASCII_PUNCT || sc == SC_PUNCT_SYMBOL || sc == SC_EMOJI) punct++;
        else if (sc == SC_ASCII_DIGIT) digits++;
        i += (size_t)k;
    }
    unsigned m = 0;
    size_t other = chars - spaces;      /* non-space characters */
    if (chars == 1) m |= 1u << PT_SINGLE;
    if (chars >= 2 && spaces == chars) m |= 1u << PT_SPACES;
    if (other && 2 * punct > other) m |= 1u << PT_PUNCT;
    if (other && digits == other) m |= 1u << PT_NUMBER;
    return m;
}

/* ---- the table of distinct pieces --------------------------------------- */

/* FNV-1a, 32 bits (http://www.isthe.com/chongo/tech/comp/fnv/) */
static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 16777619u; }
    return h;
}

void pretok_stats_init(struct pretok_stats *p, uint64_t rare_below)
{
    memset(p, 0, sizeof *p);
    p->rare_below = rare_below;
    p->cap = 1 << 12;
    p->tab = xcalloc(p->cap, sizeof *p->tab);
}

static void grow(struct pretok_stats *p)
{
    size_t cap = 2 * p->cap;
    struct ptent *t = xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->tab[i].s) continue;
        size_t j = p->tab[i].hash & (cap - 1);
        while (t[j].s) j = (j + 1) & (cap - 1);
        t[j] = p->tab[i];
    }
    free(p->tab);
    p->tab = t;
    p->cap = cap;
}

void pretok_stats_add(struct pretok_stats *p, const char *s, size_t n)
{
    if (n > UINT32_MAX) die("a pre-token of %zu bytes is too long", n);
    p->total++;
    p->bytes += n;
    uint32_t h = fnv1a(s, n);
    size_t j = h & (p->cap - 1);
    for (;;) {
        struct ptent *e = &p->tab[j];
        if (!e->s) break;
        if (e->hash == h && e->len == n && memcmp(e->s, s, n) == 0) { e->count++; return; }
        j = (j + 1) & (p->cap - 1);
    }
    /* a new distinct piece: classify it once, remember it */
    struct ptent *e = &p->tab[j];
    e->s = xmalloc(n + 1);
    memcpy(e->s, s, n);
    e->s[n] = 0;
    e->len = (uint32_t)n;
    e->hash = h;
    e->count = 1;
    p->distinct++;
    if (2 * p->distinct > p->cap) grow(p);      /* keep the load factor below 1/2 */
}

static int by_count(const void *a, const void *b)
{
    const struct ptent *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    /* ties: byte order, so the report is deterministic */
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

double zipf_exponent(const uint64_t *sorted, size_t n)
{
    if (n < 2) return 0;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t r = 1; r <= n; r++) {
        double x = log((double)r), y = log((double)sorted[r - 1]);
        sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    double N = (double)n, den = N * sxx - sx * sx;
    return den > 0 ? -(N * sxy - sx * sy) / den : 0;
}

void pretok_stats_finish(struct pretok_stats *p)
{
    /* compact the table to its entries, most frequent first */
    size_t k = 0;
    for (size_t i = 0; i < p->cap; i++)
        if (p->tab[i].s) p->tab[k++] = p->tab[i];
    memset(p->tab + k, 0, (p->cap - k) * sizeof *p->tab);   /* no stale copies to free twice */
    qsort(p->tab, k, sizeof *p->tab, by_count);
    p->sorted = xmalloc((k ? k : 1) * sizeof *p->sorted);
    size_t twice = 0;
    for (size_t i = 0; i < k; i++) {
        const struct ptent *e = &p->tab[i];
        p->sorted[i] = e->count;
        twice += e->count >= 2;
        unsigned m = pretok_classes(e->s, e->len);
        for (int c = 0; c < NPT; c++)
            if (m >> c & 1) p->cls[c] += e->count;
        if (e->count < p->rare_below) { p->rare_distinct++; p->rare_occurrences += e->count; }
    }
    /* Fit the Zipf exponent on the pieces seen at least twice: the flat tail
     * of pieces seen once (half of all distinct pieces in most corpora)
     * would otherwise dominate a least-squares fit in log-log space. */
    p->zipf_s = zipf_exponent(p->sorted, twice);
    for (int c = 0; c < NCOVER; c++)
        p->cover_rank_n[c] = (uint32_t)coverage_rank(p->sorted, k, p->total, cover_permille[c]);
}

const struct ptent *pretok_stats_top(const struct pretok_stats *p, size_t i)
{
    return i < p->distinct ? &p->tab[i] : NULL;
}

void pretok_stats_free(struct pretok_stats *p)
{
    for (size_t i = 0; i < p->cap; i++) free(p->tab[i].s);
    free(p->tab);
    free(p->sorted);
    memset(p, 0, sizeof *p);
}
