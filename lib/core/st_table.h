/* st_table.h - a model's tensors in a safetensors file: a table that says,
 * for each tensor of the file, where its floats lie in one of the model's
 * blocks (parameters, gradients, AdamW moments: all share one layout), and
 * the one walker that saves, loads, finds and exports by that table.
 *
 * Each model level writes its table as a list of patterns (the GPT-2 one in
 * gpt2/gpt2_ckpt.c, the Llama one in llama/llama_ckpt.c); the level-
 * independent checkpoint (metadata, training state) is model/checkpoint.c.
 * The file format itself is safetensors.h.
 */
#ifndef TFS_ST_TABLE_H
#define TFS_ST_TABLE_H

#include "core/safetensors.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One line of a level's table.  A name with "%d" stands for one tensor per
 * layer: layer l's lies at off + l * stride.  The file's shape is
 * (rows, cols), or (rows) when cols is 0.  With transpose, the block holds
 * the (cols, rows) transpose of the file's matrix (Hugging Face GPT-2's
 * Conv1D keeps (in, out) where we keep (out, in)). */
struct st_pattern {
    const char *name;
    size_t off;         /* floats from the block's start to the tensor (layer 0's) */
    size_t stride;      /* floats from one layer's tensor to the next's */
    int64_t rows, cols;
    int transpose;
};

/* One tensor of the file, the patterns expanded. */
struct st_entry {
    char name[96];
    size_t off;
    int ndim;
    int64_t shape[2];
    int transpose;
};

struct st_table {
    int n;
    struct st_entry *e;
    int nscratch;
    float **scratch;    /* transposed copies made by st_table_save */
};

/* Expand np patterns for a model of `layers` layers.  Order: a run of
 * consecutive per-layer patterns is written layer by layer (all of layer
 * 0's, then layer 1's, ...), the others where they stand. */
void st_table_build(struct st_table *t, const struct st_pattern *p, int np, int layers);
void st_table_free(struct st_table *t);
size_t st_entry_numel(const struct st_entry *e);

/* Add every tensor of `block` to w under prefix + its name (prefix "" for
 * the weights, e.g. "optimizer.m." for a moment).  The writer keeps
 * pointers into block and into t's transposed copies: keep both until
 * st_write, free t after it. */
void st_table_save(struct st_writer *w, struct st_table *t, const float *block, const char *prefix);

/* Fill `block` from f's tensors named prefix + name, dying with the file,
 * the tensor and both shapes on a missing or misshapen one. */
void st_table_load(const struct st_file *f, const struct st_table *t, float *block, const char *prefix);

/* The slice of `block` that tensor `name` is, its floats in *n; NULL when
 * no tensor has that name or it is a transposed one (not a slice). */
float *st_table_find(const struct st_table *t, float *block, const char *name, size_t *n);

/* A Hugging Face config.json: st_hf_config starts the object with its
 * "architectures" [architecture] and "model_type"; the level adds its own
 * fields; st_hf_config_dump ends it with "torch_dtype" float32 and, when
 * eot >= 0, bos_token_id and eos_token_id, then releases j and returns it
 * as text, indented, fields in the order added, reals to `digits`
 * significant digits.  Free the result. */
json_t *st_hf_config(const char *architecture, const char *model_type);
char *st_hf_config_dump(json_t *j, long eot, int digits);

/* A Hugging Face model directory: DIR (created if need be)/config.json,
 * config_json and a newline (its "torch_dtype" set to dtype's name), and
 * DIR/model.safetensors, the tensors of `block` in dtype with the metadata
 * meta: key, value, ..., NULL. */
void st_table_export(const char *dir, const char *config_json, struct st_table *t,
                     const float *block, const char *const *meta, enum st_dtype dtype);

#endif
