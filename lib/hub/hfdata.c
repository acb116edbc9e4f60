/* hfdata.c - configs, splits and data files of a dataset; the alias
 * registry (see hfdata.h). */
#include "hub/hfdata.h"
#include "core/xio.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ======================================================================
 * Formats and patterns
 * ====================================================================== */

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

int hf_format_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (base[0] == '.') return HF_NONE;
    size_t n = strlen(base);
    static const char *comp[] = { ".gz", ".gzip", ".zst", ".zstd" };
    for (int i = 0; i < 4; i++)
        if (ends_with(base, n, comp[i])) { n -= strlen(comp[i]); break; }
    if (ends_with(base, n, ".parquet")) return HF_PARQUET;
    if (ends_with(base, n, ".jsonl") || ends_with(base, n, ".ndjson")) return HF_JSONL;
    if (ends_with(base, n, ".json")) return HF_JSON;
    if (ends_with(base, n, ".txt") || ends_with(base, n, ".text")) return HF_TEXT;
    if (ends_with(base, n, ".csv")) return HF_CSV;
    return HF_NONE;
}

const char *hf_format_name(int fmt)
{
    static const char *names[] = { "parquet", "jsonl", "json", "text", "csv" };
    return fmt >= 0 && fmt < HF_NFORMATS ? names[fmt] : "none";
}

static int class_match(const char **pp, char c)
{
    const char *p = *pp + 1;
    int neg = *p == '!' || *p == '^', hit = 0;
    if (neg) p++;
    const char *start = p;
    while (*p && (*p != ']' || p == start)) {
        if (p[1] == '-' && p[2] && p[2] != ']') { if (c >= p[0] && c <= p[2]) hit = 1; p += 3; }
        else { if (c == *p) hit = 1; p++; }
    }
    if (*p != ']') return -1;   /* not a class: the '[' is literal */
    *pp = p + 1;
    return hit != neg;
}

int hf_glob(const char *pat, const char *s)
{
    for (;;) {
        if (!*pat) return !*s;
        if (pat[0] == '*' && pat[1] == '*') {
            const char *rest = pat + 2;
            /* "**" + "/" may also match no folder at all */
            if (*rest == '/' && hf_glob(rest + 1, s)) return 1;
            for (const char *t = s;; t++) {
                if (hf_glob(rest, t)) return 1;
                if (!*t) return 0;
            }
        }
        if (*pat == '*') {
            for (const char *t = s;; t++) {
                if (hf_glob(pat + 1, t)) return 1;
                if (!*t || *t == '/') return 0;
            }
        }
        if (!*s) return 0;
        if (*pat == '?') { if (*s == '/') return 0; pat++; s++; continue; }
        if (*pat == '[') {
            const char *p = pat;
            int m = class_match(&p, *s);
            if (m == 0 || (m > 0 && *s == '/')) return 0;
            if (m > 0) { pat = p; s++; continue; }
        }
        if (*pat != *s) return 0;
        pat++; s++;
    }
}

/* ======================================================================
 * Listing helpers
 * ====================================================================== */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* a JSON listing entry -> hf_file */
static void to_file(json_t *e, struct hf_file *f)
{
    json_t *lfs = json_object_get(e, "lfs");
    const char *oid = jstr(e, "oid");
    const char *loid = json_is_object(lfs) ? jstr(lfs, "oid") : NULL;
    json_t *size = json_object_get(e, "size");
    f->path = xstrdup(jstr(e, "path"));
    f->size = json_is_integer(size) ? json_integer_value(size) : -1;
    /* LFS objects are named (and checked) by their sha256 */
    if (loid && strlen(loid) == 64) { f->etag = xstrdup(loid); f->sha256 = xstrdup(loid); }
    else { f->etag = xstrdup(oid ? oid : ""); f->sha256 = NULL; }
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct hf_file *)a)->path, ((const struct hf_file *)b)->path);
}

/* A growing list of split names with, for each, the matching entries. */
struct splits {
    int n;
    char *name[64];
    json_t *files[64];      /* arrays of listing entries */
};

static json_t *split_files(struct splits *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name)) return s->files[i];
    if (s->n == 64) die("more than 64 splits");
    s->name[s->n] = xstrdup(name);
    s->files[s->n] = json_array();
    return s->files[s->n++];
}

static void splits_free(struct splits *s)
{
    for (int i = 0; i < s->n; i++) { free(s->name[i]); json_decref(s->files[i]); }
    s->n = 0;
}

static void add_unique(json_t *arr, json_t *e)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_array_get(arr, i) == e) return;
    json_array_append(arr, e);
}

static char *names_of(const struct splits *s)
{
    size_t cap = 16;
    for (int i = 0; i < s->n; i++) cap += strlen(s->name[i]) + 2;
    char *o = xmalloc(cap);
    o[0] = 0;
    for (int i = 0; i < s->n; i++) { if (i) strcat(o, ", "); strcat(o, s->name[i]); }
    return o;
}

/* ======================================================================
 * Inferred splits (no configs in the card)
 * ====================================================================== */

static const char *keyword_split(const char *word, size_t n)
{
    static const struct { const char *w, *split; } kw[] = {
        { "train", "train" }, { "training", "train" },
        { "validation", "validation" }, { "valid", "validation" }, { "dev", "validation" }, { "val", "validation" },
        { "test", "test" }, { "testing", "test" }, { "eval", "test" }, { "evaluation", "test" },
    };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i].w) == n && !strncasecmp(kw[i].w, word, n)) return kw[i].split;
    return NULL;
}

/* The split named by a word of s[0..n): words are separated by - . _ space
 * and digits, as in the `datasets` patterns "[-._ 0-9]". */
static const char *split_in(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && strchr("-._ 0123456789", s[i])) i++;
        size_t j = i;
        while (j < n && !strchr("-._ 0123456789", s[j])) j++;
        const char *k = j > i ? keyword_split(s + i, j - i) : NULL;
        if (k) return k;
        i = j;
    }
    return NULL;
}

/* Do p[0..n) hold n decimal digits?  Stops at the first that is not one,
 * so a string shorter than n (its NUL is not a digit) is never read past. */
static int digits(const char *p, int n)
{
    for (int k = 0; k < n; k++)
        if (!isdigit((unsigned char)p[k])) return 0;
    return 1;
}

int hf_is_shard(const char *path, char *split, size_t cap)
{
    /* data/{split}-NNNNN-of-NNNNN* */
    if (strncmp(path, "data/", 5)) return 0;
    const char *s = path + 5, *dash = NULL;
    for (const char *p = s; *p && *p != '/'; p++) {
        if (*p != '-') continue;
        const char *d = p + 1;
        /* each test reads only as far as the one before it matched */
        if (digits(d, 5) && !strncmp(d + 5, "-of-", 4) && digits(d + 9, 5)) { dash = p; break; }
    }
    if (!dash || dash == s || (size_t)(dash - s) >= cap || strchr(dash, '/')) return 0;
    memcpy(split, s, (size_t)(dash - s));
    split[dash - s] = 0;
    return 1;
}

static void infer_splits(json_t *data, struct splits *out)
{
    size_t i;
    json_t *e;
    char name[256];
    /* 1. shards */
    json_array_foreach(data, i, e)
        if (hf_is_shard(jstr(e, "path"), name, sizeof name)) add_unique(split_files(out, name), e);
    if (out->n) return;
    /* 2. a keyword in a folder name */
    json_array_foreach(data, i, e) {
        const char *p = jstr(e, "path"), *slash;
        for (const char *seg = p; (slash = strchr(seg, '/')); seg = slash + 1) {
            const char *k = split_in(seg, (size_t)(slash - seg));
            if (k) { add_unique(split_files(out, k), e); break; }
        }
    }
    if (out->n) return;
    /* 3. a keyword in a file name */
    json_array_foreach(data, i, e) {
        const char *p = jstr(e, "path"), *base = strrchr(p, '/');
        base = base ? base + 1 : p;
        const char *k = split_in(base, strlen(base));
        if (k) add_unique(split_files(out, k), e);
    }
    if (out->n) return;
    /* 4. everything is train */
    json_array_foreach(data, i, e) add_unique(split_files(out, "train"), e);
}

/* ======================================================================
 * Configs from the card
 * ====================================================================== */

static void match_patterns(json_t *data, const char *data_dir, json_t *pats, json_t *dest)
{
    size_t i, k;
    json_t *p, *e;
    json_t *list = json_is_string(pats) ? json_pack("[O]", pats) : json_incref(pats);
    json_array_foreach(list, k, p) {
        if (!json_is_string(p)) continue;
        const char *pat = json_string_value(p);
        char *full = NULL;
        if (data_dir && *data_dir) {
            full = xasprintf("%s/%s", data_dir, pat);
        } else full = xstrdup(pat);
        json_array_foreach(data, i, e)
            if (hf_glob(full, jstr(e, "path"))) add_unique(dest, e);
        free(full);
    }
    json_decref(list);
}

static void card_splits(json_t *data, json_t *cfg, struct splits *out)
{
    json_t *df = json_object_get(cfg, "data_files");
    const char *dir = jstr(cfg, "data_dir");
    if (!df && dir) {   /* only a folder: infer splits inside it */
        json_t *sub = json_array();
        size_t i, n = strlen(dir);
        json_t *e;
        json_array_foreach(data, i, e)
            if (!strncmp(jstr(e, "path"), dir, n) && jstr(e, "path")[n] == '/') json_array_append(sub, e);
        infer_splits(sub, out);
        json_decref(sub);
        return;
    }
    if (json_is_string(df) || (json_is_array(df) && json_is_string(json_array_get(df, 0)))) {
        match_patterns(data, dir, df, split_files(out, "train"));
        return;
    }
    if (json_is_object(df)) {     /* {split: pattern(s)} */
        const char *name;
        json_t *pats;
        json_object_foreach(df, name, pats) match_patterns(data, dir, pats, split_files(out, name));
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(df, i, s) {
        const char *name = jstr(s, "split");
        json_t *path = json_object_get(s, "path");
        if (name && path) match_patterns(data, dir, path, split_files(out, name));
    }
}

static json_t *default_config(json_t *configs)
{
    size_t i;
    json_t *c;
    if (json_array_size(configs) == 1) return json_array_get(configs, 0);
    json_array_foreach(configs, i, c)
        if (json_is_true(json_object_get(c, "default"))) return c;
    json_array_foreach(configs, i, c)
        if (jstr(c, "config_name") && !strcmp(jstr(c, "config_name"), "default")) return c;
    return NULL;
}

static char *config_names(json_t *configs)
{
    size_t i, cap = 16;
    json_t *c;
    /* each name, or "?" for a config without one, and ", " */
    json_array_foreach(configs, i, c) cap += (jstr(c, "config_name") ? strlen(jstr(c, "config_name")) : 1) + 2;
    char *o = xmalloc(cap);
    o[0] = 0;
    json_array_foreach(configs, i, c) {
        if (i) strcat(o, ", ");
        strcat(o, jstr(c, "config_name") ? jstr(c, "config_name") : "?");
    }
    return o;
}

/* ======================================================================
 * Choosing
 * ====================================================================== */

static void fill_choice(struct hf_choice *out, const char *config, const char *split, int format, json_t *files)
{
    size_t i;
    json_t *e;
    out->config = xstrdup(config);
    out->split = xstrdup(split);
    out->format = format;
    out->files = xcalloc(json_array_size(files) + 1, sizeof *out->files);
    out->nfiles = 0;
    json_array_foreach(files, i, e)
        if (format == HF_NONE || hf_format_of(jstr(e, "path")) == format) to_file(e, &out->files[out->nfiles++]);
    qsort(out->files, (size_t)out->nfiles, sizeof *out->files, cmp_path);
}

/* The data files: files in a format we know, outside hidden folders. */
static json_t *data_files(json_t *tree)
{
    json_t *data = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(tree, i, e) {
        const char *p = jstr(e, "path"), *t = jstr(e, "type");
        if (!p || (t && strcmp(t, "file")) || p[0] == '.' || strstr(p, "/.")) continue;
        if (hf_format_of(p) != HF_NONE) json_array_append(data, e);
    }
    return data;
}

/* The format of a config: the most common among its files' (ties: parquet first). */
static int config_format(const struct splits *sp)
{
    int count[HF_NFORMATS] = { 0 };
    size_t i;
    json_t *e;
    for (int s = 0; s < sp->n; s++)
        json_array_foreach(sp->files[s], i, e) count[hf_format_of(jstr(e, "path"))]++;
    int fmt = HF_PARQUET;
    for (int f = 1; f < HF_NFORMATS; f++) if (count[f] > count[fmt]) fmt = f;
    return count[fmt] > 0 ? fmt : HF_NONE;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(jstr(*(json_t *const *)a, "path"), jstr(*(json_t *const *)b, "path"));
}

/* The splits of one config into layout. */
static void layout_config(json_t *layout, const char *cname, struct splits *sp)
{
    int fmt = config_format(sp);
    for (int s = 0; s < sp->n; s++) {
        size_t i, n = 0;
        json_t *e, **v = xcalloc(json_array_size(sp->files[s]) + 1, sizeof *v);
        json_array_foreach(sp->files[s], i, e)
            if (hf_format_of(jstr(e, "path")) == fmt) v[n++] = e;
        qsort(v, n, sizeof *v, by_path);
        json_t *files = json_array();
        for (i = 0; i < n; i++) json_array_append(files, v[i]);
        free(v);
        json_array_append_new(layout, json_pack("{s:s, s:s, s:s, s:o}", "config", cname, "split", sp->name[s],
                                                "format", fmt == HF_NONE ? "none" : hf_format_name(fmt),
                                                "files", files));
    }
    splits_free(sp);
}

json_t *hf_layout(json_t *card, json_t *tree)
{
    json_t *data = data_files(tree), *layout = json_array(), *c;
    json_t *configs = json_is_object(card) ? json_object_get(card, "configs") : NULL;
    struct splits sp = { 0 };
    size_t i;
    if (json_is_array(configs) && json_array_size(configs) > 0) {
        json_array_foreach(configs, i, c) {
            card_splits(data, c, &sp);
            layout_config(layout, jstr(c, "config_name") ? jstr(c, "config_name") : "default", &sp);
        }
    } else {
        infer_splits(data, &sp);
        layout_config(layout, "default", &sp);
    }
    json_decref(data);
    return layout;
}

int hf_choose(const char *repo, json_t *card, json_t *tree, const char *config, const char *split,
              struct hf_choice *out)
{
    memset(out, 0, sizeof *out);
    json_t *data = data_files(tree);
    size_t i;
    json_t *e;
    json_t *configs = json_is_object(card) ? json_object_get(card, "configs") : NULL;
    struct splits sp = { 0 };
    const char *cname;
    if (json_is_array(configs) && json_array_size(configs) > 0) {
        json_t *cfg = NULL;
        if (config) {
            json_array_foreach(configs, i, e)
                if (jstr(e, "config_name") && !strcmp(jstr(e, "config_name"), config)) cfg = e;
            if (!cfg) { char *n = config_names(configs); die("%s: no config '%s'; configs: %s", repo, config, n); }
        } else if (!(cfg = default_config(configs))) {
            char *n = config_names(configs);
            die("%s: the dataset has several configs and no default; choose one with --config: %s", repo, n);
        }
        cname = jstr(cfg, "config_name") ? jstr(cfg, "config_name") : "default";
        card_splits(data, cfg, &sp);
    } else {
        if (config && strcmp(config, "default")) die("%s: no config '%s'; configs: default", repo, config);
        cname = "default";
        infer_splits(data, &sp);
    }
    /* the format: the most common among this config's files */
    int count[HF_NFORMATS] = { 0 };
    for (int s = 0; s < sp.n; s++)
        json_array_foreach(sp.files[s], i, e) count[hf_format_of(jstr(e, "path"))]++;
    int fmt = HF_PARQUET;
    for (int f = 1; f < HF_NFORMATS; f++) if (count[f] > count[fmt]) fmt = f;
    json_t *files = NULL;
    for (int s = 0; s < sp.n; s++) if (!strcmp(sp.name[s], split)) files = sp.files[s];
    int readable = count[fmt] > 0 && fmt != HF_CSV;
    if (!files && readable) {
        char *n = names_of(&sp);
        die("%s: config '%s' has no split '%s'; splits: %s", repo, cname, split, n[0] ? n : "(none)");
    }
    if (readable) {
        fill_choice(out, cname, split, fmt, files);
        if (out->nfiles == 0)
            die("%s: config '%s', split '%s': no %s files (the config's format)", repo, cname, split, hf_format_name(fmt));
    }
    else { out->config = xstrdup(cname); out->split = xstrdup(split); out->format = HF_NONE; }
    splits_free(&sp);
    json_decref(data);
    return readable;
}

void hf_choose_converted(const char *repo, json_t *tree, const char *config, const char *split,
                         struct hf_choice *out)
{
    memset(out, 0, sizeof *out);
    json_t *files = json_array();
    char *pat1 = xasprintf("%s/%s/*.parquet", config, split);
    char *pat2 = xasprintf("%s/partial-%s/*.parquet", config, split);
    size_t i;
    json_t *e;
    /* every config/split pair there, for the error message */
    struct splits all = { 0 };
    json_t *partial = json_array();
    json_array_foreach(tree, i, e) {
        const char *p = jstr(e, "path");
        if (!p || hf_format_of(p) != HF_PARQUET) continue;
        if (hf_glob(pat1, p)) json_array_append(files, e);
        if (hf_glob(pat2, p)) json_array_append(partial, e);
        const char *s1 = strchr(p, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (s2) {
            char name[512];
            snprintf(name, sizeof name, "%.*s", (int)(s2 - p), p);
            split_files(&all, name);
        }
    }
    /* partial-{split}: the Hub converted only the first part of a large
     * split; used only when the whole one is not there */
    if (json_array_size(files) == 0 && json_array_size(partial) > 0) {
        json_decref(files);
        files = json_incref(partial);
        out->partial = 1;
    }
    json_decref(partial);
    if (json_array_size(files) == 0) {
        char *n = names_of(&all);
        die("%s: the converted Parquet branch has no files for config '%s', split '%s'; it has: %s",
            repo, config, split, n[0] ? n : "(nothing)");
    }
    int part = out->partial;
    fill_choice(out, config, split, HF_PARQUET, files);
    out->partial = part;
    splits_free(&all);
    json_decref(files);
    free(pat1); free(pat2);
}

int64_t hf_card_split_rows(json_t *card, const char *config, const char *split)
{
    /* dataset_info: one object, or a list of them with config_name */
    json_t *info = json_is_object(card) ? json_object_get(card, "dataset_info") : NULL, *d = NULL, *e;
    size_t i;
    if (json_is_object(info)) d = info;
    else json_array_foreach(info, i, e)
        if (jstr(e, "config_name") && !strcmp(jstr(e, "config_name"), config)) d = e;
    json_array_foreach(d ? json_object_get(d, "splits") : NULL, i, e)
        if (jstr(e, "name") && !strcmp(jstr(e, "name"), split) && json_is_integer(json_object_get(e, "num_examples")))
            return json_integer_value(json_object_get(e, "num_examples"));
    return -1;
}

void hf_choice_free(struct hf_choice *c)
{
    for (int i = 0; i < c->nfiles; i++) {
        free(c->files[i].path); free(c->files[i].etag); free(c->files[i].sha256);
    }
    free(c->files); free(c->config); free(c->split);
    memset(c, 0, sizeof *c);
}

/* ======================================================================
 * The alias registry
 * ====================================================================== */

static int registry_paths(char *paths[4])
{
    int n = 0;
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (x && *x) paths[n++] = xasprintf("%s/tfs/datasets.txt", x);
    else if (home && *home) paths[n++] = xasprintf("%s/.config/tfs/datasets.txt", home);
    const char *assets = getenv("TFS_ASSETS");
    if (assets && *assets) paths[n++] = xasprintf("%s/datasets.txt", assets);
    else {
        paths[n++] = xasprintf("%s/datasets.txt", TFS_DATADIR);
        /* a program run from its build folder (build/bin/hf-fetch,
         * build/asan/bin/hf-fetch ...): the assets/ of the source tree above */
        char exe[PATH_MAX];
        ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        for (int up = 0; k > 0 && up < 5; up++) {
            exe[k] = 0;
            char *s = strrchr(exe, '/');
            if (!s) break;
            *s = 0;
            k = s - exe;
            char *cand = xasprintf("%s/assets/datasets.txt", exe);
            if (access(cand, R_OK) == 0) { paths[n++] = cand; break; }
            free(cand);
        }
    }
    return n;
}

/* Calls fn for every entry of every registry file, in order; stops when
 * fn returns non-zero. */
static int registry_each(int (*fn)(struct hf_alias *, const char *, int, void *), void *arg)
{
    char *paths[4];
    int n = registry_paths(paths), stop = 0, found_any = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = stop ? NULL : fopen(paths[i], "r");
        if (f) {
            found_any = 1;
            char line[1024];
            int lineno = 0;
            while (!stop && fgets(line, sizeof line, f)) {
                lineno++;
                char *h = strchr(line, '#');
                if (h) *h = 0;
                char *tok[6];
                int k = 0;
                for (char *t = strtok(line, " \t\r\n"); t && k < 6; t = strtok(NULL, " \t\r\n")) tok[k++] = t;
                if (k == 0) continue;
                if (k != 5) die("%s:%d: expected 5 fields (alias repo config splits text-column), got %d", paths[i], lineno, k);
                struct hf_alias a = { tok[0], tok[1], tok[2], tok[3], tok[4] };
                stop = fn(&a, paths[i], lineno, arg);
            }
            fclose(f);
        }
        free(paths[i]);
    }
    return found_any;
}

static int find_cb(struct hf_alias *a, const char *path, int line, void *arg)
{
    (void)path; (void)line;
    struct hf_alias *out = arg;
    if (strcmp(a->name, out->name)) return 0;
    out->repo = xstrdup(a->repo);
    out->config = strcmp(a->config, "-") ? xstrdup(a->config) : NULL;
    out->splits = xstrdup(a->splits);
    out->text = xstrdup(a->text);
    return 1;
}

int hf_alias_find(const char *name, struct hf_alias *out)
{
    memset(out, 0, sizeof *out);
    out->name = xstrdup(name);
    registry_each(find_cb, out);
    if (out->repo) return 1;
    free(out->name);
    out->name = NULL;
    return 0;
}

void hf_alias_free(struct hf_alias *a)
{
    free(a->name); free(a->repo); free(a->config); free(a->splits); free(a->text);
    memset(a, 0, sizeof *a);
}

static int list_cb(struct hf_alias *a, const char *path, int line, void *arg)
{
    (void)path; (void)line;
    fprintf(arg, "%-24s %-36s %-14s %-18s %s\n", a->name, a->repo, a->config, a->splits, a->text);
    return 0;
}

void hf_alias_list(FILE *f)
{
    fprintf(f, "%-24s %-36s %-14s %-18s %s\n", "# alias", "repo", "config", "splits", "text-column");
    if (!registry_each(list_cb, f)) die("no dataset registry found (datasets.txt; see hf-fetch(1), FILES)");
}
