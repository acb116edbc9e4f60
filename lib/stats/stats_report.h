/* stats_report.h - tok-stats(1): gathering the statistics of its inputs
 * (stats_run.c), the vocabulary-size recommendation (stats_recommend.c) and
 * writing the report as text, JSON, CSV or a gnuplot picture
 * (stats_report.c).
 *
 *   tok-stats data.jsonl                 text -> text statistics, pre-tokens
 *   tok-stats -t tok.bin data.jsonl      ... and the tokens of the encoded text
 *   tok-stats -t tok.bin ids.bin         a token stream (with its tokenizer)
 *   tok-stats --recommend data.jsonl     ... and which vocabulary size to use
 */
#ifndef TFS_STATS_REPORT_H
#define TFS_STATS_REPORT_H

#include "stats/stats.h"

struct tokenizer;

/* ---- options ---- */
struct stats_opts {
    char **files;           /* inputs; none = stdin */
    int nfiles;
    const char *tokenizer;  /* tok.bin (or any file tok_load reads), or NULL */
    const char *field;      /* JSONL field holding the text */
    const char *pattern;    /* pre-tokenizer without a tokenizer (NULL: gpt2) */
    long eot;               /* end-of-text id of a stream without a tokenizer, -1 unknown */
    int tokens_stdin;       /* stdin is a token stream, not JSONL */
    uint32_t top;           /* how many of the most frequent tokens to list */
    uint64_t rare;          /* pre-tokens seen fewer times are rare */
    int json, csv, quiet;
    int summary;            /* one line instead of the report */
    const char *plot;       /* PNG path, or NULL */
    /* --recommend */
    int recommend;
    uint32_t *sizes;        /* vocabulary sizes to compare, ascending */
    int nsizes;
    uint64_t subset;        /* training documents */
    uint32_t dim;           /* model width for the embedding cost */
    int threads;
};

/* ---- the vocabulary recommendation ---- */
struct rec_row {
    uint32_t size;          /* vocabulary size, bytes and specials included */
    int reached;            /* 0: training ran out of merges below this size */
    uint64_t tokens;        /* held-out tokens (no end-of-text ids) */
    uint32_t used;          /* distinct ids in the held-out encoding */
    double bytes_per_token;
    double used_share;      /* used / size */
    double tokens_per_doc;
    uint64_t params;        /* embedding table: size * dim */
};
struct recommend {
    int n;
    struct rec_row *rows;   /* (n), one per requested size */
    int best;               /* index of the recommended row, -1 if none */
    char reason[512];       /* one line: why */
    uint64_t train_docs, train_bytes, held_docs, held_bytes;
    uint32_t trained_vocab; /* the largest vocabulary the training reached */
    uint32_t dim;
    double seconds;
};
/* Train one BPE on train[], derive each size as a prefix of its merges,
 * encode held[] with each and fill r.  `pattern` is the pre-tokenizer. */
void recommend_run(struct recommend *r, const struct stats_opts *o, const char *pattern,
                   char **train, size_t *train_len, size_t ntrain,
                   char **held, size_t *held_len, size_t nheld);
/* Pick the knee (sets best and reason); exposed for unit tests. */
void recommend_pick(struct recommend *r);
void recommend_free(struct recommend *r);

/* ---- everything the report shows ---- */
struct stats_report {
    const struct stats_opts *o;
    int is_stream;              /* inputs are token streams (else JSONL text) */
    /* the tokenizer, when given */
    struct tokenizer *tok;
    uint32_t *toklen;           /* (vocab) bytes of each id; specials 0 */
    /* JSONL text */
    int have_text;
    struct text_stats text;
    struct dist len[NLEN];
    int have_pre;
    const char *pattern;        /* pre-tokenizer pattern (name or regex) */
    struct pretok_stats pre;
    /* tokens: of the streams, or of the text encoded by the tokenizer */
    int have_tokens;
    int wide;                   /* 32-bit ids */
    uint64_t fingerprint;       /* of the streams (0 = none) */
    struct tok_stats ts;
    double count_seconds;       /* time in the counting loop */
    /* --recommend */
    struct recommend *rec;
    double seconds;             /* whole run */
};

int stats_run(const struct stats_opts *o);

void report_text(FILE *f, const struct stats_report *r);
void report_json(FILE *f, const struct stats_report *r);
void report_csv(FILE *f, const struct stats_report *r);
void report_summary(FILE *f, const struct stats_report *r);
void report_plot(const char *path, const struct stats_report *r);

#endif
