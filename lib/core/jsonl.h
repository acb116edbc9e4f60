/* jsonl.h - JSON Lines in and out (https://jsonlines.org: one JSON value per
 * line, UTF-8, '\n' separated).
 *
 * The reader streams a file, stdin or a zstd-compressed input line by line
 * (input.h) and hands out one string field of each object (default "text").
 * Parsing is done by jansson (see README: why jansson), which
 *   - keeps every byte of a string, including NUL written as \u0000
 *     (JSON_ALLOW_NUL), so lengths are explicit: never use strlen on them;
 *   - rejects invalid UTF-8 and lone surrogates (\ud800 not followed by a low
 *     surrogate): such a line is malformed.  That is our documented choice:
 *     a lone surrogate cannot be turned into UTF-8 bytes, and silently
 *     replacing it would change the text being tokenized.
 * Whitespace-only lines are skipped; a '\r' before the '\n' (CRLF files) is
 * ignored as JSON whitespace.  A malformed line stops the program with
 *     prog: FILE:LINE: what is wrong
 * and exit 1, unless skip_bad is set: then it is counted and skipped.
 * To work on the documents in parallel while reading, see jsonl_par.h.
 */
#ifndef TFS_JSONL_H
#define TFS_JSONL_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

struct jsonl_reader;

struct jsonl_reader *jsonl_open(const char *path, const char *field, int skip_bad);
void jsonl_close(struct jsonl_reader *r);

/* Next document's field: returns 1 with *text and *len set (valid until the next
 * call), 0 at end of input. */
int jsonl_next(struct jsonl_reader *r, const char **text, size_t *len);

/* Next whole object (borrowed, valid until the next call), NULL at the end.
 * The field is not required. */
json_t *jsonl_next_object(struct jsonl_reader *r);
/* jsonl_fast.c: the plain case of a line without jansson.  When line[0..n)
 * is valid JSON, an object whose key `field` occurs once with a string
 * value, and nothing unusual (see the file): returns 1 with that string,
 * decoded in place inside line, in *text, *len.  Otherwise 0 (line
 * untouched): parse it with jansson, which accepts it or says why not. */
int jsonl_fast_field(char *line, size_t n, const char *field, const char **text, size_t *len);

long jsonl_line(const struct jsonl_reader *r);     /* line of the last document */
long jsonl_bad(const struct jsonl_reader *r);      /* lines skipped (skip_bad) */
long jsonl_docs(const struct jsonl_reader *r);     /* documents returned */
const char *jsonl_name(const struct jsonl_reader *r);

/* Read several inputs in order ("-" or none = stdin). */
struct jsonl_multi {
    char **paths;
    int n, i;
    const char *field;
    int skip_bad;
    struct jsonl_reader *cur;
    long bad, docs;
};
void jsonl_multi_init(struct jsonl_multi *m, char **paths, int n, const char *field, int skip_bad);
int jsonl_multi_next(struct jsonl_multi *m, const char **text, size_t *len);
void jsonl_multi_close(struct jsonl_multi *m);

/* ---- UTF-8 ---- */
/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there do
 * not start a valid sequence (overlong forms, surrogates and code points
 * above U+10FFFF are invalid, RFC 3629 section 4). */
int utf8_seq_len(const unsigned char *s, size_t n);
/* Offset of the first invalid byte, or n when the whole buffer is valid. */
size_t utf8_check(const char *s, size_t n);

/* ---- writer ---- */
/* Write s[0..n) as a JSON string literal (with quotes), escaping '"', '\\'
 * and control characters (\n, \t, ... and \u00XX).  Invalid UTF-8 bytes are
 * written as U+FFFD; the return value is how many were replaced, so the
 * caller can warn or refuse. */
size_t json_put_string(FILE *f, const char *s, size_t n);
/* Write {"KEY": "s"}\n and return the number of replaced bytes. */
size_t jsonl_put_text(FILE *f, const char *key, const char *s, size_t n);

#endif
