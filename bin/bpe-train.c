/* bpe-train - learn a byte-level BPE tokenizer from JSONL documents.
 * JSONL -> [pre-tokenize, count words, merge pairs] -> tok.bin
 * The algorithm is in lib/tok/bpe_train.c, the file format in lib/tok/tok_bin.c. */
#include "core/opts.h"
#include "tok/pretok.h"
#include "tok/tokenizer.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>

enum { O_FIELD = 256, O_MINFREQ, O_SPECIAL, O_PATTERN, O_DUMP, O_HFJSON, O_SKIPBAD, O_SAMPLE };

static const struct optdef OPTS[] = {
    { 'n', "vocab-size", "N", NULL, "final vocabulary size: 256 bytes + merges + special tokens (required)" },
    { 'o', "output", "FILE", NULL, "write the tokenizer (tok.bin) to FILE (required)" },
    { O_FIELD, "field", "NAME", "text", "the JSON field holding each document's text" },
    { O_MINFREQ, "min-frequency", "N", "2", "stop when the best pair occurs fewer than N times" },
    { O_SPECIAL, "special", "TOKEN", NULL, "add a special token after <|endoftext|> (repeatable)" },
    { O_PATTERN, "pattern", "P", "gpt2", "pre-tokenization: gpt2, cl100k, o200k or a PCRE2 regex" },
    { 't', "threads", "N", "1", "threads for pre-tokenizing and counting (same result for any N)" },
    { 'v', "verbose", NULL, NULL, "print the distinct pieces and pairs, then each merge (ids, count, bytes), to stderr" },
    { 'q', "quiet", NULL, NULL, "no progress display" },
    { O_DUMP, "dump", "FILE", NULL, "also write a human-readable listing of the vocabulary" },
    { O_HFJSON, "hf-json", "FILE", NULL, "also write a Hugging Face tokenizer.json" },
    { O_SKIPBAD, "skip-bad", NULL, NULL, "skip malformed JSONL lines (counted) instead of stopping" },
    { O_SAMPLE, "sample", "N", NULL, "train on N documents drawn at random (all of them when fewer): bounds the memory" },
    { 0, NULL, NULL, NULL, NULL },
};

static const struct progspec SPEC = {
    "bpe-train", "-n N -o FILE [OPTION]... [FILE]...",
    "Learn a byte-level BPE tokenizer from JSONL documents (stdin when no FILE) and write it as tok.bin.",
    "Ties between equally frequent pairs go to the smaller left id, then the smaller right id,\n"
    "so the same input and options always give the same tok.bin.",
    OPTS,
};

int main(int argc, char **argv)
{
    struct opts p;
    opts_init(&p, argc, argv, &SPEC);
    struct bpe_train_opts o = { .min_frequency = 2, .threads = 1 };
    const char *out = NULL, *field = "text", *dump = NULL, *hf = NULL;
    const char **special = xmalloc((size_t)argc * sizeof *special);
    int nspecial = 0, skip_bad = 0;
    special[nspecial++] = TOK_DEFAULT_EOT;
    const char *arg;
    int c;
    while ((c = opts_next(&p, &arg)) != -1) {
        switch (c) {
        case 'n': o.vocab_size = (uint32_t)parse_size("--vocab-size", arg, 257, TOK_MAX_VOCAB); break;
        case 'o': out = arg; break;
        case O_FIELD: field = arg; break;
        case O_MINFREQ: o.min_frequency = parse_size("--min-frequency", arg, 1, UINT64_MAX); break;
        case O_SPECIAL:
            if (!*arg) usage_error("--special: a special token cannot be empty");
            for (int i = 0; i < nspecial; i++)
                if (strcmp(special[i], arg) == 0) usage_error("--special: '%s' is given twice", arg);
            special[nspecial++] = arg;
            break;
        case O_PATTERN: o.pattern = arg; break;
        case 't': o.threads = (int)parse_long("--threads", arg, 1, 256); break;
        case 'v': o.verbose = 1; break;
        case 'q': o.quiet = 1; break;
        case O_DUMP: dump = arg; break;
        case O_HFJSON: hf = arg; break;
        case O_SKIPBAD: skip_bad = 1; break;
        case O_SAMPLE: o.sample = parse_size("--sample", arg, 1, UINT64_MAX); break;
        }
    }
    if (!o.vocab_size) usage_error("--vocab-size is required");
    if (!out) usage_error("--output is required");
    if (o.vocab_size < 256 + (uint32_t)nspecial)
        usage_error("--vocab-size %u leaves no room: 256 bytes + %d special tokens need at least %u",
                    o.vocab_size, nspecial, 256 + (uint32_t)nspecial);
    if (o.pattern) {
        char err[256];
        struct pretok *pt = pretok_new(o.pattern, err, sizeof err);
        if (!pt) usage_error("--pattern: bad regular expression: %s", err);
        pretok_free(pt);
    }
    o.special = special;
    o.nspecial = nspecial;
    struct tokenizer *t = bpe_train_jsonl(p.argv + p.optind, p.argc - p.optind, field, skip_bad, &o);
    tok_save(t, out);
    if (dump) {
        struct outfile of;
        FILE *f = outfile_open(&of, dump);
        tok_dump(t, f);
        outfile_commit(&of);
    }
    if (hf) tok_save_hf(t, hf);
    tok_free(t);
    free(special);
    opts_free(&p);
    return EXIT_OK;
}
