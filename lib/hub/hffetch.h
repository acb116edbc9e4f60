/* hffetch.h - hf-fetch: a Hugging Face dataset (config, split) as JSON
 * Lines on stdout.
 *
 *   resolve the alias (hfdata.h registry) -> revision -> commit sha
 *   (GET /api/datasets/{repo}/revision/{rev}, once) -> card data + file
 *   listing (saved per commit, see hfcache.h) -> files of (config, split)
 *   (hfdata.h; the refs/convert/parquet branch if no file is in a format
 *   we read) -> for each file in order: fetch it into the cache (hub.h,
 *   hfcache.h), write its rows (datafile.h), flush; stop at --limit.
 * With --limit, a large Parquet file that is not cached is read by HTTP
 * Range requests instead (its footer, then one row group at a time).
 *
 * -j N: without --limit, N files download at once, ahead of the one being
 * converted (fetchpool.h); the rows still come in the files' order.
 *
 * --shard I/N: share I of N of the split.  With at least N files, share I
 * is the contiguous block of files [I F / N, (I + 1) F / N) (F files).
 * With fewer, a Parquet split is shared by row groups: of the G row groups
 * of its files in order (footers read from the cache or by Range
 * requests), share I is [I G / N, (I + 1) G / N), and only their column
 * chunks are fetched (by ranges, rangecache.h); in another format every
 * share reads the whole split and keeps the rows [I R / N, (I + 1) R / N)
 * of its R rows.  Either way the shares 0 .. N-1,
 * one after the other, are the split, each row once, in order.
 */
#ifndef TFS_HFFETCH_H
#define TFS_HFFETCH_H

#include <stdint.h>
#include <jansson.h>

struct hf_opts {
    const char *target;     /* repo id (org/name) or registry alias */
    const char *config;     /* NULL: the default config (or the alias's) */
    const char *split;      /* NULL: "train" */
    const char *revision;   /* NULL: "main" */
    const char *columns;    /* "a,b" or NULL */
    const char *file;       /* convert this local file instead (no network) */
    int64_t limit;          /* rows; < 0: all */
    int offline, quiet;
    int allow_partial;      /* accept the Hub's conversion of only part of a split */
    int64_t max_memory;     /* Parquet decode budget in bytes; 0: the default */
    int jobs;               /* downloads at once (fetchpool.h); <= 1: one at a time */
    int shard_i, shard_n;   /* --shard I/N: this share of the split; shard_n 0: all */
};

/* Returns the exit status (0); errors die with exit 1. */
int hf_fetch(const struct hf_opts *o);

/* hf-fetch --list REPO|ALIAS (hflist.c): the configs, splits and files of
 * the dataset with their sizes and row counts (Parquet footers, read from
 * the cache or by Range requests; the card's dataset_info), as a table or,
 * with json, one JSON object per split. */
int hf_list(const struct hf_opts *o, int json);

/* hf-fetch --model REPO (hfmodel.c): the files of a model repository that
 * match the globs `include` (NULL-terminated; NULL or empty: config,
 * tokenizer and safetensors files at its top) into the cache, with the
 * datasets' resume, retry and verification rules; prints the snapshot
 * directory.  Uses target, revision, offline and quiet of o. */
int hf_fetch_model(const struct hf_opts *o, const char *const *include);

/* Shared by hffetch.c and hflist.c. */
struct hub;
struct hfcache;
struct hf_file;
json_t *revision_meta(struct hub *h, const struct hfcache *c, const char *repo, const char *rev, char **sha);
int64_t parquet_rows_by_ranges(struct hub *h, const struct hfcache *c, const char *sha, const struct hf_file *f);

#endif
