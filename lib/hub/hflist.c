/* hflist.c - hf-fetch --list REPO|ALIAS: what a dataset holds (see hffetch.h).
 *
 *   revision -> card data + listing (as hf-fetch reads them, cached) ->
 *   every (config, split) (hfdata.h hf_layout) -> its files in order, each
 *   with its size (the listing) and, for Parquet, its row count (the
 *   footer's num_rows: from the cached file, else a Range request for the
 *   footer; offline and uncached: unknown) -> one line a split, then one a
 *   file; or, with --json, one JSON object a split.
 */
#include "hub/hffetch.h"
#include "hub/hfcache.h"
#include "hub/hfdata.h"
#include "hub/hub.h"
#include "core/xio.h"
#include "parquet/parquet.h"

#include <stdlib.h>
#include <string.h>

/* The rows of file f, or -1 when they cannot be known without reading it. */
static int64_t file_rows(struct hub *h, const struct hfcache *c, const char *sha, int format,
                         const struct hf_file *f)
{
    if (format != HF_PARQUET) return -1;
    if (hfc_cached(c, sha, f)) {
        char *path = hfc_fetch(c, h, sha, f);       /* in the cache: no request */
        struct pq_file *pq = pq_open(path);
        int64_t n = pq_num_rows(pq);
        pq_close(pq);
        free(path);
        return n;
    }
    if (h->offline || f->size <= 0) return -1;
    return parquet_rows_by_ranges(h, c, sha, f);
}

static void print_count(int64_t n, int width)
{
    if (n < 0) printf(" %*s", width, "?");
    else printf(" %*lld", width, (long long)n);
}

/* One split: its totals, then its files (or one JSON object). */
static void list_split(struct hub *h, const struct hfcache *c, const char *sha, json_t *card, const struct hf_choice *ch,
                       int json)
{
    int64_t bytes = 0, rows = 0, *frows = xcalloc((size_t)ch->nfiles + 1, sizeof *frows);
    for (int i = 0; i < ch->nfiles; i++) {
        frows[i] = file_rows(h, c, sha, ch->format, &ch->files[i]);
        if (bytes >= 0) bytes = ch->files[i].size >= 0 ? bytes + ch->files[i].size : -1;
        if (rows >= 0) rows = frows[i] >= 0 ? rows + frows[i] : -1;
    }
    int64_t card_rows = hf_card_split_rows(card, ch->config, ch->split);
    if (json) {
        json_t *files = json_array();
        for (int i = 0; i < ch->nfiles; i++)
            json_array_append_new(files, json_pack("{s:s, s:o, s:o}", "path", ch->files[i].path,
                "bytes", ch->files[i].size >= 0 ? json_integer(ch->files[i].size) : json_null(),
                "rows", frows[i] >= 0 ? json_integer(frows[i]) : json_null()));
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "config", ch->config, "split", ch->split,
            "format", ch->format == HF_NONE ? "none" : hf_format_name(ch->format), "nfiles", ch->nfiles,
            "bytes", bytes >= 0 ? json_integer(bytes) : json_null(), "rows", rows >= 0 ? json_integer(rows) : json_null(),
            "card_rows", card_rows >= 0 ? json_integer(card_rows) : json_null(), "files", files);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%-16s %-12s %-8s %6d", ch->config, ch->split, ch->format == HF_NONE ? "none" : hf_format_name(ch->format),
               ch->nfiles);
        print_count(bytes, 14);
        print_count(rows, 12);
        print_count(card_rows, 12);
        printf("\n");
        for (int i = 0; i < ch->nfiles; i++) {
            /* under the split's BYTES and ROWS, then the path */
            printf("%45s", "");
            print_count(ch->files[i].size, 14);
            print_count(frows[i], 12);
            printf("  %s\n", ch->files[i].path);
        }
    }
    free(frows);
}

int hf_list(const struct hf_opts *o, int json)
{
    struct hf_alias alias = { 0 };
    const char *repo = o->target;
    int is_alias = !strchr(repo, '/') && hf_alias_find(repo, &alias);
    if (!strchr(repo, '/') && !is_alias)
        die("'%s' is neither a repository id (org/name) nor a known alias (hf-fetch --list shows them)", repo);
    if (is_alias) repo = alias.repo;
    struct hub h;
    hub_init(&h, o->offline, o->quiet);
    struct hfcache c;
    hfc_open(&c, repo);
    char *sha = NULL;
    json_t *meta = revision_meta(&h, &c, repo, o->revision ? o->revision : "main", &sha);
    json_t *card = json_object_get(meta, "card"), *tree = json_object_get(meta, "tree");
    json_t *layout = hf_layout(card, tree), *e;
    size_t i;
    if (!json) printf("%-16s %-12s %-8s %6s %14s %12s %12s\n", "CONFIG", "SPLIT", "FORMAT", "FILES", "BYTES", "ROWS",
                      "CARD_ROWS");
    json_array_foreach(layout, i, e) {
        const char *cfg = json_string_value(json_object_get(e, "config"));
        const char *split = json_string_value(json_object_get(e, "split"));
        if (o->config && strcmp(o->config, cfg)) continue;
        struct hf_choice ch;
        if (!hf_choose(repo, card, tree, cfg, split, &ch)) ch.nfiles = 0;   /* no readable format */
        list_split(&h, &c, sha, card, &ch, json);
        hf_choice_free(&ch);
    }
    if (fflush(stdout) != 0) die_errno("write error");
    json_decref(layout);
    json_decref(meta);
    free(sha);
    hfc_close(&c);
    hub_free(&h);
    hf_alias_free(&alias);
    return 0;
}
