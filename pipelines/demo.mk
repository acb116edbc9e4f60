# pipelines/demo.mk - the whole pipeline on the built-in default data.
# Run through `make demo` (which builds the programs first); BIN is the
# folder of built programs, OUT the folder for everything the demo makes.
# Each stage is a file target, so an interrupted demo resumes where it
# stopped and a finished one reruns nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
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
