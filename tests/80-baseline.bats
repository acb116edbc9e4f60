#!/usr/bin/env bats
# 80-baseline: the baseline (Llama-style) model against an independent
# PyTorch implementation of the same architecture: tests/torch/llama_dump.c
# writes a small model as a Hugging Face export plus C's logits, loss,
# gradients and AdamW step; tests/torch/llama_check.py loads the export into
# a LlamaForCausalLM-named torch.nn model (strict) and compares each tensor
# in float64, rel <= 1e-4.  The per-layer finite-difference checks and the
# optimised-vs-plain checks are the C unit tests test_llama_ops, test_llama.

load helper

dump() { "$TFS_BUILD/tests/torch/llama_dump" "$@"; }
check() { /usr/bin/python3 "$TFS_ROOT/tests/torch/llama_check.py" "$@"; }

@test "baseline: matches PyTorch (tied embeddings, grouped-query attention)" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    run_tool check "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    [[ $output == "export loads as a Llama model: 2 layers, 4 heads, 2 kv heads, tied=True"* ]]
    [ "$(grep -c '^ok   ' <<< "$output")" -eq 42 ]
    [[ $output == *"ok   grad.model.layers.1.self_attn.k_proj.weight "* ]]
    [[ $output == *"ok   after.model.layers.0.mlp.gate_proj.weight "* ]]
    [[ $output == *"all 42 tensors match PyTorch (rel <= 0.0001)" ]]
}

@test "baseline: matches PyTorch (untied output projection)" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --untied
    [ "$status" -eq 0 ]
    run_tool check "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
    [[ $output == *"ok   grad.lm_head.weight "* ]]
    [[ $output == *"all 44 tensors match PyTorch (rel <= 0.0001)" ]]
}

@test "baseline: a gradient off by 1% of its scale fails the PyTorch check and is named" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --corrupt grad.model.layers.0.input_layernorm.weight
    [ "$status" -eq 0 ]
    run_tool check "$BATS_TEST_TMPDIR"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL grad.model.layers.0.input_layernorm.weight "* ]]
    [[ $output == *"1 tensors differ from PyTorch by more than 0.0001: grad.model.layers.0.input_layernorm.weight" ]]
}

@test "baseline: a wrong AdamW update fails the PyTorch check" {
    requires python-torch numpy
    run_tool dump "$BATS_TEST_TMPDIR" --corrupt after.model.norm.weight
    [ "$status" -eq 0 ]
    run_tool check "$BATS_TEST_TMPDIR"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL after.model.norm.weight "* ]]
}
