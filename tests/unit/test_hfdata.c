/* test_hfdata.c - pieces of hf-fetch that need no network: glob patterns,
 * formats, split inference and configs, SHA-256, the JSON row writer. */
#include "hub/cardyaml.h"
#include "hub/hfdata.h"
#include "hub/hub.h"
#include "core/jbuf.h"
#include "core/sha256.h"
#include "core/xio.h"
#include "unit.h"

TEST(glob_patterns)
{
    CHECK(hf_glob("data/train-*", "data/train-00000-of-00001.parquet"));
    CHECK(!hf_glob("data/*", "data/sub/x.parquet"));            /* * stays in its folder */
    CHECK(hf_glob("data/**", "data/sub/x.parquet"));            /* ** crosses folders */
    CHECK(hf_glob("**/*.jsonl", "a.jsonl"));                    /* **\/ may match no folder */
    CHECK(hf_glob("**/*.jsonl", "a/b/c.jsonl"));
    CHECK(!hf_glob("*.jsonl", "a/c.jsonl"));
    CHECK(hf_glob("en/test-?.jsonl", "en/test-0.jsonl"));
    CHECK(hf_glob("x[0-9].txt", "x7.txt") && !hf_glob("x[0-9].txt", "xa.txt"));
    CHECK(!hf_glob("data/train-*", "data/validation-0.parquet"));
}

TEST(formats_by_name)
{
    CHECK(hf_format_of("data/x.parquet") == HF_PARQUET);
    CHECK(hf_format_of("a.jsonl.gz") == HF_JSONL);
    CHECK(hf_format_of("a.JSONL.zst") == HF_JSONL);
    CHECK(hf_format_of("a.json") == HF_JSON);
    CHECK(hf_format_of("TinyStories-train.txt") == HF_TEXT);
    CHECK(hf_format_of("x.csv") == HF_CSV);
    CHECK(hf_format_of("README.md") == HF_NONE);
    CHECK(hf_format_of(".gitattributes") == HF_NONE);
}

static json_t *tree(const char *const *paths)
{
    json_t *t = json_array();
    for (; *paths; paths++)
        json_array_append_new(t, json_pack("{s:s, s:s, s:i, s:s}", "type", "file", "path", *paths, "size", 1, "oid", "0"));
    return t;
}

TEST(split_inference)
{
    /* the TinyStories repository: shards win over the .txt files */
    static const char *ts[] = { "data/train-00000-of-00002-a.parquet", "data/train-00001-of-00002-b.parquet",
                                "data/validation-00000-of-00001-c.parquet", "TinyStories-train.txt",
                                "TinyStories-valid.txt", "README.md", NULL };
    json_t *t = tree(ts);
    struct hf_choice c;
    CHECK(hf_choose("r", NULL, t, NULL, "train", &c));
    CHECK(c.format == HF_PARQUET && c.nfiles == 2 && !strcmp(c.files[1].path, "data/train-00001-of-00002-b.parquet"));
    hf_choice_free(&c);
    CHECK(hf_choose("r", NULL, t, NULL, "validation", &c) && c.nfiles == 1);
    hf_choice_free(&c);
    EXPECT_DIE(hf_choose("r", NULL, t, NULL, "test", &c), "r: config 'default' has no split 'test'; splits: train, validation");
    json_decref(t);
    /* words of file names; most common format wins */
    static const char *names[] = { "my_train_1.jsonl", "my_train_2.jsonl", "eval-set.jsonl", "notes.txt", NULL };
    t = tree(names);
    CHECK(hf_choose("r", NULL, t, NULL, "test", &c) && c.format == HF_JSONL && c.nfiles == 1);
    hf_choice_free(&c);
    json_decref(t);
    /* no keyword anywhere: all train; only CSV: not readable */
    static const char *csv[] = { "a.csv", "b.csv", NULL };
    t = tree(csv);
    CHECK(!hf_choose("r", NULL, t, NULL, "train", &c));
    hf_choice_free(&c);
    json_decref(t);
}

TEST(card_configs)
{
    static const char *p[] = { "en/a.parquet", "fr/b.parquet", "fr/c/d.parquet", NULL };
    json_t *t = tree(p);
    json_t *card = json_loads("{\"configs\": [{\"config_name\": \"en\", \"data_files\": [{\"split\": \"train\", \"path\": \"en/*\"}]},"
                              " {\"config_name\": \"fr\", \"data_dir\": \"fr\", \"data_files\": \"**\"}]}", 0, NULL);
    struct hf_choice c;
    EXPECT_DIE(hf_choose("r", card, t, NULL, "train", &c), "several configs and no default; choose one with --config: en, fr");
    CHECK(hf_choose("r", card, t, "fr", "train", &c) && c.nfiles == 2);
    hf_choice_free(&c);
    json_object_set_new(json_array_get(json_object_get(card, "configs"), 0), "default", json_true());
    CHECK(hf_choose("r", card, t, NULL, "train", &c) && c.nfiles == 1 && !strcmp(c.config, "en"));
    hf_choice_free(&c);
    json_decref(card);
    /* data_files as {split: patterns} */
    card = json_loads("{\"configs\": [{\"config_name\": \"x\", \"data_files\": {\"test\": [\"fr/*\"]}}]}", 0, NULL);
    CHECK(hf_choose("r", card, t, NULL, "test", &c) && c.nfiles == 1 && !strcmp(c.files[0].path, "fr/b.parquet"));
    hf_choice_free(&c);
    json_decref(card);
    json_decref(t);
}

TEST(sha256_vectors)
{
    /* FIPS 180-2 appendix B examples */
    struct sha256 s;
    uint8_t d[32];
    char hex[65];
    sha256_init(&s); sha256_update(&s, "abc", 3); sha256_final(&s, d); sha256_hex(d, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    sha256_init(&s); sha256_final(&s, d); sha256_hex(d, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&s); sha256_update(&s, two, strlen(two)); sha256_final(&s, d); sha256_hex(d, hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    /* a million 'a', fed in uneven pieces */
    char buf[997];
    memset(buf, 'a', sizeof buf);
    sha256_init(&s);
    for (size_t left = 1000000; left;) { size_t k = left < sizeof buf ? left : sizeof buf; sha256_update(&s, buf, k); left -= k; }
    sha256_final(&s, d); sha256_hex(d, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(sha1_vectors)
{
    /* FIPS 180-2 appendix A examples; git's id of the blob "hello\n" */
    struct sha256 s;
    uint8_t d[32];
    char hex[65];
    sha1_init(&s); sha256_update(&s, "abc", 3); sha256_final(&s, d); sha256_hex_n(d, 20, hex);
    CHECK(!strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_init(&s); sha256_update(&s, two, strlen(two)); sha256_final(&s, d); sha256_hex_n(d, 20, hex);
    CHECK(!strcmp(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
    char path[] = "/tmp/test_hfdata_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "hello\n", 6) == 6);
    close(fd);
    CHECK(git_blob_sha1_file(path, hex) && !strcmp(hex, "ce013625030ba8dba906f756967f9e9ca394464a"));
    unlink(path);
}

TEST(redirect_rules)
{
    char why[512];
    CHECK(hub_redirect_ok("https://huggingface.co/x", "https://cdn-lfs.hf.co/y", why, sizeof why));
    CHECK(hub_redirect_ok("http://127.0.0.1:1/x", "http://127.0.0.1:2/y", why, sizeof why));
    CHECK(hub_redirect_ok("http://a/x", "HTTPS://b/y", why, sizeof why));      /* schemes are caseless */
    CHECK(!hub_redirect_ok("https://huggingface.co/x", "http://cdn/y", why, sizeof why));
    CHECK(strstr(why, "from https to http") != NULL);
    CHECK(!hub_redirect_ok("HTTPS://a/x", "Http://b/y", why, sizeof why));
    for (int i = 0; i < 4; i++) {
        static const char *bad[] = { "file:///etc/passwd", "gopher://h/1", "dict://h/d:x", "ftp://h/f" };
        CHECK(!hub_redirect_ok("http://a/x", bad[i], why, sizeof why) && strstr(why, "only http and https"));
    }
}

TEST(shard_names_at_the_end_of_a_path)
{
    /* names cut short inside "-NNNNN-of-NNNNN", each in a heap block of
     * exactly its size: no shard, and (under ASan) no read past the end */
    static const char *cut[] = { "data/train-", "data/train-0000", "data/train-00000-o",
                                 "data/train-00000-of-", "data/train-00000-of-0001" };
    char split[64];
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(cut[i]) + 1;
        char *p = malloc(n);
        memcpy(p, cut[i], n);
        CHECK(!hf_is_shard(p, split, sizeof split));
        free(p);
    }
    CHECK(hf_is_shard("data/train-00000-of-00001", split, sizeof split) && !strcmp(split, "train"));
    CHECK(hf_is_shard("data/my-val-00003-of-00010-abc.parquet", split, sizeof split) && !strcmp(split, "my-val"));
    CHECK(!hf_is_shard("data/sub/train-00000-of-00001.parquet", split, sizeof split));
}

TEST(card_yaml_as_json)
{
    /* the YAML of a dataset card and the JSON the Hub makes of it */
    static const char yaml[] =
        "---\nlicense: odc-by\ntask_categories:\n- text-generation\nconfigs:\n"
        "- config_name: default\n  data_files:\n  - split: train\n    path: data/*/*\n"
        "- config_name: sample-10BT   # a comment\n  default: true\n  data_files:\n"
        "    - split: train\n      path:\n        - \"sample/10BT/*\"\n        - 'x/*'\n"
        "- config_name: flow\n  data_files: [a.jsonl, b.jsonl]\n"
        "dataset_info:\n  splits:\n  - name: train\n    num_examples: 16\n---\n# Title\nconfigs: not this\n";
    static const char want[] =
        "{\"license\": \"odc-by\", \"task_categories\": [\"text-generation\"], \"configs\": ["
        "{\"config_name\": \"default\", \"data_files\": [{\"split\": \"train\", \"path\": \"data/*/*\"}]},"
        "{\"config_name\": \"sample-10BT\", \"default\": true, \"data_files\": [{\"split\": \"train\", "
        "\"path\": [\"sample/10BT/*\", \"x/*\"]}]},"
        "{\"config_name\": \"flow\", \"data_files\": [\"a.jsonl\", \"b.jsonl\"]}],"
        "\"dataset_info\": {\"splits\": [{\"name\": \"train\", \"num_examples\": 16}]}}";
    char path[] = "/tmp/test_cardyaml_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, yaml, sizeof yaml - 1) == (ssize_t)(sizeof yaml - 1));
    close(fd);
    json_t *got = hf_card_from_readme(path), *exp = json_loads(want, 0, NULL);
    CHECK(got && exp && json_equal(got, exp));
    if (got && !json_equal(got, exp)) { char *d = json_dumps(got, 0); fprintf(stderr, "  got %s\n", d); free(d); }
    json_decref(got); json_decref(exp);
    unlink(path);
    CHECK(hf_card_from_readme("/nonexistent/README.md") == NULL);
}

static char *render(void (*fn)(struct jbuf *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct jbuf b;
    jb_init(&b, f);
    fn(&b);
    jb_free(&b);
    fclose(f);
    return buf;
}

static void numbers(struct jbuf *b)
{
    jb_double(b, 0.1); jb_raw(b, " ", 1);
    jb_double(b, 1.0); jb_raw(b, " ", 1);
    jb_double(b, 1e300); jb_raw(b, " ", 1);
    jb_double(b, 0.30000000000000004); jb_raw(b, " ", 1);
    jb_double(b, NAN); jb_raw(b, " ", 1);
    jb_float(b, 1.1f); jb_raw(b, " ", 1);
    jb_i64(b, INT64_MIN); jb_raw(b, " ", 1);
    jb_u64(b, UINT64_MAX);
}

static void strings(struct jbuf *b)
{
    static const char s[] = "a\"b\\c\n\t\x01 \xc3\xa9 \xff \xf0\x9f\x98\x80";
    jb_str(b, s, sizeof s - 1);
}

TEST(json_writer)
{
    char *s = render(numbers);
    CHECK(!strcmp(s, "0.1 1.0 1e+300 0.30000000000000004 null 1.1 -9223372036854775808 18446744073709551615"));
    free(s);
    s = render(strings);
    /* escapes, é kept, the lone 0xff becomes U+FFFD, the emoji kept */
    CHECK(!strcmp(s, "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9 \xef\xbf\xbd \xf0\x9f\x98\x80\""));
    free(s);
}

/* The digit-rounding shortcut of jb_double/jb_float against the plain
 * search it replaces: %.Ng for N = 15, 16, 17 (6..9 for floats), the first
 * that strtod reads back. */
static void reference(char *tmp, double v, int min_digits, int is_float)
{
    if (!isfinite(v)) { strcpy(tmp, "null"); return; }
    int len = 0;
    for (int d = min_digits; d <= 17; d++) {
        len = snprintf(tmp, 40, "%.*g", d, v);
        if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
    }
    if (!strpbrk(tmp, ".en")) { tmp[len++] = '.'; tmp[len++] = '0'; tmp[len] = 0; }
}

TEST(shortest_reals_match_a_printf_search)
{
    uint64_t x = 88172645463325252ull;
    int n = getenv("TFS_ASAN") ? 5000 : 50000, bad = 0;
    for (int i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;    /* xorshift64 */
        double v;
        switch (i % 4) {
        case 0: memcpy(&v, &x, 8); break;                        /* any bit pattern */
        case 1: v = (double)(x >> 11) / 9007199254740992.0; break;  /* [0, 1) */
        case 2: v = (double)(x % 100000) / 100.0; break;            /* few digits */
        default: v = ldexp((double)(x >> 40), (int)(x % 120) - 60); break;
        }
        int isf = i % 3 == 0;
        if (isf) v = (float)v;
        char want[64], *got = NULL;
        size_t len = 0;
        reference(want, v, isf ? 6 : 15, isf);
        FILE *f = open_memstream(&got, &len);
        struct jbuf b;
        jb_init(&b, f);
        if (isf) jb_float(&b, (float)v); else jb_double(&b, v);
        jb_free(&b);
        fclose(f);
        if (strcmp(want, got) && bad++ < 5) fprintf(stderr, "  %.17g: %s, expected %s\n", v, got, want);
        free(got);
    }
    CHECK(bad == 0);
}

int main(void)
{
    tfs_set_prog("test_hfdata");
    RUN(glob_patterns);
    RUN(formats_by_name);
    RUN(split_inference);
    RUN(card_configs);
    RUN(sha256_vectors);
    RUN(sha1_vectors);
    RUN(redirect_rules);
    RUN(shard_names_at_the_end_of_a_path);
    RUN(card_yaml_as_json);
    RUN(json_writer);
    RUN(shortest_reals_match_a_printf_search);
    return unit_summary();
}
