/* fuzz_tokstream.c - token streams (core/tokstream.c): the 1024-byte
 * header, then the ids, read both ways the trainer reads them: mapped with
 * random windows, and sequentially through tokr_read. */
#include "fuzz.h"
#include "core/tokstream.h"

void fuzz_target(const uint8_t *data, size_t n)
{
    if (n >= TOK_HEADER_BYTES) {
        struct tok_header h;
        (void)tok_header_decode(&h, data);
    }
    const char *path = fuzz_file("in.tok", data, n);
    struct tokr *r = tokr_open(path);
    uint32_t buf[256];
    if (r->mapped && r->n) {
        tokr_get(r, 0, r->n < 256 ? (size_t)r->n : 256, buf);
        tokr_get(r, r->n - 1, 1, buf);
    }
    while (tokr_read(r, buf, 256) > 0)
        if (buf[0] >= r->h.vocab) __builtin_trap();     /* ids are checked on the way in */
    tokr_close(r);
}
