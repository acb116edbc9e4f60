#!/usr/bin/env bash
# 60-quality.sh - model quality at equal wall-clock time: the custom level
# (GPT-2) and the baseline (Llama-style) of about the same parameter count,
# trained side by side on the default data for the same number of seconds,
# then scored on the same validation stream by tfs-eval.
#
#   tests/bench/60-quality.sh     (BUILD=build; TFS_QUALITY_SECONDS, default 90;
#                                  TFS_QUALITY_TOKENS, default 400K)
#
# A second pair of runs gives both models the same token budget instead
# (--tokens, a whole cosine schedule each) and reports loss and time.
#
# Both runs: 4 layers, 4 heads, width 128, context 128, batch 16, the same
# learning-rate schedule (warmup 100 steps, then constant 3e-3), validation
# every 50 steps on the same 8 batches.  Each run is stopped by SIGINT after
# the time budget (tfs-train saves its checkpoint and exits 130; timeout
# itself then reports 124; --foreground, or timeout would signal the whole
# process group too, and a second SIGINT makes tfs-train quit unsaved).  Writes
# $BUILD/bench/60-quality.json, the two metric logs and a PNG of the two
# validation curves against seconds and against model FLOPs (gnuplot).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out=$PWD/$BUILD/bench/quality
mkdir -p "$out"
bin=$PWD/$BUILD/bin
secs=${TFS_QUALITY_SECONDS:-90}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# Data: a 1024-token BPE of the default stories (what tok-stats recommends).
if [ ! -s "$out/val.ids" ]; then
    "$bin/bpe-train" -q --vocab-size 1024 -o "$out/tok.bin" assets/stories-train.jsonl.zst
    "$bin/bpe-encode" "$out/tok.bin" assets/stories-train.jsonl.zst > "$out/train.ids"
    "$bin/bpe-encode" "$out/tok.bin" assets/stories-val.jsonl.zst > "$out/val.ids"
fi

common=(--layers 4 --heads 4 --dim 128 --context 128 --batch 16 --steps 1000000 --warmup 100
        --decay constant --lr 3e-3 --eval-every 50 --eval-batches 8 --val "$out/val.ids" --seed 1 -q)
for level in custom baseline; do
    rm -f "$out/$level.jsonl" "$out/$level.safetensors"
    echo "60-quality: training $level for $secs s" >&2
    rc=0
    timeout --foreground -s INT "$secs" "$bin/tfs-train" "${common[@]}" --model "$level" \
        -o "$out/$level.safetensors" --log "$out/$level.jsonl" "$out/train.ids" || rc=$?
    case $rc in 0|124|130) ;; *) false ;; esac || { echo "60-quality: tfs-train --model $level exited $rc" >&2; exit 1; }
    "$bin/tfs-eval" "$out/$level.safetensors" "$out/val.ids" > "$out/$level.eval.json"
done

for level in custom baseline; do
    echo "60-quality: training $level on a budget of ${TFS_QUALITY_TOKENS:-400K} tokens" >&2
    "$bin/tfs-train" --layers 4 --heads 4 --dim 128 --context 128 --batch 16 --warmup 20 --lr 3e-3 \
        --tokens "${TFS_QUALITY_TOKENS:-400K}" --eval-every 0 --val "$out/val.ids" --seed 1 -q \
        --model "$level" -o "$out/$level.budget.safetensors" --log "$out/$level.budget.jsonl" "$out/train.ids"
    "$bin/tfs-eval" "$out/$level.budget.safetensors" "$out/val.ids" > "$out/$level.budget.eval.json"
done

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
res = {}
for level in ("custom", "baseline"):
    rows = [json.loads(l) for l in open(f"{out}/{level}.jsonl")]
    ev = json.load(open(f"{out}/{level}.eval.json"))
    res[level] = {"steps": rows[-1]["step"], "seconds": rows[-1]["elapsed_s"],
                  "tokens": rows[-1]["tokens"], "flops": rows[-1]["flops"], "val_loss": ev["loss"]}
    with open(f"{out}/{level}.val.dat", "w") as f:
        for r in rows:
            if "val_loss" in r:
                f.write(f'{r["elapsed_s"]} {r["flops"]} {r["val_loss"]}\n')
res["baseline_minus_custom"] = res["baseline"]["val_loss"] - res["custom"]["val_loss"]
budget = {}
for level in ("custom", "baseline"):
    rows = [json.loads(l) for l in open(f"{out}/{level}.budget.jsonl")]
    ev = json.load(open(f"{out}/{level}.budget.eval.json"))
    budget[level] = {"tokens": rows[-1]["tokens"], "seconds": rows[-1]["elapsed_s"], "val_loss": ev["loss"]}
res["token_budget"] = budget
json.dump(res, open(f"{out}/../60-quality.json", "w"), indent=1)
for level in ("custom", "baseline"):
    r = res[level]
    print(f'  {level:9s} {r["steps"]:6d} steps in {r["seconds"]:.0f} s, {r["tokens"]} tokens: validation loss {r["val_loss"]:.4f}')
print(f'  baseline - custom: {res["baseline_minus_custom"]:+.4f} nats (lower is better for the baseline)')
for level in ("custom", "baseline"):
    r = budget[level]
    print(f'  same token budget: {level:9s} {r["tokens"]} tokens in {r["seconds"]:.0f} s: validation loss {r["val_loss"]:.4f}')
PY
if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal pngcairo size 1100,420
set output "$out/curves.png"
set multiplot layout 1,2 title "validation loss at equal wall-clock time (default data)"
set xlabel "seconds"; set ylabel "validation loss (nats)"; set grid
plot "$out/custom.val.dat" using 1:3 with linespoints title "custom (GPT-2)", \
     "$out/baseline.val.dat" using 1:3 with linespoints title "baseline (Llama-style)"
set xlabel "model FLOPs"; set logscale x
plot "$out/custom.val.dat" using 2:3 with linespoints title "custom (GPT-2)", \
     "$out/baseline.val.dat" using 2:3 with linespoints title "baseline (Llama-style)"
unset multiplot
GP
    echo "  curves: $out/curves.png"
fi
