/* hffetch.c - the hf-fetch pipeline (see hffetch.h). */
#include "hub/hffetch.h"
#include "hub/cardyaml.h"
#include "hub/datafile.h"
#include "hub/fetchpool.h"
#include "hub/hfcache.h"
#include "hub/hfdata.h"
#include "hub/hub.h"
#include "hub/rangecache.h"
#include "core/jbuf.h"
#include "core/progress.h"
#include "core/xio.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The card data and listing of a revision of a repo: from our saved copy
 * for its commit when there is one, else from the Hub (and saved).
 * *sha is set to the commit.  Online, resolving a branch name costs one
 * request; everything else comes from the cache when it can. */
json_t *revision_meta(struct hub *h, const struct hfcache *c, const char *repo, const char *rev, char **sha)
{
    json_t *info = NULL;
    int model = !strcmp(h->repo_type, "models");
    char *what = xasprintf("%s '%s', revision '%s'", model ? "model" : "dataset", repo, rev);
    if (hfc_is_sha(rev)) *sha = xstrdup(rev);
    else if (h->offline) {
        *sha = hfc_read_ref(c, rev);
        if (!*sha) die("%s: not in the cache (%s) and offline mode is on", what, c->dir);
    } else {
        char *erev = hub_escape(rev, 0);
        char *path = xasprintf("/api/%s/%s/revision/%s", h->repo_type, repo, erev);
        info = hub_get_json(h, path, what);
        free(erev); free(path);
        json_t *s = json_object_get(info, "sha");
        if (!json_is_string(s) || !hfc_is_sha(json_string_value(s))) die("%s: the Hub's answer has no commit sha", what);
        *sha = xstrdup(json_string_value(s));
        hfc_write_ref(c, rev, *sha);
    }
    json_t *meta = hfc_read_meta(c, *sha);
    if (meta) { json_decref(info); free(what); return meta; }
    if (h->offline) {
        /* files fetched by other tools: no card data, so configs are inferred */
        json_t *tree = hfc_list_snapshot(c, *sha);
        if (json_array_size(tree) == 0) die("%s: not in the cache (%s) and offline mode is on", what, c->dir);
        free(what);
        /* the card data from the snapshot's README.md, as the Hub makes it */
        char *readme = xasprintf("%s/snapshots/%s/README.md", c->dir, *sha);
        json_t *card = hf_card_from_readme(readme);
        free(readme);
        return json_pack("{s:o, s:o, s:b}", "card", card ? card : json_null(), "tree", tree, "snapshot", 1);
    }
    if (!info) {
        char *path = xasprintf("/api/%s/%s/revision/%s", h->repo_type, repo, *sha);
        info = hub_get_json(h, path, what);
        free(path);
    }
    json_t *card = json_object_get(info, "cardData");
    json_t *tree = hub_list_tree(h, repo, *sha);
    meta = json_pack("{s:O, s:o}", "card", card ? card : json_null(), "tree", tree);
    hfc_write_meta(c, *sha, meta);
    json_decref(info);
    free(what);
    return meta;
}

/* ---- Offline: the whole split or an error ----
 * Rows of a split are read whole or not at all: offline, every file of it
 * must be in the cache before the first row is written.  With the Hub's
 * listing saved, the files are known; in a snapshot that other tools
 * fetched (no listing) shard names "-NNNNN-of-MMMMM" still tell how many
 * there should be.  One message names every file missing. */
static void add_missing(char **list, int *n, const char *name)
{
    if (*n < 8) {
        char *l = xasprintf("%s%s'%s'", *list ? *list : "", *list ? ", " : "", name);
        free(*list);
        *list = l;
    }
    (*n)++;
}

/* Shards of a group "prefix-IIIII-of-MMMMM..." absent from the choice. */
static void shard_gaps(const struct hf_choice *ch, char **list, int *n)
{
    for (int i = 0; i < ch->nfiles; i++) {
        const char *p = ch->files[i].path, *m = strstr(p, "-of-");
        int idx, total, len;
        if (!m || m - p < 6 || sscanf(m - 6, "-%5d-of-%5d%n", &idx, &total, &len) != 2 || len != 15) continue;
        if (idx != 0 || total <= 0 || total > 100000) continue;     /* each group once, from its shard 0 */
        size_t pre = (size_t)(m - 6 - p);
        for (int k = 1; k < total; k++) {
            char *want = xasprintf("%.*s-%05d-of-%05d", (int)pre, p, k, total);
            int found = 0;
            for (int j = 0; j < ch->nfiles && !found; j++) found = !strncmp(ch->files[j].path, want, strlen(want));
            if (!found) { char *w = xasprintf("%s*", want); add_missing(list, n, w); free(w); }
            free(want);
        }
    }
}

static void offline_whole_split(const struct hfcache *c, const char *sha, const struct hf_choice *ch, int from_snapshot)
{
    char *list = NULL;
    int n = 0;
    if (from_snapshot) shard_gaps(ch, &list, &n);
    else
        for (int i = 0; i < ch->nfiles; i++)
            if (!hfc_cached(c, sha, &ch->files[i])) add_missing(&list, &n, ch->files[i].path);
    if (!n) return;
    die("%s: config '%s', split '%s' is only partly in the cache: file%s %s%s %s not in the cache (%s) "
        "and offline mode is on", c->repo, ch->config, ch->split, n == 1 ? "" : "s", list,
        n > 8 ? " ..." : "", n == 1 ? "is" : "are", c->dir);
}

/* ---- Range reads of a Parquet file for --limit and --list ----
 * The reader asks for byte ranges (footer, then column chunks); those not
 * yet in the range cache (rangecache.h) are fetched into its sparse copy,
 * which the next run reads again without a request. */
int64_t parquet_rows_by_ranges(struct hub *h, const struct hfcache *c, const char *sha, const struct hf_file *f)
{
    struct rcache r;
    rcache_open(&r, c, h, sha, f);
    /* the footer only: its length and the footer itself */
    struct pq_file *pq = pq_open_lazy(r.copy, f->size, rcache_need, &r, 0);
    int64_t rows = pq_num_rows(pq);
    pq_close(pq);
    rcache_close(&r);
    return rows;
}

static int64_t parquet_by_ranges(struct hub *h, const struct hfcache *c, const char *sha, const struct hf_file *f,
                                 const char *name, const struct row_sel *sel, struct jbuf *out, int64_t limit)
{
    struct rcache r;
    rcache_open(&r, c, h, sha, f);
    struct lazy_src lazy = { f->size, rcache_need, &r };
    int64_t n = datafile_write(r.copy, name, HF_PARQUET, sel, out, limit, &lazy);
    rcache_close(&r);
    return n;
}

/* Parquet files at least this large are read by ranges when --limit is
 * given (HF_FETCH_RANGE_MIN bytes, default 64 MiB). */
static int64_t range_threshold(void)
{
    const char *v = getenv("HF_FETCH_RANGE_MIN");
    if (!v || !*v) return (int64_t)64 << 20;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < 0) die("HF_FETCH_RANGE_MIN: not a number of bytes: '%s'", v);
    return x;
}

/* On a fatal error the rows already made are still written: a reader of
 * the stream gets every good row before the one that failed. */
static void flush_pending(void *arg)
{
    struct jbuf *b = arg;
    if (b->n && fwrite(b->p, 1, b->n, b->f) == b->n) b->n = 0;
    fflush(b->f);
}

/* Split "a,b,c" into a NULL-terminated array (the string is modified). */
static int split_list(char *s, const char ***out)
{
    int n = 0;
    const char **v = xcalloc(strlen(s) + 2, sizeof *v);
    for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) v[n++] = t;
    *out = v;
    return n;
}

/* The converted branch holds only partial-{split}: an error unless the
 * user allows it, then a warning with the fraction when the card counts
 * the split's rows (the count of rows written comes at the end). */
static void partial_notice(const char *repo, const struct hf_choice *ch, int64_t split_rows, const struct hf_opts *o)
{
    char count[96] = "";
    if (split_rows > 0) snprintf(count, sizeof count, "; the dataset card counts %lld rows in all", (long long)split_rows);
    if (!o->allow_partial)
        die("%s: the converted Parquet branch holds only part of split '%s' (partial-%s)%s; "
            "--allow-partial reads that part", repo, ch->split, ch->split, count);
    if (!o->quiet)
        warnx("%s: reading only part of split '%s', the part the Hub converted (partial-%s)%s",
              repo, ch->split, ch->split, count);
}

/* ---- Shares (--shard I/N) ---- */
/* Keep the files of share i of n: the block [i F / n, (i + 1) F / n). */
static void keep_file_share(struct hf_choice *ch, int i, int n)
{
    int F = ch->nfiles, a = (int)((int64_t)i * F / n), b = (int)((int64_t)(i + 1) * F / n);
    for (int k = 0; k < F; k++)
        if (k < a || k >= b) { free(ch->files[k].path); free(ch->files[k].etag); free(ch->files[k].sha256); }
    memmove(ch->files, ch->files + a, (size_t)(b - a) * sizeof *ch->files);
    ch->nfiles = b - a;
}

/* Copy rows [i R / n, (i + 1) R / n) of the R rows (lines) in tmp to out,
 * at most limit of them (limit < 0: all).  Returns the number copied. */
static int64_t copy_row_share(FILE *tmp, int i, int n, int64_t limit, FILE *out)
{
    int64_t R = 0, row = 0, copied = 0;
    int ch;
    rewind(tmp);
    while ((ch = getc(tmp)) != EOF) R += ch == '\n';
    int64_t a = R * i / n, b = R * (i + 1) / n;
    if (limit >= 0 && b - a > limit) b = a + limit;
    rewind(tmp);
    while (row < b && (ch = getc(tmp)) != EOF) {
        if (row >= a && putc(ch, out) == EOF) die_errno("write error");
        if (ch == '\n') { if (row >= a) copied++; row++; }
    }
    if (ferror(tmp)) die_errno("cannot read back the temporary file of --shard");
    if (fflush(out) != 0) die_errno("write error");
    return copied;
}

/* Share i of n of a Parquet split of fewer files than shares: a block of
 * its row groups.  The row groups of the files, in file order, make one
 * list of G; share i is [i G / n, (i + 1) G / n).  Every file's footer is
 * read (from the cache, else by Range requests into the range cache, as
 * --list reads them) to count its row groups; then only the share's row
 * groups are decoded, and of a file not cached whole only their column
 * chunks (of the columns asked for) are fetched.  Rows up to limit (< 0:
 * all).  Returns the rows written. */
static int64_t convert_row_group_share(const struct hf_opts *o, struct hub *h, struct hfcache *c, const char *repo,
                                       const char *file_sha, const struct hf_choice *ch, const struct row_sel *sel,
                                       struct jbuf *out)
{
    int64_t *groups = xcalloc((size_t)ch->nfiles + 1, sizeof *groups), G = 0, written = 0, limit = o->limit;
    for (int k = 0; k < ch->nfiles; k++) {
        const struct hf_file *f = &ch->files[k];
        struct pq_file *pq;
        if (hfc_cached(c, file_sha, f)) {
            char *path = hfc_fetch(c, h, file_sha, f);      /* cached: no request */
            pq = pq_open(path);
            free(path);
            groups[k] = pq_num_row_groups(pq);
            pq_close(pq);
        } else {
            struct rcache r;
            rcache_open(&r, c, h, file_sha, f);
            pq = pq_open_lazy(r.copy, f->size, rcache_need, &r, 0);
            groups[k] = pq_num_row_groups(pq);
            pq_close(pq);
            rcache_close(&r);
        }
        G += groups[k];
    }
    int64_t a = G * o->shard_i / o->shard_n, b = G * (o->shard_i + 1) / o->shard_n, base = 0;
    double t0 = now_seconds();
    struct progress p;
    progress_start(&p, "row groups", (uint64_t)(b - a), o->quiet);
    for (int k = 0; k < ch->nfiles && (limit < 0 || written < limit); base += groups[k], k++) {
        /* this file holds the global row groups [base, base + groups[k]) */
        int64_t lo = a > base ? a : base, hi = b < base + groups[k] ? b : base + groups[k];
        if (lo >= hi) continue;
        const struct hf_file *f = &ch->files[k];
        struct row_sel s = *sel;
        s.rg_first = (int)(lo - base);
        s.rg_end = (int)(hi - base);
        char *name = xasprintf("%s/%s", repo, f->path);
        int64_t left = limit < 0 ? -1 : limit - written;
        if (hfc_cached(c, file_sha, f)) {
            char *path = hfc_fetch(c, h, file_sha, f);
            written += datafile_write(path, name, HF_PARQUET, &s, out, left, NULL);
            free(path);
        } else {
            written += parquet_by_ranges(h, c, file_sha, f, name, &s, out, left);
        }
        jb_flush(out);
        free(name);
        double dt = now_seconds() - t0;
        progress_update(&p, (uint64_t)(hi - a), "%lld/%lld row groups, %lld rows, %.0f rows/s", (long long)(hi - a),
                        (long long)(b - a), (long long)written, dt > 0 ? (double)written / dt : 0.0);
    }
    progress_end(&p);
    free(groups);
    return written;
}

/* ---- Downloads and conversion, file by file ----
 * The files of ch in order: each fetched (by the pool, or here), or read
 * by ranges, then converted; rows up to limit (< 0: all).  The progress
 * line counts files, rows, bytes and the rate.  Returns the rows written. */
static int64_t convert_files(const struct hf_opts *o, struct hub *h, struct hfcache *c, const char *repo,
                             const char *file_sha, const struct hf_choice *ch, const struct row_sel *sel,
                             struct jbuf *out, int64_t limit)
{
    int64_t range_min = range_threshold(), written = 0;
    double bytes = 0, t0 = now_seconds();
    /* without --limit every file is needed: fetch ahead; with it, one at a time (no file too many) */
    struct fetchpool *pool = limit < 0 && !h->offline && o->jobs > 1
        ? fetchpool_new(o->jobs, c, h, file_sha, ch->files, ch->nfiles) : NULL;
    struct progress p;
    if (pool) progress_start(&p, "files", (uint64_t)ch->nfiles, o->quiet);
    for (int i = 0; i < ch->nfiles && (limit < 0 || written < limit); i++) {
        const struct hf_file *f = &ch->files[i];
        char *name = xasprintf("%s/%s", repo, f->path);
        int64_t left = limit < 0 ? -1 : limit - written;
        if (limit >= 0 && ch->format == HF_PARQUET && !h->offline && f->size >= range_min &&
            !hfc_cached(c, file_sha, f))
            written += parquet_by_ranges(h, c, file_sha, f, name, sel, out, left);
        else {
            char *path = pool ? fetchpool_get(pool, i) : hfc_fetch(c, h, file_sha, f);
            written += datafile_write(path, name, ch->format, sel, out, left, NULL);
            free(path);
        }
        jb_flush(out);      /* this file's rows are out before the next download */
        free(name);
        if (f->size > 0) bytes += (double)f->size;
        if (pool) {
            double dt = now_seconds() - t0;
            progress_update(&p, (uint64_t)i + 1, "%d/%d files, %lld rows, %.1f MB, %.1f MB/s", i + 1, ch->nfiles,
                            (long long)written, bytes / 1e6, dt > 0 ? bytes / 1e6 / dt : 0.0);
        }
    }
    if (pool) { progress_end(&p); fetchpool_free(pool); }
    return written;
}

int hf_fetch(const struct hf_opts *o)
{
    /* columns: --columns, else the alias's text column as "text", else all */
    struct hf_alias alias = { 0 };
    const char *repo = o->target, *config = o->config;
    int is_alias = !o->file && !strchr(o->target, '/') && hf_alias_find(o->target, &alias);
    if (!o->file && !strchr(o->target, '/') && !is_alias)
        die("'%s' is neither a repository id (org/name) nor a known alias (hf-fetch --list shows them)", o->target);
    if (is_alias) {
        repo = alias.repo;
        if (!config) config = alias.config;
    }
    struct row_sel sel = { 0 };
    sel.max_memory = o->max_memory;
    char *cols = o->columns ? xstrdup(o->columns) : NULL;
    const char **names = NULL;
    static const char *text_key = "text";
    const char *alias_src[1];
    if (cols) {
        sel.n = split_list(cols, &names);
        if (sel.n == 0) die("--columns: no column named");
        sel.src = names;
        sel.key = names;
    } else if (is_alias) {
        alias_src[0] = alias.text;
        sel.n = 1;
        sel.src = alias_src;
        sel.key = &text_key;
        sel.text_only = 1;
    }

    struct jbuf out;
    jb_init(&out, stdout);
    tfs_on_die(flush_pending, &out);
    int64_t written = 0;

    if (o->file) {
        int fmt = hf_format_of(o->file);
        if (fmt == HF_NONE) die("%s: unknown format (expected .parquet, .jsonl, .json or .txt, maybe .gz or .zst)", o->file);
        datafile_write(o->file, o->file, fmt, &sel, &out, o->limit, NULL);
        if (out.replaced && !o->quiet)
            warnx("%s: %llu invalid UTF-8 bytes were written as U+FFFD", o->file, (unsigned long long)out.replaced);
        tfs_on_die_remove(flush_pending, &out);
        jb_free(&out);
        free(cols); free(names);
        return 0;
    }

    struct hub h;
    hub_init(&h, o->offline, o->quiet);
    struct hfcache c;
    hfc_open(&c, repo);
    const char *split = o->split ? o->split : "train";
    const char *rev = o->revision ? o->revision : "main";
    char *sha = NULL;
    json_t *meta = revision_meta(&h, &c, repo, rev, &sha);
    struct hf_choice ch;
    const char *file_sha = sha;
    int64_t split_rows = -1;
    char *conv_sha = NULL;
    json_t *conv = NULL;
    if (!hf_choose(repo, json_object_get(meta, "card"), json_object_get(meta, "tree"), config, split, &ch)) {
        /* nothing we can read: the Hub's own Parquet conversion of it */
        if (!o->quiet) warnx("%s: no files in a format hf-fetch reads; using the converted Parquet branch", repo);
        conv = revision_meta(&h, &c, repo, "refs/convert/parquet", &conv_sha);
        char *cfg = xstrdup(ch.config);
        hf_choice_free(&ch);
        hf_choose_converted(repo, json_object_get(conv, "tree"), cfg, split, &ch);
        free(cfg);
        file_sha = conv_sha;
        if (ch.partial) {
            split_rows = hf_card_split_rows(json_object_get(meta, "card"), ch.config, split);
            partial_notice(repo, &ch, split_rows, o);
        }
    }
    /* a share: a block of files, or, with fewer files than shares, of row
     * groups (Parquet) or of rows (other formats) */
    int row_share = o->shard_n > 1 && ch.nfiles < o->shard_n;
    if (o->shard_n > 1 && !row_share) keep_file_share(&ch, o->shard_i, o->shard_n);
    /* with --limit a prefix of the files may do; without, all are needed */
    if (h.offline && (o->limit < 0 || row_share))
        offline_whole_split(&c, file_sha, &ch, json_is_true(json_object_get(conv ? conv : meta, "snapshot")));
    if (row_share && ch.format == HF_PARQUET) {
        written = convert_row_group_share(o, &h, &c, repo, file_sha, &ch, &sel, &out);
    } else if (row_share) {
        /* the whole split into a temporary file, then this share of its rows */
        FILE *tmp = tmpfile();
        if (!tmp) die_errno("cannot create a temporary file for --shard");
        out.f = tmp;
        convert_files(o, &h, &c, repo, file_sha, &ch, &sel, &out, -1);
        out.f = stdout;
        written = copy_row_share(tmp, o->shard_i, o->shard_n, o->limit, stdout);
        fclose(tmp);
    } else {
        written = convert_files(o, &h, &c, repo, file_sha, &ch, &sel, &out, o->limit);
    }
    if (out.replaced && !o->quiet)
        warnx("%s: %llu invalid UTF-8 bytes were written as U+FFFD", repo, (unsigned long long)out.replaced);
    if (ch.partial && split_rows > 0 && o->limit < 0 && !o->quiet)
        warnx("%s: wrote %lld of the %lld rows of split '%s' (%.1f%%): the rest was never converted",
              repo, (long long)written, (long long)split_rows, split, 100.0 * (double)written / (double)split_rows);
    tfs_on_die_remove(flush_pending, &out);
    jb_free(&out);
    hf_choice_free(&ch);
    json_decref(meta); json_decref(conv);
    free(sha); free(conv_sha); free(cols); free(names);
    hfc_close(&c);
    hub_free(&h);
    hf_alias_free(&alias);
    return 0;
}
