#!/usr/bin/env bats
# 70-autograd: the autograd level (lib/ag*.c) against independent references.
# The per-op finite-difference checks and the library's rules are C unit
# tests (tests/unit/test_autograd_ops.c), and so is the comparison with the
# custom level (tests/unit/test_autograd_gpt2.c).  Here the whole autograd
# GPT-2 is compared with PyTorch by the custom level's reference check:
# tests/torch/gpt2_dump.c --autograd writes the same weights, batch and
# results, tests/torch/gpt2_reference.py rebuilds the model with torch.nn in
# float64 and compares every tensor (rel <= 1e-4).
load helper

SMALL="--layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 -q --warmup 2 --lr 1e-2"

setup_file() {
    stories_bytes train 300 \
        > "$BATS_FILE_TMPDIR/train.bin"
}

# The losses of steps FROM.. of a metrics log, one per line.
losses() { /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["step"] >= int(sys.argv[2]): print(r["step"], r["loss"])' "$1" "${2:-1}"; }

# Two logs' losses agree within 1e-4 (and cover the same steps).
same_losses() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
a = [l.split() for l in open(sys.argv[1])]; b = [l.split() for l in open(sys.argv[2])]
assert [x[0] for x in a] == [x[0] for x in b] and a, (a, b)
d = max(abs(float(x[1]) - float(y[1])) for x, y in zip(a, b))
print(f"{len(a)} steps, max |loss difference| {d:.2g}", file=sys.stderr)
sys.exit(0 if d <= 1e-4 else 1)
PY
}

dump() { "$TFS_BUILD/tests/torch/gpt2_dump" "$@"; }
reference() { /usr/bin/python3 "$TFS_ROOT/tests/torch/gpt2_reference.py" "$@"; }

@test "autograd: logits, loss, gradients and AdamW step of the autograd GPT-2 match PyTorch" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --autograd
    [ "$status" -eq 0 ]
    [[ $output == "autograd level: loss "* ]]
    run_tool reference "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^ok   ' <<< "$output")" -eq 34 ]
    [[ $output == *"ok   grad.wte "* ]]          # the tied embedding: two paths into one gradient
    [[ $output == *"match PyTorch (rel <= 0.0001)" ]]
}

@test "autograd: the PyTorch check fails on a wrong autograd gradient and names it" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --autograd --corrupt grad.qkvb
    [ "$status" -eq 0 ]
    run_tool reference "$BATS_TEST_TMPDIR"
    [ "$status" -eq 1 ]
    [[ $output == *"1 tensors differ from PyTorch by more than 0.0001: grad.qkvb" ]]
}

@test "autograd: the custom and autograd levels write the same loss for the same weights and batch" {
    run_tool dump "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    custom=${output#custom level: loss }
    run_tool dump "$BATS_TEST_TMPDIR" --autograd
    [ "$status" -eq 0 ]
    [ "${output#autograd level: loss }" = "$custom" ]
}

@test "autograd: the benchmark reports both levels' tokens/s and their ratio" {
    BUILD=$TFS_BUILD BENCH_OUT=$BATS_TEST_TMPDIR OMP_NUM_THREADS=1 TFS_BENCH_AUTOGRAD="64 16 1 2 16 2 16 3" \
        run_tool "$TFS_ROOT/tests/bench/30-autograd.sh"
    [ "$status" -eq 0 ]
    [[ $output =~ ^"30-autograd: L=1 C=16 V=64 B=2 T=16, 1 thread(s): custom "[0-9]+" tok/s, autograd "[0-9]+" tok/s = "[0-9.]+"x" ]]
    run_tool /usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["autograd"]["tokens_per_s"] > 0 and r["custom"]["tokens_per_s"] > 0' "$BATS_TEST_TMPDIR/30-autograd.json"
    [ "$status" -eq 0 ]
}

@test "autograd: tfs-train --model autograd follows the custom level's loss trajectory for 20 steps" {
    local T=$BATS_TEST_TMPDIR
    for m in custom autograd; do
        run_tool tfs-train $SMALL --model $m --steps 20 -o "$T/$m.safetensors" --log "$T/$m.jsonl" \
            "$BATS_FILE_TMPDIR/train.bin"
        [ "$status" -eq 0 ]
        losses "$T/$m.jsonl" > "$T/$m.loss"
    done
    [ "$(wc -l < "$T/autograd.loss")" -eq 20 ]
    same_losses "$T/custom.loss" "$T/autograd.loss"
    # and it learned something: the last loss is well below the first (ln 257 = 5.55)
    awk 'NR == 1 { f = $2 } END { exit !($2 < f - 1) }' "$T/autograd.loss"
}

@test "autograd: a checkpoint of either level resumes with the other" {
    local T=$BATS_TEST_TMPDIR D=$BATS_FILE_TMPDIR
    run_tool tfs-train $SMALL --steps 10 -o "$T/straight.safetensors" --log "$T/straight.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    losses "$T/straight.jsonl" 6 > "$T/straight.loss"
    for first in custom autograd; do
        second=$([ $first = custom ] && echo autograd || echo custom)
        run_tool tfs-train $SMALL --model $first --steps 10 --stop-at 5 -o "$T/$first.safetensors" \
            --log "$T/$first.jsonl" "$D/train.bin"
        [ "$status" -eq 0 ]
        run_tool tfs-train --threads 1 -q --model $second --resume "$T/$first.safetensors" \
            -o "$T/$first.safetensors" --log "$T/$first.jsonl" "$D/train.bin"
        [ "$status" -eq 0 ]
        losses "$T/$first.jsonl" 6 > "$T/$first.loss"
        [ "$(wc -l < "$T/$first.loss")" -eq 5 ]
        same_losses "$T/straight.loss" "$T/$first.loss"
    done
}

@test "autograd: tfs-train --model accepts only custom or autograd" {
    run_tool tfs-train --model pytorch "$BATS_FILE_TMPDIR/train.bin"
    [ "$status" -eq 2 ]
    [ "$stderr" = "tfs-train: --model: 'pytorch' is not custom, autograd or baseline
Try 'tfs-train --help'." ]
}
