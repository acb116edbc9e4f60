/* tokset.c - several token-stream files read as one stream (see tokset.h). */
#include "core/tokset.h"
#include "core/input.h"
#include "core/opts.h"
#include "core/xio.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names ---------------------------------------------------------------- */
struct names { char **v; size_t n, cap; };

static void add_name(struct names *s, const char *name)
{
    if (s->n + 2 > s->cap) s->v = xrealloc(s->v, (s->cap = s->cap * 2 + 8) * sizeof *s->v);
    s->v[s->n++] = xstrdup(name);
    s->v[s->n] = NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of directory dir (not hidden ones, not subdirectories), in name order. */
static void add_dir(struct names *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) die_errno("cannot read directory '%s'", dir);
    size_t first = s->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir);
        char *p = xasprintf("%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) add_name(s, p);
        free(p);
    }
    closedir(d);
    if (s->n == first) die("%s: a directory without files (expected token-stream shards)", dir);
    qsort(s->v + first, s->n - first, sizeof *s->v, by_name);
}

char **tokset_expand(const char *const *args, size_t nargs, size_t *n)
{
    struct names s = { NULL, 0, 0 };
    for (size_t i = 0; i < nargs; i++) {
        const char *a = args[i];
        struct stat st;
        if (strcmp(a, "-") == 0) {
            if (nargs > 1) usage_error("'-' (standard input) cannot be one of several inputs");
            add_name(&s, a);
        } else if (stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
            add_dir(&s, a);
        } else if (stat(a, &st) != 0 && strpbrk(a, "*?[")) {
            /* a pattern the shell did not expand (quoted): glob sorts its matches */
            glob_t g;
            int rc = glob(a, 0, NULL, &g);
            if (rc == GLOB_NOMATCH) die("%s: the pattern matches no file", a);
            if (rc != 0) die("%s: cannot expand the pattern", a);
            for (size_t k = 0; k < g.gl_pathc; k++) add_name(&s, g.gl_pathv[k]);
            globfree(&g);
        } else {
            add_name(&s, a);    /* a file (or a missing one: opening it says so) */
        }
    }
    if (!s.n) usage_error("no input file");
    *n = s.n;
    return s.v;
}

void tokset_free_names(char **names)
{
    if (!names) return;
    for (char **p = names; *p; p++) free(*p);
    free(names);
}

/* ---- the set -------------------------------------------------------------- */
struct part {
    char *path;
    uint64_t start;         /* set offset of its first token (mapped sets) */
    uint64_t n;             /* its tokens (mapped sets) */
    struct tokr *r;         /* open: mapped on first use, or being read */
};

struct tokset {
    struct part *p;
    size_t np;
    size_t cur;             /* sequential: the part being read */
};

/* The header of file path, without keeping it open; *plain says whether it
 * is a regular, uncompressed file, and then *n is its number of tokens. */
static void peek_part(const char *path, struct tok_header *h, int *plain, uint64_t *n)
{
    static const unsigned char zmagic[4] = { 0x28, 0xB5, 0x2F, 0xFD };
    unsigned char hdr[TOK_HEADER_BYTES];
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0) die_errno("cannot open '%s'", path);
    *plain = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 4 &&
             pread(fd, hdr, 4, 0) == 4 && memcmp(hdr, zmagic, 4) != 0;
    if (*plain) {
        if ((size_t)st.st_size < TOK_HEADER_BYTES || pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
            die("%s: truncated: %lld bytes, shorter than the 1024-byte header", path, (long long)st.st_size);
        close(fd);
        const char *err = tok_header_decode(h, hdr);
        if (err) die("%s: %s", path, err);
        size_t width = h->wide ? 4 : 2, body = (size_t)st.st_size - TOK_HEADER_BYTES;
        if (body % width)
            die("%s: truncated: %zu bytes of ids is not a multiple of %zu", path, body, width);
        *n = body / width;
        if (h->ntokens && h->ntokens != *n)
            die("%s: truncated or corrupt: header says %llu tokens, file holds %llu", path,
                (unsigned long long)h->ntokens, (unsigned long long)*n);
        return;
    }
    close(fd);
    /* compressed or not a regular file: read its header through the decoder */
    struct tokr *r = tokr_open(path);
    *h = r->h;
    *n = 0;
    tokr_close(r);
}

/* Every file must be of the first file's vocabulary and tokenizer. */
static void check_agrees(const char *path, const struct tok_header *h, const char *first,
                         const struct tok_header *h0)
{
    if (h->vocab != h0->vocab)
        die("%s: vocabulary size %u, but %s (the first file of the set) has %u", path, h->vocab,
            first, h0->vocab);
    if (h->fingerprint != h0->fingerprint)
        die("%s: encoded by another tokenizer than %s, the first file of the set "
            "(fingerprint %016llx, not %016llx)", path, first, (unsigned long long)h->fingerprint,
            (unsigned long long)h0->fingerprint);
}

struct tokr *tokr_open_set(const char *const *args, size_t nargs)
{
    size_t n;
    char **names = tokset_expand(args, nargs, &n);
    if (n == 1) {
        struct tokr *r = tokr_open(names[0]);
        tokset_free_names(names);
        return r;
    }
    struct tokset *s = xcalloc(1, sizeof *s);
    s->p = xcalloc(n, sizeof *s->p);
    s->np = n;
    struct tokr *r = xcalloc(1, sizeof *r);
    r->set = s;
    int all_plain = 1;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct tok_header h;
        int plain;
        peek_part(names[i], &h, &plain, &s->p[i].n);
        if (i == 0) r->h = h;
        else check_agrees(names[i], &h, names[0], &r->h);
        all_plain &= plain;
        s->p[i].path = names[i];
        s->p[i].start = total;
        total += s->p[i].n;
    }
    free(names);            /* the strings now belong to the parts */
    r->name = xasprintf("%s and %zu more files", s->p[0].path, n - 1);
    r->mapped = all_plain;
    r->n = all_plain ? total : 0;
    r->h.ntokens = all_plain ? total : 0;
    return r;
}

size_t tokr_files(const struct tokr *r)
{
    return r->set ? r->set->np : 1;
}

/* Part k, opened (a plain part is memory-mapped and checked once, then
 * stays mapped; its file descriptor is already closed). */
static struct tokr *part_open(struct tokset *s, size_t k, const struct tok_header *h0)
{
    struct part *p = &s->p[k];
    if (!p->r) {
        p->r = tokr_open(p->path);
        check_agrees(p->path, &p->r->h, s->p[0].path, h0);
    }
    return p->r;
}

void tokset_get(const struct tokr *r, uint64_t off, size_t n, uint32_t *out)
{
    struct tokset *s = r->set;
    /* the last part starting at or before off (empty parts start where the next one does) */
    size_t lo = 0, hi = s->np - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (s->p[mid].start <= off) lo = mid; else hi = mid - 1;
    }
    /* copy from part lo on, into the next parts when the window straddles them */
    while (n > 0) {
        struct part *p = &s->p[lo];
        uint64_t in = off - p->start;
        if (in >= p->n) { lo++; continue; }
        struct tokr *pr = part_open(s, lo, &r->h);
        if (pr->n != p->n) die("%s: changed while being read (%llu tokens, were %llu)", p->path,
                               (unsigned long long)pr->n, (unsigned long long)p->n);
        size_t k = p->n - in < n ? (size_t)(p->n - in) : n;
        tokr_get(pr, in, k, out);
        out += k; off += k; n -= k;
        lo++;
    }
}

size_t tokset_read(struct tokr *r, uint32_t *out, size_t max)
{
    struct tokset *s = r->set;
    size_t done = 0;
    while (done < max && s->cur < s->np) {
        struct tokr *pr = part_open(s, s->cur, &r->h);
        size_t k = tokr_read(pr, out + done, max - done);
        if (k == 0) {
            /* this file is done: one file open at a time */
            tokr_close(pr);
            s->p[s->cur++].r = NULL;
            continue;
        }
        done += k;
    }
    r->pos += done;
    return done;
}

void tokset_close(struct tokset *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->np; i++) {
        tokr_close(s->p[i].r);
        free(s->p[i].path);
    }
    free(s->p);
    free(s);
}

/* ---- writing shards ------------------------------------------------------- */
struct tokws {
    char *prefix;
    uint64_t size;          /* tokens per shard, 0: one file */
    uint32_t vocab;
    uint64_t fingerprint;
    int zstd_level, force;
    struct tokw *w;         /* the shard being written, NULL between shards */
    size_t k;               /* shards begun */
};

char *tokws_name(const char *prefix, size_t k)
{
    return xasprintf("%s_%06zu.bin", prefix, k);
}

static void next_shard(struct tokws *s)
{
    char *name = tokws_name(s->prefix, s->k++);
    s->w = tokw_open(name, s->vocab, s->fingerprint, s->zstd_level, s->force);
    free(name);
}

struct tokws *tokws_open(const char *prefix, uint64_t shard_size, uint32_t vocab, uint64_t fingerprint,
                         int zstd_level, int force)
{
    struct tokws *s = xcalloc(1, sizeof *s);
    *s = (struct tokws){ xstrdup(prefix), shard_size, vocab, fingerprint, zstd_level, force, NULL, 0 };
    if (!shard_size) s->w = tokw_open(prefix, vocab, fingerprint, zstd_level, force);
    else next_shard(s);
    return s;
}

void tokws_put(struct tokws *s, const uint32_t *ids, size_t n)
{
    if (!s->size) { tokw_put(s->w, ids, n); return; }
    while (n > 0) {
        if (!s->w) next_shard(s);   /* opened only when a token comes: no empty last shard */
        uint64_t room = s->size - tokw_count(s->w);
        size_t k = room < n ? (size_t)room : n;
        tokw_put(s->w, ids, k);
        ids += k; n -= k;
        if (tokw_count(s->w) == s->size) { tokw_close(s->w); s->w = NULL; }
    }
}

size_t tokws_close(struct tokws *s)
{
    size_t files = s->size ? s->k : 1;
    if (s->w) tokw_close(s->w);
    if (s->size) {
        /* the longer tail of an earlier run under the same name */
        for (size_t k = s->k;; k++) {
            char *name = tokws_name(s->prefix, k);
            int gone = unlink(name) == 0;
            free(name);
            if (!gone) break;
        }
    }
    free(s->prefix);
    free(s);
    return files;
}
