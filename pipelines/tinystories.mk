# pipelines/tinystories.mk - the TinyStories recipe: download the dataset
# (hf-fetch), learn a 4096-token BPE tokenizer, train the 25M model
# (assets/configs/25m), evaluate it and print samples.  Needs the network
# for the first stage and hours of CPU for the third (see README,
# "TinyStories").  Run from the repository root after `make`:
#
#     make -f pipelines/tinystories.mk BIN=build/bin OUT=tinystories THREADS=8
#
# Each stage is a file target.  Training saves a checkpoint every 10
# minutes; after an interruption, running the same command resumes it.
# The training stories are encoded in SHARES shares side by side (make -j:
# hf-fetch --shard K/SHARES | bpe-encode --shard-size, as in
# pipelines/fineweb.mk), into $(OUT)/tokens/K/train_NNNNNN.bin, which
# tfs-train reads as one stream in name order.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

BIN     ?= build/bin
OUT     ?= tinystories
ASSETS  ?= assets
THREADS ?= 2
VOCAB   ?= 4096
CONFIG  ?= 25m
SHARES  ?= 4
SHARD_SIZE ?= 50M
ALL_SHARES := $(shell seq -f %03g 0 $$(( $(SHARES) - 1 )))

.PHONY: all data tokenizer train evaluate samples
all: evaluate samples

# Stage 1: the stories as JSONL, compressed (about 2.1M training stories).
$(OUT)/train.jsonl.zst:
	@mkdir -p $(OUT)
	$(BIN)/hf-fetch tinystories --split train | zstd -q -T$(THREADS) -o $@
$(OUT)/val.jsonl.zst:
	@mkdir -p $(OUT)
	$(BIN)/hf-fetch tinystories --split validation | zstd -q -o $@
data: $(OUT)/train.jsonl.zst $(OUT)/val.jsonl.zst

# Stage 2: the tokenizer and the token streams.
$(OUT)/tok.bin: $(OUT)/train.jsonl.zst
	$(BIN)/bpe-train -t $(THREADS) -n $(VOCAB) -o $@ --dump $(OUT)/tok.txt $<
$(OUT)/val.ids: $(OUT)/val.jsonl.zst $(OUT)/tok.bin
	$(BIN)/bpe-encode -t $(THREADS) -o $@ $(OUT)/tok.bin $<
# share K of the training split (a block of its rows: hf-fetch(1), --shard)
$(OUT)/tokens/%/.done: $(OUT)/tok.bin
	@mkdir -p $(@D)
	$(BIN)/hf-fetch -q --shard $$((10#$*))/$(SHARES) tinystories --split train | \
	    $(BIN)/bpe-encode -q --shard-size $(SHARD_SIZE) -o $(@D)/train $(OUT)/tok.bin
	@touch $@
TRAIN := $(ALL_SHARES:%=$(OUT)/tokens/%/.done)
tokenizer: $(TRAIN) $(OUT)/val.ids

# Stage 3: training.  The run writes $(OUT)/run.safetensors as it goes; the
# target file appears only when the run is complete.
$(OUT)/model.safetensors: $(TRAIN) $(OUT)/val.ids
	if [ -f $(OUT)/run.safetensors ]; then \
	    $(BIN)/tfs-train --resume $(OUT)/run.safetensors --threads $(THREADS) --val $(OUT)/val.ids \
	        -o $(OUT)/run.safetensors --log $(OUT)/train.jsonl '$(OUT)/tokens/*/train_*.bin'; \
	else \
	    TFS_ASSETS=$(ASSETS) $(BIN)/tfs-train -c $(CONFIG) --threads $(THREADS) --val $(OUT)/val.ids \
	        -o $(OUT)/run.safetensors --log $(OUT)/train.jsonl '$(OUT)/tokens/*/train_*.bin'; \
	fi
	cp $(OUT)/run.safetensors $@
train: $(OUT)/model.safetensors

# Stage 4: validation loss, perplexity, bits per byte; three samples.
evaluate: $(OUT)/model.safetensors
	$(BIN)/tfs-eval -q --threads $(THREADS) --tokenizer $(OUT)/tok.bin $< $(OUT)/val.ids
samples: $(OUT)/model.safetensors
	$(BIN)/tfs-eval --threads $(THREADS) --tokenizer $(OUT)/tok.bin --prompt "Once upon a time" \
	    --samples 3 -n 300 --temperature 0.8 --top-k 40 --seed 1 $<
