/* stats_text.c - statistics of text: documents, bytes, characters, words,
 * length distributions, byte and script classes.  See stats.h. */
#include "stats/stats.h"
#include "core/jsonl.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

/* ---- Unicode ------------------------------------------------------------ */

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    int k = utf8_seq_len(s, n);     /* validates: no overlongs, surrogates, > U+10FFFF */
    switch (k) {
    case 1: *cp = s[0]; break;
    case 2: *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F); break;
    case 3: *cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F); break;
    case 4: *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12
                | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F); break;
    default: *cp = 0; break;
    }
    return k;
}

/* The White_Space property of the Unicode Character Database (PropList.txt). */
int is_unicode_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
        || cp == 0x205F || cp == 0x3000;
}

static const char *const SCRIPT_NAMES[NSCRIPT] = {
    [SC_ASCII_LETTER] = "ASCII letters",
    [SC_ASCII_DIGIT] = "ASCII digits",
    [SC_SPACE] = "white space",
    [SC_ASCII_PUNCT] = "ASCII punctuation and symbols",
    [SC_CONTROL] = "control characters",
    [SC_LATIN] = "Latin letters beyond ASCII",
    [SC_GREEK_CYRILLIC] = "Greek and Cyrillic",
    [SC_HEBREW_ARABIC] = "Hebrew and Arabic",
    [SC_INDIC] = "Indic scripts",
    [SC_CJK] = "CJK ideographs and kana",
    [SC_HANGUL] = "Hangul",
    [SC_PUNCT_SYMBOL] = "other punctuation and symbols",
    [SC_EMOJI] = "emoji",
    [SC_OTHER] = "other",
};

const char *script_name(int sc) { return sc >= 0 && sc < NSCRIPT ? SCRIPT_NAMES[sc] : "?"; }

/* Coarse groups of Unicode blocks (Blocks.txt), first match wins. */
static const struct { uint32_t lo, hi; int sc; } RANGES[] = {
    { 0x0080, 0x009F, SC_CONTROL },          /* C1 controls */
    { 0x00A1, 0x00BF, SC_PUNCT_SYMBOL },     /* Latin-1 punctuation and signs */
    { 0x00D7, 0x00D7, SC_PUNCT_SYMBOL },     /* multiplication sign */
    { 0x00F7, 0x00F7, SC_PUNCT_SYMBOL },     /* division sign */
    { 0x00C0, 0x024F, SC_LATIN },            /* Latin-1 letters, Latin Extended-A/B */
    { 0x0250, 0x02FF, SC_LATIN },            /* IPA, spacing modifiers */
    { 0x0370, 0x052F, SC_GREEK_CYRILLIC },   /* Greek, Cyrillic (+ supplement) */
    { 0x0590, 0x08FF, SC_HEBREW_ARABIC },    /* Hebrew, Arabic, Syriac, Thaana, ... */
    { 0x0900, 0x0DFF, SC_INDIC },            /* Devanagari .. Sinhala */
    { 0x1100, 0x11FF, SC_HANGUL },           /* Hangul Jamo */
    { 0x1E00, 0x1EFF, SC_LATIN },            /* Latin Extended Additional */
    { 0x1F00, 0x1FFF, SC_GREEK_CYRILLIC },   /* Greek Extended */
    { 0x2000, 0x2BFF, SC_PUNCT_SYMBOL },     /* punctuation, arrows, math, dingbats */
    { 0x2E80, 0x2FDF, SC_CJK },              /* CJK radicals */
    { 0x3000, 0x303F, SC_PUNCT_SYMBOL },     /* CJK symbols and punctuation */
    { 0x3040, 0x30FF, SC_CJK },              /* Hiragana, Katakana */
    { 0x3130, 0x318F, SC_HANGUL },           /* Hangul compatibility Jamo */
    { 0x3400, 0x4DBF, SC_CJK },              /* CJK Extension A */
    { 0x4E00, 0x9FFF, SC_CJK },              /* CJK Unified Ideographs */
    { 0xAC00, 0xD7AF, SC_HANGUL },           /* Hangul syllables */
    { 0xF900, 0xFAFF, SC_CJK },              /* CJK compatibility ideographs */
    { 0xFE30, 0xFE4F, SC_PUNCT_SYMBOL },     /* CJK compatibility forms */
    { 0xFF00, 0xFF65, SC_PUNCT_SYMBOL },     /* fullwidth forms */
    { 0xFF66, 0xFF9F, SC_CJK },              /* halfwidth Katakana */
    { 0x1F000, 0x1FAFF, SC_EMOJI },          /* emoji, pictographs, playing cards */
    { 0x20000, 0x3134F, SC_CJK },            /* CJK Extensions B..G */
};

int script_of(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return SC_ASCII_LETTER;
        if (cp >= '0' && cp <= '9') return SC_ASCII_DIGIT;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return SC_SPACE;
        if (cp > 0x20 && cp < 0x7F) return SC_ASCII_PUNCT;
        return SC_CONTROL;
    }
    if (is_unicode_space(cp)) return SC_SPACE;
    for (size_t i = 0; i < sizeof RANGES / sizeof RANGES[0]; i++)
        if (cp >= RANGES[i].lo && cp <= RANGES[i].hi) return RANGES[i].sc;
    return SC_OTHER;
}

/* ---- per-document statistics -------------------------------------------- */

void u64vec_push(struct u64vec *a, uint64_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 1024;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

/* Letters and digits of any script (for "x-y" hyphenation). */
static int is_alnum_class(int sc)
{
    return sc == SC_ASCII_LETTER || sc == SC_ASCII_DIGIT || sc == SC_LATIN || sc == SC_GREEK_CYRILLIC
        || sc == SC_HEBREW_ARABIC || sc == SC_INDIC || sc == SC_CJK || sc == SC_HANGUL;
}

/* ASCII characters by class, so the common case needs no decoding. */
static unsigned char ascii_class[128];
static int ascii_ready;

void text_stats_add(struct text_stats *s, const char *text, size_t len)
{
    if (!ascii_ready) {
        for (uint32_t c = 0; c < 128; c++) ascii_class[c] = (unsigned char)script_of(c);
        ascii_ready = 1;
    }
    const unsigned char *u = (const unsigned char *)text;
    uint64_t chars = 0, words = 0, ascii = 0, multi = 0, invalid = 0;
    int in_word = 0;
    /* hyphen state: 1 after a letter or digit, 2 after letter-or-digit '-',
     * and word_hy once the current word has had "x-y" in it */
    int hy = 0, word_hy = 0;
    size_t i = 0;
    while (i < len) {
        int sc, space;
        if (u[i] < 0x80) {
            sc = ascii_class[u[i]];
            space = sc == SC_SPACE;
            ascii++; chars++; i++;
        } else {
            uint32_t cp;
            int k = utf8_decode(u + i, len - i, &cp);
            if (!k) {
                /* An invalid byte is no character; it neither starts nor ends a word. */
                invalid++; i++; hy = 0;
                continue;
            }
            sc = script_of(cp);
            space = is_unicode_space(cp);
            multi += (uint64_t)k; chars++; i += (size_t)k;
        }
        s->script[sc]++;
        /* a word starts at a non-space character that follows space (or the start) */
        if (!space && !in_word) { words++; word_hy = 0; }
        in_word = !space;
        int alnum = is_alnum_class(sc);
        if (alnum && hy == 2 && !word_hy) { s->hyphenated++; word_hy = 1; }
        hy = alnum ? 1 : (hy == 1 && u[i - 1] == '-') ? 2 : 0;
    }
    s->docs++;
    s->bytes += len;
    s->chars += chars;
    s->words += words;
    s->ascii_bytes += ascii;
    s->utf8_bytes += multi;
    s->invalid_bytes += invalid;
    u64vec_push(&s->len[LEN_BYTES], len);
    u64vec_push(&s->len[LEN_CHARS], chars);
    u64vec_push(&s->len[LEN_WORDS], words);
}

void text_stats_free(struct text_stats *s)
{
    for (int k = 0; k < NLEN; k++) free(s->len[k].v);
    memset(s, 0, sizeof *s);
}

/* ---- distributions ------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank: the value at 1-based rank ceil(num/den * n) */
static uint64_t nearest_rank(const uint64_t *v, size_t n, size_t num, size_t den)
{
    size_t r = (num * n + den - 1) / den;
    return v[r ? r - 1 : 0];
}

void dist_compute(struct dist *d, uint64_t *v, size_t n)
{
    memset(d, 0, sizeof *d);
    if (!n) return;
    qsort(v, n, sizeof *v, cmp_u64);
    d->n = n;
    d->min = v[0];
    d->max = v[n - 1];
    d->q1 = nearest_rank(v, n, 1, 4);
    d->median = nearest_rank(v, n, 1, 2);
    d->q3 = nearest_rank(v, n, 3, 4);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)v[i];
    d->mean = sum / (double)n;
    /* HIST_BINS bins of equal integer width covering [min, max] */
    uint64_t range = d->max - d->min + 1;
    uint64_t width = (range + HIST_BINS - 1) / HIST_BINS;
    d->nbins = (int)((range + width - 1) / width);
    for (int b = 0; b < d->nbins; b++) d->bin_lo[b] = d->min + (uint64_t)b * width;
    for (size_t i = 0; i < n; i++) d->bin_n[(v[i] - d->min) / width]++;
}
