/* checkpoint.h - save and load a model of either level, its optimizer and
 * the state of a training run, as one safetensors file (safetensors.h).
 *
 * Tensors carry Hugging Face's names and shapes, so the file (or the one
 * --export-hf writes) loads in transformers: GPT2LMHeadModel for the
 * custom and autograd levels (the names: gpt2/gpt2_ckpt.h),
 * LlamaForCausalLM for the baseline (llama/llama_ckpt.h).  Each level's
 * table of names is walked by core/st_table.c; this file is the part that
 * does not depend on the level: metadata, training state, which level.
 *
 * A training checkpoint adds the AdamW moments under the same names with
 * the prefixes "optimizer.m." and "optimizer.v." (same shapes), and keeps
 * in __metadata__ (all values are strings, as safetensors requires):
 *   format         "pt" (transformers refuses files without it)
 *   tfs.arch       "gpt2" or "llama": what the tensors mean; anything else is refused
 *   tfs.config     {"vocab":V,"context":ctx,"layers":L,"heads":NH,"dim":C}
 *   tfs.tokenizer  the tokenizer fingerprint of the training data, 16 hex digits
 *   tfs.state      the training state (struct train_state below), JSON
 *   tfs.options    the options of the run, {"name": "value"} (config.h)
 * Floats are stored bit for bit, so a resumed run continues exactly.
 */
#ifndef TFS_CHECKPOINT_H
#define TFS_CHECKPOINT_H

#include "gpt2/gpt2.h"
#include "model/model.h"
#include "core/rng.h"
#include "core/safetensors.h"

#include <stdint.h>

/* Where a training run stands: everything besides weights and moments
 * that the next step depends on. */
struct train_state {
    uint64_t step;          /* optimizer steps done, skipped ones included */
    uint64_t updates;       /* AdamW updates applied: t of the bias correction */
    uint64_t tokens;        /* training tokens consumed */
    uint64_t data_pos;      /* next token of a sequentially read stream */
    struct rng rng;         /* draws the random windows of the next batches */
    uint64_t skipped;       /* steps skipped for a non-finite loss or gradient */
    double best_val;        /* lowest validation loss so far; INFINITY if none */
    uint64_t best_step;     /* step of best_val */
    double elapsed;         /* seconds spent training, over all sessions */
    double flops;           /* model FLOPs spent (gpt2_flops_per_token * tokens) */
};

/* What a checkpoint's metadata says. */
struct ckpt_info {
    struct gpt2_config cfg;     /* for a baseline checkpoint: its vocab, context, layers, heads, dim */
    struct model_config model;  /* the level and its whole config (set by ckpt_load_model) */
    uint64_t fingerprint;   /* 0 = unknown */
    int has_state;          /* a training checkpoint (state + moments) */
    struct train_state st;
    char *options;          /* JSON of the run's options, or NULL */
    int imported;           /* read from a Hugging Face model (hf_import.h), not a tfs checkpoint */
};

/* Write m to path atomically.  With st != NULL, also the AdamW moments
 * (which must exist) and the state; options may be NULL.  path "-" is
 * standard output. */
void ckpt_save(const char *path, const struct gpt2 *m, uint64_t fingerprint,
               const struct train_state *st, const char *options);

/* Read a checkpoint: initialise m from its config and fill the weights.
 * With want_state and a training checkpoint, also allocate and fill m->m
 * and m->v.  info may be NULL.  Every problem (not a safetensors file,
 * another architecture, a missing tensor, a wrong shape, a truncated file)
 * stops the program with a message naming the file. */
void ckpt_load(const char *path, struct gpt2 *m, struct ckpt_info *info, int want_state);
void ckpt_info_free(struct ckpt_info *info);

/* The options a training checkpoint remembers (tfs.options), as JSON, or
 * NULL; reads only the header.  For tfs-train --resume, which applies them
 * before the command line. */
char *ckpt_options(const char *path);

/* Check that a token stream fits the model: same vocabulary size, and the
 * same tokenizer fingerprint when both are known.  A smaller vocabulary
 * than the model's (a padded one, as llm.c pads 50,257 to 50,304) fits
 * when both fingerprints are known and equal.  Dies naming both files. */
void ckpt_check_stream(const char *ckpt_name, const struct ckpt_info *info,
                       const char *stream_name, uint32_t vocab, uint64_t fingerprint);

/* Either level: a custom model is saved and loaded exactly as by ckpt_save
 * and ckpt_load; a baseline one has tfs.arch "llama", the Hugging Face
 * Llama tensor names (llama_ckpt.h), its moments under "optimizer.m." and
 * "optimizer.v.", and tfs.config {"vocab", "context", "layers", "heads",
 * "kv_heads", "dim", "hidden", "tied", "rope_theta", "norm_eps", "head_dim"}
 * (head_dim absent in older files: dim / heads); the other metadata are
 * the same. */
void ckpt_save_model(const char *path, const struct model *m, uint64_t fingerprint,
                     const struct train_state *st, const char *options);
void ckpt_load_model(const char *path, struct model *m, struct ckpt_info *info, int want_state);
/* ckpt_load_model for a tfs checkpoint or a Hugging Face model (a
 * directory with config.json, or its safetensors file: hf_import.h);
 * context > 0 shortens a Hugging Face model's context. */
void ckpt_load_any(const char *path, struct model *m, struct ckpt_info *info, int want_state, int context);
/* The model path holds (either kind), without reading the weights. */
void ckpt_peek_model(const char *path, struct model_config *mc);

/* Write DIR/config.json and DIR/model.safetensors (weights only) for
 * transformers' GPT2LMHeadModel.from_pretrained(DIR), the latter with the
 * metadata of a weights-only checkpoint, its tensors in dtype (F32, or F16
 * or BF16 for a smaller file; config.json's torch_dtype says which).  eot is the end-of-text id (bos
 * and eos of the config), or -1 when unknown. */
void ckpt_export_hf(const char *dir, const struct gpt2 *m, uint64_t fingerprint, long eot, enum st_dtype dtype);
/* Either level: ckpt_export_hf, or for the baseline llama_export_hf
 * (LlamaForCausalLM; its model.safetensors has no tfs.config). */
void ckpt_export_hf_model(const char *dir, const struct model *m, uint64_t fingerprint, long eot,
                          enum st_dtype dtype);

#endif
