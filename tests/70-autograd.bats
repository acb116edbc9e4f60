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
    BUILD=$TFS_BUILD TFS_BENCH_OUT=$BATS_TEST_TMPDIR OMP_NUM_THREADS=1 TFS_BENCH_AUTOGRAD="64 16 1 2 16 2 16 3" \
        run_tool "$TFS_ROOT/tests/bench/30-autograd.sh"
    [ "$status" -eq 0 ]
    [[ $output =~ ^"30-autograd: L=1 C=16 V=64 B=2 T=16, 1 thread(s): custom "[0-9]+" tok/s, autograd "[0-9]+" tok/s = "[0-9.]+"x" ]]
    run_tool /usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["autograd"]["tokens_per_s"] > 0 and r["custom"]["tokens_per_s"] > 0' "$BATS_TEST_TMPDIR/30-autograd.json"
    [ "$status" -eq 0 ]
}
