/* hfcache.h - the huggingface_hub cache layout, shared with Python tools.
 *
 *   $HF_HUB_CACHE/datasets--<org>--<name>/   (models--<org>--<name>/ for a model)
 *     refs/<revision>            the commit sha, no newline ("refs/convert/parquet"
 *                                makes subfolders)
 *     blobs/<etag>               file contents, named by sha256 (LFS) or git sha1
 *     blobs/<etag>.incomplete    a download in progress, resumable
 *     snapshots/<sha>/<path>     relative symlink to ../../blobs/<etag>
 *   $HF_HUB_CACHE/.locks/datasets--<org>--<name>/<etag>.lock
 *                              held (flock) while the blob is downloaded
 *
 * Files that huggingface_hub already fetched are reused, and the other way
 * round.  hf-fetch also keeps the Hub's answers for a commit (card data and
 * file listing) in $HF_HOME/tfs-hf-fetch/datasets--<org>--<name>/<sha>.json,
 * outside the shared layout, so a second run or an offline run needs no
 * metadata request.
 */
#ifndef TFS_HFCACHE_H
#define TFS_HFCACHE_H

#include <stdint.h>
#include <jansson.h>

#include "hub/hub.h"

struct hfcache {
    char *repo;         /* org/name */
    char *dir;          /* $HF_HUB_CACHE/datasets--org--name */
    char *lock_dir;     /* $HF_HUB_CACHE/.locks/datasets--org--name */
    char *meta_dir;     /* $HF_HOME/tfs-hf-fetch/datasets--org--name */
};

/* A file of a revision, as the listing describes it. */
struct hf_file {
    char *path;         /* in the repository */
    int64_t size;       /* -1 if unknown */
    char *etag;         /* blob name: the LFS sha256, else the git oid */
    char *sha256;       /* LFS sha256 to check, or NULL */
};

void hfc_open(struct hfcache *c, const char *repo);
/* The same for a repository of another type: "models" gives models--org--name. */
void hfc_open_type(struct hfcache *c, const char *type, const char *repo);
void hfc_close(struct hfcache *c);

/* Is s a commit sha as refs/ and snapshots/ name them (40 lowercase hex
 * digits)? */
int hfc_is_sha(const char *s);

/* refs/<rev>: the commit sha, or NULL. */
char *hfc_read_ref(const struct hfcache *c, const char *rev);
void hfc_write_ref(const struct hfcache *c, const char *rev, const char *sha);

/* Our saved metadata of a commit, or NULL. */
json_t *hfc_read_meta(const struct hfcache *c, const char *sha);
void hfc_write_meta(const struct hfcache *c, const char *sha, json_t *meta);

/* Paths of the files present in snapshots/<sha>/ (for offline use when
 * Python tools fetched them): a JSON array like the Hub's listing. */
json_t *hfc_list_snapshot(const struct hfcache *c, const char *sha);

/* Is the file of commit `sha` already complete in the cache? */
int hfc_cached(const struct hfcache *c, const char *sha, const struct hf_file *f);

/* The local path of a file of commit `sha` (snapshots/<sha>/<path>),
 * downloading it first if needed: resumes blobs/<etag>.incomplete under
 * the lock, checks size and sha256 (LFS) or git blob sha1 (other files),
 * publishes the blob by rename, links
 * the snapshot.  h may be offline: then a missing file is an error. */
char *hfc_fetch(const struct hfcache *c, struct hub *h, const char *sha, const struct hf_file *f);

#endif
