/* test_bpe.c - the tokenizer library: pre-tokenization, training against a
 * naive reference trainer, determinism across threads, tok.bin and
 * tokenizer.json round trips, encoding round trips on random bytes,
 * special tokens, and every kind of bad tokenizer file. */
#include "tok/pretok.h"
#include "tok/tokenizer.h"
#include "tok/tokenizer_impl.h"     /* tok_long_piece */
#include "tok/wordtab.h"
#include "core/xio.h"
#include "unit.h"

#include <stdint.h>

static int asan(void) { return getenv("TFS_ASAN") != NULL; }

/* ---- pre-tokenization ---- */
struct pieces { char s[64][32]; int n; };
static void collect(void *arg, const char *p, size_t n)
{
    struct pieces *ps = arg;
    if (ps->n < 64 && n < 32) { memcpy(ps->s[ps->n], p, n); ps->s[ps->n][n] = 0; }
    ps->n++;
}

TEST(pretok_gpt2_pieces)
{
    char err[256];
    struct pretok *p = pretok_new("gpt2", err, sizeof err);
    CHECK(p != NULL);
    struct pretok_ctx *c = pretok_ctx_new(p);
    struct pieces ps = { .n = 0 };
    const char *s = "Hello world!! It's 2024   ok\n";
    pretok_split(c, s, strlen(s), collect, &ps);
    /* \s+(?!\S) leaves the last space of a run to the next word */
    const char *want[] = { "Hello", " world", "!!", " It", "'s", " 2024", "  ", " ok", "\n" };
    CHECK(ps.n == 9);
    for (int i = 0; i < 9 && i < ps.n; i++) CHECK(strcmp(ps.s[i], want[i]) == 0);
    /* U+0085 (NEL) is White_Space, as in tiktoken's Rust regex */
    ps.n = 0;
    pretok_split(c, "a\xc2\x85\xc2\x85 b", 7, collect, &ps);
    CHECK(ps.n == 3 && strcmp(ps.s[1], "\xc2\x85\xc2\x85") == 0 && strcmp(ps.s[2], " b") == 0);
    pretok_ctx_free(c);
    pretok_free(p);
    CHECK(pretok_new("(unclosed", err, sizeof err) == NULL);
    CHECK(strstr(err, "position") != NULL);
}

struct cover { const char *base; size_t at; int ok; };
static void check_cover(void *arg, const char *p, size_t n)
{
    struct cover *c = arg;
    if (p != c->base + c->at || n == 0) c->ok = 0;
    c->at += n;
}

TEST(pretok_covers_invalid_utf8)
{
    char err[256];
    const char *names[] = { "gpt2", "cl100k", "o200k", "[a-z]+" };
    struct rng { uint64_t s; } r = { 42 };
    char buf[4096];
    for (int k = 0; k < 4; k++) {
        struct pretok *p = pretok_new(names[k], err, sizeof err);
        CHECK(p != NULL);
        struct pretok_ctx *c = pretok_ctx_new(p);
        for (int round = 0; round < 20; round++) {
            for (size_t i = 0; i < sizeof buf; i++) {
                r.s = r.s * 6364136223846793005ull + 1442695040888963407ull;
                buf[i] = (char)(r.s >> 56);
                if (round % 2) buf[i] = (char)(0x20 + (r.s >> 58));  /* mostly ASCII */
            }
            struct cover cv = { buf, 0, 1 };
            pretok_split(c, buf, sizeof buf, check_cover, &cv);
            CHECK(cv.ok && cv.at == sizeof buf);
        }
        pretok_ctx_free(c);
        pretok_free(p);
    }
}

/* ---- training ---- */

/* A small corpus with repeated words and ties. */
static char **make_corpus(int ndocs, uint64_t seed, size_t **lens)
{
    static const char *words[] = { "the", "cat", "sat", "on", "mat", "a", "hat", "that", "ate", "rat", "tea",
                                   "at", "ta", "\xc3\xa9t\xc3\xa9", "\xe2\x9c\x93", "42", "  ", "\n" };
    char **d = xmalloc((size_t)ndocs * sizeof *d);
    *lens = xmalloc((size_t)ndocs * sizeof **lens);
    for (int i = 0; i < ndocs; i++) {
        char buf[512];
        size_t n = 0;
        int nw = 5 + (int)(seed % 20);
        for (int w = 0; w < nw; w++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *x = words[(seed >> 33) % (sizeof words / sizeof words[0])];
            if (n + strlen(x) + 2 >= sizeof buf) break;
            if (w) buf[n++] = ' ';
            memcpy(buf + n, x, strlen(x));
            n += strlen(x);
        }
        d[i] = xmalloc(n + 1);
        memcpy(d[i], buf, n);
        (*lens)[i] = n;
    }
    return d;
}

static void free_corpus(char **d, size_t *lens, int n)
{
    for (int i = 0; i < n; i++) free(d[i]);
    free(d); free(lens);
}

static struct tokenizer *train(char **docs, size_t *lens, int n, uint32_t vocab, int threads, uint64_t minf)
{
    struct bpe_train_opts o = { .vocab_size = vocab, .min_frequency = minf, .threads = threads, .quiet = 1 };
    struct bpe_trainer *tr = bpe_trainer_new(&o);
    bpe_trainer_add(tr, (const char *const *)docs, lens, (size_t)n);
    return bpe_trainer_finish(tr);
}

/* The naive trainer of the textbook: per merge, recount every pair of
 * every piece (with multiplicity), take the most frequent, ties to the
 * smaller (left, right), replace it everywhere. */
struct naive { uint32_t *sym; size_t n; };
static void naive_piece(void *arg, const char *p, size_t n)
{
    struct naive *nv = arg;
    for (size_t i = 0; i < n; i++) nv->sym[nv->n++] = (unsigned char)p[i];
    nv->sym[nv->n++] = UINT32_MAX;     /* piece boundary */
}

static uint32_t naive_train(char **docs, size_t *lens, int ndocs, uint32_t nmerges, uint32_t (*out)[2])
{
    size_t total = 0;
    for (int i = 0; i < ndocs; i++) total += 2 * lens[i] + 1;
    struct naive nv = { xmalloc(total * sizeof(uint32_t)), 0 };
    char err[256];
    struct pretok *p = pretok_new("gpt2", err, sizeof err);
    struct pretok_ctx *c = pretok_ctx_new(p);
    for (int i = 0; i < ndocs; i++) pretok_split(c, docs[i], lens[i], naive_piece, &nv);
    uint32_t m;
    for (m = 0; m < nmerges; m++) {
        uint32_t maxid = 256 + m;
        int64_t *cnt = xcalloc((size_t)maxid * maxid, sizeof *cnt);
        for (size_t i = 0; i + 1 < nv.n; i++)
            if (nv.sym[i] != UINT32_MAX && nv.sym[i + 1] != UINT32_MAX) cnt[(size_t)nv.sym[i] * maxid + nv.sym[i + 1]]++;
        size_t best = 0;
        for (size_t k = 1; k < (size_t)maxid * maxid; k++) if (cnt[k] > cnt[best]) best = k;
        int64_t bc = cnt[best];
        free(cnt);
        if (bc < 1) break;
        uint32_t a = (uint32_t)(best / maxid), b = (uint32_t)(best % maxid);
        out[m][0] = a; out[m][1] = b;
        size_t o = 0;
        for (size_t i = 0; i < nv.n;) {
            if (i + 1 < nv.n && nv.sym[i] == a && nv.sym[i + 1] == b) { nv.sym[o++] = 256 + m; i += 2; }
            else nv.sym[o++] = nv.sym[i++];
        }
        nv.n = o;
    }
    pretok_ctx_free(c);
    pretok_free(p);
    free(nv.sym);
    return m;
}

/* wordtab (the word counts of bpe-train) against bytemap: random words of
 * 1 to 40 bytes (short ones held in the slot, longer ones in the arena; 16
 * and 17 both ways), zero bytes included, from a small alphabet so that
 * words repeat, half of them with the same first 8 bytes; two tables
 * started tiny so that they grow, then summed. */
TEST(wordtab_counts_match_bytemap)
{
    struct wordtab t[2];
    struct bytemap ref;
    wordtab_init(&t[0], 1);
    wordtab_init(&t[1], 1);
    bytemap_init(&ref, 16);
    uint64_t seed = 12345;
    int nwords = asan() ? 5000 : 100000;
    for (int i = 0; i < nwords; i++) {
        unsigned char w[40];
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = 1 + (seed >> 33) % 40;
        if ((seed >> 20) % 4 == 0) len = 16 + (seed >> 40) % 2;
        for (size_t j = 0; j < len; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            w[j] = (unsigned char)"\0ab"[(seed >> 33) % (len < 4 ? 4 : 3)];
        }
        if ((seed >> 45) % 2) memset(w, 'a', len < 8 ? len : 8);    /* words alike but for their tail */
        uint64_t c = 1 + (seed >> 50) % 3;
        wordtab_add(&t[i % 2], w, len, c);
        *bytemap_put(&ref, w, len, NULL) += c;
    }
    wordtab_add_all(&t[0], &t[1]);
    wordtab_free(&t[1]);
    CHECK(t[0].n == ref.n);
    size_t seen = 0, bad = 0;
    for (size_t i = 0; i < t[0].cap; i++) {
        const struct wordtab_slot *sl = &t[0].slot[i];
        if (!wordtab_len(&t[0], sl)) continue;
        unsigned char buf[WORDTAB_SHORT];
        const uint64_t *v = bytemap_get(&ref, wordtab_bytes(&t[0], sl, buf), wordtab_len(&t[0], sl));
        seen++;
        if (!v || *v != wordtab_count(sl)) bad++;
    }
    CHECK(seen == ref.n && bad == 0);
    wordtab_free(&t[0]);
    bytemap_free(&ref);
}

TEST(train_matches_naive_trainer)
{
    size_t *lens;
    int nd = asan() ? 40 : 200;
    char **docs = make_corpus(nd, 7, &lens);
    uint32_t want = 60;
    struct tokenizer *t = train(docs, lens, nd, 256 + want + 1, 1, 1);
    uint32_t (*ref)[2] = xmalloc(want * sizeof *ref);
    uint32_t nref = naive_train(docs, lens, nd, want, ref);
    CHECK(tok_num_merges(t) == nref);
    for (uint32_t i = 0; i < nref && i < tok_num_merges(t); i++) {
        uint32_t l, r;
        CHECK(tok_merge_of(t, 256 + i, &l, &r) == 0);
        if (l != ref[i][0] || r != ref[i][1]) {
            fprintf(stderr, "  merge %u: trainer %u+%u, naive %u+%u\n", i, l, r, ref[i][0], ref[i][1]);
            CHECK(0);
            break;
        }
    }
    free(ref);
    tok_free(t);
    free_corpus(docs, lens, nd);
}

TEST(train_tie_break_and_min_frequency)
{
    /* The pieces are "ab" and " cd": (a,b), (' ',c) and (c,d) occur once
     * each.  With min frequency 1 the tie goes to the smaller left id:
     * ' ' (32) first, then 'a' (97) before " c" (256). */
    char a[] = "ab cd", *docs[] = { a };
    size_t lens[] = { 5 };
    struct tokenizer *t = train(docs, lens, 1, 300, 1, 1);
    uint32_t l, r;
    CHECK(tok_merge_of(t, 256, &l, &r) == 0 && l == ' ' && r == 'c');
    CHECK(tok_merge_of(t, 257, &l, &r) == 0 && l == 'a' && r == 'b');
    CHECK(tok_merge_of(t, 258, &l, &r) == 0 && l == 256 && r == 'd');
    CHECK(tok_num_merges(t) == 3);
    tok_free(t);
    /* min frequency 2: no pair occurs twice, so no merges */
    t = train(docs, lens, 1, 300, 1, 2);
    CHECK(tok_num_merges(t) == 0);
    CHECK(tok_vocab_size(t) == 257 && tok_eot(t) == 256);
    tok_free(t);
}

TEST(train_threads_identical)
{
    size_t *lens;
    int nd = asan() ? 100 : 2000;
    char **docs = make_corpus(nd, 99, &lens);
    struct tokenizer *t1 = train(docs, lens, nd, 400, 1, 2), *t2 = train(docs, lens, nd, 400, 2, 2);
    CHECK(tok_fingerprint(t1) == tok_fingerprint(t2));
    CHECK(tok_num_merges(t1) == tok_num_merges(t2) && tok_num_merges(t1) > 20);
    tok_save(t1, unit_tmp("t1.bin"));
    tok_save(t2, unit_tmp("t2.bin"));
    size_t n1, n2;
    char *b1 = read_file(unit_tmp("t1.bin"), &n1), *b2 = read_file(unit_tmp("t2.bin"), &n2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
    free(b1); free(b2);
    tok_free(t1); tok_free(t2);
    free_corpus(docs, lens, nd);
}

/* ---- encoding ---- */
static int roundtrip(const struct tokenizer *t, struct tok_encoder *e, const char *s, size_t n, int allow)
{
    size_t k;
    const uint32_t *ids = tok_encode(e, s, n, allow, &k);
    struct tok_bytes out = { 0 };
    int ok = tok_decode(t, ids, k, &out) == k && out.len == n && (n == 0 || memcmp(out.p, s, n) == 0);
    free(out.p);
    return ok;
}

static struct tokenizer *small_tokenizer(void)
{
    size_t *lens;
    char **docs = make_corpus(300, 5, &lens);
    struct tokenizer *t = train(docs, lens, 300, 380, 1, 2);
    free_corpus(docs, lens, 300);
    return t;
}

TEST(encode_roundtrip_random_bytes)
{
    struct tokenizer *t = small_tokenizer();
    struct tok_encoder *e = tok_encoder_new(t);
    uint64_t s = 1;
    static char buf[1 << 14];
    int rounds = asan() ? 10 : 100;
    for (int r = 0; r < rounds; r++) {
        size_t n = (size_t)(r * 977) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (char)(s >> 56);
            if (r % 3 == 1) buf[i] = "the cat sat  \n\t\xc3\xa9"[(s >> 40) % 16];
        }
        CHECK(roundtrip(t, e, buf, n, r % 2));
    }
    /* merges are used: a frequent word is fewer tokens than bytes */
    size_t k;
    tok_encode(e, "the cat sat on the mat", 22, 0, &k);
    CHECK(k < 15);
    tok_encoder_free(e);
    tok_free(t);
}

TEST(long_piece_merge_matches_the_scan)
{
    /* The heap merge for long pieces must choose exactly what the scan
     * does (lowest rank, leftmost on ties): encode the same text both ways. */
    /* runs of one letter make ties: in "aaa" the pair (a,a) occurs twice */
    char d0[] = "aaaa aaaaaaa aa aaa tat tatt attta aaaat", *docs[] = { d0 };
    size_t lens[] = { strlen(d0) };
    struct tokenizer *t = train(docs, lens, 1, 270, 1, 1);
    struct tok_encoder *e = tok_encoder_new(t);
    uint64_t s = 11;
    char buf[3000];
    for (int r = 0; r < 20; r++) {
        size_t n = 200 + (size_t)r * 130;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = r % 2 ? "at"[(s >> 40) % 2] : "aaaaaaat"[(s >> 40) % 8];   /* one long piece */
        }
        size_t k1, k2;
        tok_long_piece = 128;
        const uint32_t *a = tok_encode(e, buf, n, 0, &k1);
        uint32_t *copy = xmalloc(k1 * sizeof *copy + 1);
        memcpy(copy, a, k1 * sizeof *a);
        tok_long_piece = SIZE_MAX;
        const uint32_t *b = tok_encode(e, buf, n, 0, &k2);
        CHECK(k1 == k2 && memcmp(copy, b, k1 * sizeof *b) == 0);
        CHECK(k1 < n);
        free(copy);
    }
    tok_long_piece = 128;
    tok_encoder_free(e);
    tok_free(t);
}

TEST(encode_special_tokens)
{
    const char *sp[] = { TOK_DEFAULT_EOT, "<|pad|>" };
    struct bpe_train_opts o = { .vocab_size = 300, .min_frequency = 1, .threads = 1, .quiet = 1,
                                .special = sp, .nspecial = 2 };
    struct bpe_trainer *tr = bpe_trainer_new(&o);
    const char *d[] = { "hello hello hello world" };
    size_t l[] = { strlen(d[0]) };
    bpe_trainer_add(tr, d, l, 1);
    struct tokenizer *t = bpe_trainer_finish(tr);
    uint32_t eot = tok_eot(t), pad;
    CHECK(eot == tok_vocab_size(t) - 2);
    CHECK(tok_special(t, 1, NULL, &pad) && pad == eot + 1);
    struct tok_encoder *e = tok_encoder_new(t);
    const char *s = "hi<|endoftext|>x<|pad|>";
    size_t k;
    const uint32_t *ids = tok_encode(e, s, strlen(s), 1, &k);
    CHECK(k == 5 && ids[2] == eot && ids[4] == pad);
    ids = tok_encode(e, s, strlen(s), 0, &k);
    int has = 0;
    for (size_t i = 0; i < k; i++) has |= tok_is_special(t, ids[i]);
    CHECK(!has && k > 10);
    CHECK(roundtrip(t, e, s, strlen(s), 1) && roundtrip(t, e, s, strlen(s), 0));
    /* never a merge product */
    for (uint32_t id = 256; id < eot; id++) { size_t n; const unsigned char *b = tok_token(t, id, &n); CHECK(!memmem(b, n, "<|", 2) || n < 13); }
    tok_encoder_free(e);
    tok_free(t);
}

TEST(truncate_is_a_prefix)
{
    struct tokenizer *t = small_tokenizer();
    uint32_t k = 300;
    struct tokenizer *p = tok_truncate(t, k);
    CHECK(tok_vocab_size(p) == k && tok_eot(p) == k - 1 && tok_num_merges(p) == k - 257);
    for (uint32_t id = 256; id < k - 1; id++) {
        size_t n1, n2;
        const unsigned char *a = tok_token(t, id, &n1), *b = tok_token(p, id, &n2);
        CHECK(n1 == n2 && memcmp(a, b, n1) == 0);
    }
    EXPECT_DIE(tok_truncate(t, 100), "outside");
    tok_free(p);
    tok_free(t);
}

/* ---- files ---- */
static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

TEST(tokbin_roundtrip_and_corruption)
{
    struct tokenizer *t = small_tokenizer();
    const char *path = unit_tmp("tok.bin");
    tok_save(t, path);
    struct tokenizer *u = tok_load(path);
    CHECK(tok_fingerprint(u) == tok_fingerprint(t) && tok_vocab_size(u) == tok_vocab_size(t));
    CHECK(tok_kind(u) == TOK_TFS);
    tok_free(u);
    size_t n;
    char *b = read_file(path, &n);
    char err[512];
    /* every truncation is reported, never crashes */
    int step = asan() ? 37 : 1;
    for (size_t k = 0; k < n; k += (size_t)step) {
        write_bytes(unit_tmp("cut.bin"), b, k);
        struct tokenizer *x = tok_load_err(unit_tmp("cut.bin"), err, sizeof err);
        CHECK(x == NULL);
        if (x) { fprintf(stderr, "  loaded a file cut at %zu of %zu bytes\n", k, n); tok_free(x); break; }
    }
    write_bytes(unit_tmp("cut.bin"), b, 100);
    CHECK(tok_load_err(unit_tmp("cut.bin"), err, sizeof err) == NULL && strstr(err, "truncated tok.bin"));
    /* a changed merge is caught by the fingerprint */
    b[n - 3] ^= 1;
    write_bytes(unit_tmp("bad.bin"), b, n);
    CHECK(tok_load_err(unit_tmp("bad.bin"), err, sizeof err) == NULL && strstr(err, "corrupt tok.bin"));
    b[n - 3] ^= 1;
    /* version, trailing bytes */
    b[8] = 9;
    write_bytes(unit_tmp("bad.bin"), b, n);
    CHECK(tok_load_err(unit_tmp("bad.bin"), err, sizeof err) == NULL && strstr(err, "version 9"));
    b[8] = 1;
    char *c = xmalloc(n + 4);
    memcpy(c, b, n);
    memcpy(c + n, "junk", 4);
    write_bytes(unit_tmp("bad.bin"), c, n + 4);
    CHECK(tok_load_err(unit_tmp("bad.bin"), err, sizeof err) == NULL && strstr(err, "unexpected bytes"));
    free(c);
    free(b);
    /* foreign files */
    write_bytes(unit_tmp("x.png"), "\x89PNG\r\n\x1a\n", 8);
    CHECK(tok_load_err(unit_tmp("x.png"), err, sizeof err) == NULL && strstr(err, "not a tokenizer"));
    write_bytes(unit_tmp("e"), "", 0);
    CHECK(tok_load_err(unit_tmp("e"), err, sizeof err) == NULL && strstr(err, "empty"));
    CHECK(tok_load_err(unit_tmp("missing"), err, sizeof err) == NULL && strstr(err, "cannot open"));
    EXPECT_DIE(tok_load(unit_tmp("x.png")), "x.png: line 1: not a tokenizer");
    tok_free(t);
}

TEST(tiktoken_rank_files)
{
    char err[512];
    /* the 256 bytes plus "ab" (rank 256): a tiny rank file */
    FILE *f = fopen(unit_tmp("r.tiktoken"), "w");
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int b = 0; b < 256; b++) fprintf(f, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    fprintf(f, "YWI= 256\n");
    fclose(f);
    /* not one of OpenAI's: the pattern must be given (issue 16) */
    CHECK(tok_load_err(unit_tmp("r.tiktoken"), err, sizeof err) == NULL && strstr(err, "--pattern"));
    const char *sp[] = { "<|endoftext|>=257" };
    struct tok_load_opts lo = { .pattern = "gpt2", .special = sp, .nspecial = 1 };
    struct tokenizer *t = tok_load_with(unit_tmp("r.tiktoken"), &lo, err, sizeof err);
    CHECK(t && tok_kind(t) == TOK_TIKTOKEN && tok_vocab_size(t) == 258 && tok_eot(t) == 257);
    struct tok_encoder *e = tok_encoder_new(t);
    size_t k;
    const uint32_t *ids = tok_encode(e, "abab", 4, 0, &k);
    CHECK(k == 2 && ids[0] == 256 && ids[1] == 256);
    tok_encoder_free(e);
    tok_free(t);
    write_bytes(unit_tmp("r2"), "YWI= 1\nYWI= x\n", 14);
    CHECK(tok_load_err(unit_tmp("r2"), err, sizeof err) == NULL && strstr(err, "line 2: bad rank"));
    write_bytes(unit_tmp("r3"), "Y!I= 1\n", 7);
    CHECK(tok_load_err(unit_tmp("r3"), err, sizeof err) == NULL && strstr(err, "line 1: bad base64"));
    write_bytes(unit_tmp("r5"), "YWI= 9999999\n", 13);
    CHECK(tok_load_err(unit_tmp("r5"), err, sizeof err) == NULL && strstr(err, "not dense"));
    write_bytes(unit_tmp("r4"), "YWI= 0\n", 7);
    CHECK(tok_load_with(unit_tmp("r4"), &lo, err, sizeof err) == NULL && strstr(err, "not a token"));
}

TEST(hf_json_roundtrip_encodes_identically)
{
    struct tokenizer *t = small_tokenizer();
    tok_save_hf(t, unit_tmp("tokenizer.json"));
    struct tokenizer *h = tok_load(unit_tmp("tokenizer.json"));
    CHECK(tok_kind(h) == TOK_HF && tok_vocab_size(h) == tok_vocab_size(t) && tok_eot(h) == tok_eot(t));
    struct tok_encoder *e1 = tok_encoder_new(t), *e2 = tok_encoder_new(h);
    uint64_t s = 3;
    char buf[2048];
    for (int r = 0; r < 30; r++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = "the cat sat  \n\tmat hat that ate"[(s >> 40) % 31];
        }
        size_t k1, k2;
        const uint32_t *a = tok_encode(e1, buf, sizeof buf, 0, &k1);
        uint32_t *copy = xmalloc(k1 * sizeof *copy + 1);
        memcpy(copy, a, k1 * sizeof *a);
        const uint32_t *b = tok_encode(e2, buf, sizeof buf, 0, &k2);
        CHECK(k1 == k2 && memcmp(copy, b, k1 * sizeof *b) == 0);
        free(copy);
    }
    tok_encoder_free(e1); tok_encoder_free(e2);
    tok_free(h);
    char err[512];
    const char *uni = "{\"model\": {\"type\": \"Unigram\"}}";
    write_bytes(unit_tmp("bad.json"), uni, strlen(uni));
    CHECK(tok_load_err(unit_tmp("bad.json"), err, sizeof err) == NULL && strstr(err, "not a BPE"));
    write_bytes(unit_tmp("bad2.json"), "{\"model\": ", 10);
    CHECK(tok_load_err(unit_tmp("bad2.json"), err, sizeof err) == NULL && strstr(err, "malformed JSON"));
    tok_free(t);
}

int main(void)
{
    tfs_set_prog("test_bpe");
    RUN(pretok_gpt2_pieces);
    RUN(pretok_covers_invalid_utf8);
    RUN(wordtab_counts_match_bytemap);
    RUN(train_matches_naive_trainer);
    RUN(train_tie_break_and_min_frequency);
    RUN(train_threads_identical);
    RUN(encode_roundtrip_random_bytes);
    RUN(long_piece_merge_matches_the_scan);
    RUN(encode_special_tokens);
    RUN(truncate_is_a_prefix);
    RUN(tokbin_roundtrip_and_corruption);
    RUN(tiktoken_rank_files);
    RUN(hf_json_roundtrip_encodes_identically);
    return unit_summary();
}
