/* safetensors.h - read and write the safetensors format (Hugging Face).
 *
 * Layout (https://huggingface.co/docs/safetensors, format section):
 *   8 bytes     N, little-endian uint64: the length of the JSON header
 *   N bytes     JSON: { "NAME": {"dtype": "F32", "shape": [..],
 *                                "data_offsets": [begin, end]}, ...,
 *                       "__metadata__": {"key": "string value", ...} }
 *               (padded with spaces to a multiple of 8)
 *   rest        the tensor bytes, little-endian, row-major; offsets are
 *               relative to the start of this byte buffer.
 * Only F32 is written; F32 is what the readers here accept.
 */
#ifndef TFS_SAFETENSORS_H
#define TFS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

struct st_tensor {
    char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;      /* reader: points into the mapped file; writer: caller's buffer */
    size_t nelem;
};

/* ---- writer ----
 *   struct st_writer *w = st_writer_new();
 *   st_add(w, "transformer.wte.weight", ptr, 2, (int64_t[]){V, C});
 *   st_meta(w, "config", "{...}");
 *   st_write(w, "ckpt.safetensors");     // atomic: temp file + rename
 *   st_writer_free(w);
 * The writer keeps the pointers, not copies: buffers must stay valid until
 * st_write returns. */
struct st_writer;
struct st_writer *st_writer_new(void);
void st_add(struct st_writer *w, const char *name, const float *data, int ndim, const int64_t *shape);
void st_meta(struct st_writer *w, const char *key, const char *value);
void st_write(struct st_writer *w, const char *path);
void st_writer_free(struct st_writer *w);

/* ---- reader ----
 * Maps the file and validates it completely: header length within the file,
 * valid JSON, every tensor F32 with a shape whose size matches its offsets,
 * offsets inside the data and not overlapping.  Errors name the file and
 * what is wrong, then exit 1. */
struct st_file {
    char *path;
    int ntensors;
    struct st_tensor *tensors;
    int nmeta;
    char **meta_keys, **meta_values;
    void *map;
    size_t map_len;
};
struct st_file *st_open(const char *path);
void st_close(struct st_file *f);
/* NULL when absent. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);
const char *st_meta_get(const struct st_file *f, const char *key);
/* The tensor named `name` with exactly this shape, or die naming the file,
 * the tensor, the expected and the actual shape. */
const float *st_expect(const struct st_file *f, const char *name, int ndim, const int64_t *shape);

#endif
