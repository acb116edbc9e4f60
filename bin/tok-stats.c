/* tok-stats - what a dataset looks like: statistics of JSONL text or of a
 * token stream, and a measured vocabulary-size recommendation.
 * JSONL | token stream -> [count, classify, (train + encode)] -> report
 * The work is in lib/stats*.c; see tok-stats(1). */
#include "core/tokset.h"
#include "core/opts.h"
#include "stats/stats_report.h"
#include "tok/tokenizer.h"
#include "core/xio.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { O_FIELD = 256, O_PATTERN, O_EOT, O_TOKENS, O_RARE, O_JSON, O_CSV, O_SUMMARY, O_PLOT,
       O_RECOMMEND, O_SIZES, O_SUBSET, O_DIM, O_THREADS };

#define DEFAULT_SIZES "512,1024,2048,4096,8192,16384,32768,65536"

static const struct optdef OPTS[] = {
    { 't', "tokenizer", "FILE", NULL, "the tokenizer (tok.bin): token text, end-of-text id, fingerprint check" },
    { O_FIELD, "field", "NAME", "text", "the JSON field holding each document's text" },
    { O_PATTERN, "pattern", "P", "gpt2", "pre-tokenizer without --tokenizer: gpt2, cl100k, o200k or a PCRE2 regex" },
    { O_EOT, "eot", "ID", NULL, "end-of-text id of a token stream read without --tokenizer" },
    { O_TOKENS, "tokens", NULL, NULL, "standard input is a token stream (files are recognised by their header)" },
    { 'n', "top", "N", "20", "list the N most frequent tokens or pre-tokens" },
    { O_RARE, "rare", "N", "5", "a pre-token seen fewer than N times is rare" },
    { O_JSON, "json", NULL, NULL, "write the report as JSON" },
    { O_CSV, "csv", NULL, NULL, "write the coverage CDF as CSV (one row per rank)" },
    { O_SUMMARY, "summary", NULL, NULL, "write one line: documents, bytes, words; tokens, id width, entropy" },
    { O_PLOT, "plot", "FILE", NULL, "also draw the Zipf curve and the coverage CDF into FILE (PNG, gnuplot)" },
    { O_RECOMMEND, "recommend", NULL, NULL, "train BPE on a subset and recommend a vocabulary size" },
    { O_SIZES, "sizes", "LIST", DEFAULT_SIZES, "vocabulary sizes compared by --recommend" },
    { O_SUBSET, "subset", "N", "10000", "--recommend trains on at most N documents" },
    { O_DIM, "dim", "D", "512", "model width for the embedding cost (size x D parameters)" },
    { O_THREADS, "threads", "N", "all cores", "threads for --recommend's training" },
    { 'q', "quiet", NULL, NULL, "no progress display" },
    { 0, NULL, NULL, NULL, NULL },
};

static const struct progspec SPEC = {
    "tok-stats", "[OPTION]... [FILE]...",
    "Statistics of JSONL text or of token streams (stdin when no FILE), and which vocabulary size to use.",
    "A FILE that starts with a token stream header is a token stream, anything else JSONL text.\n"
    "With --tokenizer, JSONL text is also encoded and its tokens described.",
    OPTS,
};

/* "512,1024,4096" -> ascending sizes */
static uint32_t *parse_sizes(const char *arg, int *n)
{
    char *s = xstrdup(arg), *save = NULL;
    uint32_t *v = xmalloc((strlen(arg) / 2 + 2) * sizeof *v);
    *n = 0;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        /* 256 bytes + end-of-text + at least one merge */
        v[*n] = (uint32_t)parse_size("--sizes", tok, 258, TOK_MAX_VOCAB);
        if (*n && v[*n] <= v[*n - 1]) usage_error("--sizes: sizes must increase (%u after %u)", v[*n], v[*n - 1]);
        ++*n;
    }
    if (!*n) usage_error("--sizes: no size given");
    free(s);
    return v;
}

int main(int argc, char **argv)
{
    struct opts p;
    opts_init(&p, argc, argv, &SPEC);
    struct stats_opts o = { .field = "text", .eot = -1, .top = 20, .rare = 5, .subset = 10000, .dim = 512,
                            .threads = omp_get_max_threads() };
    const char *sizes = DEFAULT_SIZES;
    int rec_opt = 0;
    const char *arg;
    int c;
    while ((c = opts_next(&p, &arg)) != -1) {
        switch (c) {
        case 't': o.tokenizer = arg; break;
        case O_FIELD: o.field = arg; break;
        case O_PATTERN: o.pattern = arg; break;
        case O_EOT: o.eot = (long)parse_size("--eot", arg, 0, TOK_MAX_VOCAB - 1); break;
        case O_TOKENS: o.tokens_stdin = 1; break;
        case 'n': o.top = (uint32_t)parse_size("--top", arg, 0, 1000000); break;
        case O_RARE: o.rare = parse_size("--rare", arg, 1, UINT64_MAX); break;
        case O_JSON: o.json = 1; break;
        case O_CSV: o.csv = 1; break;
        case O_SUMMARY: o.summary = 1; break;
        case O_PLOT: o.plot = arg; break;
        case O_RECOMMEND: o.recommend = 1; break;
        case O_SIZES: sizes = arg; rec_opt = 1; break;
        case O_SUBSET: o.subset = parse_size("--subset", arg, 9, UINT64_MAX); rec_opt = 1; break;
        case O_DIM: o.dim = (uint32_t)parse_size("--dim", arg, 1, 1u << 20); rec_opt = 1; break;
        case O_THREADS: o.threads = (int)parse_long("--threads", arg, 1, 256); break;
        case 'q': o.quiet = 1; break;
        }
    }
    if (o.json && o.csv) usage_error("--json and --csv exclude each other");
    if (o.summary && (o.json || o.csv)) usage_error("--summary and --%s exclude each other", o.json ? "json" : "csv");
    if (o.plot && (!*o.plot || strcmp(o.plot, "-") == 0)) usage_error("--plot needs a file name");
    if (o.tokenizer && o.eot >= 0) usage_error("--eot: the tokenizer names its end-of-text id");
    if (o.tokenizer && o.pattern) usage_error("--pattern: the tokenizer's own pattern is used");
    if (rec_opt && !o.recommend) usage_error("--sizes, --subset and --dim go with --recommend");
    o.sizes = parse_sizes(sizes, &o.nsizes);
    /* directories and quoted patterns stand for their files (shards, tokset.h) */
    char **files = NULL;
    if (p.argc > p.optind) {
        size_t n;
        files = tokset_expand((const char *const *)p.argv + p.optind, (size_t)(p.argc - p.optind), &n);
        o.files = files;
        o.nfiles = (int)n;
    }
    int rc = stats_run(&o);
    tokset_free_names(files);
    free(o.sizes);
    opts_free(&p);
    return rc;
}
