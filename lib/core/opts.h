/* opts.h - one option table per program: the parser, --help and the man-page
 * check all read the same array, so they cannot drift (style.md, 8).
 *
 *   static const struct optdef OPTS[] = {
 *       { 'v', "vocab-size", "N", "4096", "final vocabulary size" },
 *       { 'q', "quiet",      NULL, NULL,  "no progress display" },
 *       { 0 }
 *   };
 *   struct opts p; opts_init(&p, argc, argv, &SPEC);
 *   while ((c = opts_next(&p, &arg)) != -1) switch (c) { ... }
 *   then p.argv[p.optind ..] are the operands.
 *
 * Options without a short letter use a key >= 256.  --help (-h) is handled
 * by opts_next itself: it prints the usage to stdout and exits 0.  An unknown
 * option, a missing argument or an unexpected one prints
 *     prog: unrecognized option '--frob'
 *     Try 'prog --help'.
 * to stderr and exits 2.
 */
#ifndef TFS_OPTS_H
#define TFS_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct optdef {
    int key;            /* short option letter, or a value >= 256 for long-only */
    const char *name;   /* long name, without "--" */
    const char *arg;    /* argument placeholder ("N", "FILE"), NULL for a flag */
    const char *def;    /* default shown in --help, or NULL */
    const char *help;   /* one line of help */
};

struct progspec {
    const char *name;       /* program name */
    const char *synopsis;   /* "[OPTION]... [FILE]..." */
    const char *summary;    /* one sentence: what the program does */
    const char *details;    /* extra paragraphs after the options, or NULL */
    const struct optdef *opts;  /* terminated by an entry with name == NULL */
};

struct opts {
    int argc;
    char **argv;
    int optind;                 /* index of the first operand after parsing */
    const struct progspec *spec;
    void *longopts;             /* internal: struct option[] */
    char *shortopts;            /* internal */
};

void opts_init(struct opts *p, int argc, char **argv, const struct progspec *spec);
/* Returns the key of the next option (its optdef.key), or -1 at the end.
 * *arg is set to the option's argument or NULL. */
int opts_next(struct opts *p, const char **arg);
void opts_free(struct opts *p);

/* Print the full usage (synopsis, summary, option table, details). */
void opts_usage(const struct progspec *spec, FILE *f);

/* Usage error: "prog: message" + "Try 'prog --help'." on stderr, exit 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- strict number parsing ----
 * Each rejects trailing junk ("12x"), a sign where none is allowed ("-3"),
 * overflow and values outside [min, max], with a usage error naming the
 * option.  parse_size also accepts a suffix: K = 10^3, M = 10^6, G = 10^9
 * (decimal, as token budgets are usually quoted), Ki = 2^10, Mi = 2^20,
 * Gi = 2^30. */
uint64_t parse_size(const char *opt, const char *s, uint64_t min, uint64_t max);
long     parse_long(const char *opt, const char *s, long min, long max);
double   parse_double(const char *opt, const char *s, double min, double max);

#endif
