/* cardyaml.c - a dataset card's YAML header as the Hub's cardData JSON
 * (see cardyaml.h).
 *
 * The Hub turns the YAML between the README's "---" lines into cardData;
 * offline, with a snapshot that other tools fetched, we do the same for the
 * part hf-fetch uses (configs, dataset_info).  The subset of YAML read:
 * block mappings ("key: value"), block sequences ("- item", at the key's
 * indentation or deeper, "- key: value" opening a mapping), flow sequences
 * of scalars ("[a, b]"), plain and quoted scalars, '#' comments.  Anchors,
 * multi-line scalars and flow mappings are not used by dataset cards'
 * configs; such values come out as strings or are skipped.
 */
#include "hub/cardyaml.h"
#include "core/xio.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lines { char **l; int n; };

static int indent_of(const char *s) { int k = 0; while (s[k] == ' ') k++; return k; }
static int blank(const char *s) { s += indent_of(s); return !*s || *s == '#'; }

/* The next line that is not blank or a comment, from *i. */
static int next_line(const struct lines *L, int *i)
{
    while (*i < L->n && blank(L->l[*i])) (*i)++;
    return *i < L->n;
}

/* A scalar: quotes removed; true/false and integers typed. */
static json_t *scalar(const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r')) n--;
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) return json_stringn(s + 1, n - 2);
    char *t = xmalloc(n + 1);
    memcpy(t, s, n);
    t[n] = 0;
    char *hash = strstr(t, " #");      /* a comment after a plain scalar */
    if (hash) { *hash = 0; n = strlen(t); while (n && t[n - 1] == ' ') t[--n] = 0; }
    json_t *v;
    char *end;
    long long x = strtoll(t, &end, 10);
    if (!strcmp(t, "true")) v = json_true();
    else if (!strcmp(t, "false")) v = json_false();
    else if (*t && !*end) v = json_integer(x);
    else if (t[0] == '[') {             /* [a, b]: a flow sequence of scalars */
        v = json_array();
        char *close = strrchr(t, ']');
        if (close) *close = 0;
        for (char *tok = strtok(t + 1, ","); tok; tok = strtok(NULL, ",")) {
            while (*tok == ' ') tok++;
            if (*tok) json_array_append_new(v, scalar(tok));
        }
    } else v = json_string(t);
    free(t);
    return v;
}

static json_t *node(struct lines *L, int *i, int ind, int depth);

/* "- item" lines at indentation ind. */
static json_t *sequence(struct lines *L, int *i, int ind, int depth)
{
    json_t *a = json_array();
    while (next_line(L, i) && indent_of(L->l[*i]) == ind && L->l[*i][ind] == '-') {
        char *line = L->l[*i], *rest = line + ind + 1;
        if (!*rest || blank(rest)) { (*i)++; next_line(L, i); json_array_append_new(a, node(L, i, *i < L->n ? indent_of(L->l[*i]) : 0, depth + 1)); continue; }
        int sub = ind + 1 + indent_of(rest);
        if (strstr(rest, ": ") || rest[strlen(rest) - 1] == ':') {
            /* "- key: value": a mapping whose keys line up after the dash */
            line[ind] = ' ';
            json_array_append_new(a, node(L, i, sub, depth + 1));
        } else { json_array_append_new(a, scalar(line + sub)); (*i)++; }
    }
    return a;
}

/* "key: value" lines at indentation ind. */
static json_t *mapping(struct lines *L, int *i, int ind, int depth)
{
    json_t *o = json_object();
    while (next_line(L, i) && indent_of(L->l[*i]) == ind && L->l[*i][ind] != '-') {
        char *line = L->l[*i] + ind, *colon = strchr(line, ':');
        (*i)++;
        if (!colon) continue;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(colon - line), line);
        const char *v = colon + 1;
        while (*v == ' ') v++;
        if (*v && *v != '#') { json_object_set_new(o, key, scalar(v)); continue; }
        /* the value is the block below: deeper, or a sequence at this indentation */
        if (next_line(L, i) && (indent_of(L->l[*i]) > ind || (indent_of(L->l[*i]) == ind && L->l[*i][ind] == '-')))
            json_object_set_new(o, key, node(L, i, indent_of(L->l[*i]), depth + 1));
        else json_object_set_new(o, key, json_null());
    }
    return o;
}

static json_t *node(struct lines *L, int *i, int ind, int depth)
{
    if (depth > 32 || !next_line(L, i)) return json_null();
    return L->l[*i][ind] == '-' ? sequence(L, i, ind, depth) : mapping(L, i, ind, depth);
}

json_t *hf_card_from_readme(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    struct lines L = { NULL, 0 };
    char *line = NULL;
    size_t cap = 0;
    ssize_t k;
    int in = 0, done = 0;
    while (!done && (k = getline(&line, &cap, f)) > 0) {
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r')) line[--k] = 0;
        if (!strcmp(line, "---")) { if (in) done = 1; in = 1; continue; }
        if (!in) break;                 /* no header: the first line is not "---" */
        for (char *t = line; *t; t++) if (*t == '\t') *t = ' ';
        L.l = xrealloc(L.l, (size_t)(L.n + 1) * sizeof *L.l);
        L.l[L.n++] = xstrdup(line);
    }
    free(line);
    fclose(f);
    json_t *card = NULL;
    if (done) {
        int i = 0;
        card = mapping(&L, &i, 0, 0);
    }
    for (int j = 0; j < L.n; j++) free(L.l[j]);
    free(L.l);
    return card;
}
