/* replay.c - a plain main() for the fuzz harnesses: runs the inputs named
 * on the command line (files, or folders of them) through the same entry
 * point as libFuzzer, one after another in one process.  `make check`
 * builds it with gcc + ASan/UBSan (tests/run-all, suite fuzz-regress), so
 * the regression inputs run where clang and libFuzzer are not installed.
 * Prints "ok FILE" per input and "N passed, 0 failed"; a sanitizer report
 * or a crash ends it before the summary. */
#include "fuzz.h"
#include "core/xio.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long passed;

static void run_one(const char *path)
{
    size_t n;
    char *data = read_file(path, &n);
    /* a private copy of exactly n bytes, so ASan sees reads past the end */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) { perror("replay"); exit(1); }
    memcpy(copy, data, n);
    free(data);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    printf("ok %s\n", path);
    fflush(stdout);
    passed++;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); return 1; }
        if (!S_ISDIR(st.st_mode)) { run_one(argv[i]); continue; }
        struct dirent **ents;
        int k = scandir(argv[i], &ents, NULL, by_name);
        if (k < 0) { perror(argv[i]); return 1; }
        for (int j = 0; j < k; j++) {
            char *p = xasprintf("%s/%s", argv[i], ents[j]->d_name);
            if (ents[j]->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode)) run_one(p);
            free(p);
            free(ents[j]);
        }
        free(ents);
    }
    printf("%ld passed, 0 failed\n", passed);
    return 0;
}
