# pipelines/compare.mk - compare training runs of tfs-train (tfs(7), COMPARING RUNS).
#
#     make -f pipelines/compare.mk RUNS="a b c d" OUT=cmp
#
# Each RUN is a directory with train.jsonl (tfs-train --log) and
# model.safetensors (as pipelines/demo.mk leaves it), or a metrics file
# X.jsonl with X.safetensors beside it.  OUT gets compare.png (six panels),
# summary.md and summary.json; the work is done by pipelines/compare-runs,
# with jq and gnuplot.  The outputs are remade when a log, a checkpoint,
# the scripts or the list of runs change.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

RUNS ?=
OUT  ?= cmp
HERE := $(dir $(lastword $(MAKEFILE_LIST)))

ifeq ($(strip $(RUNS)),)
$(error compare.mk: name the runs: make -f pipelines/compare.mk RUNS="a b" OUT=cmp)
endif

run_log  = $(if $(filter %.jsonl,$(1)),$(1),$(1:%/=%)/train.jsonl)
run_ckpt = $(if $(filter %.jsonl,$(1)),$(1:.jsonl=.safetensors),$(1:%/=%)/model.safetensors $(1:%/=%)/train.safetensors)
INPUTS := $(foreach r,$(RUNS),$(call run_log,$(r)) $(wildcard $(call run_ckpt,$(r))))
SCRIPTS := $(HERE)compare-runs $(HERE)compare.gp

.PHONY: compare
compare: $(OUT)/compare.png
	@echo "== runs compared: $(OUT)/compare.png, $(OUT)/summary.md, $(OUT)/summary.json"

# The list of runs of the last comparison: rewritten only when it changes,
# so that a new list remakes the outputs and the same list does not.
$(OUT)/runs.list: FORCE
	@mkdir -p $(OUT)
	@printf '%s\n' $(RUNS) | cmp -s - $@ || printf '%s\n' $(RUNS) > $@
FORCE:

$(OUT)/compare.png $(OUT)/summary.md $(OUT)/summary.json &: $(INPUTS) $(SCRIPTS) $(OUT)/runs.list
	@$(HERE)compare-runs $(OUT) $(RUNS)
