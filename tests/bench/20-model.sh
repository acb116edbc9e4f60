#!/usr/bin/env bash
# tests/bench/20-model.sh - training speed of the custom model (lib/gpt2/gpt2.c)
# against the same GPT-2 in PyTorch, side by side in one run.
#
#   BUILD=build tests/bench/20-model.sh        (also run by `make bench`)
#
# Measures, with the same number of threads T (THREADS, default nproc):
#   - the machine's fp32 GEMM rate: OpenBLAS sgemm 2048^3, the median of 5,
#     measured before and after each round, the best kept;
#   - training tokens/s (median step of forward + backward + clipping +
#     AdamW, after 2 warm-up steps) of the custom model and of PyTorch, on
#       tiny:  the demo's model, assets/configs/tiny (4 layers, 4 heads,
#              width 128, context 128, vocab 1024), batch 16 x 128;
#       124M:  GPT-2 small (12/12/768, vocab 50,257 padded to 50,304,
#              context 1024), batch 4 x 64;
#   - model FLOP/s = tokens/s * (6 N + 12 L T C) (N parameters without the
#     position table; nanoGPT's estimate, gpt2.h) and MFU = that / sgemm rate.
# The custom model runs twice per round: with libgomp's default wait policy
# (threads spin a while at barriers) and with OMP_WAIT_POLICY=PASSIVE, the
# setting PyTorch gets (its own spinning threads otherwise fight OpenBLAS's).
# PyTorch loads OpenBLAS's OpenMP build (LD_LIBRARY_PATH), its fastest set-up
# here.  ROUNDS rounds (default 2) alternate the contenders; the best median
# of each is kept, since a shared machine only ever makes things slower.
# Results: $BUILD/bench/model.json; a table with the ratios on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-2}
drv=$BUILD/tests/bench/model_bench
out=$BUILD/bench
[ -x "$drv" ] || { echo "20-model.sh: $drv is missing: run 'make BUILD=$BUILD' first" >&2; exit 1; }
mkdir -p "$out"
blas_omp=/usr/lib/$(cc -print-multiarch)/openblas-openmp
have_torch=1
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || have_torch=0

# name  vocab context layers heads dim  batch seq  steps
configs=(
    "tiny 1024 128 4 4 128 16 128 10"
    "gpt2-124m 50304 1024 12 12 768 4 64 4"
)

best() {   # best <file> <json>: keep the JSON line with the highest tokens_per_s
    local f=$1 new=$2
    if [ ! -s "$f" ] || [ "$(jq -n --argjson a "$(cat "$f")" --argjson b "$new" '$b.tokens_per_s > $a.tokens_per_s')" = true ]; then
        printf '%s\n' "$new" > "$f"
    fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "20-model.sh: $THREADS threads, $ROUNDS rounds" >&2
for r in $(seq "$ROUNDS"); do
    best "$tmp/sgemm" "$(OMP_NUM_THREADS=$THREADS "$drv" sgemm 2048 5)"
    best "$tmp/sgemm" "$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS "$drv" sgemm 2048 5)"
    for c in "${configs[@]}"; do
        set -- $c
        name=$1; shift
        args=("$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8")
        echo "20-model.sh: round $r: $name" >&2
        best "$tmp/$name.c" "$(OMP_NUM_THREADS=$THREADS "$drv" train "${args[@]}")"
        best "$tmp/$name.c-passive" "$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS "$drv" train "${args[@]}")"
        if [ $have_torch = 1 ]; then
            best "$tmp/$name.torch" "$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$THREADS LD_LIBRARY_PATH=$blas_omp \
                /usr/bin/python3 tests/bench/torch_train.py "${args[@]}" "$THREADS")"
        fi
    done
    best "$tmp/sgemm" "$(OMP_NUM_THREADS=$THREADS "$drv" sgemm 2048 5)"
done

# Assemble the JSON and the table.
json=$(jq -n --argjson sgemm "$(cat "$tmp/sgemm")" --argjson threads "$THREADS" \
    '{threads: $threads, sgemm: $sgemm, flops_formula: "tokens/s * (6 N + 12 L T C), N = parameters without wpe", models: {}}')
for c in "${configs[@]}"; do
    name=${c%% *}
    entry=$(jq -n --argjson c "$(cat "$tmp/$name.c")" --argjson p "$(cat "$tmp/$name.c-passive")" \
        --argjson peak "$(jq .gflops "$tmp/sgemm")" \
        '{custom: ($c + {mfu: ($c.gflops / $peak)}), custom_passive: ($p + {mfu: ($p.gflops / $peak)})}')
    if [ -s "$tmp/$name.torch" ]; then
        entry=$(jq --argjson t "$(cat "$tmp/$name.torch")" --argjson peak "$(jq .gflops "$tmp/sgemm")" \
            '. + {torch: ($t + {mfu: ($t.gflops / $peak)}),
                  ratio_custom_over_torch: (.custom.tokens_per_s / $t.tokens_per_s),
                  ratio_custom_passive_over_torch: (.custom_passive.tokens_per_s / $t.tokens_per_s)}' <<< "$entry")
    fi
    json=$(jq --arg n "$name" --argjson e "$entry" '.models[$n] = $e' <<< "$json")
done
printf '%s\n' "$json" > "$out/model.json"

jq -r '"sgemm 2048^3: \(.sgemm.gflops) GFLOP/s on \(.threads) threads (OpenBLAS kernel \(.sgemm.kernel))",
    (.models | to_entries[] | .key as $k | .value as $v |
      ("\($k): custom \($v.custom.tokens_per_s) tok/s (MFU \($v.custom.mfu * 100 | floor)%), " +
       "custom PASSIVE \($v.custom_passive.tokens_per_s) tok/s (MFU \($v.custom_passive.mfu * 100 | floor)%)" +
       (if $v.torch then ", PyTorch \($v.torch.tokens_per_s) tok/s (MFU \($v.torch.mfu * 100 | floor)%); " +
          "ratio custom/PyTorch \($v.ratio_custom_over_torch * 100 | round / 100), " +
          "PASSIVE/PyTorch \($v.ratio_custom_passive_over_torch * 100 | round / 100)"
        else " (PyTorch not installed)" end)))' "$out/model.json"
echo "20-model.sh: wrote $out/model.json" >&2
