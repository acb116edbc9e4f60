/* hub.c - the Hub's HTTP API over libcurl (see hub.h).
 *
 * Sections: environment -> one HTTP exchange -> retries and redirects ->
 * errors -> JSON calls -> downloads.
 */
#include "hub/hub.h"
#include "core/progress.h"
#include "core/xio.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

enum { MAX_TRIES = 5, MAX_REDIRECTS = 10, MAX_WAIT_S = 300 };
#define MAX_BODY ((size_t)64 << 20)

/* ======================================================================
 * Environment
 * ====================================================================== */

int env_true(const char *name)
{
    const char *v = getenv(name);
    if (!v) return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

char *hf_home(void)
{
    if (env("HF_HOME")) return xstrdup(env("HF_HOME"));
    if (env("XDG_CACHE_HOME")) return xasprintf("%s/huggingface", env("XDG_CACHE_HOME"));
    const char *home = env("HOME");
    return xasprintf("%s/.cache/huggingface", home ? home : ".");
}

char *hf_hub_cache(void)
{
    if (env("HF_HUB_CACHE")) return xstrdup(env("HF_HUB_CACHE"));
    char *home = hf_home();
    char *c = xasprintf("%s/hub", home);
    free(home);
    return c;
}

/* The token: HF_TOKEN, else the file HF_TOKEN_PATH (default $HF_HOME/token),
 * surrounding whitespace trimmed; empty means none. */
static char *read_token(void)
{
    if (env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN")) return NULL;
    char *t = NULL;
    if (getenv("HF_TOKEN")) t = xstrdup(getenv("HF_TOKEN"));
    else {
        char *home = hf_home();
        char *path = env("HF_TOKEN_PATH") ? xstrdup(env("HF_TOKEN_PATH")) : xasprintf("%s/token", home);
        free(home);
        FILE *f = fopen(path, "r");
        if (f) {
            char buf[4096];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
            t = xstrdup(buf);
        }
        free(path);
    }
    if (!t) return NULL;
    char *s = t;
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    memmove(t, s, n);
    t[n] = 0;
    if (!*t) { free(t); return NULL; }
    return t;
}

/* scheme://host:port of a URL (the port made explicit), or NULL. */
static char *origin_of(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *o = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *c = host; *c; c++) *c = (char)tolower((unsigned char)*c);
        o = xasprintf("%s://%s:%s", scheme, host, port);
    }
    curl_free(scheme); curl_free(host); curl_free(port);
    curl_url_cleanup(u);
    return o;
}

void hub_init(struct hub *h, int offline, int quiet)
{
    memset(h, 0, sizeof *h);
    const char *ep = env("HF_ENDPOINT") ? env("HF_ENDPOINT") : "https://huggingface.co";
    h->endpoint = xstrdup(ep);
    h->repo_type = "datasets";
    size_t n = strlen(h->endpoint);
    while (n && h->endpoint[n - 1] == '/') h->endpoint[--n] = 0;
    h->offline = offline || env_true("HF_HUB_OFFLINE");
    h->quiet = quiet;
    h->timeout = 10;
    if (env("HF_HUB_DOWNLOAD_TIMEOUT")) {
        char *end;
        double t = strtod(env("HF_HUB_DOWNLOAD_TIMEOUT"), &end);
        if (*end || !(t >= 1 && t <= 86400)) die("HF_HUB_DOWNLOAD_TIMEOUT: not a number of seconds between 1 and 86400: '%s'", env("HF_HUB_DOWNLOAD_TIMEOUT"));
        h->timeout = (long)t;
    }
    if (h->offline) return;
    h->origin = origin_of(h->endpoint);
    if (!h->origin) die("HF_ENDPOINT: not a URL: '%s'", h->endpoint);
    if (strncmp(h->origin, "http://", 7) && strncmp(h->origin, "https://", 8))
        die("HF_ENDPOINT: only http and https URLs are used: '%s'", h->endpoint);
    h->token = read_token();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("libcurl initialisation failed");
    h->curl = curl_easy_init();
    if (!h->curl) die("libcurl initialisation failed");
}

void hub_free(struct hub *h)
{
    if (h->curl) curl_easy_cleanup(h->curl);
    if (h->token) { memset(h->token, 0, strlen(h->token)); free(h->token); }
    free(h->endpoint); free(h->origin);
    memset(h, 0, sizeof *h);
}

char *hub_escape(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = xmalloc(3 * strlen(s) + 1), *p = o;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (isalnum(*c) || strchr("-._~", *c) || (keep_slash && *c == '/')) *p++ = (char)*c;
        else { *p++ = '%'; *p++ = hex[*c >> 4]; *p++ = hex[*c & 15]; }
    }
    *p = 0;
    return o;
}

/* ======================================================================
 * One HTTP exchange
 * ====================================================================== */

struct resp {
    long status;
    char *body; size_t len, cap;    /* body of JSON calls and of errors */
    /* a download: bytes go to fd at file_start + written */
    int fd;
    int64_t file_start, written;
    int restart;                    /* 200 to a Range request: start over */
    int bad_range;                  /* 206 whose Content-Range is not what we asked */
    int sparse;                     /* fd is a sparse copy with other ranges in it: never truncate */
    int64_t want_end;               /* the end (exclusive) we asked for, -1: the file's end */
    int64_t total;                  /* the file's size if known, else -1 */
    struct progress *prog;
    CURL *curl;                     /* to read the status from on_body */
    /* headers */
    char link_next[4096], err_code[64], err_msg[512], content_range[128];
    long retry_after;               /* seconds, -1 if none */
};

static void reset_resp(struct resp *r)
{
    r->status = 0;
    r->len = 0;
    r->written = 0;
    r->restart = r->bad_range = 0;
    r->link_next[0] = r->err_code[0] = r->err_msg[0] = r->content_range[0] = 0;
    r->retry_after = -1;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    while (n && *v == ' ') { v++; n--; }
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

/* Link: <url>; rel="next", <url>; rel="prev"  ->  the next page's URL */
static void parse_link(struct resp *r, const char *v, size_t n)
{
    const char *end = v + n, *p = v;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt) return;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt) return;
        const char *next = memchr(gt, '<', (size_t)(end - gt));
        const char *params_end = next ? next : end;
        size_t plen = (size_t)(params_end - gt);
        char params[512];
        copy_value(params, sizeof params, gt + 1, plen - 1 < sizeof params ? plen - 1 : sizeof params - 1);
        if (strstr(params, "rel=\"next\"") || strstr(params, "rel=next"))
            copy_value(r->link_next, sizeof r->link_next, lt + 1, (size_t)(gt - lt - 1));
        p = params_end;
    }
}

/* RateLimit: "api";r=0;t=55  ->  wait t+1 seconds once r is exhausted */
static long ratelimit_wait(const char *v)
{
    const char *t = strstr(v, ";t=");
    const char *r = strstr(v, ";r=");
    if (!t) return -1;
    if (r && atol(r + 3) > 0) return -1;
    return atol(t + 3) + 1;
}

/* Retry-After (RFC 9110 section 10.2.3): a number of seconds, or an
 * HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT"; curl_getdate also reads the
 * obsolete RFC 850 and asctime forms) to wait until.  A date in the past
 * means now.  Returns seconds, or -1 if the value is neither; the caller
 * caps the wait at MAX_WAIT_S. */
static long retry_after_wait(const char *v)
{
    if (isdigit((unsigned char)v[0])) return strtol(v, NULL, 10);     /* saturates */
    time_t when = curl_getdate(v, NULL);
    if (when == -1) return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    const char *colon = memchr(buf, ':', len);
    if (!colon) return len;
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = len - klen - 1;
#define IS(name) (klen == sizeof(name) - 1 && !strncasecmp(buf, name, klen))
    if (IS("link")) parse_link(r, v, vlen);
    else if (IS("x-error-code")) copy_value(r->err_code, sizeof r->err_code, v, vlen);
    else if (IS("x-error-message")) copy_value(r->err_msg, sizeof r->err_msg, v, vlen);
    else if (IS("content-range")) copy_value(r->content_range, sizeof r->content_range, v, vlen);
    else if (IS("retry-after") || IS("ratelimit")) {
        char tmp[256];
        copy_value(tmp, sizeof tmp, v, vlen);
        long w = IS("retry-after") ? retry_after_wait(tmp) : ratelimit_wait(tmp);
        if (w >= 0 && (r->retry_after < 0 || w > r->retry_after)) r->retry_after = w;
    }
#undef IS
    return len;
}

static int is_ok(long s) { return s == 200 || s == 206; }

/* Content-Range of a 206 (RFC 9110 section 14.4): "bytes FIRST-LAST/TOTAL"
 * (TOTAL may be "*").  It must start where we asked, end where we asked
 * (or at the file's end for an open range), and name the size we know. */
static int range_is_asked(const struct resp *r)
{
    long long first, last, total = -1;
    char star;
    if (sscanf(r->content_range, "bytes %lld-%lld/%lld", &first, &last, &total) != 3 &&
        sscanf(r->content_range, "bytes %lld-%lld/%c", &first, &last, &star) != 3)
        return 0;
    if (first != r->file_start || last < first) return 0;
    if (r->want_end >= 0 && last != r->want_end - 1) return 0;
    if (r->total >= 0 && total >= 0 && total != r->total) return 0;
    if (r->total >= 0 && r->want_end < 0 && last != r->total - 1) return 0;
    return 1;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    if (r->status == 0) curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->fd >= 0 && is_ok(r->status)) {
        if (r->written == 0) {
            if (r->status == 200 && r->file_start > 0) {
                /* the server ignored our Range: what it sends starts at 0
                 * (a sparse copy keeps its size and its other ranges: the
                 * whole file overwrites them with the same bytes) */
                if (!r->sparse && ftruncate(r->fd, 0) != 0) die_errno("cannot truncate a partial download");
                r->file_start = 0;
                r->restart = 1;
            } else if (r->status == 206 && !range_is_asked(r)) {
                r->bad_range = 1;
                return 0;   /* abort this transfer before it writes a byte */
            }
        }
        /* never past the file's end: a sparse copy would grow, and a
         * download would be longer than the listing says */
        if (r->total >= 0 && r->file_start + r->written + (int64_t)len > r->total) {
            r->bad_range = 1;
            return 0;
        }
        size_t done = 0;
        while (done < len) {
            ssize_t k = pwrite(r->fd, buf + done, len - done, (off_t)(r->file_start + r->written + (int64_t)done));
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) die_errno("cannot write a download to the cache");
            done += (size_t)k;
        }
        r->written += (int64_t)len;
        if (r->prog) {
            int64_t at = r->file_start + r->written;
            progress_update(r->prog, (uint64_t)at, "%.1f MB", (double)at / 1e6);
        }
        return len;
    }
    /* JSON, or an error's body (kept short) */
    if (r->len + len > MAX_BODY) return 0;
    if (r->len + len + 1 > r->cap) {
        while (r->len + len + 1 > r->cap) r->cap = r->cap ? 2 * r->cap : 1 << 14;
        r->body = xrealloc(r->body, r->cap);
    }
    memcpy(r->body + r->len, buf, len);
    r->len += len;
    r->body[r->len] = 0;
    return len;
}

static CURLcode perform(struct hub *h, const char *url, struct resp *r, int64_t range_from, int64_t range_end)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    struct curl_slist *hdr = NULL;
    char *origin = origin_of(url);
    /* the token goes to the endpoint's own origin only */
    if (h->token && origin && !strcmp(origin, h->origin)) {
        char *a = xasprintf("Authorization: Bearer %s", h->token);
        hdr = curl_slist_append(hdr, a);
        memset(a, 0, strlen(a));
        free(a);
    }
    free(origin);
    hdr = curl_slist_append(hdr, "User-Agent: tfs-hf-fetch/1");
    char range[64];
    if (range_end >= 0) {       /* bytes [from, end) */
        snprintf(range, sizeof range, "Range: bytes=%lld-%lld", (long long)range_from, (long long)range_end - 1);
        hdr = curl_slist_append(hdr, range);
    } else if (range_from > 0) {
        snprintf(range, sizeof range, "Range: bytes=%lld-", (long long)range_from);
        hdr = curl_slist_append(hdr, range);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);    /* we follow, see hub.h */
    /* curl_easy_reset brought the allowed protocols back to "all": allow
     * only the web's two (libcurl >= 7.85 names them in a string) */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* the certificates to trust, as the curl program reads them: a private
     * Hub mirror's CA (and the tests' stand-in Hub over https) */
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (ca && *ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->timeout);
    /* a transfer slower than 1 byte/s for `timeout` seconds has stalled */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->timeout);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    /* on_body needs the status before the first byte */
    reset_resp(r);
    r->curl = c;
    r->file_start = range_from;
    r->want_end = range_end;
    h->requests++;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdr);
    return rc;
}

/* ======================================================================
 * Retries and redirects
 * ====================================================================== */

static int retryable(long s) { return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

static void sleep_s(long s)
{
    struct timespec ts = { s, 0 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

_Noreturn static void http_fail(struct hub *h, struct resp *r, const char *what, CURLcode rc);

/* The scheme of a URL, lower-cased into buf ("" if it has none). */
static const char *scheme_of(const char *url, char *buf, size_t cap)
{
    size_t n = 0;
    while (url[n] && url[n] != ':' && n + 1 < cap) { buf[n] = (char)tolower((unsigned char)url[n]); n++; }
    buf[url[n] == ':' ? n : 0] = 0;
    return buf;
}

int hub_redirect_ok(const char *from, const char *to, char *why, size_t cap)
{
    char a[16], b[16];
    scheme_of(from, a, sizeof a);
    scheme_of(to, b, sizeof b);
    if (strcmp(b, "http") && strcmp(b, "https")) {
        snprintf(why, cap, "refusing a redirect to '%.200s': only http and https are followed", to);
        return 0;
    }
    if (!strcmp(a, "https") && !strcmp(b, "http")) {
        snprintf(why, cap, "refusing a redirect from https to http ('%.200s'): a downgrade would "
                 "expose the transfer", to);
        return 0;
    }
    return 1;
}

/* GET url, following redirects ourselves and retrying what may pass.
 * For a download, r->fd >= 0 and *have is the offset reached in the file,
 * updated as bytes arrive; `end` >= 0 asks only for bytes up to end.  On
 * return r->status is 200 or 206 (or 416 for a download whose partial
 * file is already complete). */
static void request(struct hub *h, const char *url0, struct resp *r, const char *what, int64_t *have, int64_t end)
{
    static const long backoff[MAX_TRIES] = { 1, 2, 4, 8, 8 };
    if (h->offline) die("%s: needed from the network, but offline mode is on (HF_HUB_OFFLINE or --offline)", what);
    for (int attempt = 1;; attempt++) {
        char *url = xstrdup(url0);
        CURLcode rc = CURLE_OK;
        for (int redirects = 0;; redirects++) {
            rc = perform(h, url, r, have ? *have : 0, end);
            if (have) *have = r->file_start + r->written;
            if (rc != CURLE_OK || r->status < 300 || r->status >= 400 || r->status == 304) break;
            char *loc = NULL;
            curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc);
            if (!loc) die("%s: redirect (HTTP %ld) without a Location", what, r->status);
            if (redirects == MAX_REDIRECTS) die("%s: more than %d redirects", what, MAX_REDIRECTS);
            char why[512];
            if (!hub_redirect_ok(url, loc, why, sizeof why)) die("%s: %s", what, why);
            char *next = xstrdup(loc);
            free(url);
            url = next;
        }
        free(url);
        if (rc == CURLE_OK && (is_ok(r->status) || (have && r->status == 416))) return;
        if (have && r->bad_range && r->sparse)
            /* other ranges of this copy are already in use: nothing may be
             * truncated or marked, so this is an error, not a retry */
            die("%s: the server answered a request for bytes %lld-%lld with %s%s; refusing it",
                what, (long long)r->file_start, (long long)(end - 1),
                r->status == 206 ? "Content-Range " : "more bytes than the file has",
                r->status == 206 ? r->content_range : "");
        if (have && r->bad_range) { *have = 0; if (ftruncate(r->fd, 0) != 0) die_errno("truncate"); }
        int net = rc != CURLE_OK && !r->bad_range;
        if (!(net || retryable(r->status) || r->bad_range) || attempt == MAX_TRIES) http_fail(h, r, what, rc);
        long wait = backoff[attempt - 1];
        if (r->retry_after >= 0) wait = r->retry_after;
        if (wait > MAX_WAIT_S) wait = MAX_WAIT_S;
        if (!h->quiet) {
            if (net) warnx("%s: %s; retrying in %ld s (try %d of %d)", what, curl_easy_strerror(rc), wait, attempt + 1, MAX_TRIES);
            else warnx("%s: HTTP %ld; retrying in %ld s (try %d of %d)", what, r->status, wait, attempt + 1, MAX_TRIES);
        }
        sleep_s(wait);
    }
}

/* ======================================================================
 * Errors
 * ====================================================================== */

static void http_fail(struct hub *h, struct resp *r, const char *what, CURLcode rc)
{
    if (rc != CURLE_OK && !is_ok(r->status) && r->status < 400)
        die("%s: network error: %s (after %d tries)", what, curl_easy_strerror(rc), MAX_TRIES);
    if (rc != CURLE_OK)
        die("%s: transfer failed: %s (after %d tries)", what, curl_easy_strerror(rc), MAX_TRIES);
    const char *msg = r->err_msg[0] ? r->err_msg : NULL;
    char detail[600] = "";
    if (msg) snprintf(detail, sizeof detail, " (%s)", msg);
    switch (r->status) {
    case 401:
        if (h->token)
            die("%s: 401 Unauthorized%s: the repository does not exist, or the token (HF_TOKEN) "
                "is not valid for it", what, detail);
        die("%s: 401 Unauthorized%s: the repository does not exist, is private, or is gated; "
            "if you have access, set HF_TOKEN to an access token", what, detail);
    case 403:
        die("%s: 403 Forbidden%s: your token has no access to this repository "
            "(for a gated dataset, accept its conditions on its Hub page)", what, detail);
    case 404:
        if (!strcmp(r->err_code, "RevisionNotFound")) die("%s: revision not found (404)%s", what, detail);
        if (!strcmp(r->err_code, "EntryNotFound")) die("%s: file not found (404)%s", what, detail);
        if (!strcmp(r->err_code, "RepoNotFound")) die("%s: repository not found (404)%s", what, detail);
        die("%s: not found (404)%s", what, detail);
    case 429:
        die("%s: rate limited (429) after %d tries%s; wait a few minutes or set HF_TOKEN "
            "(signed-in users have higher limits)", what, MAX_TRIES, detail);
    default:
        if (r->status >= 500) die("%s: server error %ld after %d tries%s", what, r->status, MAX_TRIES, detail);
        die("%s: HTTP %ld%s", what, r->status, detail);
    }
}

/* ======================================================================
 * JSON calls
 * ====================================================================== */

static json_t *get_json_url(struct hub *h, const char *url, const char *what, char *next, size_t next_cap)
{
    struct resp r;
    memset(&r, 0, sizeof r);
    r.fd = -1;
    request(h, url, &r, what, NULL, -1);
    json_error_t err;
    json_t *j = json_loadb(r.body ? r.body : "", r.len, 0, &err);
    if (!j) die("%s: the Hub's answer is not JSON (%s)", what, err.text);
    if (next) snprintf(next, next_cap, "%s", r.link_next);
    free(r.body);
    return j;
}

json_t *hub_get_json(struct hub *h, const char *path, const char *what)
{
    char *url = xasprintf("%s%s", h->endpoint, path);
    json_t *j = get_json_url(h, url, what, NULL, 0);
    free(url);
    return j;
}

json_t *hub_list_tree(struct hub *h, const char *repo, const char *sha)
{
    char *rev = hub_escape(sha, 0);
    char *url = xasprintf("%s/api/%s/%s/tree/%s?recursive=true", h->endpoint, h->repo_type, repo, rev);
    char *what = xasprintf("%s '%s': file listing", strcmp(h->repo_type, "models") ? "dataset" : "model", repo);
    free(rev);
    json_t *all = json_array();
    char next[4096];
    for (int page = 0; url; page++) {
        json_t *j = get_json_url(h, url, what, next, sizeof next);
        if (!json_is_array(j)) die("%s: expected a JSON array", what);
        json_array_extend(all, j);
        json_decref(j);
        free(url);
        url = next[0] ? xstrdup(next) : NULL;
        if (page > 100000) die("%s: too many pages", what);
    }
    free(what);
    return all;
}

/* ======================================================================
 * Downloads
 * ====================================================================== */

/* The URL of a file of a commit, escaped; *what names it for messages. */
static char *resolve_url(const struct hub *h, const char *repo, const char *sha, const char *path, char **what)
{
    char *rev = hub_escape(sha, 0), *p = hub_escape(path, 1);
    /* a model's files live at the root: /{repo}/resolve/... */
    char *url = strcmp(h->repo_type, "models") ? xasprintf("%s/datasets/%s/resolve/%s/%s", h->endpoint, repo, rev, p)
                                               : xasprintf("%s/%s/resolve/%s/%s", h->endpoint, repo, rev, p);
    *what = xasprintf("%s: file '%s'", repo, path);
    free(rev); free(p);
    return url;
}

int64_t hub_download(struct hub *h, const char *repo, const char *sha, const char *path,
                     int fd, int64_t have, int64_t total)
{
    char *what, *url = resolve_url(h, repo, sha, path, &what);
    struct progress prog;
    progress_start(&prog, path, total > 0 ? (uint64_t)total : 0, h->quiet);
    struct resp r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.prog = &prog;
    r.total = total;
    /* a complete partial file needs no request at all */
    if (!(total >= 0 && have == total)) request(h, url, &r, what, &have, -1);
    progress_end(&prog);
    free(r.body); free(url); free(what);
    return have;
}

int hub_get_range(struct hub *h, const char *repo, const char *sha, const char *path,
                  int fd, int64_t off, int64_t len, int64_t total)
{
    char *what, *url = resolve_url(h, repo, sha, path, &what);
    struct resp r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.sparse = 1;
    r.total = total;
    int64_t at = off;
    request(h, url, &r, what, &at, off + len);
    /* a server that ignores Range sent the whole file from byte 0 */
    int whole = r.status == 200 && (off > 0 || at > off + len);
    if (!whole && at < off + len) die("%s: short range read (%lld of %lld bytes)", what, (long long)(at - off), (long long)len);
    free(r.body); free(url); free(what);
    return !whole;
}

/* For the fuzz harness (tests/fuzz/fuzz_hub.c): one response header line
 * as curl hands it over, through the same parser as a real reply. */
void hub_parse_header(const char *line, size_t n, char *next, size_t cap, long *retry_after)
{
    struct resp *r = xcalloc(1, sizeof *r);
    char *buf = xmalloc(n + 1);
    memcpy(buf, line, n);
    buf[n] = 0;
    reset_resp(r);
    on_header(buf, 1, n, r);
    snprintf(next, cap, "%s", r->link_next);
    *retry_after = r->retry_after;
    free(buf);
    free(r);
}
