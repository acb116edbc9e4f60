#!/usr/bin/env bats
# 80-baseline: the baseline (Llama-style) model against an independent
# PyTorch implementation of the same architecture (tests/torch/): logits,
# loss, every gradient and the AdamW step, max relative error <= 1e-4 per
# tensor.  The per-layer finite-difference checks and the optimised-vs-plain
# checks are C unit tests (test_llama_ops, test_llama).

load helper

dump_and_check() {   # $1 = tied | untied
    run_tool "$TFS_BUILD/tests/test_llama" --dump "$BATS_TEST_TMPDIR/$1" "$1"
    [ "$status" -eq 0 ]
    run_tool /usr/bin/python3 "$TFS_ROOT/tests/torch/llama_check.py" "$BATS_TEST_TMPDIR/$1"
    [ "$status" -eq 0 ]
    [[ $output == *"worst max rel err"*"tolerance 0.0001"* ]]
}

@test "baseline: matches PyTorch (tied embeddings, grouped-query attention)" {
    requires python-torch numpy
    dump_and_check tied
    [[ $output == *"grad model.layers.1.self_attn.k_proj.weight"* ]]
    [[ $output != *"lm_head"* ]]
}

@test "baseline: matches PyTorch (untied output projection)" {
    requires python-torch numpy
    dump_and_check untied
    [[ $output == *"grad lm_head.weight"* ]]
    [[ $output == *"adamw step lm_head.weight"* ]]
}

@test "baseline: the PyTorch comparison fails on a wrong gradient" {
    requires python-torch numpy
    run_tool "$TFS_BUILD/tests/test_llama" --dump "$BATS_TEST_TMPDIR/d" tied
    [ "$status" -eq 0 ]
    # flip the sign of the float at the start of the block's norm gains (layer 0's first g1)
    /usr/bin/python3 -c '
import numpy as np, sys, json
d = sys.argv[1]; c = json.load(open(d + "/config.json"))
g = np.fromfile(d + "/grads.bin", dtype=np.float32)
g[c["vocab"] * c["dim"]] *= -1
g.tofile(d + "/grads.bin")' "$BATS_TEST_TMPDIR/d"
    run_tool /usr/bin/python3 "$TFS_ROOT/tests/torch/llama_check.py" "$BATS_TEST_TMPDIR/d"
    [ "$status" -eq 1 ]
    [[ $output == *"FAILED: grad model.layers.0.input_layernorm.weight"* ]]
}
