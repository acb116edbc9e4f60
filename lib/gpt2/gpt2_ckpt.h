/* gpt2_ckpt.h - the custom level's tensors under Hugging Face GPT-2 names
 * (GPT2LMHeadModel), for the table walker of core/st_table.h:
 *
 *   transformer.wte.weight               (V, C)
 *   transformer.wpe.weight               (ctx, C)
 *   transformer.h.{i}.ln_1.weight, .bias (C)
 *   transformer.h.{i}.attn.c_attn.weight (C, 3C)   Conv1D: (in, out)
 *   transformer.h.{i}.attn.c_attn.bias   (3C)
 *   transformer.h.{i}.attn.c_proj.weight (C, C)
 *   transformer.h.{i}.attn.c_proj.bias   (C)
 *   transformer.h.{i}.ln_2.weight, .bias (C)
 *   transformer.h.{i}.mlp.c_fc.weight    (C, 4C)
 *   transformer.h.{i}.mlp.c_fc.bias      (4C)
 *   transformer.h.{i}.mlp.c_proj.weight  (4C, C)
 *   transformer.h.{i}.mlp.c_proj.bias    (C)
 *   transformer.ln_f.weight, .bias       (C)
 *
 * Our linear weights are (out, in) (gpt2.h); Hugging Face's Conv1D keeps
 * (in, out), so the four matrices of each block are transposed on the way
 * out and back on the way in.  The output projection is tied to wte, so
 * there is no lm_head tensor.  The checkpoint around these tensors
 * (metadata, moments, training state) is model/checkpoint.h; the Llama
 * counterpart of this file is llama/llama_ckpt.h.
 */
#ifndef TFS_GPT2_CKPT_H
#define TFS_GPT2_CKPT_H

#include "gpt2/gpt2.h"
#include "core/st_table.h"

/* The table of m's tensors, in file order, with offsets into a block of
 * the parameter layout (params, grads, m or v).  st_table_free it. */
void gpt2_st_table(const struct gpt2 *m, struct st_table *t);

/* The config as GPT2Config JSON (transformers' configuration_gpt2.py
 * fields); eot < 0 leaves out bos/eos.  Free the result. */
char *gpt2_hf_config_json(const struct gpt2_config *cfg, long eot);

#endif
