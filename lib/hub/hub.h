/* hub.h - the Hugging Face Hub's HTTP API, over libcurl.
 *
 * What hf-fetch asks the Hub (hub.md in the project's shared docs; the
 * paths are those of huggingface_hub and huggingface.js):
 *
 *   GET /api/datasets/{repo}/revision/{rev}        -> {"sha": ..., "cardData": ...}
 *   GET /api/datasets/{repo}/tree/{sha}?recursive=true   (pages: Link rel="next")
 *   GET /datasets/{repo}/resolve/{sha}/{path}      -> 302 to a CDN, or 200 + bytes
 * and for a model repository (repo_type "models", hf-fetch --model) the same
 * under /api/models/{repo}/... and /{repo}/resolve/{sha}/{path}.
 *
 * Redirects are followed here, not by libcurl, so that the token (HF_TOKEN)
 * goes only to the endpoint's own scheme://host:port and never to the CDN.
 * Only http and https are spoken (for the first URL and every redirect),
 * and a redirect from https to http is refused.
 * Failures that may pass (408, 429, 5xx, network errors, stalled transfers)
 * are retried 5 times with backoff 1, 2, 4, 8, 8 s, or as long as the server
 * asks (Retry-After, RateLimit ... t=N); final errors name the repository
 * and what the status means (401: missing, private or gated, set HF_TOKEN).
 */
#ifndef TFS_HUB_H
#define TFS_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct hub {
    char *endpoint;         /* HF_ENDPOINT without a trailing '/' */
    const char *repo_type;  /* "datasets" (hub_init's) or "models": the API's and the cache's word */
    char *origin;           /* scheme://host:port of the endpoint: the token's only destination */
    char *token;            /* Bearer token or NULL; never printed */
    int offline;            /* HF_HUB_OFFLINE or --offline: any request is an error */
    long timeout;           /* seconds: connect timeout and stall limit */
    int quiet;
    void *curl;             /* CURL * */
    long requests;          /* HTTP requests made (for tests and -v) */
};

/* Read the environment (HF_ENDPOINT, HF_TOKEN, HF_TOKEN_PATH, HF_HOME,
 * HF_HUB_OFFLINE, HF_HUB_DISABLE_IMPLICIT_TOKEN, HF_HUB_DOWNLOAD_TIMEOUT). */
void hub_init(struct hub *h, int offline, int quiet);
void hub_free(struct hub *h);

/* $HF_HOME (default $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface)
 * and $HF_HUB_CACHE (default $HF_HOME/hub); malloc'd. */
char *hf_home(void);
char *hf_hub_cache(void);

/* Is this environment value "true" (1, ON, YES, TRUE in any case)? */
int env_true(const char *name);

/* Percent-encode a revision whole, '/' included (refs/convert/parquet ->
 * refs%2Fconvert%2Fparquet); a path keeps its '/'.  Returns malloc'd text. */
char *hub_escape(const char *s, int keep_slash);

/* May a request to `from` follow a redirect to `to`?  Only to http or https,
 * and never from https down to http.  Returns 1, or 0 with the reason in
 * why (cap bytes). */
int hub_redirect_ok(const char *from, const char *to, char *why, size_t cap);

/* GET {endpoint}{path}: the parsed JSON body.  `what` names the object in
 * error messages ("dataset 'org/name'", "revision 'main'"). */
json_t *hub_get_json(struct hub *h, const char *path, const char *what);

/* The whole recursive file listing of a revision, following Link pages:
 * a JSON array of {"type", "path", "size", "oid", "lfs": {"oid", "size"}}. */
json_t *hub_list_tree(struct hub *h, const char *repo, const char *sha);

/* Download {endpoint}/datasets/{repo}/resolve/{sha}/{path} into the open
 * file `fd` (the partial file: `have` bytes are already there and are
 * resumed with a Range request; a server that answers 200 instead makes us
 * truncate and start over).  `total` is the size from the listing (-1 if
 * unknown).  Returns the final size. */
int64_t hub_download(struct hub *h, const char *repo, const char *sha, const char *path,
                     int fd, int64_t have, int64_t total);

/* GET bytes [off, off + len) of the same file (`total` bytes) into fd at
 * offset off (a sparse local copy, for reading a Parquet footer and the
 * row groups needed).  Returns 1, or 0 when the server ignored the Range
 * and sent the whole file, which is then all in fd.  A 206 whose
 * Content-Range is not the range asked (or not of `total` bytes) is an
 * error, and fd is left as it was: neither truncated nor grown. */
int hub_get_range(struct hub *h, const char *repo, const char *sha, const char *path,
                  int fd, int64_t off, int64_t len, int64_t total);

/* One HTTP response header line (Link, Retry-After, RateLimit ...) through
 * the reply parser: the next page's URL into next, the wait asked for (-1:
 * none) into *retry_after.  For the fuzz harness (tests/fuzz/fuzz_hub.c). */
void hub_parse_header(const char *line, size_t n, char *next, size_t cap, long *retry_after);

#endif
