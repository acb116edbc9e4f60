# pipelines/demo.mk - the whole pipeline on the built-in default data.
# Run through `make demo` (which builds the programs first); BIN is the
# folder of built programs, OUT the folder for everything the demo makes.
# Each stage is a file target, so an interrupted demo resumes where it
# stopped and a finished one reruns nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Two OpenMP threads spinning while they wait fight any other load on a
# 2-core machine (README, Performance); waiting threads sleep instead.
export OMP_WAIT_POLICY ?= PASSIVE
.DELETE_ON_ERROR:

BIN    ?= build/bin
OUT    ?= demo
ASSETS ?= assets
TRAIN_JSONL := $(ASSETS)/stories-train.jsonl.zst
VAL_JSONL   := $(ASSETS)/stories-val.jsonl.zst

.PHONY: demo data-stats tokenizer
demo: data-stats tokenizer

# Stage 1: the default data and its statistics (tok-stats(1) --summary: one
# line per file, with documents, bytes, characters, words, bytes/document).
data-stats: $(TRAIN_JSONL) $(VAL_JSONL)
	@echo "== default data: $(TRAIN_JSONL), $(VAL_JSONL)"
	@for f in $^; do line=$$($(BIN)/tok-stats -q --summary $$f); echo "   $$line"; done

# Stage 2: a byte-level BPE tokenizer and the token streams.  The stories use
# a small vocabulary of words: all of them fit in about 1,500 tokens.
VOCAB ?= 1024
$(OUT)/tok.bin: $(TRAIN_JSONL)
	@mkdir -p $(OUT)
	@echo "== bpe-train: $(VOCAB) tokens -> $@ (readable listing in $(OUT)/tok.txt)"
	@$(BIN)/bpe-train -q -t 2 -n $(VOCAB) -o $@ --dump $(OUT)/tok.txt $<
$(OUT)/%.ids: $(ASSETS)/stories-%.jsonl.zst $(OUT)/tok.bin
	@$(BIN)/bpe-encode -q -t 2 -o $@ $(OUT)/tok.bin $<
tokenizer: $(OUT)/train.ids $(OUT)/val.ids
	@for f in $^; do line=$$($(BIN)/tok-stats -q --summary -t $(OUT)/tok.bin $$f); echo "   $$line"; done
	@$(BIN)/bpe-encode -d $(OUT)/tok.bin $(OUT)/val.ids | cmp - <(zstd -dc $(VAL_JSONL)) && \
	    echo "   decoding $(OUT)/val.ids gives back $(VAL_JSONL) exactly"

# Stage 3: train the tiny model (assets/configs/tiny, about 1M parameters)
# for STEPS steps, validating every 100 steps; metrics in train.jsonl.
# The run saves itself to $(CKPT) every SAVE_EVERY steps (and on Ctrl-C);
# the finished run is renamed to model.safetensors.  An interrupted demo
# finds the checkpoint and no model, and continues the run with --resume
# (bit-identical to an uninterrupted one, tfs-train(1)) instead of starting
# over.  A checkpoint older than the token streams belongs to other data
# and is not resumed.
STEPS      ?= 600
SAVE_EVERY ?= 50
THREADS    ?= 2
CKPT       := $(OUT)/train.safetensors
.PHONY: train evaluate samples plot
demo: train evaluate samples plot
$(OUT)/model.safetensors: $(OUT)/train.ids $(OUT)/val.ids
	@if [ -f $(CKPT) ] && [ $(CKPT) -nt $(OUT)/train.ids ] && [ $(CKPT) -nt $(OUT)/val.ids ]; then \
	    echo "== tfs-train: resuming the interrupted run from $(CKPT)"; \
	    resume="--resume $(CKPT)"; \
	else \
	    echo "== tfs-train: the tiny model, $(STEPS) steps -> $@ (metrics in $(OUT)/train.jsonl)"; \
	    rm -f $(CKPT) $(OUT)/train.best.safetensors; resume=; \
	fi; \
	TFS_ASSETS=$(ASSETS) $(BIN)/tfs-train -c tiny --steps $(STEPS) --threads $(THREADS) \
	    --val $(OUT)/val.ids --save-every $(SAVE_EVERY) -o $(CKPT) --log $(OUT)/train.jsonl \
	    $$resume $(OUT)/train.ids
	@if [ -f $(OUT)/train.best.safetensors ]; then \
	    mv -f $(OUT)/train.best.safetensors $(OUT)/model.best.safetensors; fi
	@mv -f $(CKPT) $@
train: $(OUT)/model.safetensors

# Stage 4: loss, perplexity and bits per byte on the validation stories.
$(OUT)/eval.json: $(OUT)/model.safetensors $(OUT)/val.ids
	@$(BIN)/tfs-eval -q --threads $(THREADS) --tokenizer $(OUT)/tok.bin $< $(OUT)/val.ids > $@
evaluate: $(OUT)/eval.json
	@echo "== tfs-eval on $(OUT)/val.ids: $$(cat $<)"
	@h=$$($(BIN)/tok-stats -q --summary $(OUT)/val.ids | sed -E 's/.* = ([0-9.]+) nats.*/\1/'); \
	    echo "   (the unigram entropy of the stream, the loss of a model without context: $$h nats)"

# Stage 5: three stories from the same beginning (reproducible: --seed).
PROMPT ?= Once upon a time
samples: $(OUT)/model.safetensors
	@echo "== tfs-eval: three samples after \"$(PROMPT)\""
	@$(BIN)/tfs-eval --threads $(THREADS) --tokenizer $(OUT)/tok.bin --prompt "$(PROMPT)" \
	    --samples 3 -n 200 --temperature 0.8 --top-k 40 --seed 1 $<

# Stage 6: the loss curves, against steps and against model FLOPs.  jq
# turns the metrics into gnuplot's columns: step, FLOPs, loss (skipped
# steps have a null loss; a step logged twice, by a run killed between two
# saves and the run that resumed it, is kept once).
$(OUT)/loss.png: $(OUT)/model.safetensors pipelines/loss.gp
	@jq -rs 'unique_by(.step)[] | select(.loss != null) | "\(.step) \(.flops) \(.loss)"' \
	    $(OUT)/train.jsonl > $(OUT)/train.dat
	@jq -rs 'unique_by(.step)[] | select(.val_loss != null) | "\(.step) \(.flops) \(.val_loss)"' \
	    $(OUT)/train.jsonl > $(OUT)/val.dat
	@gnuplot -e 'dir="$(OUT)"; out="$@"' pipelines/loss.gp
plot: $(OUT)/loss.png
	@echo "== loss curves: $<"

# Stage 7: the comparison page of the run (pipelines/compare.mk, tfs(7),
# COMPARING RUNS): loss against step, tokens, FLOPs and seconds, learning
# rate and throughput in $(OUT)/compare/compare.png, and the table of the
# run in $(OUT)/compare/summary.md.  Give compare.mk more runs (other
# OUT folders of this demo, with another STEPS or VOCAB) to set them side
# by side.
.PHONY: compare
demo: compare
compare: $(OUT)/model.safetensors
	@$(MAKE) --no-print-directory -f pipelines/compare.mk RUNS=$(OUT) OUT=$(OUT)/compare
	@sed -n '/^|/p' $(OUT)/compare/summary.md | sed 's/^/   /'

# Stage 8: where the model is still unsure.  tfs-eval --token-loss scores
# each token of the first validation story (which the model never saw):
# every token's loss and the model's five best guesses in
# $(OUT)/token-loss.jsonl; on a terminal, the story with each token's
# background coloured by its loss, like a heat map; otherwise the five
# tokens it found hardest.
.PHONY: token-loss
demo: token-loss
$(OUT)/story.txt: $(VAL_JSONL)
	@mkdir -p $(OUT)
	@zstd -dc $< | sed -n 1p | jq -j .text > $@
$(OUT)/token-loss.jsonl: $(OUT)/model.safetensors $(OUT)/story.txt
	@$(BIN)/tfs-eval --token-loss --threads $(THREADS) --tokenizer $(OUT)/tok.bin \
	    --prompt "$$(cat $(OUT)/story.txt)" $< > $@
token-loss: $(OUT)/token-loss.jsonl
	@echo "== tfs-eval --token-loss: the loss of each token of a validation story ($<)"
	@if [ -t 1 ]; then \
	    $(BIN)/tfs-eval --token-loss --threads $(THREADS) --tokenizer $(OUT)/tok.bin \
	        --prompt "$$(cat $(OUT)/story.txt)" $(OUT)/model.safetensors; \
	else \
	    echo "   the five hardest tokens (loss in nats; what the model expected):"; \
	    jq -rs 'sort_by(-.loss)[:5][] | "   \(.text | @json) at \(.pos): \(.loss * 100 | round / 100), expected \(.top[0].text | @json)"' $<; \
	fi
