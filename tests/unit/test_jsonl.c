/* test_jsonl.c - the JSONL reader and writer, UTF-8 validation, options. */
#include "unit.h"
#include "core/jsonl.h"
#include "core/opts.h"
#include "core/xio.h"

static const char *put(const char *name, const char *data, size_t n)
{
    const char *p = unit_tmp(name);
    FILE *f = fopen(p, "wb"); fwrite(data, 1, n, f); fclose(f);
    return p;
}
#define PUT(name, lit) put(name, lit, sizeof lit - 1)

TEST(reads_fields_crlf_last_line_without_newline)
{
    const char *p = PUT("a.jsonl", "{\"text\": \"one\", \"n\": 1}\r\n\n  \n{\"id\": 2, \"text\": \"two\\nlines\"}\n{\"text\":\"last\"}");
    struct jsonl_reader *r = jsonl_open(p, "text", 0);
    const char *t; size_t n;
    CHECK(jsonl_next(r, &t, &n) && n == 3 && memcmp(t, "one", 3) == 0 && jsonl_line(r) == 1);
    CHECK(jsonl_next(r, &t, &n) && n == 9 && memcmp(t, "two\nlines", 9) == 0 && jsonl_line(r) == 4);
    CHECK(jsonl_next(r, &t, &n) && n == 4 && memcmp(t, "last", 4) == 0 && jsonl_line(r) == 5);
    CHECK(!jsonl_next(r, &t, &n));
    CHECK(jsonl_docs(r) == 3);
    jsonl_close(r);
}

TEST(empty_input)
{
    const char *p = PUT("empty.jsonl", "");
    struct jsonl_reader *r = jsonl_open(p, "text", 0);
    const char *t; size_t n;
    CHECK(!jsonl_next(r, &t, &n));
    jsonl_close(r);
}

TEST(embedded_nul_and_unicode)
{
    const char *p = PUT("nul.jsonl", "{\"text\": \"a\\u0000b\\u00e9\\ud83d\\ude00\"}\n");
    struct jsonl_reader *r = jsonl_open(p, "text", 0);
    const char *t; size_t n;
    CHECK(jsonl_next(r, &t, &n));
    CHECK(n == 1 + 1 + 1 + 2 + 4);
    CHECK(memcmp(t, "a\0b\xC3\xA9\xF0\x9F\x98\x80", n) == 0);
    jsonl_close(r);
}

TEST(malformed_lines_name_file_and_line)
{
    const char *p = PUT("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 while (jsonl_next(r, &t, &n)) {} }, "bad.jsonl:2: malformed JSON");
    p = PUT("nofield.jsonl", "{\"body\": \"x\"}\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 jsonl_next(r, &t, &n); }, "nofield.jsonl:1: no field \"text\" (choose one with --field)");
    p = PUT("notstr.jsonl", "{\"text\": 3}\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 jsonl_next(r, &t, &n); }, "notstr.jsonl:1: field \"text\" is not a string");
    p = PUT("arr.jsonl", "[1, 2]\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 jsonl_next(r, &t, &n); }, "arr.jsonl:1: expected a JSON object");
    p = PUT("trail.jsonl", "{\"text\": \"a\"} x\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 jsonl_next(r, &t, &n); }, "trail.jsonl:1: malformed JSON");
}

TEST(invalid_utf8_and_lone_surrogate_are_malformed)
{
    const char *p = PUT("u8.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"bad \xff byte\"}\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 while (jsonl_next(r, &t, &n)) {} }, "u8.jsonl:2: malformed JSON");
    p = PUT("sur.jsonl", "{\"text\": \"\\ud800x\"}\n");
    EXPECT_DIE({ struct jsonl_reader *r = jsonl_open(p, "text", 0); const char *t; size_t n;
                 jsonl_next(r, &t, &n); }, "sur.jsonl:1: malformed JSON");
}

TEST(skip_bad_counts)
{
    const char *p = PUT("skip.jsonl", "{\"text\": \"a\"}\nnot json\n{\"x\": 1}\n{\"text\": \"b\"}\n");
    struct jsonl_reader *r = jsonl_open(p, "text", 1);
    const char *t; size_t n; int docs = 0;
    while (jsonl_next(r, &t, &n)) docs++;
    CHECK(docs == 2);
    CHECK(jsonl_bad(r) == 2);
    jsonl_close(r);
}

TEST(zstd_input_detected_by_magic)
{
    char plain[600], cmd[1300], out[600];
    snprintf(plain, sizeof plain, "%s", PUT("plain.jsonl", "{\"text\": \"zipped\"}\n{\"text\": \"twice\"}\n"));
    const char *p = plain;
    snprintf(out, sizeof out, "%s", unit_tmp("noext"));
    snprintf(cmd, sizeof cmd, "zstd -q -c '%s' > '%s'", p, out);
    CHECK(system(cmd) == 0);
    struct jsonl_reader *r = jsonl_open(out, "text", 0);
    const char *t; size_t n;
    CHECK(jsonl_next(r, &t, &n) && n == 6 && memcmp(t, "zipped", 6) == 0);
    CHECK(jsonl_next(r, &t, &n) && n == 5);
    CHECK(!jsonl_next(r, &t, &n));
    jsonl_close(r);
}

TEST(utf8_check)
{
    CHECK(utf8_check("abc", 3) == 3);
    CHECK(utf8_check("\xC3\xA9", 2) == 2);
    CHECK(utf8_check("a\xC0\x80", 3) == 1);         /* overlong NUL */
    CHECK(utf8_check("\xED\xA0\x80", 3) == 0);      /* surrogate U+D800 */
    CHECK(utf8_check("\xF4\x90\x80\x80", 4) == 0);  /* above U+10FFFF */
    CHECK(utf8_check("\xE2\x82", 2) == 0);          /* truncated */
    CHECK(utf8_check("\xF0\x9F\x98\x80", 4) == 4);
}

TEST(writer_escapes_and_round_trips)
{
    const char *p = unit_tmp("w.jsonl");
    FILE *f = fopen(p, "wb");
    static const char s[] = "q\" b\\ nl\n tab\t nul\0 ctl\x01 del\x7f \xC3\xA9";
    CHECK(jsonl_put_text(f, "text", s, sizeof s - 1) == 0);
    CHECK(jsonl_put_text(f, "text", "a\xFF" "b", 3) == 1);   /* replaced with U+FFFD */
    fclose(f);
    size_t len; char *d = read_file(p, &len);
    CHECK(strstr(d, "\\u0000") && strstr(d, "\\u0001") && strstr(d, "\\\"") && strstr(d, "\\n"));
    free(d);
    struct jsonl_reader *r = jsonl_open(p, "text", 0);
    const char *t; size_t n;
    CHECK(jsonl_next(r, &t, &n) && n == sizeof s - 1 && memcmp(t, s, n) == 0);
    CHECK(jsonl_next(r, &t, &n) && n == 5 && memcmp(t, "a\xEF\xBF\xBD" "b", 5) == 0);
    jsonl_close(r);
}

TEST(strict_numbers)
{
    CHECK(parse_size("--n", "12", 0, 100) == 12);
    CHECK(parse_size("--n", "4K", 0, 1u << 30) == 4000);
    CHECK(parse_size("--n", "2Mi", 0, 1u << 30) == 2u << 20);
    CHECK(parse_long("--n", "-3", -5, 5) == -3);
    CHECK_NEAR(parse_double("--lr", "3e-4", 0, 1), 3e-4, 1e-12);
    EXPECT_EXIT(parse_size("--vocab-size", "12x", 0, 100), 2, "--vocab-size: '12x' is not a number");
    EXPECT_EXIT(parse_size("--n", "-3", 0, 100), 2, "--n: '-3' is not a non-negative integer");
    EXPECT_EXIT(parse_size("--n", "99999999999999999999999", 0, UINT64_MAX), 2, "too large");
    EXPECT_EXIT(parse_size("--n", "101", 0, 100), 2, "--n: 101 is out of range [0, 100]");
    EXPECT_EXIT(parse_long("--n", "3.5", 0, 10), 2, "--n: '3.5' is not an integer");
    EXPECT_EXIT(parse_double("--lr", "nan", 0, 1), 2, "--lr: 'nan' is not a number");
    EXPECT_EXIT(parse_double("--lr", "", 0, 1), 2, "is not a number");
}

static const struct optdef OPTS[] = {
    { 'n', "count", "N", "3", "how many" },
    { 'q', "quiet", NULL, NULL, "no progress" },
    { 300, "long-only", "X", NULL, "a long option" },
    { 0, NULL, NULL, NULL, NULL },
};
static const struct progspec SPEC = { "demo-prog", "[OPTION]... [FILE]...", "Test program.", NULL, OPTS };

static int parse(int argc, char **argv, int *nq, const char **lo)
{
    struct opts p; const char *a; int c, n = 0;
    opts_init(&p, argc, argv, &SPEC);
    while ((c = opts_next(&p, &a)) != -1) {
        if (c == 'n') n = (int)parse_long("--count", a, 0, 100);
        if (c == 'q') (*nq)++;
        if (c == 300) *lo = a;
    }
    int first = p.optind;
    opts_free(&p);
    return n * 1000 + first;
}

TEST(option_table)
{
    int q = 0; const char *lo = NULL;
    char *v1[] = { "demo-prog", "-qn", "7", "file", "--long-only=x", NULL };
    int r = parse(5, v1, &q, &lo);
    CHECK(r / 1000 == 7 && q == 1 && lo && strcmp(lo, "x") == 0);
    char *v2[] = { "demo-prog", "--frobnicate", NULL };
    EXPECT_EXIT(parse(2, v2, &q, &lo), 2, "demo-prog: unrecognized option '--frobnicate'\nTry 'demo-prog --help'.");
    char *v3[] = { "demo-prog", "--count", NULL };
    EXPECT_EXIT(parse(2, v3, &q, &lo), 2, "option '--count' requires an argument");
    char *v4[] = { "demo-prog", "-x", NULL };
    EXPECT_EXIT(parse(2, v4, &q, &lo), 2, "invalid option -- 'x'");
    char *v5[] = { "demo-prog", "--quiet=1", NULL };
    EXPECT_EXIT(parse(2, v5, &q, &lo), 2, "option '--quiet' takes no argument");
}

/* jsonl_fast_field against jansson: on lines that are plain, mutated (a
 * byte changed, dropped or repeated) and random, the fast path may decline
 * any line, but a line it accepts jansson must accept with the same text. */
static int check_fast(const char *src, size_t n)
{
    char line[512], copy[512];
    if (n >= sizeof line) return 1;
    memcpy(line, src, n);
    memcpy(copy, src, n);
    const char *text;
    size_t len;
    if (!jsonl_fast_field(line, n, "text", &text, &len)) return 0;
    json_t *v = json_loadb(copy, n, JSON_ALLOW_NUL, NULL);
    json_t *f = v && json_is_object(v) ? json_object_get(v, "text") : NULL;
    int same = f && json_is_string(f) && json_string_length(f) == len && memcmp(json_string_value(f), text, len) == 0 &&
               text[len] == 0;
    if (!same) {
        fprintf(stderr, "  fast path accepts what jansson does not (or reads another text): ");
        fwrite(src, 1, n, stderr);
        fputc('\n', stderr);
    }
    json_decref(v);
    return same ? 1 : -1;
}

TEST(fast_path_agrees_with_jansson)
{
    static const char *L[] = {
        "{\"text\": \"Hello, world\"}", "{\"id\": 12, \"text\": \"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\\u0000x\"}",
        " {\"meta\": {\"a\": [1, -2.5e+3, true, false, null, \"x\"]}, \"text\" : \"caf\xc3\xa9\", \"n\": 0} \r",
        "{\"text\": \"\"}", "{\"text\": \"x\", \"y\": [[], {}, [{}]]}", "{\"a\":1,\"text\":\"\xe4\xb8\xad\"}",
        "{\"text\": \"\\u20AC\\uD834\\uDD1E\"}", "{\"text\": \"a\", \"big\": 123456789012345}", "{\"text\":\"t\",\"z\":-0.0}",
    };
    uint64_t seed = 3;
    int accepted = 0, bad = 0;
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
        int r = check_fast(L[i], strlen(L[i]));
        accepted += r == 1;
        bad += r < 0;
    }
    CHECK(accepted == (int)(sizeof L / sizeof L[0]));
    static const char alphabet[] = "{}[]\":,\\u0aA9.-+eE tnfrl\x80\xc3\xa9\xff\x01\nD8d";
    int rounds = getenv("TFS_VALGRIND") || getenv("TFS_ASAN") ? 20000 : 200000;
    for (int round = 0; round < rounds; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        const char *src = L[(seed >> 40) % (sizeof L / sizeof L[0])];
        char m[512];
        size_t n = strlen(src);
        memcpy(m, src, n);
        for (int k = 0; k < 1 + (int)(seed >> 61); k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (seed >> 20) % n;
            int what = (int)(seed >> 62);
            char c = alphabet[(seed >> 30) % (sizeof alphabet - 1)];
            if (what == 0) m[at] = c;
            else if (what == 1 && n > 1) { memmove(m + at, m + at + 1, n - at - 1); n--; }
            else if (n < 500) { memmove(m + at + 1, m + at, n - at); m[at] = c; n++; }
        }
        int r = check_fast(m, n);
        accepted += r == 1;
        bad += r < 0;
    }
    CHECK(bad == 0);
    CHECK(accepted > rounds / 100);     /* the mutations leave many lines valid */
    /* what it must decline: jansson then reports or accepts */
    const char *no[] = { "{\"text\": 1}", "{\"other\": \"x\"}", "[\"text\"]", "{\"text\": \"a\", \"text\": \"b\"}",
                         "{\"te\\u0078t\": \"a\"}", "{\"text\": \"\\ud800\"}", "{\"text\": \"a\"} x",
                         "{\"text\": \"a\", \"n\": 1234567890123456789012}", "{\"text\": \"\xff\"}" };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        char line[128];
        const char *text;
        size_t len;
        strcpy(line, no[i]);
        CHECK(!jsonl_fast_field(line, strlen(line), "text", &text, &len));
    }
}

int main(void)
{
    tfs_set_prog("test_jsonl");
    RUN(reads_fields_crlf_last_line_without_newline); RUN(empty_input);
    RUN(embedded_nul_and_unicode); RUN(malformed_lines_name_file_and_line);
    RUN(invalid_utf8_and_lone_surrogate_are_malformed); RUN(skip_bad_counts);
    RUN(zstd_input_detected_by_magic); RUN(utf8_check); RUN(writer_escapes_and_round_trips);
    RUN(strict_numbers); RUN(option_table);
    RUN(fast_path_agrees_with_jansson);
    return unit_summary();
}
