#!/usr/bin/env bats
# 56-isa: the SSE2, AVX2 and AVX-512 builds of the kernels' loops
# (lib/kernels/isa.h, TFS_ISA in tfs(7)).  Every exactness check runs at
# each level this CPU has; training gives the same losses at each level up
# to rounding, and the same bits twice at one level.

load helper

setup_file() {
    local d=$BATS_FILE_TMPDIR
    stories_bytes train 300 > "$d/train.bin"
}

setup() {
    D=$BATS_FILE_TMPDIR
    T=$BATS_TEST_TMPDIR
}

# The levels this CPU runs, from /proc/cpuinfo (an independent reading of
# the CPU: the programs use CPUID).
levels() {
    local f=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
    echo sse2
    [[ $f == *" avx2 "* && $f == *" fma "* ]] || return 0
    echo avx2
    [[ $f == *" avx512f "* && $f == *" avx512bw "* && $f == *" avx512dq "* && $f == *" avx512vl "* ]] && echo avx512
    return 0
}

SMALL="--layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 --steps 8 --log-every 1"

@test "isa: the library holds the three builds of each kernel" {
    run nm "$TFS_BUILD/libtfs.a"
    for f in layernorm_forward attention_tiled_backward crossentropy_chunked_backward adamw_step swiglu_backward; do
        [[ $output == *" T $f"$'\n'* ]]
        [[ $output == *" T ${f}_avx2"$'\n'* ]]
        [[ $output == *" T ${f}_avx512"$'\n'* ]]
    done
}

@test "isa: the finite-difference and reference checks pass at every level this CPU runs" {
    # on the sanitizer build, the units' smaller samples (as `make check` runs them there)
    [[ $TFS_BUILD == */asan ]] && export TFS_ASAN=1
    for isa in $(levels); do
        for t in test_ops test_gpt2 test_llama_ops test_llama test_autograd_ops; do
            run_tool env TFS_ISA=$isa "$TFS_BUILD/tests/$t"
            [ "$status" -eq 0 ]
            [[ $output == *" passed, 0 failed"* ]]
        done
    done
}

@test "isa: the custom level matches PyTorch at every level this CPU runs" {
    requires python-torch numpy
    for isa in $(levels); do
        run_tool env TFS_ISA=$isa "$TFS_BUILD/tests/torch/gpt2_dump" "$T"
        [ "$status" -eq 0 ]
        run_tool /usr/bin/python3 "$TFS_ROOT/tests/torch/gpt2_reference.py" "$T"
        [ "$status" -eq 0 ]
        [[ $output == *"match PyTorch (rel <= 0.0001)" ]]
    done
}

@test "isa: training repeats bit for bit at one level and agrees across levels to rounding" {
    for isa in $(levels); do
        TFS_ISA=$isa tfs-train $SMALL -q -o "$T/$isa.st" --log "$T/$isa.jsonl" "$D/train.bin"
    done
    # the same level twice: the same bits
    isa=$(levels | tail -1)
    TFS_ISA=$isa tfs-train $SMALL -q -o "$T/again.st" --log "$T/again.jsonl" "$D/train.bin"
    "$TFS_ROOT/tests/tools/st-compare" "$T/$isa.st" "$T/again.st"
    # another level really ran other code: sums over more lanes round
    # differently (not on the sanitizer build: at -O1 nothing is vectorized,
    # so every level computes the same sums in the same order)
    if [ "$isa" != sse2 ] && [[ $TFS_BUILD != */asan ]]; then
        run "$TFS_ROOT/tests/tools/st-compare" "$T/$isa.st" "$T/sse2.st"
        [ "$status" -eq 1 ]
    fi
    # every level against sse2: each step's loss within 1e-4 relative
    for isa in $(levels); do
        run_tool /usr/bin/python3 -c '
import json, sys
a = [json.loads(l)["loss"] for l in open(sys.argv[1]) if "\"loss\"" in l]
b = [json.loads(l)["loss"] for l in open(sys.argv[2]) if "\"loss\"" in l]
assert len(a) == len(b) == 8, (len(a), len(b))
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
print("max relative loss difference %.3g" % worst)
sys.exit(worst > 1e-4)' "$T/$isa.jsonl" "$T/sse2.jsonl"
        [ "$status" -eq 0 ]
    done
}

@test "isa: --verbose names the level; TFS_ISA chooses it" {
    top=$(levels | tail -1)
    run_tool env -u TFS_ISA tfs-train $SMALL --steps 1 --verbose -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: vector kernels: $top (the widest this CPU runs; TFS_ISA=sse2|avx2|avx512 chooses)"* ]]
    run_tool env TFS_ISA=sse2 tfs-train $SMALL --steps 1 --verbose -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: vector kernels: sse2 (TFS_ISA; TFS_ISA=sse2|avx2|avx512 chooses)"* ]]
    # not without --verbose
    run_tool env TFS_ISA=sse2 tfs-train $SMALL --steps 1 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [[ $stderr != *"vector kernels"* ]]
}

@test "isa: a bad TFS_ISA is a usage error, before any input is read" {
    size=$(stat -c %s "$D/train.bin")
    run_tool bash -c "TFS_ISA=avx9000 tfs-train $SMALL -o '$T/m.st' - 2>'$T/err'; echo \$? \$(wc -c)" < "$D/train.bin"
    [ "$output" = "2 $size" ]
    [[ $(cat "$T/err") == "tfs-train: TFS_ISA=avx9000 is not sse2, avx2, avx512 or auto (this CPU runs up to "*")" ]]
    [ ! -e "$T/m.st" ]
    run_tool env TFS_ISA=bogus tfs-eval "$T/m.st"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: TFS_ISA=bogus is not sse2, avx2, avx512 or auto"* ]]
    if [ "$(levels | tail -1)" != avx512 ]; then
        run_tool env TFS_ISA=avx512 tfs-train $SMALL -o "$T/m.st" "$D/train.bin"
        [ "$status" -eq 2 ]
        [[ $stderr == *"TFS_ISA=avx512 needs instructions this CPU lacks"* ]]
    fi
}
