#!/usr/bin/env bats
# 70-autograd: the autograd level (lib/ag*.c) against independent references.
# The per-op finite-difference checks and the library's rules are C unit
# tests (tests/unit/test_autograd_ops.c, test_autograd_gpt2.c); here the
# whole GPT-2 is compared with PyTorch.

load helper

dump() {   # write $BATS_TEST_TMPDIR/ag.bin with the C side's results
    run_tool "$TFS_BUILD/tests/test_autograd_gpt2" --torch "$BATS_TEST_TMPDIR"
    [ "$status" -eq 0 ]
}

@test "autograd: GPT-2 loss, every gradient and 5 AdamW steps match PyTorch (float64)" {
    requires python-torch numpy
    dump
    run_tool /usr/bin/python3 "$TFS_ROOT/tests/autograd/torch_gpt2.py" "$BATS_TEST_TMPDIR/ag.bin"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^ok  ' <<< "$output")" -eq 18 ]     # loss + 16 gradients + trajectory
    [[ $output != *FAIL* ]]
}

@test "autograd: the PyTorch comparison fails on a wrong gradient" {
    requires python-torch numpy
    dump
    # add 1e-3 (relative to the tensor's scale: far above tolerance) to one element of grad.qkvw
    /usr/bin/python3 - "$BATS_TEST_TMPDIR/ag.bin" <<'PY'
import struct, sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read())
name = b"grad.qkvw"; i = d.index(name) + len(name) + 12      # dtype, ndim, one dim
j = i + 4 * 17
(v,) = struct.unpack_from("<f", d, j)
struct.pack_into("<f", d, j, v + 1e-3)
open(p, "wb").write(d)
PY
    run_tool /usr/bin/python3 "$TFS_ROOT/tests/autograd/torch_gpt2.py" "$BATS_TEST_TMPDIR/ag.bin"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL grad.qkvw "* ]]
    [ "$(grep -c '^FAIL' <<< "$output")" -eq 1 ]
}

@test "autograd: a dump that is not one is refused by name" {
    requires python-torch numpy
    printf 'nothing' > "$BATS_TEST_TMPDIR/x.bin"
    run_tool /usr/bin/python3 "$TFS_ROOT/tests/autograd/torch_gpt2.py" "$BATS_TEST_TMPDIR/x.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == *"x.bin: not an autograd dump"* ]]
}
