/* stats.h - what a dataset looks like: statistics of JSONL text and of token
 * streams, the numbers behind tok-stats(1).
 *
 * Three layers, each usable on its own:
 *   - counting token ids (tok_counter): one pass over a stream, fast enough
 *     to run at disk speed;
 *   - statistics derived from the counts (tok_stats): documents, ids never
 *     used, the coverage CDF, the unigram entropy;
 *   - statistics of text (text_stats): documents, bytes, characters, words,
 *     length distributions, byte and script classes.
 * The tokenizer-dependent parts (pre-token edge cases, the vocabulary
 * recommendation) and the report writers are in stats_*.c; their entry
 * points are at the end of this header.
 */
#ifndef TFS_STATS_H
#define TFS_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tok/bytemap.h"

/* ======================================================================
 * Counting token ids
 * ======================================================================
 * A histogram loop "count[id[i]]++" is limited by store-to-load forwarding:
 * when two neighbouring tokens have the same id (frequent: "the", spaces,
 * end-of-text), the second increment must wait for the first one's store.
 * Spreading consecutive tokens over TOK_COPIES separate histograms removes
 * that dependency; the copies are summed at the end.  The copies hold 32-bit
 * counts (half the cache footprint of 64-bit ones) and are flushed into the
 * 64-bit totals before any of them could overflow.
 *
 * 16-bit streams always get 65536-wide histograms, so no id can index out of
 * bounds whatever the vocabulary says; ids >= vocab are detected at the end. */
#define TOK_COPIES 4

struct tok_counter {
    uint32_t vocab;     /* ids must be < vocab */
    uint32_t span;      /* width of each histogram: 65536 (16-bit) or vocab (32-bit) */
    uint32_t *sub;      /* (TOK_COPIES, span) partial counts */
    uint64_t pending;   /* ids counted into sub since the last flush */
    uint64_t *count;    /* (span) totals */
    uint64_t n;         /* ids counted */
};

void tok_counter_init(struct tok_counter *c, uint32_t vocab, int wide);
/* Count n ids stored as little-endian uint16 / uint32 (a mapped stream body). */
void tok_count_le16(struct tok_counter *c, const unsigned char *p, size_t n);
void tok_count_le32(struct tok_counter *c, const unsigned char *p, size_t n);
/* Count n ids in host order (from tokr_read). */
void tok_count_ids(struct tok_counter *c, const uint32_t *ids, size_t n);
/* The (vocab) totals, now owned by the caller; dies naming `name` if an id
 * was >= vocab.  The counter is freed. */
uint64_t *tok_counter_finish(struct tok_counter *c, const char *name);

/* ======================================================================
 * Statistics of a token stream, from its counts
 * ====================================================================== */
/* Coverage levels reported, in tenths of a percent: 90, 95, 99, 99.9%. */
#define NCOVER 4
extern const unsigned cover_permille[NCOVER];

struct tok_stats {
    uint32_t vocab;
    uint64_t ntokens;
    uint64_t *count;        /* (vocab) occurrences of each id (owned) */
    long eot;               /* end-of-text id, -1 when unknown */
    uint64_t docs;          /* count[eot]: each document is preceded by it */
    uint32_t used;          /* ids that occur at least once */
    uint32_t *order;        /* (vocab) ids by decreasing count, ties: smaller id first */
    uint32_t cover_rank[NCOVER]; /* fewest ids covering cover_permille of the tokens */
    double entropy;         /* unigram entropy, bits per token */
    uint64_t bytes;         /* text bytes the stream decodes to; 0 = unknown */
    double bits_per_byte;   /* entropy * ntokens / bytes; 0 when bytes unknown */
};

/* Derive everything from counts (taken over: freed by tok_stats_free).
 * toklen (vocab) gives each id's length in bytes (specials: 0), or NULL. */
void tok_stats_compute(struct tok_stats *s, uint64_t *count, uint32_t vocab, long eot,
                       const uint32_t *toklen);
void tok_stats_free(struct tok_stats *s);

/* Unigram entropy of a histogram in bits: H = -sum p log2 p, p = c/N. */
double entropy_bits(const uint64_t *count, size_t n);

/* The smallest k such that the k largest counts (sorted descending in
 * `sorted`) add up to at least permille/1000 of total. */
size_t coverage_rank(const uint64_t *sorted, size_t n, uint64_t total, unsigned permille);

/* ======================================================================
 * Statistics of text
 * ======================================================================
 * Characters are Unicode code points of valid UTF-8 sequences (RFC 3629);
 * a byte that does not start a valid sequence is counted as invalid and as
 * no character.  Words are maximal runs of characters that are not white
 * space (Unicode White_Space).  Script classes are coarse groups of Unicode
 * blocks (script_name() lists them). */
enum script {
    SC_ASCII_LETTER, SC_ASCII_DIGIT, SC_SPACE, SC_ASCII_PUNCT, SC_CONTROL,
    SC_LATIN, SC_GREEK_CYRILLIC, SC_HEBREW_ARABIC, SC_INDIC, SC_CJK, SC_HANGUL,
    SC_PUNCT_SYMBOL, SC_EMOJI, SC_OTHER, NSCRIPT
};
const char *script_name(int sc);
int script_of(uint32_t cp);
int is_unicode_space(uint32_t cp);
/* Decode one code point at s (n bytes left): returns its length 1..4 and
 * sets *cp, or 0 for an invalid byte. */
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* A growable array of per-document lengths. */
struct u64vec { uint64_t *v; size_t n, cap; };
void u64vec_push(struct u64vec *a, uint64_t x);

enum { LEN_BYTES, LEN_CHARS, LEN_WORDS, NLEN };
struct text_stats {
    uint64_t docs, bytes, chars, words;
    uint64_t ascii_bytes;   /* bytes < 0x80 */
    uint64_t utf8_bytes;    /* bytes of valid multi-byte sequences */
    uint64_t invalid_bytes; /* bytes that are not valid UTF-8 */
    uint64_t script[NSCRIPT]; /* characters per script class */
    struct u64vec len[NLEN];  /* (docs) length of each document */
    uint64_t hyphenated;      /* words with a '-' between two letters or digits */
};
void text_stats_add(struct text_stats *s, const char *text, size_t len);
void text_stats_free(struct text_stats *s);

/* Summary of a distribution: min, quartiles by the nearest-rank rule
 * (the value at 1-based rank ceil(p*n) of the sorted values), max, mean,
 * and a histogram of HIST_BINS equal-width bins over [min, max]. */
#define HIST_BINS 10
struct dist {
    uint64_t n, min, q1, median, q3, max;
    double mean;
    uint64_t bin_lo[HIST_BINS];  /* lower edge of each bin */
    uint64_t bin_n[HIST_BINS];   /* values in [bin_lo[i], bin_lo[i+1]) (last bin: up to max) */
    int nbins;                   /* bins used (1 when all values are equal) */
};
/* Sorts v in place. */
void dist_compute(struct dist *d, uint64_t *v, size_t n);

/* ======================================================================
 * Pre-tokens (stats_pretok.c)
 * ======================================================================
 * The pieces a pre-tokenizer pattern cuts text into, counted by content.
 * Edge-case classes (a piece may be in several):
 *   single    exactly one character
 *   spaces    two or more characters, all white space
 *   punct     more than half of its non-space characters are punctuation
 *             or symbols
 *   number    its non-space characters are all ASCII digits
 *   rare      seen fewer than `rare_below` times (counted per distinct piece
 *             and in occurrences) */
enum { PT_SINGLE, PT_SPACES, PT_PUNCT, PT_NUMBER, NPT };
const char *pt_class_name(int k);
/* Bit k set when piece s[0..n) is in class k. */
unsigned pretok_classes(const char *s, size_t n);

struct ptent { const char *s; uint32_t len; uint64_t count; };
struct pretok_stats {
    uint64_t total;             /* pieces */
    uint64_t bytes;             /* their bytes */
    uint64_t cls[NPT];          /* occurrences per class */
    uint64_t rare_below;        /* threshold */
    uint64_t rare_distinct, rare_occurrences;
    struct bytemap map;         /* distinct piece -> count */
    size_t distinct;
    /* after pretok_stats_finish: */
    struct ptent *top;          /* (distinct) pieces, most frequent first (keys in map) */
    uint64_t *sorted;           /* (distinct) their counts: the Zipf curve */
    double zipf_s;              /* fitted exponent: count ~ rank^(-s) */
    uint32_t cover_rank_n[NCOVER];  /* distinct pieces covering 90..99.9% of pieces */
};
void pretok_stats_init(struct pretok_stats *p, uint64_t rare_below);
void pretok_stats_add(struct pretok_stats *p, const char *s, size_t n);
void pretok_stats_finish(struct pretok_stats *p);
/* The i-th most frequent piece (0-based), for i < distinct, after finish. */
const struct ptent *pretok_stats_top(const struct pretok_stats *p, size_t i);
void pretok_stats_free(struct pretok_stats *p);

/* Least-squares slope s of log(count) = c - s log(rank) over ranks 1..n of
 * counts sorted descending; 0 when n < 2. */
double zipf_exponent(const uint64_t *sorted, size_t n);

#endif
