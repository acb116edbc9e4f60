# pipelines/mpi.mk - the demo's tiny model trained on two processes with
# mpirun (tfs-train(1), MANY PROCESSES).
#
#     make -f pipelines/mpi.mk                         two ranks on this machine
#     make -f pipelines/mpi.mk HOSTS="hostA hostB"     one rank on each host
#
# With HOSTS, OUT/hosts lists them (SLOTS ranks each) and mpirun starts the
# ranks over ssh: every host must accept ssh without a password from this
# one, have the programs at the same path (BIN), and see OUT at the same
# path (a shared file system, or copy OUT/train.ids and OUT/val.ids there
# first).  Only rank 0 writes, on its own host.
#
# The run equals one process with --accum NP (tfs-train(1)); `make -f
# pipelines/mpi.mk compare` trains that one too and prints both final
# losses.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

BIN     ?= build/bin
OUT     ?= mpi
ASSETS  ?= assets
CONFIG  ?= tiny
VOCAB   ?= 1024
STEPS   ?= 300
NP      ?= 2
THREADS ?= 1
HOSTS   ?=
SLOTS   ?= 1

# OpenMPI refuses to run as root unless told.
MPIRUN := mpirun $(if $(filter 0,$(shell id -u)),--allow-run-as-root) \
	  $(if $(HOSTS),--hostfile $(OUT)/hosts,--oversubscribe) -np $(NP)
TRAIN   = $(BIN)/tfs-train -c $(CONFIG) --threads $(THREADS) --steps $(STEPS) -q --val $(OUT)/val.ids

.PHONY: train compare
train: $(OUT)/model.safetensors

# The tokenizer and the token streams, as pipelines/demo.mk makes them.
$(OUT)/tok.bin: $(ASSETS)/stories-train.jsonl.zst
	@mkdir -p $(OUT)
	@$(BIN)/bpe-train -q -n $(VOCAB) -o $@ $<
$(OUT)/%.ids: $(ASSETS)/stories-%.jsonl.zst $(OUT)/tok.bin
	@$(BIN)/bpe-encode -q -o $@ $(OUT)/tok.bin $<

# A hostfile: "host slots=N" per line (OpenMPI's format).
$(OUT)/hosts: FORCE
	@mkdir -p $(OUT)
	@printf '%s slots=$(SLOTS)\n' $(HOSTS) | cmp -s - $@ || printf '%s slots=$(SLOTS)\n' $(HOSTS) > $@
FORCE:

$(OUT)/model.safetensors: $(OUT)/train.ids $(OUT)/val.ids $(if $(HOSTS),$(OUT)/hosts)
	@echo "== $(MPIRUN) tfs-train ($(if $(HOSTS),hosts: $(HOSTS),this machine))"
	@$(MPIRUN) $(TRAIN) -o $@ --log $(OUT)/train.jsonl $(OUT)/train.ids
	@tail -n 1 $(OUT)/train.jsonl

# The same steps on one process: --accum NP times the configuration's.
$(OUT)/one.safetensors: $(OUT)/train.ids $(OUT)/val.ids
	@accum=$$(sed -n 's/^accum *= *//p' $$(f=$(CONFIG); [ -f $$f ] || f=$(ASSETS)/configs/$(CONFIG); echo $$f)); \
	$(TRAIN) --accum $$(( $${accum:-1} * $(NP) )) -o $@ --log $(OUT)/one.jsonl $(OUT)/train.ids

compare: $(OUT)/model.safetensors $(OUT)/one.safetensors
	@echo "final loss, $(NP) ranks:  $$(tail -n 1 $(OUT)/train.jsonl | jq .loss)"
	@echo "final loss, one process: $$(tail -n 1 $(OUT)/one.jsonl | jq .loss)"
