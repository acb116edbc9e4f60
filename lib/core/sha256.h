/* sha256.h - SHA-256 (FIPS 180-4), to check downloaded files against the
 * sha256 the Hub lists for each LFS object. */
#ifndef TFS_SHA256_H
#define TFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];          /* chaining state */
    uint64_t len;           /* bytes hashed so far */
    uint8_t buf[64];        /* a partial block */
    size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* Lower-case hex digest of a whole file (65 bytes with the NUL); returns 0
 * and sets errno if the file cannot be read. */
int sha256_file(const char *path, char hex[65]);
void sha256_hex(const uint8_t d[32], char hex[65]);

#endif
