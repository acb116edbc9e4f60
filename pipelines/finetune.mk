# pipelines/finetune.mk - fine-tune a pretrained model from the Hugging Face
# Hub (GPT-2 by default) on a dataset, nanoGPT's init_from='gpt2': fetch the
# model (hf-fetch --model), encode the text with the model's own
# tokenizer.json, score the validation text before, train from the
# pretrained weights (tfs-train --init-from), score after, export the
# result for transformers and print samples.  Run from the repository root
# after `make`:
#
#     make -f pipelines/finetune.mk BIN=build/bin OUT=finetune THREADS=8
#
# MODEL is any GPT2LMHeadModel or LlamaForCausalLM repository with
# safetensors weights (MODEL_DIR: a local model directory instead);
# DATASET an hf-fetch alias or dataset id (TRAIN_JSONL / VAL_JSONL: local
# JSON Lines files instead).  CONTEXT may be shorter than the model's
# (GPT-2's 1024 costs 4x the attention of 256).  The run checkpoints every
# 10 minutes; after an interruption, the same command resumes it.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

BIN       ?= build/bin
OUT       ?= finetune
THREADS   ?= 2
MODEL     ?= openai-community/gpt2
MODEL_DIR ?=
DATASET   ?= tinystories
ROWS      ?= 20000
VAL_ROWS  ?= 500
TRAIN_JSONL ?=
VAL_JSONL ?=
CONTEXT   ?= 256
BATCH     ?= 8
STEPS     ?= 200
LR        ?= 1e-4
MIN_LR    ?= 1e-5
WARMUP    ?= 20
DTYPE     ?= bf16
PROMPT    ?= Once upon a time

# the model directory, once known
M = $$(cat $(OUT)/model.path)

.PHONY: all model data before train after export samples
all: before after export samples

# Stage 1: the model (config.json, model.safetensors, tokenizer.json), in
# the Hugging Face cache; $(OUT)/model.path names its snapshot directory.
$(OUT)/model.path:
	@mkdir -p $(OUT)
	if [ -n "$(MODEL_DIR)" ]; then echo "$(MODEL_DIR)"; else $(BIN)/hf-fetch -q --model $(MODEL); fi > $@
model: $(OUT)/model.path

# Stage 2: the text, and its tokens by the model's tokenizer.
$(OUT)/train.jsonl.zst:
	@mkdir -p $(OUT)
	if [ -n "$(TRAIN_JSONL)" ]; then cat $(TRAIN_JSONL); \
	else $(BIN)/hf-fetch -q --limit $(ROWS) $(DATASET) --split train; fi | zstd -q -o $@
$(OUT)/val.jsonl.zst:
	@mkdir -p $(OUT)
	if [ -n "$(VAL_JSONL)" ]; then cat $(VAL_JSONL); \
	else $(BIN)/hf-fetch -q --limit $(VAL_ROWS) $(DATASET) --split validation; fi | zstd -q -o $@
$(OUT)/%.ids: $(OUT)/%.jsonl.zst $(OUT)/model.path
	$(BIN)/bpe-encode -q -t $(THREADS) -o $@ $(M)/tokenizer.json $<
data: $(OUT)/train.ids $(OUT)/val.ids

# Stage 3: the validation loss of the pretrained model.
$(OUT)/before.json: $(OUT)/val.ids $(OUT)/model.path
	$(BIN)/tfs-eval -q --threads $(THREADS) $(M) $< > $@
before: $(OUT)/before.json

# Stage 4: fine-tuning from the pretrained weights: a new schedule, fresh
# AdamW moments, step 0.  $(OUT)/run.safetensors grows as it goes; the
# target appears when the run is complete.
$(OUT)/model.safetensors: $(OUT)/train.ids $(OUT)/val.ids $(OUT)/model.path
	if [ -f $(OUT)/run.safetensors ]; then \
	    $(BIN)/tfs-train -q --resume $(OUT)/run.safetensors --threads $(THREADS) --val $(OUT)/val.ids \
	        -o $(OUT)/run.safetensors --log $(OUT)/train.jsonl $(OUT)/train.ids; \
	else \
	    $(BIN)/tfs-train -q --init-from $(M) --context $(CONTEXT) -b $(BATCH) -s $(STEPS) --lr $(LR) \
	        --min-lr $(MIN_LR) --warmup $(WARMUP) --eval-every 50 --eval-batches 4 --save-minutes 10 \
	        --threads $(THREADS) --val $(OUT)/val.ids -o $(OUT)/run.safetensors --log $(OUT)/train.jsonl \
	        $(OUT)/train.ids; \
	fi
	cp $(OUT)/run.safetensors $@
train: $(OUT)/model.safetensors

# Stage 5: the validation loss after; the model for transformers.
$(OUT)/after.json: $(OUT)/model.safetensors $(OUT)/val.ids
	$(BIN)/tfs-eval -q --threads $(THREADS) --tokenizer $(M)/tokenizer.json $< $(OUT)/val.ids > $@
after: $(OUT)/before.json $(OUT)/after.json
	@echo "before: $$(cat $(OUT)/before.json)"
	@echo "after:  $$(cat $(OUT)/after.json)"
$(OUT)/hf/model.safetensors: $(OUT)/model.safetensors
	$(BIN)/tfs-eval -q --export-hf $(OUT)/hf --dtype $(DTYPE) --tokenizer $(M)/tokenizer.json $<
export: $(OUT)/hf/model.safetensors

samples: $(OUT)/model.safetensors
	$(BIN)/tfs-eval -q --threads $(THREADS) --tokenizer $(M)/tokenizer.json --prompt "$(PROMPT)" \
	    --samples 2 -n 100 --temperature 0.8 --top-k 40 --seed 1 $<
