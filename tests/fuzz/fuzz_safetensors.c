/* fuzz_safetensors.c - the safetensors reader (core/safetensors.c): the
 * 8-byte header length, the JSON header, the tensors' shapes and offsets.
 * Every tensor of a file that opens is read in full and looked up by name,
 * so an offset the checks let through shows as an out-of-bounds read. */
#include "fuzz.h"
#include "core/safetensors.h"

void fuzz_target(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file("in.safetensors", data, n);
    struct st_file *f = st_open(path);
    volatile float sum = 0;
    for (int i = 0; i < f->ntensors; i++) {
        const struct st_tensor *t = &f->tensors[i];
        for (size_t j = 0; t->data && j < t->nelem; j++) sum += t->data[j];   /* NULL: not F32/F16/BF16 */
        if (st_find(f, t->name) == NULL) __builtin_trap();
    }
    for (int i = 0; i < f->nmeta; i++)
        if (st_meta_get(f, f->meta_keys[i]) == NULL) __builtin_trap();
    (void)sum;
    st_close(f);
}
