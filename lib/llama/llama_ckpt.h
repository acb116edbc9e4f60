/* llama_ckpt.h - the baseline model in safetensors files, with Hugging Face
 * LlamaForCausalLM's tensor names and shapes:
 *
 *   model.embed_tokens.weight                         (V, C)
 *   model.layers.{i}.input_layernorm.weight           (C)
 *   model.layers.{i}.self_attn.q_proj.weight          (QD, C)
 *   model.layers.{i}.self_attn.k_proj.weight          (KVD, C)
 *   model.layers.{i}.self_attn.v_proj.weight          (KVD, C)
 *   model.layers.{i}.self_attn.o_proj.weight          (C, QD)
 *   model.layers.{i}.post_attention_layernorm.weight  (C)
 *   model.layers.{i}.mlp.gate_proj.weight             (F, C)
 *   model.layers.{i}.mlp.up_proj.weight               (F, C)
 *   model.layers.{i}.mlp.down_proj.weight             (C, F)
 *   model.norm.weight                                 (C)
 *   lm_head.weight                                    (V, C), only when not tied
 *
 * Our stacked matrices (llama.h: wqkv, wgu) are row blocks of these, and
 * both sides store (out, in) row-major, so every tensor is a contiguous
 * slice of the parameter block: nothing is copied or transposed.  Our
 * rotary convention is HF's rotate_half, so q_proj and k_proj need no
 * permutation either.  The checkpoint around these tensors (metadata,
 * moments, training state) is model/checkpoint.h; the GPT-2 counterpart
 * of this file is gpt2/gpt2_ckpt.h.
 */
#ifndef TFS_LLAMA_CKPT_H
#define TFS_LLAMA_CKPT_H

#include "llama/llama.h"
#include "core/st_table.h"

/* The table of m's tensors, in file order, with offsets into a block of
 * the parameter layout (params, grads, m or v), for core/st_table.h's
 * walker.  st_table_free it. */
void llama_st_table(const struct llama *m, struct st_table *t);

/* Add every tensor of `block` (parameter layout) to w under its HF name
 * preceded by prefix ("" for the weights, e.g. "grad." or "optimizer.m."
 * for the others).  The data must stay valid until st_write. */
void llama_st_add(struct st_writer *w, const struct llama *m, const float *block, const char *prefix);

/* The slice of `block` (parameter layout) that HF name `name` denotes, and
 * its number of floats in *n; NULL when no tensor has that name. */
float *llama_hf_tensor(const struct llama *m, float *block, const char *name, size_t *n);

/* The config as LlamaConfig JSON (transformers' configuration_llama.py
 * fields); eot < 0 leaves out bos/eos.  Free the result. */
char *llama_hf_config_json(const struct llama *m, long eot);

/* DIR/config.json + DIR/model.safetensors (weights only, in dtype), loadable
 * as LlamaForCausalLM.from_pretrained(DIR). */
void llama_export_hf(const char *dir, const struct llama *m, long eot, enum st_dtype dtype);
/* Reading such a directory (or any LlamaForCausalLM) back is
 * lib/model/hf_import.c's hf_load_model. */

#endif
