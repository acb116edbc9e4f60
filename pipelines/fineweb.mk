# pipelines/fineweb.mk - the recipe at scale: FineWeb-Edu's 10B-token
# sample (14 Parquet files of about 2.15 GB) fetched and encoded in SHARES
# shares that run side by side, then a model trained on the token shards,
# with one shard held out for validation (README, "FineWeb at scale").
#
#   one machine:  make -f pipelines/fineweb.mk -j 8 BIN=build/bin OUT=fineweb THREADS=8
#   M machines:   the tokenizer once:    make -f pipelines/fineweb.mk tokenizer
#                 copy OUT/tok.bin to every machine, then on machine i of M:
#                                        make -f pipelines/fineweb.mk -j 8 SHARD=i/M tokens
#                 gather every OUT/tokens/ on one machine (rsync), and there:
#                                        make -f pipelines/fineweb.mk train evaluate
#
# Share k of SHARES is `hf-fetch --shard k/SHARES` piped into `bpe-encode
# --shard-size`, writing OUT/tokens/k/train_NNNNNN.bin; SHARD=i/M gives a
# machine the shares k with k mod M = i.  SHARES should not exceed the
# number of files of the split (hf-fetch --list DATASET): with fewer files
# than shares, every share downloads the whole split (hf-fetch(1)).
# The shares in order are the split, so the token shards in name order are
# the one stream that encoding the whole split would give.
# Each stage is a file target: an interrupted run resumes where it stopped
# (a share is redone whole; training resumes from its checkpoint).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

BIN        ?= build/bin
OUT        ?= fineweb
ASSETS     ?= assets
DATASET    ?= fineweb-edu-10b
SHARES     ?= 14
SHARD      ?= 0/1
JOBS       ?= 4
SHARD_SIZE ?= 100M
VOCAB      ?= 32768
TOK_DOCS   ?= 200000
THREADS    ?= 2
CONFIG     ?= 25m
TOKENS     ?= 200M

# the shares, 000 .. SHARES-1, and this machine's
ALL_SHARES := $(shell seq -f %03g 0 $$(( $(SHARES) - 1 )))
SHARD_I    := $(word 1,$(subst /, ,$(SHARD)))
SHARD_M    := $(word 2,$(subst /, ,$(SHARD)))
MY_SHARES  := $(foreach k,$(ALL_SHARES),$(if $(filter $(SHARD_I),$(shell echo $$(( 10#$(k) % $(SHARD_M) )))),$(k)))
# the held-out validation shard: the first one of share 0
VAL        := $(OUT)/tokens/000/train_000000.bin

.PHONY: all tokenizer tokens train evaluate
all: evaluate

# Stage 1: a BPE tokenizer learnt from the first TOK_DOCS documents.
$(OUT)/tok.bin:
	@mkdir -p $(OUT)
	$(BIN)/hf-fetch -q --limit $(TOK_DOCS) $(DATASET) | $(BIN)/bpe-train -q -t $(THREADS) -n $(VOCAB) -o $@
tokenizer: $(OUT)/tok.bin

# Stage 2: each share fetched (JOBS downloads at a time) and encoded into
# shards of SHARD_SIZE tokens; one make job per share.  The marker is
# written last: a share without it is redone.  (The tokenizer is an
# order-only prerequisite: a tok.bin copied in later does not redo shares.)
$(OUT)/tokens/%/.done: | $(OUT)/tok.bin
	@mkdir -p $(@D)
	$(BIN)/hf-fetch -q -j $(JOBS) --shard $$((10#$*))/$(SHARES) $(DATASET) | \
	    $(BIN)/bpe-encode -q --shard-size $(SHARD_SIZE) -o $(@D)/train $(OUT)/tok.bin
	@touch $@
tokens: $(MY_SHARES:%=$(OUT)/tokens/%/.done)

# Stage 3: training on every shard but the validation one, in name order.
# The run writes $(OUT)/run.safetensors every 10 minutes; the target file
# appears only when the run is complete, and running the same command
# again after an interruption resumes it.
$(OUT)/model.safetensors: $(ALL_SHARES:%=$(OUT)/tokens/%/.done)
	files=$$(ls $(OUT)/tokens/*/train_*.bin | grep -vxF $(VAL) || true); \
	[ -n "$$files" ] || { echo "fineweb.mk: no training shards besides $(VAL)" >&2; exit 1; }; \
	if [ -f $(OUT)/run.safetensors ]; then \
	    $(BIN)/tfs-train --resume $(OUT)/run.safetensors --threads $(THREADS) --save-minutes 10 \
	        --val $(VAL) -o $(OUT)/run.safetensors --log $(OUT)/train.jsonl $$files; \
	else \
	    TFS_ASSETS=$(ASSETS) $(BIN)/tfs-train -c $(CONFIG) --tokens $(TOKENS) --threads $(THREADS) \
	        --save-minutes 10 --val $(VAL) -o $(OUT)/run.safetensors --log $(OUT)/train.jsonl $$files; \
	fi
	cp $(OUT)/run.safetensors $@
train: $(OUT)/model.safetensors

# Stage 4: the loss on the held-out shard, and bits per byte.
evaluate: $(OUT)/model.safetensors
	$(BIN)/tfs-eval -q --threads $(THREADS) --tokenizer $(OUT)/tok.bin $< $(VAL)
