/* hf-fetch.c - a Hugging Face dataset as JSON Lines on stdout.
 * parse options -> hf_fetch() (lib/hub/hffetch.c) -> exit status. */
#include "hub/hfdata.h"
#include "hub/hffetch.h"
#include "core/opts.h"
#include "core/xio.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>

enum { O_OFFLINE = 256, O_LIST, O_FILE, O_PARTIAL, O_MAXMEM, O_SHARD, O_JSON, O_MODEL, O_INCLUDE };

static const struct optdef OPTS[] = {
    { 'c', "config",   "NAME", NULL,   "dataset configuration (default: the dataset's default)" },
    { 's', "split",    "NAME", "train", "split to read" },
    { 'r', "revision", "REV",  "main", "branch, tag or commit sha" },
    { 'C', "columns",  "A,B",  NULL,   "write only these columns (default: all; an alias: its text as \"text\")" },
    { 'n', "limit",    "N",    NULL,   "stop after N rows (no further downloads)" },
    { 'j', "jobs",     "N",    "4",    "download up to N files at once (rows still in the files' order; not with --limit)" },
    { O_SHARD, "shard", "I/N", NULL,   "write share I of N (0 <= I < N) of the split: a block of its files, or of its rows" },
    { O_OFFLINE, "offline", NULL, NULL, "use the cache only, no network (also HF_HUB_OFFLINE=1)" },
    { O_FILE, "file",  "FILE", NULL,   "convert a local .parquet/.jsonl/.json/.txt file instead of a dataset" },
    { O_PARTIAL, "allow-partial", NULL, NULL, "accept the Hub's Parquet conversion of only part of a split" },
    { O_MAXMEM, "max-memory", "SIZE", NULL, "let decoding a Parquet file allocate up to SIZE bytes (M, G, Mi, Gi; default: see hf-fetch(1))" },
    { O_LIST, "list",  NULL,   NULL,   "print the registry's aliases; with REPO|ALIAS, its configs, splits and files (sizes, rows)" },
    { O_JSON, "json",  NULL,   NULL,   "with --list REPO: one JSON object per split instead of a table" },
    { O_MODEL, "model", NULL,  NULL,   "REPO is a model: download its files into the cache and print the snapshot directory" },
    { O_INCLUDE, "include", "GLOB", NULL, "with --model: only the files matching GLOB (repeatable; default: *.json *.safetensors *.txt *.model *.tiktoken)" },
    { 'q', "quiet",    NULL,   NULL,   "no progress display and no warnings" },
    { 0, NULL, NULL, NULL, NULL }
};

static const struct progspec SPEC = {
    "hf-fetch", "[OPTION]... REPO|ALIAS\n       hf-fetch --model [--revision REV] [--include GLOB]... REPO",
    "Download a Hugging Face dataset split and write its rows as JSON Lines on stdout, or a\n"
    "model's files into the cache (--model) and print the directory that holds them.",
    "REPO is a dataset id such as roneneldan/TinyStories (whole rows) or an alias from the\n"
    "registry such as tinystories (rows {\"text\": ...}).  Files are cached in HF_HUB_CACHE,\n"
    "shared with the Python huggingface_hub.  See hf-fetch(1) for the environment.",
    OPTS
};

int main(int argc, char **argv)
{
    tfs_set_prog(argv[0]);
    /* The Parquet reader allocates and frees column chunks of tens of MB
     * once per row group.  glibc serves blocks that large with fresh mmap()s
     * by default, so every row group would fault its pages in anew; keep
     * them in the heap for reuse.  This is a choice for the whole process,
     * so it is made here, in the program, not in the library. */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    struct hf_opts o = { .limit = -1, .jobs = 4 };
    int list = 0, json = 0, model = 0, ninc = 0;
    const char **inc = xcalloc((size_t)argc + 1, sizeof *inc);
    struct opts p;
    const char *arg;
    int c;
    opts_init(&p, argc, argv, &SPEC);
    while ((c = opts_next(&p, &arg)) != -1) {
        switch (c) {
        case 'c': o.config = arg; break;
        case 's': o.split = arg; break;
        case 'r': o.revision = arg; break;
        case 'C': o.columns = arg; break;
        case 'n': o.limit = (int64_t)parse_size("--limit", arg, 0, INT64_MAX); break;
        case O_OFFLINE: o.offline = 1; break;
        case O_FILE: o.file = arg; break;
        case O_PARTIAL: o.allow_partial = 1; break;
        case 'j': o.jobs = (int)parse_long("--jobs", arg, 1, 64); break;
        case O_SHARD: {
            int n = 0;
            if (sscanf(arg, "%d/%d%n", &o.shard_i, &o.shard_n, &n) != 2 || arg[n] || o.shard_n < 1 ||
                o.shard_i < 0 || o.shard_i >= o.shard_n)
                usage_error("--shard: '%s' is not I/N with 0 <= I < N", arg);
            break;
        }
        case O_MAXMEM: o.max_memory = (int64_t)parse_size("--max-memory", arg, 1, INT64_MAX); break;
        case O_LIST: list = 1; break;
        case O_JSON: json = 1; break;
        case O_MODEL: model = 1; break;
        case O_INCLUDE: inc[ninc++] = arg; break;
        case 'q': o.quiet = 1; break;
        }
    }
    int nargs = argc - p.optind, first = p.optind;
    opts_free(&p);
    if (json && !(list && nargs)) usage_error("--json goes with --list REPO|ALIAS");
    if (ninc && !model) usage_error("--include goes with --model");
    if (model) {
        if (list || o.file || o.config || o.columns || o.limit >= 0 || o.shard_n || o.allow_partial)
            usage_error("--model takes --revision, --include, --offline and --quiet only");
        if (nargs != 1) usage_error("--model takes one REPO");
        o.target = argv[first];
        int st = hf_fetch_model(&o, inc);
        free(inc);
        return st;
    }
    free(inc);
    if (list && nargs == 1) {
        o.target = argv[first];
        return hf_list(&o, json);
    }
    if (list) {
        if (nargs) usage_error("--list takes one operand at most");
        hf_alias_list(stdout);
        if (fflush(stdout) != 0) die_errno("write error");
        return 0;
    }
    if (o.file) {
        if (nargs) usage_error("--file takes no REPO operand");
        o.target = o.file;
    } else {
        if (nargs == 0) usage_error("missing REPO or ALIAS");
        if (nargs > 1) usage_error("extra operand '%s'", argv[first + 1]);
        o.target = argv[first];
    }
    return hf_fetch(&o);
}
