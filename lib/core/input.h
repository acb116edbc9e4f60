/* input.h - read bytes or lines from a file or stdin, transparently
 * decompressing zstd and gzip.
 *
 * Compression is detected by the magic number in the first bytes, never by
 * the file name: the zstd frame's 28 B5 2F FD (RFC 8878 section 3.1.1), or
 * gzip's 1F 8B (RFC 1952 section 2.3.1).  So "x.jsonl.zst", "x.jsonl.gz"
 * and "zstd -c x.jsonl | prog" work wherever "x.jsonl" does.
 */
#ifndef TFS_INPUT_H
#define TFS_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tfs_in;

/* Open a path, or "-" for stdin.  Dies with a message naming the file. */
struct tfs_in *in_open(const char *path);
void in_close(struct tfs_in *in);

/* The name for messages ("<stdin>" for "-"). */
const char *in_name(const struct tfs_in *in);

/* Read up to n bytes; returns the count, 0 at end of input.  A zstd or
 * gzip stream that ends in the middle of a frame or member is reported as
 * truncated, corrupt data as corrupt (exit 1). */
size_t in_read(struct tfs_in *in, void *buf, size_t n);

/* Look at the next n bytes without consuming them: *p points at them
 * (valid until the next call on in); returns how many there are: n, or
 * fewer at the end of input. */
size_t in_peek(struct tfs_in *in, size_t n, const char **p);

/* Read the next line (without its '\n'; a '\r' before it is kept for the
 * caller to judge).  Returns 1 and sets *line and *len, or 0 at end of input.
 * A last line without a newline is still a line.  The buffer belongs to the
 * reader and is valid until the next call.  in_lineno() is the 1-based
 * number of the line returned last. */
int in_getline(struct tfs_in *in, char **line, size_t *len);
long in_lineno(const struct tfs_in *in);

#endif
