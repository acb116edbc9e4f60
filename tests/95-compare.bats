#!/usr/bin/env bats
# 95-compare: pipelines/compare.mk (and pipelines/compare-runs, which it
# calls): the picture and the tables for 1 to 6 training runs, their
# numbers recomputed here from the logs and checkpoints, equal-compute
# interpolation on hand-written logs.

load helper

SMALL="--layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 -q --warmup 2"
CMP="$TFS_ROOT/pipelines/compare-runs"

# Six short runs on byte-level data, differing in seed, learning rate,
# length and level, so that their final FLOPs differ and the shortest
# run's compute falls between two validation points of the others.
# Runs 1-5 are metrics files with the checkpoint beside them (X.jsonl,
# X.safetensors); run 6 is a directory (train.jsonl, model.safetensors).
setup_file() {
    local d=$BATS_FILE_TMPDIR i
    stories_bytes train 300 > "$d/train.bin"
    stories_bytes val 30 > "$d/val.bin"
    local -a args=(
        "--steps 10 --seed 1 --eval-every 5"
        "--steps 15 --seed 2 --eval-every 4"
        "--steps 15 --seed 3 --eval-every 4 --lr 1e-2"
        "--steps 20 --seed 1 --eval-every 6 --lr 1e-3"
        "--steps 12 --seed 4 --eval-every 3 --model baseline")
    for i in 1 2 3 4 5; do
        # shellcheck disable=SC2086
        tfs-train $SMALL ${args[i-1]} --eval-batches 2 --val "$d/val.bin" \
            -o "$d/run$i.safetensors" --log "$d/run$i.jsonl" "$d/train.bin"
    done
    mkdir -p "$d/run6"
    # shellcheck disable=SC2086
    tfs-train $SMALL --steps 14 --seed 5 --eval-every 7 --eval-batches 2 --val "$d/val.bin" \
        -o "$d/run6/model.safetensors" --log "$d/run6/train.jsonl" "$d/train.bin"
}

setup() {
    requires gnuplot
    D=$BATS_FILE_TMPDIR
    T=$BATS_TEST_TMPDIR
}

# check_summary OUT RUN... - every number of OUT/summary.json against the
# runs' logs and checkpoint headers, read here in Python.
check_summary() {
    /usr/bin/python3 - "$@" <<'PY'
import json, os, struct, sys
out, runs = sys.argv[1], sys.argv[2:]
s = json.load(open(os.path.join(out, "summary.json")))
assert len(s["runs"]) == len(runs), (len(s["runs"]), runs)

def files(r):
    r = r.rstrip("/")
    if os.path.isdir(r):
        return os.path.join(r, "train.jsonl"), os.path.join(r, "model.safetensors")
    return r, r[:-len(".jsonl")] + ".safetensors"

logs = []
for r in runs:
    log, ck = files(r)
    lines = [json.loads(l) for l in open(log)]
    logs.append(lines)
common = min(l[-1]["flops"] for l in logs)
assert s["common_flops"] == common, (s["common_flops"], common)

for r, lines, got in zip(runs, logs, s["runs"]):
    log, ck = files(r)
    assert got["steps"] == lines[-1]["step"] == len(lines)
    assert got["tokens"] == lines[-1]["tokens"]
    assert got["flops"] == lines[-1]["flops"]
    vals = [(l["flops"], l["val_loss"], l["step"]) for l in lines if "val_loss" in l]
    best = min(vals, key=lambda v: v[1])
    assert got["best_val_loss"] == best[1] and got["best_val_step"] == best[2], (got, best)
    # The checkpoint: the architecture, and the parameters counted from
    # the tensor shapes (the optimizer's moments left out).
    d = open(ck, "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    h = json.loads(d[8:8 + n])
    meta = h.pop("__metadata__")
    assert got["arch"] == meta["tfs.arch"]
    assert got["config"] == json.loads(meta["tfs.config"])
    params = 0
    for name, t in h.items():
        if not name.startswith("optimizer."):
            k = 1
            for x in t["shape"]:
                k *= x
            params += k
    assert got["parameters"] == params, (got["parameters"], params)
    # The validation loss at the common compute.
    at = got["val_loss_at_common_flops"]
    exact = [v for v in vals if v[0] == common]
    if exact:
        assert at["value"] == exact[0][1] and at["interpolated"] is False
    else:
        a = max((v for v in vals if v[0] < common), key=lambda v: v[0])
        b = min((v for v in vals if v[0] > common), key=lambda v: v[0])
        want = a[1] + (b[1] - a[1]) * (common - a[0]) / (b[0] - a[0])
        assert abs(at["value"] - want) < 1e-9 and at["interpolated"] is True, (at, want)
        assert at["steps"] == [a[2], b[2]], at
# The Markdown table: one row per run, in the order given.
rows = [l for l in open(os.path.join(out, "summary.md")) if l.startswith("| ")][1:]
assert [row.split("|")[1].strip() for row in rows] == [g["run"] for g in s["runs"]], rows
PY
}

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

@test "compare: one run (a directory) through make -f pipelines/compare.mk" {
    run_tool make -s -C "$TFS_ROOT" -f pipelines/compare.mk RUNS="$D/run6" OUT="$T/cmp"
    [ "$status" -eq 0 ]
    is_png "$T/cmp/compare.png"
    check_summary "$T/cmp" "$D/run6"
    # one run: its own final compute, where its last validation lies
    [ "$(jq '.runs[0].val_loss_at_common_flops.interpolated' "$T/cmp/summary.json")" = false ]
    [ "$(jq '.runs[0].val_loss_at_common_flops.value == .runs[0].final_val_loss' "$T/cmp/summary.json")" = true ]
}

@test "compare: six runs, both levels; summary numbers recomputed from the logs and checkpoints" {
    local runs="$D/run1.jsonl $D/run2.jsonl $D/run3.jsonl $D/run4.jsonl $D/run5.jsonl $D/run6/"
    run_tool make -s -C "$TFS_ROOT" -f pipelines/compare.mk RUNS="$runs" OUT="$T/cmp"
    [ "$status" -eq 0 ]
    is_png "$T/cmp/compare.png"
    # shellcheck disable=SC2086
    check_summary "$T/cmp" $runs
    # the setup must exercise both branches: run 1 is the shortest (exact
    # at its own end), runs 2 and 3 meet its compute between two points
    [ "$(jq -c '[.runs[].val_loss_at_common_flops.interpolated]' "$T/cmp/summary.json")" = "[false,true,true,true,true,true]" ]
    [ "$(jq -r '.runs[4].arch' "$T/cmp/summary.json")" = llama ]
    # every interpolated value carries its mark in the table
    [ "$(grep -c '^| .*\*[[:space:]]*|$' "$T/cmp/summary.md")" -eq 5 ]
    # the picture has one data file pair per run
    [ "$(find "$T/cmp/data" -name "*.train" | wc -l)" -eq 6 ]
}

@test "compare: the outputs are remade when the list of runs changes, not otherwise" {
    run_tool make -s -C "$TFS_ROOT" -f pipelines/compare.mk RUNS="$D/run1.jsonl $D/run2.jsonl" OUT="$T/cmp"
    [ "$status" -eq 0 ]
    [ "$(jq '.runs | length' "$T/cmp/summary.json")" -eq 2 ]
    touch -d '2000-01-01' "$T/cmp/summary.json"
    run_tool make -s -C "$TFS_ROOT" -f pipelines/compare.mk RUNS="$D/run1.jsonl $D/run2.jsonl" OUT="$T/cmp"
    [ "$(jq '.runs | length' "$T/cmp/summary.json")" -eq 2 ]
    [ -z "$(find "$T/cmp/summary.json" -newer "$T/cmp/runs.list")" ]
    run_tool make -s -C "$TFS_ROOT" -f pipelines/compare.mk RUNS="$D/run1.jsonl $D/run2.jsonl $D/run3.jsonl" OUT="$T/cmp"
    [ "$status" -eq 0 ]
    [ "$(jq '.runs | length' "$T/cmp/summary.json")" -eq 3 ]
}

@test "compare: equal compute on hand-written logs: exact, interpolated, out of reach; resumed and skipped steps" {
    # a: validation at 100 and 300 FLOPs; b ends first, at 200 FLOPs (the
    # common compute), validated there; c's first validation is at 250.
    # a's step 2 is logged twice (a run resumed): the later line counts.
    # b's step 1 was skipped (loss null).
    cat > "$T/a.jsonl" <<'EOF'
{"step": 1, "tokens": 10, "loss": 5.0, "lr": 0.001, "tokens_per_s": 100, "flops": 100, "elapsed_s": 1.0, "val_loss": 4.0}
{"step": 2, "tokens": 20, "loss": 3.5, "lr": 0.002, "tokens_per_s": 100, "flops": 200, "elapsed_s": 2.0}
{"step": 2, "tokens": 20, "loss": 3.0, "lr": 0.002, "tokens_per_s": 100, "flops": 200, "elapsed_s": 2.5}
{"step": 3, "tokens": 30, "loss": 2.5, "lr": 0.003, "tokens_per_s": 100, "flops": 300, "elapsed_s": 3.5, "val_loss": 2.5}
EOF
    cat > "$T/b.jsonl" <<'EOF'
{"step": 1, "tokens": 8, "loss": null, "lr": 0.001, "tokens_per_s": 100, "flops": 100, "elapsed_s": 1.0}
{"step": 2, "tokens": 16, "loss": 4.0, "lr": 0.001, "tokens_per_s": 100, "flops": 200, "elapsed_s": 2.0, "val_loss": 3.25}
EOF
    cat > "$T/c.jsonl" <<'EOF'
{"step": 1, "tokens": 10, "loss": 5.0, "lr": 0.001, "tokens_per_s": 100, "flops": 125, "elapsed_s": 1.0}
{"step": 2, "tokens": 20, "loss": 4.0, "lr": 0.001, "tokens_per_s": 100, "flops": 250, "elapsed_s": 2.0, "val_loss": 3.75}
EOF
    run_tool "$CMP" "$T/cmp" "$T/a.jsonl" "$T/b.jsonl" "$T/c.jsonl"
    [ "$status" -eq 0 ]
    [[ $stderr == *"no checkpoint"* ]]
    is_png "$T/cmp/compare.png"
    s=$T/cmp/summary.json
    [ "$(jq '.common_flops' "$s")" = 200 ]
    # a at 200: halfway from (100, 4.0) to (300, 2.5): 3.25
    [ "$(jq -c '.runs[0].val_loss_at_common_flops' "$s")" = '{"value":3.25,"interpolated":true,"steps":[1,3]}' ]
    [ "$(jq -c '.runs[1].val_loss_at_common_flops' "$s")" = '{"value":3.25,"interpolated":false,"steps":[2]}' ]
    [ "$(jq -c '.runs[2].val_loss_at_common_flops' "$s")" = '{"value":null,"interpolated":false,"steps":[]}' ]
    [ "$(jq -c '[.runs[0] | .steps, .final_loss, .elapsed_s, .best_val_loss, .best_val_step]' "$s")" = '[3,2.5,3.5,2.5,3]' ]
    [ "$(jq -c '[.runs[1] | .final_loss, .arch, .parameters]' "$s")" = '[4,null,null]' ]
    # the table: a marked, b not, c without a value
    grep -q '^| .*a | .* | 3\.25\* |$' "$T/cmp/summary.md"
    grep -q '^| .*b | .* | 3\.25 |$' "$T/cmp/summary.md"
    grep -q '^| .*c | .* | - |$' "$T/cmp/summary.md"
    # gnuplot's data: a's duplicated step once, with the later line's loss
    [ "$(awk '$1 == 2' "$T/cmp/data/1.train")" = "2 20 200 2.5 3 0.002 100" ]
    [ "$(wc -l < "$T/cmp/data/2.train")" -eq 1 ]
}

@test "compare: a run without a log, and a file that is not a checkpoint, are errors" {
    run_tool "$CMP" "$T/cmp" "$D/run1.jsonl" "$T/nosuch"
    [ "$status" -eq 1 ]
    [[ $stderr == *"compare-runs: $T/nosuch: no metrics log"* ]]
    cp "$D/run1.jsonl" "$T/x.jsonl"
    echo "not a checkpoint" > "$T/x.safetensors"
    run_tool "$CMP" "$T/cmp" "$T/x.jsonl"
    [ "$status" -eq 1 ]
    [[ $stderr == *"not a safetensors file"* ]]
    run_tool "$CMP" "$T/cmp"
    [ "$status" -eq 2 ]
    run_tool make -s -C "$TFS_ROOT" -f pipelines/compare.mk OUT="$T/cmp"
    [ "$status" -ne 0 ]
    [[ $stderr == *"name the runs"* ]]
}

@test "compare: the demo ends with the comparison page of its run and the token losses of a story" {
    requires script
    A=$T/assets O=$T/demo
    small_demo_assets "$A" 10
    unset MAKEFLAGS MAKELEVEL MFLAGS
    run_tool make --no-print-directory -C "$TFS_ROOT" -f pipelines/demo.mk BIN="$TFS_BUILD/bin" OUT="$O" \
        ASSETS="$A" VOCAB=300 THREADS=1 STEPS=25 demo
    [ "$status" -eq 0 ]
    is_png "$O/compare/compare.png"
    check_summary "$O/compare" "$O"
    [ "$(jq -c '[.runs[0] | .run, .steps, .arch]' "$O/compare/summary.json")" = '["demo",25,"gpt2"]' ]
    [[ $output == *"== runs compared: $O/compare/compare.png"* ]]
    [[ $output == *"   | demo | gpt2 | 1L 2H d32 ctx32 V300 |"* ]]
    # the token losses of the first validation story: its text, token by token
    story=$(zstd -dc "$A/stories-val.jsonl.zst" | sed -n 1p | jq -j .text)
    [ "$(jq -j .text "$O/token-loss.jsonl")" = "$story" ]
    [ "$(grep -c '^   "' <<< "$output")" -eq 5 ]      # the five hardest tokens
    hardest=$(jq -s 'map(.loss) | max * 100 | round / 100' "$O/token-loss.jsonl")
    [[ $(grep -m1 '^   "' <<< "$output") == *": $hardest, expected "* ]]
    # on a terminal, the coloured story instead
    run_tool script -qec "make --no-print-directory -C '$TFS_ROOT' -f pipelines/demo.mk BIN='$TFS_BUILD/bin' OUT='$O' ASSETS='$A' VOCAB=300 THREADS=1 STEPS=25 token-loss" /dev/null
    [ "$status" -eq 0 ]
    [[ $output == *$'\e[30;48;5;'* ]] && [[ $output == *"mean loss "*" nats over "* ]]
}
