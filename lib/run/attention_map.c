/* attention_map.c - tfs-eval --attention: one layer's attention weights as
 * a matrix file and a gnuplot heat map (see attention_map.h). */
#include "run/attention_map.h"
#include "core/jbuf.h"
#include "core/xio.h"
#include "tok/tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int attention_parse(const char *arg, int *layer, int *head)
{
    char *end;
    errno = 0;
    long l = strtol(arg, &end, 10), h = -1;
    if (end == arg || errno || l < 0 || l > INT_MAX || (*end && *end != ':')) return -1;
    if (*end == ':') {
        const char *s = end + 1;
        errno = 0;
        h = strtol(s, &end, 10);
        if (end == s || *end || errno || h < 0 || h > INT_MAX || *s == '-' || *s == '+') return -1;
    }
    if (*arg == '-' || *arg == '+') return -1;
    *layer = (int)l;
    *head = (int)h;
    return 0;
}

/* ---- the matrix file ------------------------------------------------------
 *   # tfs attention matrix: layer 1, head 0 of 4, 6 tokens, m.st
 *   # token 0 256 "<|endoftext|>"
 *   # token 1 72 "Once"
 *   ...
 *   1 0 0 0 0 0
 *   0.25 0.75 0 0 0 0
 *   ...
 * Comment lines first (gnuplot and most readers skip them), then one line
 * per query position i with the T weights over the keys j = 0 .. T-1. */
static void write_matrix(FILE *out, const struct tokenizer *tok, const uint32_t *ids, int T,
                         const float *A, int layer, int head, int heads, const char *what)
{
    struct jbuf b;
    jb_init(&b, out);
    char *h = head < 0 ? xasprintf("mean of %d heads", heads) : xasprintf("head %d of %d", head, heads);
    char *line = xasprintf("# tfs attention matrix: layer %d, %s, %d tokens, %s", layer, h, T, what);
    jb_raw(&b, line, strlen(line));
    jb_endrow(&b);
    free(line);
    free(h);
    struct tok_bytes tb = { NULL, 0, 0 };
    for (int i = 0; i < T; i++) {
        jb_raw(&b, "# token ", 8);
        jb_u64(&b, (uint64_t)i);
        jb_raw(&b, " ", 1);
        jb_u64(&b, ids[i]);
        jb_raw(&b, " ", 1);
        if (tok) {
            tb.len = 0;
            tok_decode(tok, &ids[i], 1, &tb);
            jb_str(&b, tb.p ? tb.p : "", tb.len);
        } else jb_raw(&b, "null", 4);
        jb_endrow(&b);
    }
    free(tb.p);
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++) {
            if (j) jb_raw(&b, " ", 1);
            jb_float(&b, A[(size_t)i * T + j]);
        }
        jb_endrow(&b);
    }
    jb_free(&b);
}

/* ---- the heat map ----------------------------------------------------------
 * A token's text as a gnuplot label, inside double quotes (where \ and "
 * are escaped with a backslash): a space shown as a middle dot so that
 * " the" and "the" differ, control characters and bytes that are not UTF-8
 * as the text \n, \t or \xNN (cairo draws only valid UTF-8). */
static void put_label(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] >> 6) == 2;
        if (!ok) { fprintf(f, "\\\\x%02x", c); i++; continue; }
        if (c == ' ') fputs("\xc2\xb7", f);
        else if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\\\n", f);
        else if (c == '\t') fputs("\\\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\\\x%02x", c);
        else fwrite(s + i, 1, len, f);
        i += len;
    }
}

/* Is there an executable gnuplot on PATH? */
static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    for (const char *p = path;; p++) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *file = xasprintf("%.*s/gnuplot", (int)n, n ? p : ".");
        int ok = access(file, X_OK) == 0;
        free(file);
        if (ok) return 1;
        if (!e) return 0;
        p = e;
    }
}

/* A file name or title, as a double-quoted gnuplot string. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The tics of one axis: every token when there are few, every k-th when
 * there are too many to read. */
static void put_tics(FILE *f, const char *axis, const struct tokenizer *tok, const uint32_t *ids, int T)
{
    int every = (T + 79) / 80;
    struct tok_bytes tb = { NULL, 0, 0 };
    fprintf(f, "set %s (", axis);
    for (int i = 0, first = 1; i < T; i += every, first = 0) {
        fputs(first ? "\"" : ", \"", f);
        if (tok) {
            tb.len = 0;
            tok_decode(tok, &ids[i], 1, &tb);
            put_label(f, tb.p ? tb.p : "", tb.len);
        } else fprintf(f, "%u", ids[i]);
        fprintf(f, "\" %d", i);
    }
    fputs(")\n", f);
    free(tb.p);
}

static void draw_heatmap(const char *png, const struct tokenizer *tok, const uint32_t *ids, int T,
                         const float *A, int layer, int head, int heads, const char *what)
{
    struct outfile o;
    outfile_open(&o, png);
    const char *target = o.tmp ? o.tmp : png;
    fflush(stdout);
    FILE *g = popen("gnuplot", "w");
    if (!g) die_errno("--heatmap: cannot run gnuplot");
    /* cells of 8 to 24 pixels, room for the labels around them */
    int cell = T ? 900 / T : 24;
    cell = cell < 8 ? 8 : cell > 24 ? 24 : cell;
    fprintf(g, "set terminal pngcairo size %d,%d font ',9'\nset output ", 300 + cell * T, 240 + cell * T);
    put_quoted(g, target);
    char *title = head < 0 ? xasprintf("layer %d, mean of %d heads: %s", layer, heads, what)
                           : xasprintf("layer %d, head %d of %d: %s", layer, head, heads, what);
    fputs("\nset title ", g);
    put_quoted(g, title);
    fputs(" noenhanced\n", g);
    free(title);
    fputs("set xlabel 'key: the token attended to' noenhanced\n"
          "set ylabel 'query: the token attending' noenhanced\n"
          "set xtics rotate by 90 right noenhanced scale 0\n"
          "set ytics noenhanced scale 0\n", g);
    put_tics(g, "xtics", tok, ids, T);
    put_tics(g, "ytics", tok, ids, T);
    /* query 0 at the top: the causal triangle is the lower left half */
    fprintf(g, "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n", T - 1, T - 1);
    fputs("set cbrange [0:1]\nset cblabel 'weight'\nset size square\n"
          "set palette defined (0 '#ffffff', 0.1 '#fee8c8', 0.4 '#fc8d59', 1 '#7f0000')\n"
          "$P << EOD\n", g);
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++) fprintf(g, j ? " %.6g" : "%.6g", A[(size_t)i * T + j]);
        fputc('\n', g);
    }
    fputs("EOD\nplot $P matrix with image notitle\n", g);
    int st = pclose(g);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("--heatmap: gnuplot failed to draw %s (see its messages above)", png);
    outfile_commit(&o);
}

void attention_map(struct model *m, const struct tokenizer *tok, const uint32_t *ids, size_t n,
                   int layer, int head, const char *what, FILE *out, const char *png)
{
    /* before anything is written */
    if (png && !have_gnuplot())
        die("--heatmap: gnuplot is not on PATH; install it (Debian: apt-get install gnuplot-nox), "
            "or leave out --heatmap (the matrix file needs nothing)");
    struct model_config c = model_config_of(m);
    if (layer >= c.layers) die("--attention: layer %d, but the model has %d (0 to %d)", layer, c.layers, c.layers - 1);
    if (head >= c.heads) die("--attention: head %d, but the model has %d (0 to %d)", head, c.heads, c.heads - 1);
    if (n < 1) die("%s: no tokens to look at", what);
    if (n > (size_t)c.context)
        die("%zu tokens (%s), more than the model's context of %d: attention is over one window; "
            "give a shorter text", n, what, c.context);
    int T = (int)n, H = c.heads;
    size_t TT = (size_t)T * T;
    float *P = xmalloc((size_t)H * TT * sizeof *P);
    model_attention(m, ids, T, layer, P);
    float *A = P + (size_t)(head < 0 ? 0 : head) * TT;
    if (head < 0) {
        /* the mean over the heads: still a causal matrix whose rows sum to 1 */
        for (int h = 1; h < H; h++)
            for (size_t k = 0; k < TT; k++) P[k] += P[(size_t)h * TT + k];
        for (size_t k = 0; k < TT; k++) P[k] /= (float)H;
    }
    write_matrix(out, tok, ids, T, A, layer, head, H, what);
    if (png) draw_heatmap(png, tok, ids, T, A, layer, head, H, what);
    free(P);
}
