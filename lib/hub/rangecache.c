/* rangecache.c - byte ranges of a file kept between runs (see rangecache.h). */
#include "hub/rangecache.h"
#include "core/xio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void add_interval(struct rcache *r, int64_t a, int64_t b)
{
    if (a == 0 && b >= r->size) r->whole = 1;
    if (r->n == r->cap) { r->cap = r->cap ? 2 * r->cap : 16; r->have = xrealloc(r->have, (size_t)r->cap * sizeof *r->have); }
    r->have[r->n][0] = a;
    r->have[r->n][1] = b;
    r->n++;
}

static int covered(const struct rcache *r, int64_t off, int64_t end)
{
    for (int i = 0; i < r->n; i++)
        if (r->have[i][0] <= off && end <= r->have[i][1]) return 1;
    return 0;
}

/* The intervals listed so far; lines that do not fit the file are ignored. */
static void read_list(struct rcache *r)
{
    FILE *f = fopen(r->list, "r");
    if (!f) return;
    long long a, b;
    while (fscanf(f, "%lld %lld", &a, &b) == 2)
        if (a >= 0 && a < b && b <= r->size) add_interval(r, a, b);
    fclose(f);
}

void rcache_open(struct rcache *r, const struct hfcache *c, struct hub *h, const char *sha, const struct hf_file *f)
{
    memset(r, 0, sizeof *r);
    *r = (struct rcache){ .h = h, .repo = c->repo, .sha = sha, .path = f->path, .size = f->size };
    if (strchr(f->etag, '/') || !f->etag[0]) die("%s: refusing the unsafe file name '%s'", c->repo, f->path);
    char *dir = xasprintf("%s/ranges", c->meta_dir);
    /* the folder of the repo's saved metadata, then ranges/ in it */
    char *parent = xstrdup(c->meta_dir), *s = strrchr(parent, '/');
    if (s) { *s = 0; mkdir(parent, 0755); }
    mkdir(c->meta_dir, 0755);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) die_errno("cannot create '%s'", dir);
    r->copy = xasprintf("%s/%s", dir, f->etag);
    r->list = xasprintf("%s/%s.ranges", dir, f->etag);
    free(dir); free(parent);
    r->fd = open(r->copy, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->fd < 0) die_errno("cannot open '%s'", r->copy);
    struct stat st;
    if (fstat(r->fd, &st) != 0) die_errno("%s", r->copy);
    if (st.st_size != f->size) {
        /* a new copy, or one of another size: start over, with no list */
        if (ftruncate(r->fd, 0) != 0 || ftruncate(r->fd, f->size) != 0) die_errno("%s", r->copy);
        unlink(r->list);
    } else {
        read_list(r);
    }
}

/* Record [a, b) as held: after its bytes are on disk. */
static void append_list(struct rcache *r, int64_t a, int64_t b)
{
    if (fdatasync(r->fd) != 0) die_errno("cannot sync '%s'", r->copy);
    char line[64];
    int n = snprintf(line, sizeof line, "%lld %lld\n", (long long)a, (long long)b);
    int fd = open(r->list, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) die_errno("cannot open '%s'", r->list);
    if (write(fd, line, (size_t)n) != n) die_errno("cannot write '%s'", r->list);
    close(fd);
    add_interval(r, a, b);
}

void rcache_need(void *arg, int64_t off, int64_t len)
{
    struct rcache *r = arg;
    int64_t end = off + len;
    if (r->whole || covered(r, off, end)) return;
    /* a small read in the last 64 KiB (the footer and its length; the
     * whole of a small file, magic included) is widened to those 64 KiB;
     * others (column chunks) are not, so that a share of the row groups
     * (hf-fetch --shard) asks for no byte of another share's */
    if (len < 65536 && end > r->size - 65536) {
        end = r->size;
        off = end - 65536 < 0 ? 0 : end - 65536;
    }
    /* ask only for what is not held at either end: a read that overlaps
     * ranges fetched before does not fetch their bytes again */
    for (int moved = 1; moved && off < end;) {
        moved = 0;
        for (int i = 0; i < r->n; i++) {
            if (r->have[i][0] <= off && off < r->have[i][1]) { off = r->have[i][1]; moved = 1; }
            if (off < end && r->have[i][0] < end && end <= r->have[i][1]) { end = r->have[i][0]; moved = 1; }
        }
    }
    if (off >= end) return;
    if (!hub_get_range(r->h, r->repo, r->sha, r->path, r->fd, off, end - off, r->size)) {
        append_list(r, 0, r->size);     /* the server sent the whole file */
        return;
    }
    append_list(r, off, end);
}

void rcache_close(struct rcache *r)
{
    if (r->fd >= 0) close(r->fd);
    free(r->copy); free(r->list); free(r->have);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}
