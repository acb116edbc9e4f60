/* opts.c - option table parsing, --help, strict numbers. */
#include "core/opts.h"
#include "core/xio.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define KEY_HELP 'h'

static size_t count_opts(const struct optdef *o)
{
    size_t n = 0;
    while (o[n].name) n++;
    return n;
}

void opts_init(struct opts *p, int argc, char **argv, const struct progspec *spec)
{
    memset(p, 0, sizeof *p);
    p->argc = argc;
    p->argv = argv;
    p->spec = spec;
    tfs_set_prog(spec->name);
    size_t n = count_opts(spec->opts);
    struct option *lo = xcalloc(n + 2, sizeof *lo);
    char *so = xmalloc(3 * n + 8);
    size_t k = 0;
    so[k++] = ':';      /* a leading ':' makes getopt report a missing argument as ':' */
    for (size_t i = 0; i < n; i++) {
        const struct optdef *d = &spec->opts[i];
        lo[i].name = d->name;
        lo[i].has_arg = d->arg ? required_argument : no_argument;
        lo[i].val = d->key;
        if (d->key > 0 && d->key < 256) {
            so[k++] = (char)d->key;
            if (d->arg) so[k++] = ':';
        }
    }
    lo[n].name = "help"; lo[n].val = KEY_HELP;
    so[k++] = 'h';
    so[k] = 0;
    p->longopts = lo;
    p->shortopts = so;
    optind = 1;
    opterr = 0;
}

static const char *opt_display(struct opts *p)
{
    /* The text of the option that failed, as the user typed it. */
    static char buf[256];
    const char *a = p->argv[optind - 1];
    if (optopt && optopt < 256 && !(a[0] == '-' && a[1] == '-')) {
        snprintf(buf, sizeof buf, "-%c", optopt);
        return buf;
    }
    snprintf(buf, sizeof buf, "%s", a);
    char *eq = strchr(buf, '=');
    if (eq) *eq = 0;
    return buf;
}

int opts_next(struct opts *p, const char **arg)
{
    optopt = 0;
    int c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
    *arg = optarg;
    if (c == -1) { p->optind = optind; return -1; }
    if (c == KEY_HELP) { opts_usage(p->spec, stdout); exit(EXIT_OK); }
    if (c == '?') {
        if (optopt && optopt < 256 && p->argv[optind - 1][1] != '-')
            usage_error("invalid option -- '%c'", optopt);
        const char *a = opt_display(p);
        /* getopt also returns '?' for an argument given to a flag (--quiet=3) */
        if (strchr(p->argv[optind - 1], '=') && strncmp(p->argv[optind - 1], "--", 2) == 0) {
            const struct option *lo = p->longopts;
            for (; lo->name; lo++)
                if (strcmp(lo->name, a + 2) == 0) usage_error("option '%s' takes no argument", a);
        }
        usage_error("unrecognized option '%s'", a);
    }
    if (c == ':') usage_error("option '%s' requires an argument", opt_display(p));
    return c;
}

void opts_free(struct opts *p)
{
    free(p->longopts);
    free(p->shortopts);
    p->longopts = NULL;
    p->shortopts = NULL;
}

void opts_usage(const struct progspec *spec, FILE *f)
{
    fprintf(f, "Usage: %s %s\n%s\n\nOptions:\n", spec->name, spec->synopsis, spec->summary);
    for (const struct optdef *d = spec->opts; d->name; d++) {
        char left[96];
        int n = 0;
        if (d->key > 0 && d->key < 256) n = snprintf(left, sizeof left, "  -%c, --%s", d->key, d->name);
        else n = snprintf(left, sizeof left, "      --%s", d->name);
        if (d->arg && n < (int)sizeof left) snprintf(left + n, sizeof left - (size_t)n, " %s", d->arg);
        fprintf(f, "%-28s %s", left, d->help);
        if (d->def) fprintf(f, " (default: %s)", d->def);
        fputc('\n', f);
    }
    fprintf(f, "%-28s %s\n", "  -h, --help", "print this help and exit");
    if (spec->details) fprintf(f, "\n%s\n", spec->details);
    fprintf(f, "\nExit status: 0 success, 1 data or runtime error, 2 usage error.\n"
               "See %s(1) and tfs(7).\n", spec->name);
}

void usage_error(const char *fmt, ...)
{
    fflush(stdout);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", tfs_prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", tfs_prog);
    exit(EXIT_USAGE);
}

/* ---- strict numbers ---- */
uint64_t parse_size(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    const char *p = s;
    if (!*p || !(*p >= '0' && *p <= '9'))
        usage_error("%s: '%s' is not a non-negative integer", opt, s);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno == ERANGE) usage_error("%s: '%s' is too large", opt, s);
    uint64_t mul = 1;
    if (*end) {
        static const struct { const char *suf; uint64_t mul; } sufs[] = {
            { "Ki", 1ull << 10 }, { "Mi", 1ull << 20 }, { "Gi", 1ull << 30 },
            { "K", 1000ull }, { "k", 1000ull }, { "M", 1000000ull }, { "G", 1000000000ull },
        };
        size_t i;
        for (i = 0; i < sizeof sufs / sizeof sufs[0]; i++)
            if (strcmp(end, sufs[i].suf) == 0) { mul = sufs[i].mul; break; }
        if (i == sizeof sufs / sizeof sufs[0])
            usage_error("%s: '%s' is not a number (trailing '%s'; suffixes K, M, G, Ki, Mi, Gi)", opt, s, end);
    }
    if (v > UINT64_MAX / mul) usage_error("%s: '%s' is too large", opt, s);
    uint64_t r = (uint64_t)v * mul;
    if (r < min || r > max)
        usage_error("%s: %s is out of range [%llu, %llu]", opt, s,
                    (unsigned long long)min, (unsigned long long)max);
    return r;
}

long parse_long(const char *opt, const char *s, long min, long max)
{
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || (s[0] == ' ')) usage_error("%s: '%s' is not an integer", opt, s);
    if (errno == ERANGE || v < min || v > max)
        usage_error("%s: %s is out of range [%ld, %ld]", opt, s, min, max);
    return v;
}

double parse_double(const char *opt, const char *s, double min, double max)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || s[0] == ' ' || !isfinite(v)) usage_error("%s: '%s' is not a number", opt, s);
    if (errno == ERANGE || v < min || v > max)
        usage_error("%s: %s is out of range [%g, %g]", opt, s, min, max);
    return v;
}
