/* bpe-encode - JSONL text -> token stream with a BPE tokenizer, and back
 * with -d.  The work is in lib/tok/tokfilter.c and lib/tok/bpe_encode.c. */
#include "core/opts.h"
#include "tok/pretok.h"
#include "tok/tokenizer.h"
#include "tok/tokfilter.h"
#include "core/xio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_FIELD = 256, O_RAW, O_ALLOW, O_NOSPECIAL, O_SKIPBAD, O_EXPORT, O_INFO, O_BOS, O_EOS, O_NOSEP, O_PATTERN,
       O_SPECIAL, O_SPECIALFILE, O_SHARD_SIZE, O_REFERENCE };

static const struct optdef OPTS[] = {
    { 'o', "output", "FILE", "-", "write to FILE instead of stdout (atomically)" },
    { 'd', "decode", NULL, NULL, "decode token streams back to JSONL, one document per line" },
    { O_RAW, "raw", NULL, NULL, "plain bytes: encode each input whole as one document; decode to bytes, not JSONL" },
    { O_FIELD, "field", "NAME", "text", "the JSON field holding each document's text" },
    { 'z', "zstd", NULL, NULL, "compress the token stream with zstd" },
    { O_SHARD_SIZE, "shard-size", "TOKENS", NULL, "write shards of TOKENS tokens, -o PREFIX -> PREFIX_000000.bin, ..." },
    { 't', "threads", "N", "1", "encode documents in parallel (output order is kept)" },
    { O_ALLOW, "allow-special", NULL, NULL, "special tokens' text in the input becomes their id" },
    { O_NOSPECIAL, "no-special", NULL, NULL, "special tokens' text is ordinary text, also for a tokenizer.json" },
    { O_BOS, "bos", NULL, NULL, "put the tokenizer's beginning-of-sequence token before each document" },
    { O_EOS, "eos", NULL, NULL, "put the tokenizer's end-of-sequence token after each document" },
    { O_NOSEP, "no-sep", NULL, NULL, "put nothing between documents (default: end-of-text before each)" },
    { O_PATTERN, "pattern", "P", NULL, "a rank file's pre-tokenization: gpt2, cl100k, o200k or a PCRE2 regex" },
    { O_SPECIAL, "special", "TEXT=ID", NULL, "a rank file's special token (repeatable)" },
    { O_SPECIALFILE, "special-file", "FILE", NULL, "a rank file's special tokens, a JSON object {\"TEXT\": ID}" },
    { O_REFERENCE, "reference", NULL, NULL, "encode with the simple reference algorithms (PCRE2, rank-ordered merge)" },
    { 'f', "force", NULL, NULL, "write a binary token stream even to a terminal" },
    { 'q', "quiet", NULL, NULL, "no progress display" },
    { O_SKIPBAD, "skip-bad", NULL, NULL, "skip malformed JSONL lines (counted) instead of stopping" },
    { O_EXPORT, "export-hf", "FILE", NULL, "write TOKENIZER as a Hugging Face tokenizer.json and exit" },
    { O_INFO, "info", NULL, NULL, "print the tokenizer's kind, sizes, end-of-text id and fingerprint, and exit" },
    { 0, NULL, NULL, NULL, NULL },
};

static const struct progspec SPEC = {
    "bpe-encode", "[OPTION]... TOKENIZER [FILE]...",
    "Encode JSONL documents (stdin when no FILE) into a token stream with TOKENIZER\n"
    "(tok.bin, a tiktoken rank file or a Hugging Face tokenizer.json); with -d, decode.",
    NULL, OPTS,
};

static struct tokenizer *load(const struct encode_opts *o)
{
    char err[512];
    struct tokenizer *t = tok_load_with(o->tokenizer, &o->load, err, sizeof err);
    if (!t) die("%s: %s", o->tokenizer, err);
    return t;
}

/* An id, or "none". */
static const char *id_str(uint32_t id, char *buf)
{
    if (id == TOK_NO_ID) return "none";
    sprintf(buf, "%u", id);
    return buf;
}

static int info(const struct encode_opts *o)
{
    static const char *kinds[] = { "tok.bin", "tiktoken", "tokenizer.json" };
    struct tokenizer *t = load(o);
    char b1[16], b2[16], b3[16];
    printf("kind\t%s\nvocab_size\t%u\nmerges\t%u\nspecial\t%u\neot\t%s\nbos\t%s\neos\t%s\nfingerprint\t%016" PRIx64 "\n",
           kinds[tok_kind(t)], tok_vocab_size(t), tok_num_merges(t), tok_num_special(t), id_str(tok_eot(t), b1),
           id_str(tok_bos(t), b2), id_str(tok_eos(t), b3), tok_fingerprint(t));
    tok_free(t);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct opts p;
    opts_init(&p, argc, argv, &SPEC);
    struct encode_opts o = { .output = "-", .field = "text", .threads = 1 };
    int decode = 0, do_info = 0;
    const char *export = NULL, *arg;
    const char **special = xmalloc((size_t)argc * sizeof *special);
    int c;
    while ((c = opts_next(&p, &arg)) != -1) {
        switch (c) {
        case 'o': o.output = arg; break;
        case 'd': decode = 1; break;
        case O_RAW: o.raw = 1; break;
        case O_FIELD: o.field = arg; break;
        case 'z': o.zstd = 1; break;
        case O_SHARD_SIZE: o.shard_size = parse_size("--shard-size", arg, 1, UINT64_MAX); break;
        case 't': o.threads = (int)parse_long("--threads", arg, 1, 256); break;
        case O_ALLOW: o.allow_special = 1; break;
        case O_NOSPECIAL: o.no_special = 1; break;
        case O_BOS: o.bos = 1; break;
        case O_EOS: o.eos = 1; break;
        case O_NOSEP: o.no_sep = 1; break;
        case O_PATTERN: o.load.pattern = arg; break;
        case O_SPECIAL: special[o.load.nspecial++] = arg; break;
        case O_SPECIALFILE: o.load.special_file = arg; break;
        case O_REFERENCE: tok_use_reference(1); break;
        case 'f': o.force = 1; break;
        case 'q': o.quiet = 1; break;
        case O_SKIPBAD: o.skip_bad = 1; break;
        case O_EXPORT: export = arg; break;
        case O_INFO: do_info = 1; break;
        }
    }
    if (p.optind >= p.argc) usage_error("missing TOKENIZER operand");
    o.tokenizer = p.argv[p.optind];
    o.inputs = p.argv + p.optind + 1;
    o.ninputs = p.argc - p.optind - 1;
    o.load.special = special;
    if (o.shard_size && (decode || strcmp(o.output, "-") == 0))
        usage_error("--shard-size needs encoding and -o PREFIX (shards are files)");
    if (decode && o.zstd) usage_error("--zstd applies to encoding; decoded text is not compressed");
    if (o.no_sep && (o.bos || o.eos)) usage_error("--no-sep and --bos/--eos exclude each other");
    if (o.no_special && o.allow_special) usage_error("--no-special and --allow-special exclude each other");
    if (o.load.pattern) {
        char err[256];
        struct pretok *pt = pretok_new(o.load.pattern, err, sizeof err);
        if (!pt) usage_error("--pattern: bad regular expression: %s", err);
        pretok_free(pt);
    }
    if (do_info) return info(&o);
    if (export) {
        struct tokenizer *t = load(&o);
        tok_save_hf(t, export);
        tok_free(t);
        return EXIT_OK;
    }
    int rc = decode ? bpe_decode_run(&o) : bpe_encode_run(&o);
    free(special);
    opts_free(&p);
    return rc;
}
