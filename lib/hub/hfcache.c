/* hfcache.c - huggingface_hub's cache layout (see hfcache.h). */
#include "hub/hfcache.h"
#include "core/sha256.h"
#include "core/xio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the directory part of `path` (or of path itself if dir_too) */
static void mkdirs(const char *path, int dir_too)
{
    char *p = xstrdup(path);
    size_t n = strlen(p);
    if (!dir_too) {
        char *slash = strrchr(p, '/');
        if (!slash) { free(p); return; }
        *slash = 0;
        n = strlen(p);
    }
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) die_errno("cannot create directory '%s'", p);
        p[i] = c;
    }
    free(p);
}

void hfc_open(struct hfcache *c, const char *repo) { hfc_open_type(c, "datasets", repo); }

void hfc_open_type(struct hfcache *c, const char *type, const char *repo)
{
    /* org/name -> datasets--org--name (models--org--name) */
    char *folder = xasprintf("%s--%s", type, repo);
    char *o = folder + strlen(type) + 2;
    size_t extra = 0;
    for (const char *s = o; *s; s++) extra += *s == '/';
    char *f2 = xmalloc(strlen(folder) + extra + 1), *d = f2;
    for (const char *s = folder; *s; s++) {
        if (*s == '/') { *d++ = '-'; *d++ = '-'; } else *d++ = *s;
    }
    *d = 0;
    free(folder);
    char *root = hf_hub_cache(), *home = hf_home();
    c->repo = xstrdup(repo);
    c->dir = xasprintf("%s/%s", root, f2);
    c->lock_dir = xasprintf("%s/.locks/%s", root, f2);
    c->meta_dir = xasprintf("%s/tfs-hf-fetch/%s", home, f2);
    free(root); free(home); free(f2);
}

void hfc_close(struct hfcache *c)
{
    free(c->repo); free(c->dir); free(c->lock_dir); free(c->meta_dir);
    memset(c, 0, sizeof *c);
}

/* Write a small file atomically: temp file in the same folder, rename. */
static void write_atomic(const char *path, const char *data, size_t n)
{
    mkdirs(path, 0);
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die_errno("cannot write '%s'", tmp);
    if (write(fd, data, n) != (ssize_t)n) die_errno("cannot write '%s'", tmp);
    if (close(fd) != 0 || rename(tmp, path) != 0) die_errno("cannot write '%s'", path);
    free(tmp);
}

int hfc_is_sha(const char *s)
{
    size_t n = strlen(s);
    if (n != 40) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

char *hfc_read_ref(const struct hfcache *c, const char *rev)
{
    if (strstr(rev, "..")) return NULL;
    char *path = xasprintf("%s/refs/%s", c->dir, rev);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return NULL;
    char buf[128];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
    return hfc_is_sha(buf) ? xstrdup(buf) : NULL;
}

void hfc_write_ref(const struct hfcache *c, const char *rev, const char *sha)
{
    if (strstr(rev, "..")) die("invalid revision name '%s'", rev);
    char *path = xasprintf("%s/refs/%s", c->dir, rev);
    write_atomic(path, sha, strlen(sha));   /* no trailing newline, as huggingface_hub */
    free(path);
}

json_t *hfc_read_meta(const struct hfcache *c, const char *sha)
{
    char *path = xasprintf("%s/%s.json", c->meta_dir, sha);
    json_t *j = json_load_file(path, 0, NULL);
    free(path);
    return j;
}

void hfc_write_meta(const struct hfcache *c, const char *sha, json_t *meta)
{
    char *path = xasprintf("%s/%s.json", c->meta_dir, sha);
    char *s = json_dumps(meta, JSON_COMPACT);
    if (!s) die("out of memory");
    write_atomic(path, s, strlen(s));
    free(s); free(path);
}

static void walk(json_t *out, const char *base, const char *rel, int depth)
{
    if (depth > 64) return;
    char *dir = rel[0] ? xasprintf("%s/%s", base, rel) : xstrdup(base);
    DIR *d = opendir(dir);
    if (!d) { free(dir); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *r = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
        char *full = xasprintf("%s/%s", base, r);
        struct stat st;
        if (stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) walk(out, base, r, depth + 1);
            else if (S_ISREG(st.st_mode)) {
                /* the blob's name (the symlink's last component) is its etag */
                char target[4096];
                ssize_t k = readlink(full, target, sizeof target - 1);
                const char *etag = "";
                if (k > 0) { target[k] = 0; const char *s = strrchr(target, '/'); etag = s ? s + 1 : target; }
                json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s}", "type", "file", "path", r,
                                                     "size", (json_int_t)st.st_size, "oid", etag));
            }
        }
        free(full); free(r);
    }
    closedir(d);
    free(dir);
}

json_t *hfc_list_snapshot(const struct hfcache *c, const char *sha)
{
    char *base = xasprintf("%s/snapshots/%s", c->dir, sha);
    json_t *out = json_array();
    walk(out, base, "", 0);
    free(base);
    return out;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/* snapshots/<sha>/<path> -> ../../blobs/<etag>, one more ../ per folder in path */
static void link_snapshot(const struct hfcache *c, const char *snap, const char *path, const char *etag)
{
    mkdirs(snap, 0);
    size_t depth = 0;
    for (const char *s = path; *s; s++) depth += *s == '/';
    size_t cap = 3 * depth + strlen(etag) + 16;
    char *target = xmalloc(cap);
    strcpy(target, "../../");
    for (size_t i = 0; i < depth; i++) strcat(target, "../");
    strcat(target, "blobs/");
    strcat(target, etag);
    char *tmp = xasprintf("%s.tmp.%ld", snap, (long)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, snap) != 0) die_errno("cannot link '%s' in the cache", snap);
    free(tmp); free(target);
    (void)c;
}

int hfc_cached(const struct hfcache *c, const char *sha, const struct hf_file *f)
{
    char *snap = xasprintf("%s/snapshots/%s/%s", c->dir, sha, f->path);
    char *blob = xasprintf("%s/blobs/%s", c->dir, f->etag);
    int64_t s = file_size(snap), b = file_size(blob);
    free(snap); free(blob);
    return (s >= 0 && (f->size < 0 || s == f->size)) || (b >= 0 && (f->size < 0 || b == f->size));
}

/* The digest of the downloaded file `part` must be `want`; else it is
 * discarded and that is an error. */
static void check_digest(const struct hfcache *c, const struct hf_file *f, const char *part, const char *kind,
                         const char *want, int (*digest)(const char *path, char *hex))
{
    char hex[65];
    if (!digest(part, hex)) die_errno("cannot read '%s'", part);
    if (strcmp(hex, want) == 0) return;
    unlink(part);
    die("%s: file '%s': %s mismatch (expected %s, got %s); the corrupt download was discarded, "
        "run again to retry", c->repo, f->path, kind, want, hex);
}

char *hfc_fetch(const struct hfcache *c, struct hub *h, const char *sha, const struct hf_file *f)
{
    if (strstr(f->path, "..") || f->path[0] == '/' || strchr(f->etag, '/') || !f->etag[0])
        die("%s: refusing the unsafe file name '%s'", c->repo, f->path);
    char *snap = xasprintf("%s/snapshots/%s/%s", c->dir, sha, f->path);
    char *blob = xasprintf("%s/blobs/%s", c->dir, f->etag);
    int64_t s = file_size(snap);
    if (s >= 0 && (f->size < 0 || s == f->size)) { free(blob); return snap; }
    s = file_size(blob);
    if (s >= 0 && (f->size < 0 || s == f->size)) {
        link_snapshot(c, snap, f->path, f->etag);
        free(blob);
        return snap;
    }
    if (h->offline)
        die("%s: file '%s' is not in the cache (%s) and offline mode is on", c->repo, f->path, c->dir);

    /* One process downloads a blob at a time: the lock file is the one
     * huggingface_hub's FileLock uses, so Python tools wait for us too. */
    char *lock = xasprintf("%s/%s.lock", c->lock_dir, f->etag);
    mkdirs(lock, 0);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) die_errno("cannot open lock file '%s'", lock);
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) die_errno("cannot lock '%s'", lock);
        if (!h->quiet) warnx("%s: waiting for another process downloading '%s'", c->repo, f->path);
        if (flock(lfd, LOCK_EX) != 0) die_errno("cannot lock '%s'", lock);
    }
    s = file_size(blob);        /* the other process may have finished it */
    if (s < 0 || (f->size >= 0 && s != f->size)) {
        char *part = xasprintf("%s.incomplete", blob);
        mkdirs(part, 0);
        int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) die_errno("cannot open '%s'", part);
        struct stat st;
        if (fstat(fd, &st) != 0) die_errno("%s", part);
        int64_t have = st.st_size;
        if (f->size >= 0 && have > f->size) {       /* longer than the file: start over */
            if (ftruncate(fd, 0) != 0) die_errno("%s", part);
            have = 0;
        }
        int64_t got = hub_download(h, c->repo, sha, f->path, fd, have, f->size);
        if (fsync(fd) != 0) die_errno("cannot sync '%s'", part);
        close(fd);
        /* check before publishing: a bad blob must never look finished */
        if (f->size >= 0 && got != f->size) {
            unlink(part);
            die("%s: file '%s': got %lld bytes, the listing says %lld; the download was discarded",
                c->repo, f->path, (long long)got, (long long)f->size);
        }
        /* LFS files by their sha256; a plain git file by its listed oid,
         * its git blob id */
        if (f->sha256) check_digest(c, f, part, "sha256", f->sha256, sha256_file);
        else if (hfc_is_sha(f->etag)) check_digest(c, f, part, "git sha1", f->etag, git_blob_sha1_file);
        if (rename(part, blob) != 0) die_errno("cannot publish '%s'", blob);
        free(part);
    }
    flock(lfd, LOCK_UN);
    close(lfd);
    free(lock);
    link_snapshot(c, snap, f->path, f->etag);
    free(blob);
    return snap;
}
