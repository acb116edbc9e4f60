/* fuzz.h - what the fuzz harnesses share (tests/fuzz/README says how to run them).
 *
 * Each harness fuzz_NAME.c defines fuzz_target(): it hands one input to one
 * reader of outside data.  fuzz.c wraps it as libFuzzer's entry point
 * LLVMFuzzerTestOneInput; replay.c is a plain main() that feeds files to the
 * same entry point, for `make check` (gcc + ASan, no libFuzzer needed).
 *
 * The library stops on bad input with die() (core/xio.h).  fuzz.c turns that
 * into a return: it sets tfs_die_hook to a longjmp back to the entry point,
 * then releases what the dead parse held open: FILEs, file descriptors and
 * mappings (tracked by wrapping those calls with the linker's --wrap) and
 * the heap blocks allocated since the input began (tracked with the
 * sanitizer's malloc hooks) are closed and freed.  That is sound as long as
 * a reader keeps nothing it allocated in a static variable (a lazily built
 * table): none of those fuzzed here does, and ASan would report the
 * use-after-free if one did.  An input that parses without dying must free
 * everything itself: LeakSanitizer reports what it does not. */
#ifndef TFS_FUZZ_H
#define TFS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void fuzz_target(const uint8_t *data, size_t n);

/* The input as a file (the readers take paths): a path in a private
 * temporary directory, rewritten for each input.  `name` picks the file
 * name, since some readers go by the suffix (.tiktoken, .json). */
const char *fuzz_file(const char *name, const void *data, size_t n);

/* The bytes up to the first "\n--\n" (or all), and the rest after it:
 * how one input carries several documents. */
size_t fuzz_split(const uint8_t *data, size_t n, const uint8_t **rest, size_t *rest_n);

/* /dev/null opened for writing, once (output the harness throws away). */
FILE *fuzz_devnull(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

#endif
