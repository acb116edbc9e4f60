/* sha256.h - SHA-256 and SHA-1 (FIPS 180-4), to check downloaded files:
 * an LFS object against the sha256 the Hub lists for it, a plain git file
 * against its git blob id (SHA-1 of "blob <size>\0" + content).  Both are
 * Merkle-Damgard hashes over 64-byte blocks with the same padding, so they
 * share one state and one update/final; only the block function, the
 * initial words and the digest length differ (sha256.c). */
#ifndef TFS_SHA256_H
#define TFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];          /* chaining state (SHA-1 uses the first 5 words) */
    uint64_t len;           /* bytes hashed so far */
    uint8_t buf[64];        /* a partial block */
    size_t nbuf;
    int words;              /* digest words: 8 (SHA-256) or 5 (SHA-1) */
    void (*block)(uint32_t h[8], const uint8_t *p);
};

void sha256_init(struct sha256 *s);
void sha1_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* The digest: 32 bytes (SHA-256) or 20 (SHA-1). */
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* Lower-case hex digest of a whole file (65 bytes with the NUL); returns 0
 * and sets errno if the file cannot be read. */
int sha256_file(const char *path, char hex[65]);
/* The git blob id of a whole file (41 bytes with the NUL), as git
 * hash-object and the Hub's "oid" of a non-LFS file give it. */
int git_blob_sha1_file(const char *path, char hex[41]);
/* Hex of n digest bytes (2n + 1 with the NUL). */
void sha256_hex_n(const uint8_t *d, size_t n, char *hex);
void sha256_hex(const uint8_t d[32], char hex[65]);

#endif
