/* hf_import.h - read a Hugging Face model directory (what transformers'
 * save_pretrained writes and the Hub serves) into one of our levels:
 *
 *   DIR/config.json                       the architecture and its sizes
 *   DIR/model.safetensors                 the weights, F32, F16 or BF16
 *     or DIR/model.safetensors.index.json and its shards
 *   DIR/tokenizer.json (optional)         gives the model its tokenizer
 *                                         fingerprint, checked against streams
 *
 * Architectures (config.json "architectures", else "model_type"):
 *   GPT2LMHeadModel, GPT2Model ("gpt2")  -> the custom level (gpt2.h).
 *       Names with or without the "transformer." prefix; Conv1D weights are
 *       (in, out) and transposed on load; the causal-mask buffers of old
 *       files (attn.bias, attn.masked_bias) are skipped; lm_head.weight,
 *       when present, must equal the token embedding (ours is tied).
 *   LlamaForCausalLM, LlamaModel ("llama") -> the baseline level (llama.h).
 *       Tied or untied, grouped-query attention, rope_theta, rms_norm_eps,
 *       Llama 3's rope_scaling (rope_type "llama3"), a head_dim other
 *       than hidden_size / num_attention_heads;
 *       "model." prefix or none; rotary_emb.inv_freq buffers skipped.
 *   MistralForCausalLM, MistralModel ("mistral") -> the baseline level too:
 *       Llama's architecture; a sliding_window shorter than the context
 *       becomes the context, where attention is exact.
 * Anything the levels do not compute is refused by name, never
 * approximated: another architecture, GPT-2's n_inner other than 4 n_embd,
 * another activation, layer_norm_epsilon other than 1e-5, unscaled or
 * layer-scaled attention, cross-attention; Llama's other rope_scaling kinds, attention
 * or MLP biases, sliding_window, an activation other than silu; and any tensor of
 * the file that none of these names (e.g. q_proj.bias).
 *
 * The vocabulary is the config's vocab_size, padded or not (llm.c pads
 * GPT-2's 50,257 to 50,304): a stream of a smaller vocabulary is scored
 * over all V logits when its tokenizer is the model's (checkpoint.h,
 * ckpt_check_stream).
 */
#ifndef TFS_HF_IMPORT_H
#define TFS_HF_IMPORT_H

#include "model/checkpoint.h"
#include "model/model.h"

/* Is path a Hugging Face model: a directory with config.json, or a
 * safetensors file (or index) with a config.json beside it and no
 * tfs.arch in its metadata? */
int hf_is_model(const char *path);

/* The model that path describes (config.json only; no weights read).
 * Dies naming config.json and the key for anything refused above. */
void hf_peek_config(const char *path, struct model_config *mc);

/* Initialise m from the Hugging Face model at path and fill its weights;
 * info gets the config and the fingerprint of DIR/tokenizer.json (0 when
 * there is none or it does not load), has_state 0.  context > 0 asks for a
 * shorter context than the config's (GPT-2: the first rows of wpe). */
void hf_load_model(const char *path, struct model *m, struct ckpt_info *info, int context);

#endif
