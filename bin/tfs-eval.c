/* tfs-eval - score a token stream with a checkpoint (as a whole, or token
 * by token), generate text, chat, or export the model for Hugging Face
 * transformers.
 *
 *   parse options -> tfs_eval() (lib/run/evaluate.c) -> exit status
 */
#include "core/blas_core.h"
#include "core/safetensors.h"
#include "kernels/isa.h"
#include "run/attention_map.h"
#include "run/evaluate.h"
#include "tok/tokenizer.h"
#include "core/opts.h"
#include "core/xio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { O_TOKENIZER = 256, O_PROMPT, O_TEMP, O_TOPK, O_TOPP, O_SEED, O_SAMPLES, O_CHAT, O_EXPORT,
       O_MAX_TOKENS, O_THREADS, O_VERBOSE, O_TOKEN_LOSS, O_PREDICTIONS,
       O_ATTENTION, O_HEATMAP, O_DTYPE, O_CONTEXT };

static const struct optdef OPTS[] = {
    { 'b', "batch", "N", "8", "windows per forward pass when scoring (does not change the result)" },
    { O_MAX_TOKENS, "max-tokens", "N", NULL, "score only the first N predicted tokens" },
    { O_TOKENIZER, "tokenizer", "TOK", NULL, "the tokenizer of the checkpoint: adds bits per byte; needed for text" },
    { O_PROMPT, "prompt", "TEXT", NULL, "generate a continuation of TEXT (may be empty) instead of scoring" },
    { O_TOKEN_LOSS, "token-loss", NULL, NULL, "the loss of each token of the stream or --prompt TEXT, and the model's top predictions, as JSON Lines (coloured text on a terminal)" },
    { O_PREDICTIONS, "predictions", "N", "5", "with --token-loss: the N most likely next tokens listed for each token" },
    { O_ATTENTION, "attention", "LAYER[:HEAD]", NULL, "the attention weights of layer LAYER (from 0), one HEAD or the mean of all, over the tokens of --prompt TEXT or the first of the stream, as a matrix file" },
    { O_HEATMAP, "heatmap", "PNG", NULL, "with --attention: also draw the matrix as a PNG heat map, the tokens on both axes (needs gnuplot)" },
    { 'n', "new-tokens", "N", "200", "generate up to N tokens (fewer when end-of-text comes)" },
    { O_TEMP, "temperature", "T", "1", "sampling temperature; 0 always takes the most likely token" },
    { O_TOPK, "top-k", "K", "0", "sample among the K most likely tokens (0: all)" },
    { O_TOPP, "top-p", "P", "1", "sample among the most likely tokens that hold P of the probability" },
    { O_SEED, "seed", "S", "1", "seed of the sampling" },
    { O_SAMPLES, "samples", "N", "1", "generate N texts, separated by a line '---'" },
    { O_CHAT, "chat", NULL, NULL, "interactive: continue each line typed (commands: /help)" },
    { O_EXPORT, "export-hf", "DIR", NULL, "write DIR/config.json, model.safetensors (and tokenizer.json) for transformers" },
    { O_CONTEXT, "context", "N", NULL, "a Hugging Face model's context shortened to N (scoring windows, the KV cache)" },
    { O_DTYPE, "dtype", "TYPE", "f32", "with --export-hf: the weights as f32, bf16 or f16 (half the size, rounded)" },
    { O_THREADS, "threads", "N", NULL, "threads for OpenMP and OpenBLAS (default: all cores)" },
    { 'q', "quiet", NULL, NULL, "no progress display" },
    { O_VERBOSE, "verbose", NULL, NULL, "also say which OpenBLAS core (kernel set) runs, and who chose it, and the vector width of our own loops (TFS_ISA)" },
    { 0 }
};

static const struct progspec SPEC = {
    "tfs-eval", "[OPTION]... CKPT [FILE... | -]",
    "Score a token stream with the checkpoint CKPT (a tfs checkpoint or a Hugging Face model\n"
    "directory: GPT-2 or Llama, safetensors F32/F16/BF16) (JSON: loss, perplexity, tokens, bits per\n"
    "byte) or each of its tokens (--token-loss), show where a layer attends (--attention), generate text from it (--prompt, --chat), or\n"
    "export it (--export-hf).",
    NULL, OPTS
};

int main(int argc, char **argv)
{
    /* OpenBLAS's kernel set, before anything is read: this may run the
     * program again (lib/core/blas_core.h) */
    tfs_set_prog(SPEC.name);
    blas_core_start(argv);
    isa_start();                /* the kernels' vector width (kernels/isa.h) */
    struct opts p;
    opts_init(&p, argc, argv, &SPEC);
    struct eval_opts o = { .batch = 8, .new_tokens = 200, .samples = 1, .temperature = 1,
                           .top_p = 1, .seed = 1, .input = "-", .predictions = 5 };
    const char *arg;
    int c, verbose = 0, dtype_set = 0;
    while ((c = opts_next(&p, &arg)) != -1) {
        switch (c) {
        case 'b': o.batch = (int)parse_long("--batch", arg, 1, 1 << 20); break;
        case O_MAX_TOKENS: o.max_tokens = parse_size("--max-tokens", arg, 1, UINT64_MAX); break;
        case O_TOKENIZER: o.tokenizer = arg; break;
        case O_PROMPT: o.prompt = arg; break;
        case 'n': o.new_tokens = parse_size("--new-tokens", arg, 1, 100000000); break;
        case O_TEMP: o.temperature = parse_double("--temperature", arg, 0, 100); break;
        case O_TOPK: o.top_k = (int)parse_long("--top-k", arg, 0, 1 << 24); break;
        case O_TOPP: o.top_p = parse_double("--top-p", arg, 1e-9, 1); break;
        case O_SEED: o.seed = parse_size("--seed", arg, 0, UINT64_MAX); break;
        case O_SAMPLES: o.samples = (int)parse_long("--samples", arg, 1, 1000000); break;
        case O_CHAT: o.chat = 1; break;
        case O_EXPORT: o.export_dir = arg; break;
        case O_DTYPE:
            if (!strcmp(arg, "f32")) o.dtype = ST_F32;
            else if (!strcmp(arg, "bf16")) o.dtype = ST_BF16;
            else if (!strcmp(arg, "f16")) o.dtype = ST_F16;
            else usage_error("--dtype: '%s' is not f32, bf16 or f16", arg);
            dtype_set = 1;
            break;
        case O_TOKEN_LOSS: o.token_loss = 1; break;
        case O_ATTENTION:
            if (attention_parse(arg, &o.att_layer, &o.att_head))
                usage_error("--attention takes LAYER or LAYER:HEAD, numbers from 0 (got '%s')", arg);
            o.attention = arg;
            break;
        case O_HEATMAP: o.heatmap = arg; break;
        case O_CONTEXT: o.context = (int)parse_long("--context", arg, 1, 1 << 24); break;
        case O_PREDICTIONS: o.predictions = (int)parse_long("--predictions", arg, 0, 1000); break;
        case O_THREADS: o.threads = (int)parse_long("--threads", arg, 1, 4096); break;
        case 'q': o.quiet = 1; break;
        case O_VERBOSE: verbose = 1; break;
        }
    }
    int nops = argc - p.optind;
    if (nops < 1) usage_error("missing the checkpoint operand");
    o.ckpt = argv[p.optind];
    /* --token-loss scores the text of --prompt instead of continuing it */
    int modes = !!o.prompt + o.chat + !!o.export_dir;
    if (modes > 1) usage_error("--prompt, --chat and --export-hf exclude each other");
    if (o.token_loss && (o.chat || o.export_dir))
        usage_error("--token-loss excludes %s", o.chat ? "--chat" : "--export-hf");
    if (o.attention && (o.chat || o.export_dir || o.token_loss))
        usage_error("--attention excludes %s", o.chat ? "--chat" : o.export_dir ? "--export-hf" : "--token-loss");
    if (o.heatmap && !o.attention) usage_error("--heatmap draws the matrix of --attention: give both");
    if (o.heatmap && (!*o.heatmap || !strcmp(o.heatmap, "-")))
        usage_error("--heatmap needs the name of a PNG file to write");
    if (modes && nops > 1)
        usage_error("unexpected operand '%s'", argv[p.optind + 1]);
    /* the stream to score: one file, or shards read as one (tokset.h) */
    if (nops >= 2) {
        o.input = argv[p.optind + 1];
        o.inputs = (const char *const *)argv + p.optind + 1;
        o.ninputs = (size_t)nops - 1;
    }
    if (dtype_set && !o.export_dir) usage_error("--dtype applies to --export-hf");
    /* a Hugging Face model directory brings its tokenizer */
    char *dir_tok = NULL;
    struct stat sb;
    if (!o.tokenizer && stat(o.ckpt, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        size_t n = strlen(o.ckpt) + 16;
        dir_tok = xmalloc(n);
        snprintf(dir_tok, n, "%s/tokenizer.json", o.ckpt);
        /* text needs it; scoring and export only add bits per byte and a
         * tokenizer.json, so one we cannot read does not stop them */
        char err[256];
        struct tokenizer *t = NULL;
        if (stat(dir_tok, &sb) == 0 &&
            (o.prompt || o.chat || o.token_loss || (t = tok_load_err(dir_tok, err, sizeof err))))
            o.tokenizer = dir_tok;
        if (t) tok_free(t);
    }
    if ((o.prompt || o.chat) && !o.tokenizer)
        usage_error("%s needs --tokenizer, to turn text into tokens and back", o.chat ? "--chat" : "--prompt");
    blas_core_report(o.quiet, verbose);
    isa_report(o.quiet, verbose);
    if (o.max_tokens && o.attention && o.prompt)
        usage_error("--max-tokens applies to a stream, not to --prompt");
    if (o.max_tokens && o.token_loss && o.prompt)
        usage_error("--max-tokens applies to a stream, not to --prompt");
    int status = tfs_eval(&o);
    free(dir_tok);
    opts_free(&p);
    return status;
}
