#!/usr/bin/env bats
# The custom model (lib/gpt2/gpt2.c) against the same GPT-2 written in PyTorch:
# logits, loss, every gradient and the weights after one AdamW step
# (tests/torch/gpt2_dump.c writes the C side, tests/torch/gpt2_reference.py
# rebuilds it with torch.nn in float64 and compares, rel <= 1e-4 per tensor).
load helper

dump() { "$TFS_BUILD/tests/torch/gpt2_dump" "$@"; }
reference() { /usr/bin/python3 "$TFS_ROOT/tests/torch/gpt2_reference.py" "$@"; }

@test "torch reference: logits, loss, gradients and AdamW step match PyTorch" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    run_tool reference "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    # every tensor was compared and reported on its own line
    [ "$(grep -c '^ok   ' <<< "$output")" -eq 34 ]
    [[ $output == *"ok   grad.qkvw "* ]]
    [[ $output == *"ok   after.fcprojw "* ]]
    [[ $output == *"match PyTorch (rel <= 0.0001)" ]]
}

@test "torch reference: the plain path (whole attention matrices and logits) matches PyTorch too" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --plain
    [ "$status" -eq 0 ]
    run_tool reference "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^ok   ' <<< "$output")" -eq 34 ]
    [[ $output == *"match PyTorch (rel <= 0.0001)" ]]
}

@test "torch reference: a gradient off by 1% of its scale fails the check and is named" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --corrupt grad.attprojw
    [ "$status" -eq 0 ]
    run_tool reference "$BATS_TEST_TMPDIR"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL grad.attprojw "* ]]
    [[ $output == *"1 tensors differ from PyTorch by more than 0.0001: grad.attprojw" ]]
}

@test "torch reference: a wrong updated weight fails the check" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --corrupt after.ln1b
    [ "$status" -eq 0 ]
    run_tool reference "$BATS_TEST_TMPDIR"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL after.ln1b "* ]]
}
