/* hfmodel.c - hf-fetch --model: a model repository's files into the
 * huggingface_hub cache, and the snapshot directory on stdout.
 *
 *   revision -> commit sha and file listing (revision_meta, hffetch.c:
 *   /api/models/{repo}/revision/{rev}, /api/models/{repo}/tree/{sha}) ->
 *   the files that match the --include globs -> each fetched into
 *   $HF_HUB_CACHE/models--org--name (hfc_fetch: resume, retries, size and
 *   sha256 or git blob checks, as for datasets) -> print
 *   .../snapshots/{sha}, a directory tfs-eval and tfs-train --init-from read.
 */
#include "hub/hffetch.h"
#include "hub/hfcache.h"
#include "hub/hub.h"
#include "core/xio.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What tfs reads of a model, at the top of the repository: config and
 * tokenizer files, safetensors weights (and their index), merges and
 * vocabularies.  Not the other frameworks' weights (pytorch_model.bin,
 * tf_model.h5, flax, onnx/, ...), which can be gigabytes. */
static const char *const DEFAULT_INCLUDE[] = { "*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", NULL };

static int included(const char *path, const char *const *globs)
{
    for (; *globs; globs++)
        if (fnmatch(*globs, path, FNM_PATHNAME) == 0) return 1;
    return 0;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int hf_fetch_model(const struct hf_opts *o, const char *const *include)
{
    const char *repo = o->target, *rev = o->revision ? o->revision : "main";
    if (!strchr(repo, '/') || strstr(repo, "..") || repo[0] == '/')
        die("'%s': a model is named ORG/NAME (e.g. openai-community/gpt2)", repo);
    const char *const *globs = include && *include ? include : DEFAULT_INCLUDE;
    struct hub h;
    hub_init(&h, o->offline, o->quiet);
    h.repo_type = "models";
    struct hfcache c;
    hfc_open_type(&c, "models", repo);
    char *sha = NULL;
    json_t *meta = revision_meta(&h, &c, repo, rev, &sha);
    json_t *tree = json_object_get(meta, "tree"), *e;
    size_t i, n = 0;
    json_array_foreach(tree, i, e) {
        const char *path = jstr(e, "path"), *type = jstr(e, "type");
        if (!path || (type && strcmp(type, "file")) || !included(path, globs)) continue;
        /* LFS objects are named and checked by their sha256, others by the git oid */
        json_t *lfs = json_object_get(e, "lfs"), *size = json_object_get(e, "size");
        const char *loid = json_is_object(lfs) ? jstr(lfs, "oid") : NULL, *oid = jstr(e, "oid");
        int big = loid && strlen(loid) == 64;
        struct hf_file f = { .path = (char *)path, .size = json_is_integer(size) ? json_integer_value(size) : -1,
                             .etag = (char *)(big ? loid : oid ? oid : ""), .sha256 = (char *)(big ? loid : NULL) };
        free(hfc_fetch(&c, &h, sha, &f));
        n++;
    }
    if (!n) {
        fprintf(stderr, "%s: model '%s', revision '%s': no file matches", tfs_prog, repo, rev);
        for (const char *const *g = globs; *g; g++) fprintf(stderr, " %s", *g);
        fputc('\n', stderr);
        exit(1);
    }
    printf("%s/snapshots/%s\n", c.dir, sha);
    if (fflush(stdout) != 0) die_errno("write error");
    json_decref(meta);
    free(sha);
    hfc_close(&c);
    hub_free(&h);
    return 0;
}
