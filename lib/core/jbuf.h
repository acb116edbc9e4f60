/* jbuf.h - a buffered JSON writer for rows of data (hf-fetch's output).
 *
 * Rows are built in memory and handed to stdio in large blocks, because a
 * Parquet -> JSONL conversion writes hundreds of MB/s and per-character
 * stdio calls would dominate.  The JSON style matches jsonl_put_text():
 *     {"key": "value", "n": 42, "x": 0.5, "none": null}
 * Strings are escaped as RFC 8259 requires ('"', '\\', control characters);
 * invalid UTF-8 bytes become U+FFFD and are counted (jb->replaced) so the
 * caller can report them.  Doubles are written with the fewest digits that
 * read back to the same value (15, 16 or 17 significant digits); NaN and
 * infinities, which JSON cannot express, are written as null.
 */
#ifndef TFS_JBUF_H
#define TFS_JBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct jbuf {
    char *p;            /* pending bytes */
    size_t n, cap;
    FILE *f;            /* destination */
    uint64_t replaced;  /* invalid UTF-8 bytes written as U+FFFD */
    uint64_t bytes;     /* total bytes handed to f */
};

void jb_init(struct jbuf *b, FILE *f);
void jb_flush(struct jbuf *b);      /* write pending bytes, fflush, check errors */
void jb_free(struct jbuf *b);       /* flush and release */

void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_str(struct jbuf *b, const char *s, size_t n);   /* quoted, escaped */
void jb_i64(struct jbuf *b, int64_t v);
void jb_u64(struct jbuf *b, uint64_t v);
void jb_double(struct jbuf *b, double v);
void jb_float(struct jbuf *b, float v);     /* shortest digits that give back the float */
/* Write a jansson value (object keys in their order, integers exact). */
struct json_t;
void jb_json(struct jbuf *b, const struct json_t *v);

/* End a row: "\n", and hand the buffer to stdio once it is large. */
void jb_endrow(struct jbuf *b);

#endif
