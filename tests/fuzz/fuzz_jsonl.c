/* fuzz_jsonl.c - the JSON Lines reader (core/jsonl.c, core/input.c): the
 * input is a .jsonl file (or a zstd one: the reader sniffs the magic).
 * Bad lines are skipped (skip_bad), so one input exercises many lines. */
#include "fuzz.h"
#include "core/jsonl.h"

void fuzz_target(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file("in.jsonl", data, n);
    struct jsonl_reader *r = jsonl_open(path, "text", 1);
    const char *text;
    size_t len;
    while (jsonl_next(r, &text, &len))
        if (len) (void)utf8_check(text, len);
    jsonl_close(r);
}
