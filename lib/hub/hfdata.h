/* hfdata.h - which files of a dataset repository make up (config, split),
 * and the registry of dataset aliases.
 *
 * Configs and splits are resolved as the `datasets` library does:
 *  1. The README's YAML (`cardData.configs` in the Hub's JSON) names each
 *     config's data_files: a pattern, a list of patterns, or a list of
 *     {split, path} (relative to the repo root, under data_dir if given).
 *     `*` does not cross '/', `**` does.  The default config is the only
 *     one, the one named "default", or the one marked `default: true`.
 *  2. Without configs there is one config, "default", and the first rule
 *     that matches names the splits:
 *       data/{split}-NNNNN-of-NNNNN*  shards;
 *       a split keyword as a word of a folder name;
 *       a split keyword as a word of a file name;
 *       else every data file is "train".
 *     Keywords: train/training; validation/valid/dev/val; test/testing/eval/evaluation.
 *  3. The format is the most common data extension (ties: parquet first);
 *     files of other formats are left out.
 */
#ifndef TFS_HFDATA_H
#define TFS_HFDATA_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "hub/hfcache.h"

enum hf_format { HF_NONE = -1, HF_PARQUET, HF_JSONL, HF_JSON, HF_TEXT, HF_CSV, HF_NFORMATS };

/* The format of a data file from its name, compression suffixes (.gz,
 * .zst) aside; HF_NONE for anything else. */
int hf_format_of(const char *path);
const char *hf_format_name(int fmt);

/* `*` within a path component, `**` across them, `?`, [class]. */
int hf_glob(const char *pattern, const char *path);

/* Is path a shard data/{split}-NNNNN-of-NNNNN*?  Then 1 with the split's
 * name in split (cap bytes).  Reads nothing past the path's NUL. */
int hf_is_shard(const char *path, char *split, size_t cap);

struct hf_choice {
    char *config, *split;
    int format;
    int nfiles;
    struct hf_file *files;  /* (nfiles) sorted by path */
    int partial;            /* the files are partial-{split}: only part of the split */
};

/* Choose the files of (config, split) from the card data and the listing.
 * config NULL = the default one.  Unknown config or split: dies listing
 * those that exist.  Returns 0 if the files are in no format we read (the
 * caller then turns to the auto-converted Parquet branch). */
int hf_choose(const char *repo, json_t *card, json_t *tree, const char *config, const char *split,
              struct hf_choice *out);
/* The same on the refs/convert/parquet branch: {config}/{split}/NNNN.parquet,
 * else {config}/partial-{split}/NNNN.parquet (the Hub converts only the
 * first part of a large split, ~5 GB; out->partial is then set and the
 * caller decides whether a part will do). */
void hf_choose_converted(const char *repo, json_t *tree, const char *config, const char *split,
                         struct hf_choice *out);
void hf_choice_free(struct hf_choice *c);
/* Every (config, split) of the dataset, for hf-fetch --list: a JSON array
 * of {"config", "split", "format", "files": [listing entries, by path]},
 * configs in the card's order (else the one inferred), splits in the order
 * found.  Files in a format other than the config's are left out, as
 * hf_choose leaves them out. */
json_t *hf_layout(json_t *card, json_t *tree);
/* The split's row count from the card's dataset_info, or -1 if it has none. */
int64_t hf_card_split_rows(json_t *card, const char *config, const char *split);

/* ---- the registry of aliases ----
 * A text file, one dataset a line, '#' comments:
 *     alias   repo   config   splits   text-column
 * ("-" as config: the default one).  Files read, first match wins:
 *     $XDG_CONFIG_HOME/tfs/datasets.txt (default ~/.config/tfs/datasets.txt)
 *     $TFS_ASSETS/datasets.txt, else the installed assets, else the
 *     assets/ folder of the source tree the program was built in. */
struct hf_alias { char *name, *repo, *config, *splits, *text; };
int hf_alias_find(const char *name, struct hf_alias *out);
void hf_alias_free(struct hf_alias *a);
void hf_alias_list(FILE *f);

#endif
