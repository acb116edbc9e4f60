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
 * Tensors are read as F32, F16 or BF16; 16-bit ones are converted to f32
 * on load, so every reader here sees floats.  A tensor of another dtype
 * (I64, BOOL, ...) is listed with data NULL, and st_expect refuses it by
 * name.  The writer writes F32, or every tensor in F16 or BF16 (rounded to
 * nearest, ties to even) with st_writer_dtype.
 *
 * A model too large for one file is sharded (transformers' convention):
 * DIR/model.safetensors.index.json holds {"metadata": {...}, "weight_map":
 * {"tensor name": "model-00001-of-00002.safetensors", ...}}, each shard a
 * safetensors file of its own.  st_open_any opens either kind as one.
 */
#ifndef TFS_SAFETENSORS_H
#define TFS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

/* The element types we convert from and to. */
enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_OTHER };
/* "F32", "F16", "BF16"; and back (-1 for any other name). */
const char *st_dtype_name(enum st_dtype d);
int st_dtype_parse(const char *s);

struct st_tensor {
    char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;      /* reader: into the mapped file (F32), a converted copy (F16, BF16)
                             * or NULL (another dtype); writer: caller's buffer */
    size_t nelem;
    enum st_dtype dtype;    /* reader: the dtype in the file */
    char dtype_name[12];    /* reader: its name as the file spells it */
    float *owned;           /* reader: the converted copy, freed by st_close */
};

/* One 16-bit float to f32 and back (round to nearest, ties to even; NaN
 * stays NaN, overflow goes to infinity). */
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);
uint16_t st_f32_to_f16(float f);

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
/* Write every tensor as d (default ST_F32). */
void st_writer_dtype(struct st_writer *w, enum st_dtype d);

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
    int nparts;             /* a sharded model: the shards, which own the data */
    struct st_file **parts;
};
struct st_file *st_open(const char *path);
/* A sharded model from its model.safetensors.index.json: every shard the
 * weight_map names is opened, each tensor must lie in the shard the map
 * says, and no tensor may be in two shards.  The metadata are the index's
 * "metadata" strings (e.g. total_size) and then those of the first shard.
 * The index path is kept as the file's path in messages. */
struct st_file *st_open_index(const char *index_path);
/* The value of metadata key `key` of the safetensors file at path, read
 * from its header alone (no tensor is checked or converted), or NULL when
 * the file has no such key or is not a safetensors file.  Free it. */
char *st_peek_meta(const char *path, const char *key);
/* st_open_index for a path ending in ".index.json", else st_open. */
struct st_file *st_open_any(const char *path);
void st_close(struct st_file *f);
/* NULL when absent. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);
const char *st_meta_get(const struct st_file *f, const char *key);
/* The tensor named `name` with exactly this shape, as f32, or die naming
 * the file, the tensor, the expected and the actual shape (or its dtype,
 * when it is not one of ours). */
const float *st_expect(const struct st_file *f, const char *name, int ndim, const int64_t *shape);

#endif
