#!/usr/bin/env bash
# 70-parity.sh - learning parity: whole training runs of tfs-train against
# the same runs written in PyTorch, on real English text.
#
#   tests/bench/70-parity.sh      (BUILD=build by default; make bench runs it)
#
# The one-step checks (tests/55-torch-reference.bats, 80-baseline.bats) say
# nothing about what only a whole run exercises: the data order, the
# learning-rate schedule, clipping, gradient accumulation and AdamW's
# moments over hundreds of steps.  Here, for each level (custom: GPT-2;
# baseline: Llama-style), tfs-train and its PyTorch twin
# (tests/bench/parity_torch.py) train the same small model
#   - from the same initial weights: tests/bench/parity_init writes the
#     model tfs-train starts from with the same seed, PyTorch loads it;
#   - on the same windows of the same token stream: the benchmark corpus
#     (tests/bench/make_corpus.sh; its first 4,000 documents for training,
#     its last 300 of the first 10 MB for validation) encoded with a
#     1024-token bpe-train vocabulary; PyTorch draws the window offsets
#     with its own copy of tfs's generator (xoshiro256**, seed + 1);
#   - with the same recipe: 2 layers, width 64, 4 heads, context 64,
#     micro-batches of 4 windows, 2 of them accumulated per step,
#     TFS_PARITY_STEPS steps (default 500), warmup 50 then cosine from 3e-3
#     to 3e-4, AdamW (0.9, 0.95, 1e-8, weight decay 0.1 on matrices and
#     embeddings), clipping at norm 1; validation every 50 steps on the
#     first 8 batches of the validation stream.
# Bounds (the script fails when one is not met): the training losses agree
# within 1% at every logged step, the final losses on the whole validation
# stream (tfs-eval; the same windows in PyTorch) within 0.5%.
#
# Then an equal wall-clock race, per level: TFS_PARITY_RACE_SECONDS each
# (default 10) of the same recipe, tfs-train stopped by SIGINT (its clock
# includes its start-up), PyTorch stopped by its own clock after a step
# (from its first step: the interpreter's start is not counted); the
# steps done and the validation loss reached.
#
# The shape can be changed for a longer study on a quiet machine:
# TFS_PARITY_LAYERS, _HEADS, _DIM, _CONTEXT, _BATCH, _ACCUM (defaults 2, 4,
# 64, 64, 4, 2), and the data, TFS_PARITY_DOCS and _VOCAB (4000, 1024: with
# other values, remove $BUILD/bench/parity/*.ids to rebuild them);
# TFS_PARITY_SEED (default 1) seeds the initialisation and the data order.
#
# Threads: TFS_PARITY_THREADS for both sides (default 1; the model is small
# and the machine may be shared), OMP_WAIT_POLICY=PASSIVE, and the same
# OpenMP OpenBLAS (PyTorch loads it through LD_LIBRARY_PATH).
# Writes $BUILD/bench/70-parity.json, the runs' logs in $BUILD/bench/parity/,
# and their comparison page (pipelines/compare.mk) in
# $BUILD/bench/parity/compare/: the picture README.md shows as
# assets/parity-curves.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BENCH_OUT=${BENCH_OUT:-$PWD/$BUILD/bench}   # lib.bash wants it when run alone
source tests/bench/lib.bash
out=$PWD/$BUILD/bench/parity
bin=$PWD/$BUILD/bin
init=$PWD/$BUILD/tests/bench/parity_init      # built by make (tests/bench/parity_init.c)
[ -x "$init" ] || { echo "70-parity: $init missing; run make first" >&2; exit 1; }
mkdir -p "$out"
steps=${TFS_PARITY_STEPS:-500}
race=${TFS_PARITY_RACE_SECONDS:-10}
threads=${TFS_PARITY_THREADS:-1}
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE
torch_run() { LD_LIBRARY_PATH=$BLAS_OMP /usr/bin/python3 tests/bench/parity_torch.py "$@"; }

# ---- data: real English, a small BPE ----
bench_corpus
if [ ! -s "$out/val.ids" ] || [ ! -s "$out/train.ids" ]; then
    head -n "${TFS_PARITY_DOCS:-4000}" "$CORPUS/corpus10m.jsonl" > "$out/train.jsonl"
    tail -n 300 "$CORPUS/corpus10m.jsonl" > "$out/val.jsonl"
    "$bin/bpe-train" -q --vocab-size "${TFS_PARITY_VOCAB:-1024}" -o "$out/tok.bin" "$out/train.jsonl"
    "$bin/bpe-encode" -q -o "$out/train.ids" "$out/tok.bin" "$out/train.jsonl"
    "$bin/bpe-encode" -q -o "$out/val.ids" "$out/tok.bin" "$out/val.jsonl"
fi
vocab=$("$bin/tok-stats" -q --summary "$out/val.ids" | sed -E 's/.*vocabulary ([0-9]+).*/\1/')

# ---- the recipe, once for both sides ----
L=${TFS_PARITY_LAYERS:-2} NH=${TFS_PARITY_HEADS:-4} C=${TFS_PARITY_DIM:-64} T=${TFS_PARITY_CONTEXT:-64}
B=${TFS_PARITY_BATCH:-4} ACCUM=${TFS_PARITY_ACCUM:-2} WARMUP=50 LR=3e-3 MIN_LR=3e-4 CLIP=1 WD=0.1 B1=0.9 B2=0.95 EPS=1e-8 SEED=${TFS_PARITY_SEED:-1}
EVERY=50 EVAL_BATCHES=8
tfs_recipe=(--layers $L --heads $NH --dim $C --context $T --batch $B --accum $ACCUM --warmup $WARMUP
            --lr $LR --min-lr $MIN_LR --decay cosine --clip $CLIP --weight-decay $WD --beta1 $B1
            --beta2 $B2 --eps $EPS --seed $SEED --eval-batches $EVAL_BATCHES --val "$out/val.ids"
            --threads "$threads" -q)
torch_recipe=(--batch $B --accum $ACCUM --warmup $WARMUP --lr $LR --min-lr $MIN_LR --clip $CLIP
              --weight-decay $WD --beta1 $B1 --beta2 $B2 --eps $EPS --seed $SEED
              --eval-batches $EVAL_BATCHES --threads "$threads")

for level in custom baseline; do
    "$init" $level $vocab $T $L $NH $C $SEED "$out/init-$level.safetensors"
    echo "70-parity: $level: tfs-train, $steps steps" >&2
    "$bin/tfs-train" --model $level "${tfs_recipe[@]}" --steps "$steps" --eval-every $EVERY \
        -o "$out/tfs-$level.safetensors" --log "$out/tfs-$level.jsonl" "$out/train.ids"
    "$bin/tfs-eval" -q "$out/tfs-$level.safetensors" "$out/val.ids" > "$out/tfs-$level.eval.json"
    echo "70-parity: $level: PyTorch, $steps steps" >&2
    torch_run $level "$out/init-$level.safetensors" "$out/train.ids" "$out/val.ids" "$out/torch-$level.jsonl" \
        "${torch_recipe[@]}" --steps "$steps" --eval-every $EVERY > "$out/torch-$level.json"
    # the comparison page reads the architecture from a checkpoint beside
    # the log: the twin's shape is the initial checkpoint's
    cp "$out/init-$level.safetensors" "$out/torch-$level.safetensors"

    echo "70-parity: $level: the race, $race s each" >&2
    rc=0
    timeout --foreground -s INT "$race" "$bin/tfs-train" --model $level "${tfs_recipe[@]}" --steps "$steps" \
        --eval-every 0 -o "$out/race-tfs-$level.safetensors" --log "$out/race-tfs-$level.jsonl" \
        "$out/train.ids" || rc=$?
    case $rc in 0|124|130) ;; *) echo "70-parity: tfs-train (race, $level) exited $rc" >&2; exit 1 ;; esac
    "$bin/tfs-eval" -q "$out/race-tfs-$level.safetensors" "$out/val.ids" > "$out/race-tfs-$level.eval.json"
    torch_run $level "$out/init-$level.safetensors" "$out/train.ids" "$out/val.ids" \
        "$out/race-torch-$level.jsonl" "${torch_recipe[@]}" --steps "$steps" --eval-every 0 \
        --seconds "$race" > "$out/race-torch-$level.json"
done

# ---- the curves: the first example of the comparison pipeline ----
rm -rf "$out/compare"
make --no-print-directory -f pipelines/compare.mk OUT="$out/compare" \
    RUNS="$out/tfs-custom.jsonl $out/torch-custom.jsonl $out/tfs-baseline.jsonl $out/torch-baseline.jsonl" >&2

SHAPE="$L $NH $C $T $B $ACCUM $vocab" CPU=$(bench_cpu) THREADS=$threads STEPS=$steps RACE=$race /usr/bin/python3 - "$out" "$BENCH_OUT/70-parity.json" <<'PY'
import json, os, statistics, sys
out, dest = sys.argv[1:3]
rows = lambda p: [json.loads(l) for l in open(os.path.join(out, p))]
res = {"cpu": os.environ["CPU"], "threads": int(os.environ["THREADS"]), "steps": int(os.environ["STEPS"]),
       "race_seconds": float(os.environ["RACE"]), "bounds": {"train_rel": 0.01, "final_val_rel": 0.005},
       "shape": dict(zip(("layers", "heads", "dim", "context", "batch", "accum", "vocab"),
                         map(int, os.environ["SHAPE"].split())))}
ok = True
for level in ("custom", "baseline"):
    a, b = rows(f"tfs-{level}.jsonl"), rows(f"torch-{level}.jsonl")
    assert [r["step"] for r in a] == [r["step"] for r in b], f"{level}: the logs have different steps"
    gaps = [(abs(x["loss"] - y["loss"]) / y["loss"], x["step"]) for x, y in zip(a, b)]
    worst, at = max(gaps)
    vgaps = [abs(x["val_loss"] - y["val_loss"]) / y["val_loss"] for x, y in zip(a, b) if "val_loss" in x]
    vt = json.load(open(os.path.join(out, f"tfs-{level}.eval.json")))["loss"]
    vp = json.load(open(os.path.join(out, f"torch-{level}.json")))["val_loss"]
    fgap = abs(vt - vp) / vp
    race = {}
    for side in ("tfs", "torch"):
        r = rows(f"race-{side}-{level}.jsonl")
        ev = json.load(open(os.path.join(out, f"race-{side}-{level}" + (".eval.json" if side == "tfs" else ".json"))))
        race[side] = {"steps": r[-1]["step"], "train_seconds": r[-1]["elapsed_s"],
                      "val_loss": round(ev["loss"] if side == "tfs" else ev["val_loss"], 6)}
    res[level] = {
        "logged_steps": len(a), "first_loss": {"tfs": a[0]["loss"], "torch": b[0]["loss"]},
        "max_train_rel_gap": worst, "at_step": at, "max_val_rel_gap": max(vgaps),
        "final_train_loss": {"tfs": a[-1]["loss"], "torch": b[-1]["loss"]},
        "final_val_loss": {"tfs": vt, "torch": round(vp, 6)}, "final_val_rel_gap": fgap,
        "tokens_per_s_median": {"tfs": statistics.median(r["tokens_per_s"] for r in a),
                                "torch": statistics.median(r["tokens_per_s"] for r in b)},
        "train_ok": worst <= 0.01, "val_ok": fgap <= 0.005, "race": race}
    ok = ok and worst <= 0.01 and fgap <= 0.005
res["ok"] = ok
with open(dest, "w") as f:
    json.dump(res, f, indent=1)
for level in ("custom", "baseline"):
    r = res[level]
    print(f"  {level:8s} {r['logged_steps']} steps: train loss gap max {r['max_train_rel_gap']:.2e} "
          f"(step {r['at_step']}; bound 1e-2), final validation tfs {r['final_val_loss']['tfs']:.4f} "
          f"PyTorch {r['final_val_loss']['torch']:.4f} (gap {r['final_val_rel_gap']:.2e}; bound 5e-3)")
    print(f"           tokens/s (median step, {res['threads']} thread(s)): tfs {r['tokens_per_s_median']['tfs']:.0f}, "
          f"PyTorch {r['tokens_per_s_median']['torch']:.0f}")
    t, p = r["race"]["tfs"], r["race"]["torch"]
    print(f"           race, {res['race_seconds']:g} s each: tfs {t['steps']} steps -> validation {t['val_loss']:.4f}, "
          f"PyTorch {p['steps']} steps -> {p['val_loss']:.4f}")
print(f"  curves: {out}/compare/compare.png; results: {dest}")
sys.exit(0 if ok else 1)
PY
