/* test_parquet.c - the Parquet reader against the apache/parquet-testing
 * files vendored in tests/fixtures/parquet-testing (or $TFS_PARQUET_TESTING): known
 * values, the suite's *_expect.csv files, and every bad_data file failing
 * with a message (run under ASan by `make check`). */
#include "parquet/parquet.h"
#include "parquet/thrift.h"
#include "core/xio.h"
#include "unit.h"

#include <jansson.h>

static const char *pqt(const char *rel)
{
    static char path[1024];
    const char *base = getenv("TFS_PARQUET_TESTING");
    snprintf(path, sizeof path, "%s/%s", base ? base : "tests/fixtures/parquet-testing", rel);
    return path;
}

/* Convert a whole file (or `limit` rows of it) to JSON Lines in memory. */
static char *to_jsonl(const char *path, int64_t limit, int64_t *rows)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct pq_file *pq = pq_open(path);
    struct jbuf o;
    jb_init(&o, f);
    struct pq_select sel = { 0 };
    int64_t n = pq_write_jsonl(pq, &o, &sel, limit);
    jb_free(&o);
    pq_close(pq);
    fclose(f);
    if (rows) *rows = n;
    return buf;
}

static const char *line_n(const char *s, int n, size_t *len)
{
    for (int i = 0; i < n && s; i++) { s = strchr(s, '\n'); if (s) s++; }
    if (!s || !*s) return NULL;
    const char *e = strchr(s, '\n');
    *len = e ? (size_t)(e - s) : strlen(s);
    return s;
}

static int line_is(const char *s, int n, const char *want)
{
    size_t len;
    const char *l = line_n(s, n, &len);
    if (l && len == strlen(want) && !memcmp(l, want, len)) return 1;
    fprintf(stderr, "  line %d: got   %.*s\n  expected %s\n", n, l ? (int)len : 6, l ? l : "(none)", want);
    return 0;
}

TEST(alltypes_plain_values)
{
    int64_t n;
    char *s = to_jsonl(pqt("data/alltypes_plain.parquet"), -1, &n);
    CHECK(n == 8);
    CHECK(line_is(s, 0, "{\"id\": 4, \"bool_col\": true, \"tinyint_col\": 0, \"smallint_col\": 0, \"int_col\": 0, "
                        "\"bigint_col\": 0, \"float_col\": 0.0, \"double_col\": 0.0, \"date_string_col\": \"03/01/09\", "
                        "\"string_col\": \"0\", \"timestamp_col\": \"2009-03-01T00:00:00\"}"));
    CHECK(line_is(s, 7, "{\"id\": 1, \"bool_col\": false, \"tinyint_col\": 1, \"smallint_col\": 1, \"int_col\": 1, "
                        "\"bigint_col\": 10, \"float_col\": 1.1, \"double_col\": 10.1, \"date_string_col\": \"01/01/09\", "
                        "\"string_col\": \"1\", \"timestamp_col\": \"2009-01-01T00:01:00\"}"));
    free(s);
    /* the same table, SNAPPY and dictionary-encoded */
    char *a = to_jsonl(pqt("data/alltypes_dictionary.parquet"), -1, &n);
    CHECK(n == 2);
    CHECK(line_is(a, 1, "{\"id\": 1, \"bool_col\": false, \"tinyint_col\": 1, \"smallint_col\": 1, \"int_col\": 1, "
                        "\"bigint_col\": 10, \"float_col\": 1.1, \"double_col\": 10.1, \"date_string_col\": \"01/01/09\", "
                        "\"string_col\": \"1\", \"timestamp_col\": \"2009-01-01T00:01:00\"}"));
    free(a);
    a = to_jsonl(pqt("data/alltypes_plain.snappy.parquet"), -1, &n);
    CHECK(n == 2);
    CHECK(line_is(a, 0, "{\"id\": 6, \"bool_col\": true, \"tinyint_col\": 0, \"smallint_col\": 0, \"int_col\": 0, "
                        "\"bigint_col\": 0, \"float_col\": 0.0, \"double_col\": 0.0, \"date_string_col\": \"04/01/09\", "
                        "\"string_col\": \"0\", \"timestamp_col\": \"2009-04-01T00:00:00\"}"));
    free(a);
}

TEST(codecs_and_pages)
{
    int64_t n;
    char *s = to_jsonl(pqt("data/concatenated_gzip_members.parquet"), -1, &n);  /* 2 gzip members in a page */
    CHECK(n == 513);
    CHECK(line_is(s, 512, "{\"long_col\": 513}"));
    free(s);
    s = to_jsonl(pqt("data/lz4_raw_compressed.parquet"), -1, &n);
    CHECK(n == 4);
    CHECK(line_is(s, 0, "{\"c0\": 1593604800, \"c1\": \"abc\", \"v11\": 42.0}"));
    CHECK(line_is(s, 3, "{\"c0\": 1593604801, \"c1\": \"def\", \"v11\": 7.7}"));
    free(s);
    s = to_jsonl(pqt("data/lz4_raw_compressed_larger.parquet"), -1, &n);
    CHECK(n == 10000);
    CHECK(line_is(s, 0, "{\"a\": \"c7ce6bef-d5b0-4863-b199-8ea8c7fb117b\"}"));
    free(s);
    s = to_jsonl(pqt("data/datapage_v2_empty_datapage.snappy.parquet"), -1, &n);  /* v2, nothing to decompress */
    CHECK(n == 1);
    CHECK(line_is(s, 0, "{\"value\": null}"));
    free(s);
    s = to_jsonl(pqt("data/page_v2_empty_compressed.parquet"), -1, &n);  /* ZSTD frame of 0 bytes */
    CHECK(n == 10);
    CHECK(line_is(s, 9, "{\"integer_column\": null}"));
    free(s);
    s = to_jsonl(pqt("data/rle_boolean_encoding.parquet"), -1, &n);   /* RLE booleans, v2 */
    CHECK(n == 68);
    CHECK(line_is(s, 0, "{\"datatype_boolean\": true}"));
    CHECK(line_is(s, 2, "{\"datatype_boolean\": null}"));
    free(s);
    s = to_jsonl(pqt("data/byte_stream_split.zstd.parquet"), -1, &n);
    CHECK(n == 300);
    CHECK(line_is(s, 0, "{\"f32\": 1.7640524, \"f64\": -1.3065268517353166}"));
    free(s);
    s = to_jsonl(pqt("data/single_nan.parquet"), -1, &n);
    CHECK(line_is(s, 0, "{\"mycol\": null}"));     /* NaN has no JSON form */
    free(s);
    s = to_jsonl(pqt("data/datapage_v1-snappy-compressed-checksum.parquet"), -1, &n);
    char *u = to_jsonl(pqt("data/datapage_v1-uncompressed-checksum.parquet"), -1, NULL);
    CHECK(n == 5120);
    CHECK(!strcmp(s, u));
    free(s); free(u);
    s = to_jsonl(pqt("data/int32_with_null_pages.parquet"), -1, &n);
    CHECK(n == 1000);
    free(s);
    s = to_jsonl(pqt("data/alltypes_tiny_pages_plain.parquet"), 3, &n);  /* --limit */
    CHECK(n == 3);
    free(s);
}

/* ---- the suite's expected values: CSV with "quoted" fields, empty = null ---- */
static int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') {
            char *o = ++p;
            f[n++] = o;
            while (*p && !(*p == '"' && p[1] != '"')) { if (*p == '"') p++; *o++ = *p++; }
            if (*p == '"') p++;
            char *end = p;
            *o = 0;
            if (*end != ',') break;
            p = end + 1;
        } else {
            f[n++] = p;
            while (*p && *p != ',' && *p != '\n' && *p != '\r') p++;
            int more = *p == ',';
            *p = 0;
            if (!more) break;
            p++;
        }
    }
    return n;
}

static void check_expect(const char *name)
{
    char pq[256], csv[256];
    snprintf(pq, sizeof pq, "data/%s.parquet", name);
    snprintf(csv, sizeof csv, "data/%s_expect.csv", name);
    int64_t n;
    char *got = to_jsonl(pqt(pq), -1, &n);
    FILE *f = fopen(pqt(csv), "r");
    CHECK(f != NULL);
    if (!f) { free(got); return; }
    char line[1 << 16], *fld[128];
    int row = -1, bad = 0;
    const char *g = got;
    while (fgets(line, sizeof line, f)) {
        if (row++ < 0) continue;        /* header */
        int k = csv_fields(line, fld, 128);
        const char *nl = strchr(g, '\n');
        json_t *o = json_loadb(g, nl ? (size_t)(nl - g) : strlen(g), 0, NULL);
        g = nl ? nl + 1 : g + strlen(g);
        if (!o || (int)json_object_size(o) != k) { bad++; json_decref(o); continue; }
        const char *key;
        json_t *v;
        int i = 0;
        json_object_foreach(o, key, v) {
            char num[64];
            const char *s = num;
            if (json_is_null(v)) s = "";
            else if (json_is_string(v)) s = json_string_value(v);
            else if (json_is_integer(v)) snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            else s = "?";
            if (strcmp(s, fld[i])) { if (bad++ < 3) fprintf(stderr, "  %s row %d %s: %s != %s\n", name, row, key, s, fld[i]); }
            i++;
        }
        json_decref(o);
    }
    fclose(f);
    CHECK(row == n);
    CHECK(bad == 0);
    free(got);
}

TEST(delta_encodings_match_expected_csv)
{
    check_expect("delta_binary_packed");        /* bit widths 0..64 */
    check_expect("delta_byte_array");
    check_expect("delta_encoding_optional_column");
    check_expect("delta_encoding_required_column");
    int64_t n;
    char *s = to_jsonl(pqt("data/delta_length_byte_array.parquet"), -1, &n);
    CHECK(n == 1000);
    CHECK(line_is(s, 0, "{\"FRUIT\": \"apple_banana_mango0\"}"));
    CHECK(line_is(s, 999, "{\"FRUIT\": \"apple_banana_mango998001\"}"));   /* i*i */
    free(s);
}

/* ---- failures ---- */
static void read_all_columns(const char *path)
{
    struct pq_file *pq = pq_open(path);
    FILE *null = fopen("/dev/null", "w");
    for (int i = 0; i < pq_nfields(pq); i++) {
        if (pq_field(pq, i)->unsupported) continue;
        struct jbuf o;
        jb_init(&o, null);
        const char *k = pq_field(pq, i)->name;
        struct pq_select sel = { 1, &i, &k, 0 };
        pq_write_jsonl(pq, &o, &sel, -1);
        jb_free(&o);
    }
    /* and the whole rows: nested columns are refused by name */
    struct jbuf o;
    jb_init(&o, null);
    struct pq_select all = { 0 };
    pq_write_jsonl(pq, &o, &all, -1);
    jb_free(&o);
    fclose(null);
    pq_close(pq);
}

TEST(bad_data_fails_with_a_message)
{
    static const char *bad[] = {
        "bad_data/ARROW-GH-41317.parquet", "bad_data/ARROW-GH-41321.parquet", "bad_data/ARROW-GH-45185.parquet",
        "bad_data/ARROW-RS-GH-6229-DICTHEADER.parquet", "bad_data/ARROW-RS-GH-6229-LEVELS.parquet",
        "bad_data/PARQUET-1481.parquet", "data/nation.dict-malformed.parquet",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[1100];
        snprintf(want, sizeof want, "test_parquet: %s: ", pqt(bad[i]));
        EXPECT_DIE(read_all_columns(pqt(bad[i])), want);
    }
}

TEST(unsupported_features_are_named)
{
    EXPECT_DIE(read_all_columns(pqt("data/nulls.snappy.parquet")), "column 'b_struct' is a nested group");
    EXPECT_DIE(read_all_columns(pqt("data/byte_array_decimal.parquet")), "column 'value' is a DECIMAL");
    EXPECT_DIE(read_all_columns(pqt("README.md")), "not a Parquet file");
}

/* Truncated and bit-flipped copies of a good file: every one either reads
 * or fails with a message; none crashes (ASan watches) or hangs. */
TEST(mutilated_files_fail_cleanly)
{
    size_t len;
    char *good = read_file(pqt("data/alltypes_dictionary.parquet"), &len);
    const char *tmp = unit_tmp("mut.parquet");
    unsigned seed = 12345;
    int step = getenv("TFS_ASAN") ? 16 : 4;
    for (size_t pos = 0; pos < len; pos += (size_t)step) {
        char *m = xmalloc(len);
        memcpy(m, good, len);
        seed = seed * 1103515245u + 12345u;
        m[pos] ^= (char)(1u << (seed >> 16) % 8);
        FILE *f = fopen(tmp, "wb");
        fwrite(m, 1, len, f);
        fclose(f);
        free(m);
        fflush(stdout); fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            freopen("/dev/null", "w", stderr);
            read_all_columns(tmp);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 1)) {
            fprintf(stderr, "  flipping a bit at byte %zu: status %d\n", pos, st);
            CHECK(0);
            break;
        }
    }
    free(good);
}

/* ---- Thrift compact protocol ---- */
TEST(thrift_fields_lists_and_skips)
{
    /* struct { 1: i32 = -3 (zigzag 5), 2: binary "hi", 4: list<i64> [1, 300],
     *          20 (long form): struct { 1: true }, stop } */
    static const uint8_t buf[] = {
        0x15, 0x05,                    /* delta 1, i32, zigzag(-3) = 5 */
        0x18, 0x02, 'h', 'i',          /* delta 1, binary */
        0x29, 0x26, 0x02, 0xd8, 0x04,  /* delta 2, list: 2 x i64 (type 6); zigzag 1 = 2, 300 = 600 */
        0x0c, 0x28,                    /* delta 0, struct, zigzag(20) = 40 */
        0x11, 0x00,                    /* { 1: true } */
        0x00,
    };
    struct thrift t;
    thrift_init(&t, buf, sizeof buf, "mem");
    int last = 0, id, type;
    CHECK(thrift_field(&t, &last, &id, &type) && id == 1 && type == TT_I32);
    CHECK(thrift_i32(&t) == -3);
    CHECK(thrift_field(&t, &last, &id, &type) && id == 2 && type == TT_BINARY);
    size_t n;
    const uint8_t *s = thrift_binary(&t, &n);
    CHECK(n == 2 && !memcmp(s, "hi", 2));
    CHECK(thrift_field(&t, &last, &id, &type) && id == 4 && type == TT_LIST);
    int elem;
    CHECK(thrift_list(&t, &elem) == 2 && elem == TT_I64);
    CHECK(thrift_i64(&t) == 1);
    CHECK(thrift_i64(&t) == 300);
    CHECK(thrift_field(&t, &last, &id, &type) && id == 20 && type == TT_STRUCT);
    thrift_skip(&t, TT_STRUCT);
    CHECK(!thrift_field(&t, &last, &id, &type));
    CHECK(t.p == t.end);
    /* lies are refused before anything is allocated */
    static const uint8_t longlist[] = { 0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f };   /* 2^32-1 i32s */
    thrift_init(&t, longlist, sizeof longlist, "mem");
    EXPECT_DIE(thrift_list(&t, &elem), "mem: corrupt metadata (list longer than the metadata)");
    static const uint8_t deep[200] = { [0 ... 199] = 0x1c };   /* struct in struct in ... */
    thrift_init(&t, deep, sizeof deep, "mem");
    EXPECT_DIE(thrift_skip(&t, TT_STRUCT), "nested too deeply");
}

int main(void)
{
    tfs_set_prog("test_parquet");
    RUN(alltypes_plain_values);
    RUN(codecs_and_pages);
    RUN(delta_encodings_match_expected_csv);
    RUN(bad_data_fails_with_a_message);
    RUN(unsupported_features_are_named);
    RUN(mutilated_files_fail_cleanly);
    RUN(thrift_fields_lists_and_skips);
    return unit_summary();
}
