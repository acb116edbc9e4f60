/* fuzz_parquet.c - the Parquet reader (parquet/): footer, Thrift, schema,
 * pages, encodings and codecs.  Every row of every field is written as
 * JSON Lines to /dev/null, as hf-fetch would write them. */
#include "fuzz.h"
#include "core/jbuf.h"
#include "parquet/parquet.h"

void fuzz_target(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file("in.parquet", data, n);
    struct pq_file *pq = pq_open(path);
    struct jbuf out;
    jb_init(&out, fuzz_devnull());
    struct pq_select all = { 0 };
    pq_write_jsonl(pq, &out, &all, -1);
    jb_flush(&out);
    jb_free(&out);
    pq_close(pq);
}
