/* test_stats.c - unit tests of lib/stats*.c: id counting, entropy, coverage,
 * text statistics, distributions, pre-token classes. */
#include "stats/stats.h"
#include "stats/stats_report.h"
#include "unit.h"

#include <stdint.h>

/* ---- counting ---- */

static uint64_t *count16(const uint16_t *ids, size_t n, uint32_t vocab)
{
    unsigned char *le = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) { le[2 * i] = (unsigned char)ids[i]; le[2 * i + 1] = (unsigned char)(ids[i] >> 8); }
    struct tok_counter c;
    tok_counter_init(&c, vocab, 0);
    tok_count_le16(&c, le, n);
    free(le);
    return tok_counter_finish(&c, "x.bin");
}

TEST(count_matches_naive_loop)
{
    /* lengths around the unrolling width, ids with long equal runs */
    for (size_t n = 0; n < 40; n++) {
        uint16_t ids[40];
        uint64_t naive[7] = { 0 };
        for (size_t i = 0; i < n; i++) { ids[i] = (uint16_t)((i * i / 5) % 7); naive[ids[i]]++; }
        uint64_t *c = count16(ids, n, 7);
        for (int k = 0; k < 7; k++) CHECK(c[k] == naive[k]);
        free(c);
        /* the same through the 32-bit paths */
        uint32_t ids32[40];
        unsigned char le[160];
        for (size_t i = 0; i < n; i++) {
            ids32[i] = ids[i];
            le[4 * i] = (unsigned char)ids[i]; le[4 * i + 1] = (unsigned char)(ids[i] >> 8); le[4 * i + 2] = 0; le[4 * i + 3] = 0;
        }
        struct tok_counter a, b;
        tok_counter_init(&a, 7, 1);
        tok_counter_init(&b, 7, 1);
        tok_count_ids(&a, ids32, n);
        tok_count_le32(&b, le, n);
        uint64_t *ca = tok_counter_finish(&a, "a"), *cb = tok_counter_finish(&b, "b");
        for (int k = 0; k < 7; k++) CHECK(ca[k] == naive[k] && cb[k] == naive[k]);
        free(ca); free(cb);
    }
}

TEST(count_in_pieces)
{
    uint32_t ids[1000];
    for (int i = 0; i < 1000; i++) ids[i] = (uint32_t)(i % 3 == 0 ? 2 : 1);
    struct tok_counter c;
    tok_counter_init(&c, 3, 1);
    tok_count_ids(&c, ids, 1);
    tok_count_ids(&c, ids + 1, 998);
    tok_count_ids(&c, ids + 999, 1);
    CHECK(c.n == 1000);
    uint64_t *k = tok_counter_finish(&c, "x");
    CHECK(k[0] == 0 && k[1] == 666 && k[2] == 334);
    free(k);
}

TEST(count_out_of_range_dies)
{
    uint16_t ids[3] = { 1, 9, 2 };
    EXPECT_DIE(free(count16(ids, 3, 5)), "x.bin: 1 token(s) with an id out of range (vocabulary size 5)");
    uint32_t w[2] = { 0, 70000 };
    struct tok_counter c;
    tok_counter_init(&c, 100, 1);
    tok_count_ids(&c, w, 2);
    EXPECT_DIE(tok_counter_finish(&c, "y"), "y: 1 token(s) with an id out of range (vocabulary size 100)");
    free(c.sub); free(c.count);
}

/* ---- entropy and coverage ---- */

TEST(entropy_known_values)
{
    uint64_t uniform[8] = { 5, 5, 5, 5, 5, 5, 5, 5 };
    CHECK_NEAR(entropy_bits(uniform, 8), 3.0, 1e-12);
    uint64_t one[4] = { 0, 17, 0, 0 };
    CHECK(entropy_bits(one, 4) == 0.0);
    uint64_t half[2] = { 1, 3 };    /* p = 1/4, 3/4: 0.25*2 + 0.75*log2(4/3) */
    CHECK_NEAR(entropy_bits(half, 2), 0.5 + 0.75 * log2(4.0 / 3.0), 1e-12);
    uint64_t none[2] = { 0, 0 };
    CHECK(entropy_bits(none, 2) == 0.0);
}

TEST(coverage_ranks)
{
    uint64_t s[4] = { 50, 40, 9, 1 };       /* total 100 */
    CHECK(coverage_rank(s, 4, 100, 900) == 2);  /* 50+40 = 90 >= 90 */
    CHECK(coverage_rank(s, 4, 100, 950) == 3);
    CHECK(coverage_rank(s, 4, 100, 990) == 3);  /* 99 */
    CHECK(coverage_rank(s, 4, 100, 999) == 4);  /* needs ceil(99.9) = 100 */
    uint64_t t[1] = { 7 };
    CHECK(coverage_rank(t, 1, 7, 999) == 1);
    CHECK(coverage_rank(t, 0, 0, 900) == 0);
}

TEST(tok_stats_derived)
{
    uint64_t *c = calloc(6, sizeof *c);
    c[0] = 2; c[3] = 6; c[5] = 2;   /* eot = 5: two documents */
    uint32_t len[6] = { 1, 1, 1, 2, 1, 0 };
    struct tok_stats s;
    tok_stats_compute(&s, c, 6, 5, len);
    CHECK(s.ntokens == 10 && s.docs == 2 && s.used == 3);
    CHECK(s.order[0] == 3 && s.order[1] == 0 && s.order[2] == 5);   /* ties: smaller id first */
    CHECK(s.cover_rank[0] == 3 && s.cover_rank[3] == 3);
    CHECK(s.bytes == 2 * 1 + 6 * 2);
    double h = -(0.2 * log2(0.2) * 2 + 0.6 * log2(0.6));
    CHECK_NEAR(s.entropy, h, 1e-12);
    CHECK_NEAR(s.bits_per_byte, h * 10 / 14, 1e-12);
    tok_stats_free(&s);
    /* an unknown end-of-text id counts no documents */
    c = calloc(2, sizeof *c); c[1] = 3;
    tok_stats_compute(&s, c, 2, -1, NULL);
    CHECK(s.eot == -1 && s.docs == 0 && s.bytes == 0 && s.bits_per_byte == 0);
    tok_stats_free(&s);
}

/* ---- text ---- */

TEST(text_counts)
{
    struct text_stats s = { 0 };
    const char *a = "Hello, wide world!\n";           /* 19 bytes, 3 words */
    text_stats_add(&s, a, strlen(a));
    const char *b = "caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xf0\x9f\x98\x80\xff  well-known x-";
    /* "café — 日😀<ff>  well-known x-": 4+1+1+1+2 chars + invalid + 2 + 10 + 1 + 2 */
    text_stats_add(&s, b, strlen(b));
    CHECK(s.docs == 2);
    CHECK(s.bytes == 19 + strlen(b));
    CHECK(s.invalid_bytes == 1);
    CHECK(s.utf8_bytes == 2 + 3 + 3 + 4);
    CHECK(s.ascii_bytes == s.bytes - 1 - 12);
    CHECK(s.chars == 19 + 4 + 1 + 1 + 1 + 2 + 2 + 10 + 1 + 2);
    CHECK(s.words == 3 + 5);      /* café, —, 日😀<ff>, well-known, x- */
    CHECK(s.hyphenated == 1);     /* "x-" has nothing after its hyphen */
    CHECK(s.script[SC_LATIN] == 1 && s.script[SC_CJK] == 1 && s.script[SC_EMOJI] == 1);
    CHECK(s.script[SC_PUNCT_SYMBOL] == 1);
    CHECK(s.script[SC_ASCII_LETTER] == 14 + 3 + 9 + 1);
    CHECK(s.len[LEN_WORDS].n == 2 && s.len[LEN_WORDS].v[0] == 3 && s.len[LEN_WORDS].v[1] == 5);
    text_stats_free(&s);
}

TEST(distribution)
{
    uint64_t v[8] = { 8, 1, 7, 2, 6, 3, 5, 4 };
    struct dist d;
    dist_compute(&d, v, 8);
    /* nearest rank: q1 = 2nd value, median = 4th, q3 = 6th */
    CHECK(d.min == 1 && d.q1 == 2 && d.median == 4 && d.q3 == 6 && d.max == 8);
    CHECK_NEAR(d.mean, 4.5, 1e-12);
    CHECK(d.nbins == 8 && d.bin_lo[0] == 1 && d.bin_n[0] == 1 && d.bin_n[7] == 1);
    uint64_t w[3] = { 5, 5, 5 };
    dist_compute(&d, w, 3);
    CHECK(d.nbins == 1 && d.bin_n[0] == 3 && d.q1 == 5);
    uint64_t x[5] = { 0, 100, 10, 19, 20 };
    dist_compute(&d, x, 5);     /* range 101 -> width 11, 10 bins */
    CHECK(d.nbins == 10 && d.bin_lo[1] == 11 && d.bin_n[0] == 2 && d.bin_n[1] == 2 && d.bin_n[9] == 1);
    CHECK(d.median == 19);
    dist_compute(&d, x, 0);
    CHECK(d.n == 0);
}

/* ---- pre-tokens ---- */

TEST(pretoken_classes)
{
#define CL(s) pretok_classes(s, strlen(s))
    CHECK(CL("a") == 1u << PT_SINGLE);
    CHECK(CL(".") == (1u << PT_SINGLE | 1u << PT_PUNCT));
    CHECK(CL("7") == (1u << PT_SINGLE | 1u << PT_NUMBER));
    CHECK(CL(" ") == 1u << PT_SINGLE);
    CHECK(CL("\n\n") == 1u << PT_SPACES);
    CHECK(CL(" world") == 0);
    CHECK(CL("!!") == 1u << PT_PUNCT);
    CHECK(CL(" ...") == 1u << PT_PUNCT);
    CHECK(CL("'s") == 0);           /* half punctuation is not more than half */
    CHECK(CL(" 2024") == 1u << PT_NUMBER);
    CHECK(CL("\xe2\x80\x94") == (1u << PT_SINGLE | 1u << PT_PUNCT));
#undef CL
}

TEST(pretoken_table)
{
    struct pretok_stats p;
    pretok_stats_init(&p, 2);
    /* enough distinct pieces to grow the table several times */
    char buf[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(buf, sizeof buf, " w%d", i % 5000);
        pretok_stats_add(&p, buf, (size_t)n);
    }
    pretok_stats_add(&p, "!!", 2);
    for (int i = 0; i < 3; i++) pretok_stats_add(&p, "a", 1);
    pretok_stats_finish(&p);
    CHECK(p.total == 10004 && p.distinct == 5002);
    CHECK(pretok_stats_top(&p, 0)->count == 3 && pretok_stats_top(&p, 0)->len == 1 && memcmp(pretok_stats_top(&p, 0)->s, "a", 1) == 0);
    CHECK(pretok_stats_top(&p, 5001)->count == 1 && memcmp(pretok_stats_top(&p, 5001)->s, "!!", 2) == 0);
    CHECK(p.cls[PT_SINGLE] == 3 && p.cls[PT_PUNCT] == 1);
    CHECK(p.rare_distinct == 1 && p.rare_occurrences == 1);     /* "!!", seen once < 2 */
    pretok_stats_free(&p);
}

TEST(zipf_fit)
{
    uint64_t c1[4] = { 120, 60, 40, 30 };   /* 120 / r */
    CHECK_NEAR(zipf_exponent(c1, 4), 1.0, 1e-12);
    uint64_t c2[4] = { 144, 36, 16, 9 };    /* 144 / r^2 */
    CHECK_NEAR(zipf_exponent(c2, 4), 2.0, 1e-12);
    CHECK(zipf_exponent(c2, 1) == 0);
}

/* ---- the knee ---- */

static void rows(struct recommend *r, int n, const uint32_t *size, const double *bpt, const int *reached)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->rows = calloc((size_t)n, sizeof *r->rows);
    for (int i = 0; i < n; i++)
        r->rows[i] = (struct rec_row){ .size = size[i], .reached = reached[i], .bytes_per_token = bpt[i],
                                       .params = (uint64_t)size[i] * 8 };
}

TEST(knee)
{
    struct recommend r;
    uint32_t size[5] = { 512, 1024, 2048, 4096, 8192 };
    int all[5] = { 1, 1, 1, 1, 0 };
    /* scaled: x = 0, 1/7, 3/7, 1;  y = 0, 0.625, 0.9375, 1;  y - x largest at 2048 */
    double bpt[5] = { 2.0, 3.0, 3.5, 3.6, 0 };
    rows(&r, 5, size, bpt, all);
    recommend_pick(&r);
    CHECK(r.best == 2);
    CHECK(strncmp(r.reason, "2048: 94% of the compression gained from 512 to 4096 (2.00 -> 3.50 of 3.60 bytes/token) "
                            "for 43% of the added embedding parameters", 200) == 0);
    recommend_free(&r);
    /* two sizes: both on the line, the larger wins */
    rows(&r, 2, size, bpt, all);
    recommend_pick(&r);
    CHECK(r.best == 1);
    recommend_free(&r);
    /* no gain: the smallest */
    double flat[3] = { 3.0, 3.0, 2.9 };
    rows(&r, 3, size, flat, all);
    recommend_pick(&r);
    CHECK(r.best == 0 && strstr(r.reason, "no better"));
    recommend_free(&r);
    /* a convex curve: each step buys more than the one before; the largest */
    double convex[4] = { 2.0, 2.01, 2.03, 3.0 };
    rows(&r, 4, size, convex, all);
    recommend_pick(&r);
    CHECK(r.best == 3 && strstr(r.reason, "4096: compression per parameter does not fall off"));
    recommend_free(&r);
    int none[2] = { 0, 0 };
    rows(&r, 2, size, bpt, none);
    recommend_pick(&r);
    CHECK(r.best == -1);
    recommend_free(&r);
}

int main(void)
{
    RUN(count_matches_naive_loop);
    RUN(count_in_pieces);
    RUN(count_out_of_range_dies);
    RUN(entropy_known_values);
    RUN(coverage_ranks);
    RUN(tok_stats_derived);
    RUN(text_counts);
    RUN(distribution);
    RUN(pretoken_classes);
    RUN(pretoken_table);
    RUN(zipf_fit);
    RUN(knee);
    return unit_summary();
}
