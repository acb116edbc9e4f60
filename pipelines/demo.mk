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

# Stage 1: the default data and its statistics.
data-stats: $(TRAIN_JSONL) $(VAL_JSONL)
	@echo "== default data: $(TRAIN_JSONL), $(VAL_JSONL)"
	@for f in $^; do \
	    zstd -dc $$f | python3 -c 'import sys, json; \
docs = [json.loads(l)["text"] for l in sys.stdin]; \
b = sum(len(d.encode()) for d in docs); w = sum(len(d.split()) for d in docs); \
print(f"   {sys.argv[1]}: {len(docs)} documents, {b} bytes, {w} words, {b/len(docs):.0f} bytes/document")' $$f; \
	done

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
	@for f in $^; do \
	    n=$$(( ($$(stat -c %s $$f) - 1024) / 2 )); \
	    echo "   $$f: $$n tokens"; \
	done
	@$(BIN)/bpe-encode -d $(OUT)/tok.bin $(OUT)/val.ids | cmp - <(zstd -dc $(VAL_JSONL)) && \
	    echo "   decoding $(OUT)/val.ids gives back $(VAL_JSONL) exactly"

# Stage 3: train the tiny model (assets/configs/tiny, about 1M parameters)
# for STEPS steps, validating every 100 steps; metrics in train.jsonl.
STEPS   ?= 600
THREADS ?= 2
.PHONY: train evaluate samples plot
demo: train evaluate samples plot
$(OUT)/model.safetensors: $(OUT)/train.ids $(OUT)/val.ids
	@echo "== tfs-train: the tiny model, $(STEPS) steps -> $@ (metrics in $(OUT)/train.jsonl)"
	@TFS_ASSETS=$(ASSETS) $(BIN)/tfs-train -c tiny --steps $(STEPS) --threads $(THREADS) \
	    --val $(OUT)/val.ids -o $@ --log $(OUT)/train.jsonl $(OUT)/train.ids
train: $(OUT)/model.safetensors

# Stage 4: loss, perplexity and bits per byte on the validation stories.
$(OUT)/eval.json: $(OUT)/model.safetensors $(OUT)/val.ids
	@$(BIN)/tfs-eval -q --threads $(THREADS) --tokenizer $(OUT)/tok.bin $< $(OUT)/val.ids > $@
evaluate: $(OUT)/eval.json
	@echo "== tfs-eval on $(OUT)/val.ids: $$(cat $<)"
	@echo "   (the unigram entropy of the stream, the loss of a model without context: $$(python3 -c 'import collections, math, sys; \
d = open(sys.argv[1], "rb").read()[1024:]; c = collections.Counter(d[i:i+2] for i in range(0, len(d), 2)); n = sum(c.values()); \
print(f"{-sum(v / n * math.log(v / n) for v in c.values()):.3f}")' $(OUT)/val.ids) nats)"

# Stage 5: three stories from the same beginning (reproducible: --seed).
PROMPT ?= Once upon a time
samples: $(OUT)/model.safetensors
	@echo "== tfs-eval: three samples after \"$(PROMPT)\""
	@$(BIN)/tfs-eval --threads $(THREADS) --tokenizer $(OUT)/tok.bin --prompt "$(PROMPT)" \
	    --samples 3 -n 200 --temperature 0.8 --top-k 40 --seed 1 $<

# Stage 6: the loss curves, against steps and against model FLOPs.
$(OUT)/loss.png: $(OUT)/model.safetensors pipelines/loss.gp
	@python3 -c 'import json, sys; \
rows = [json.loads(l) for l in open(sys.argv[1])]; \
t = open(sys.argv[2], "w"); v = open(sys.argv[3], "w"); \
[print(r["step"], r["flops"], r["loss"], file=t) for r in rows if r["loss"] is not None]; \
[print(r["step"], r["flops"], r["val_loss"], file=v) for r in rows if "val_loss" in r]' \
	    $(OUT)/train.jsonl $(OUT)/train.dat $(OUT)/val.dat
	@gnuplot -e 'dir="$(OUT)"; out="$@"' pipelines/loss.gp
plot: $(OUT)/loss.png
	@echo "== loss curves: $<"
