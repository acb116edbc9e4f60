/* stats_pretok.c - statistics of pre-tokens: the pieces a pre-tokenizer
 * pattern cuts text into, counted by content.  See stats.h. */
#include "stats/stats.h"
#include "core/xio.h"

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

void pretok_stats_init(struct pretok_stats *p, uint64_t rare_below)
{
    memset(p, 0, sizeof *p);
    p->rare_below = rare_below;
    bytemap_init(&p->map, 1 << 12);
}

void pretok_stats_add(struct pretok_stats *p, const char *s, size_t n)
{
    if (n > UINT32_MAX) die("a pre-token of %zu bytes is too long", n);
    p->total++;
    p->bytes += n;
    (*bytemap_put(&p->map, s, n, NULL))++;
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
    /* the distinct pieces, most frequent first */
    p->distinct = p->map.n;
    p->top = xmalloc((p->distinct ? p->distinct : 1) * sizeof *p->top);
    size_t k = 0;
    for (size_t i = 0; i < p->map.cap; i++) {
        const struct bytemap_slot *e = &p->map.slot[i];
        if (e->hash) p->top[k++] = (struct ptent){ bytemap_key(&p->map, e), e->len, e->val };
    }
    qsort(p->top, k, sizeof *p->top, by_count);
    p->sorted = xmalloc((k ? k : 1) * sizeof *p->sorted);
    size_t twice = 0;
    for (size_t i = 0; i < k; i++) {
        const struct ptent *e = &p->top[i];
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
    return p->top && i < p->distinct ? &p->top[i] : NULL;
}

void pretok_stats_free(struct pretok_stats *p)
{
    bytemap_free(&p->map);
    free(p->top);
    free(p->sorted);
    memset(p, 0, sizeof *p);
}
