/* tokstream.h - the token stream format (man tfs-tokens(5)).
 *
 * A 1024-byte header of 256 little-endian int32, compatible with llm.c's
 * data files, followed by the token ids:
 *   [0]    magic: 20240520 -> uint16 ids, [1] version 1
 *                 20240801 -> uint32 ids, [1] version 7
 *   [2]    number of tokens, or 0 when unknown (written to a pipe): readers
 *          then read to the end of the stream
 *   [3]    vocabulary size (every id is < this)
 *   [4..5] 64-bit fingerprint of the tokenizer (low word first), 0 = none
 *   [6..]  0
 * Each document is preceded by the tokenizer's end-of-text id.  The whole
 * stream (header included) may be zstd-compressed; readers detect it by the
 * zstd magic number.
 */
#ifndef TFS_TOKSTREAM_H
#define TFS_TOKSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TOK_MAGIC16 20240520
#define TOK_VERSION16 1
#define TOK_MAGIC32 20240801
#define TOK_VERSION32 7
#define TOK_HEADER_INTS 256
#define TOK_HEADER_BYTES 1024

struct tok_header {
    int wide;               /* 1: uint32 ids, 0: uint16 ids */
    uint64_t ntokens;       /* 0 = unknown */
    uint32_t vocab;
    uint64_t fingerprint;
};

/* Encode/decode the 1024-byte header.  tok_header_decode returns NULL on
 * success or a message ("not a token stream", ...) for the caller to print
 * with the file name. */
void tok_header_encode(const struct tok_header *h, unsigned char out[TOK_HEADER_BYTES]);
const char *tok_header_decode(struct tok_header *h, const unsigned char in[TOK_HEADER_BYTES]);

/* ---- writer ----
 * uint16 ids when vocab <= 65536, else uint32.  path "-" is stdout (refused
 * when it is a terminal unless force).  A file is written atomically (temp +
 * rename at tokw_close).  When the output is a regular file and not
 * compressed, the token count is filled in at close, so the file loads in
 * llm.c unchanged; otherwise it stays 0. */
struct tokw;
struct tokw *tokw_open(const char *path, uint32_t vocab, uint64_t fingerprint, int zstd_level, int force);
void tokw_put(struct tokw *w, const uint32_t *ids, size_t n);
uint64_t tokw_count(const struct tokw *w);
void tokw_close(struct tokw *w);

/* ---- reader ----
 * A regular, uncompressed file is memory-mapped (random access); anything
 * else is read sequentially.  tokr_open validates magic, version, and the
 * count against the file size.  Ids are checked against the vocabulary as
 * they are read (and for a mapped file, all at once by tokr_open, so random
 * windows need no checks). */
struct tokr {
    char *name;
    struct tok_header h;
    int mapped;
    const unsigned char *data;  /* mapped ids (after the header) */
    size_t map_len;             /* mapping length, header included */
    uint64_t n;                 /* tokens in a mapped file; read so far otherwise */
    uint64_t pos;               /* sequential position */
    struct tfs_in *in;          /* sequential input */
    unsigned char *buf;         /* sequential read buffer */
    struct tokset *set;         /* several files read as one (tokset.h), else NULL */
};
struct tokr *tokr_open(const char *path);
void tokr_close(struct tokr *r);
/* Sequential: read up to max ids into out; 0 at end.  Works in both modes. */
size_t tokr_read(struct tokr *r, uint32_t *out, size_t max);
/* Random access (mapped only): ids [off, off+n) into out. */
void tokr_get(const struct tokr *r, uint64_t off, size_t n, uint32_t *out);
/* Read the whole stream into memory (for pipes that must be sampled randomly). */
uint32_t *tokr_slurp(struct tokr *r, uint64_t *n);

#endif
