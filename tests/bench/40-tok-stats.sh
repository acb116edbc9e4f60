#!/usr/bin/env bash
# tests/bench/40-tok-stats.sh - how fast tok-stats counts a token stream
# (target: more than 200 M tokens/s on one core), with numpy's bincount on
# the same file as the reference, and how fast it reads text.
#
#   make bench                                  (all benchmarks), or
#   BUILD=build tests/bench/40-tok-stats.sh     -> $BENCH_OUT/tok-stats.json
#
# Tokens: a synthetic stream of TOKENS ids (default 200 M, 400 MB) drawn
# from a Zipf law over VOCAB ids (default 8192) -- frequent repeats, as in
# real text, which is what slows a naive histogram loop -- counted REPEAT
# times (default 3), best run kept:
#   count_tokens_per_s   tok-stats' counting loop alone (its own timer)
#   wall_tokens_per_s    the whole program: open, map, validate, count, report
#   numpy_tokens_per_s   numpy.bincount over the ids already in memory
# Text: tok-stats (text statistics and gpt2 pre-tokens, no tokenizer) on the
# 10 MB benchmark corpus (tests/bench/make_corpus.sh) when it can be built,
# else the default data.
# Everything on one core (OMP_NUM_THREADS=1).  Wall-clock rates suffer when
# other work shares the machine; the text rate is also given per CPU second.
set -euo pipefail
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
export BENCH_OUT=${BENCH_OUT:-$PWD/$BUILD/bench}
mkdir -p "$BENCH_OUT"
source tests/bench/lib.bash
TOKENS=${TOKENS:-200000000}
VOCAB=${VOCAB:-8192}
REPEAT=${REPEAT:-3}
BIN=$PWD/$BUILD/bin/tok-stats
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "40-tok-stats.sh: $BIN is not built (run make)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfs-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1

echo "tok-stats: counting $TOKENS tokens (vocabulary $VOCAB, Zipf), best of $REPEAT"
"$PY" - "$tmp/z.bin" "$TOKENS" "$VOCAB" <<'PYEOF'
import numpy as np, struct, sys
path, n, V = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
with open(path, 'wb') as f:
    f.write(struct.pack('<256I', *([20240520, 1, n if n < 2**31 else 0, V, 0, 0] + [0] * 250)))
    left = n
    while left:                     # in slices, so memory stays small
        k = min(left, 10_000_000)
        f.write(np.minimum(rng.zipf(1.2, k) - 1, V - 1).astype('<u2').tobytes())
        left -= k
PYEOF

best_count=0 best_wall=0
for _ in $(seq "$REPEAT"); do
    t0=$(date +%s.%N)
    "$BIN" -q --json -n 0 "$tmp/z.bin" > "$tmp/r.json"
    t1=$(date +%s.%N)
    read -r best_count best_wall < <("$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))["tokens"]
wall = j["tokens"] / (float(sys.argv[3]) - float(sys.argv[2]))
print(max(float(sys.argv[4]), j["tokens_per_second"]), max(float(sys.argv[5]), wall))' \
        "$tmp/r.json" "$t0" "$t1" "$best_count" "$best_wall")
done

# the reference: numpy's bincount over the same ids, in memory
numpy_rate=$("$PY" - "$tmp/z.bin" "$VOCAB" "$REPEAT" <<'PYEOF'
import numpy as np, sys, time
ids = np.fromfile(sys.argv[1], dtype='<u2', offset=1024)
best = 0
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); np.bincount(ids, minlength=int(sys.argv[2])); t = time.perf_counter() - t
    best = max(best, len(ids) / t)
print(best)
PYEOF
)

# text
if bench_corpus 2>/dev/null; then text=$CORPUS/corpus10m.jsonl; else text=assets/stories-train.jsonl.zst; fi
echo "tok-stats: text statistics and pre-tokens of $text"
# wall and CPU seconds: on a shared machine the two differ a lot
/usr/bin/time -f '{"seconds": %e, "cpu_seconds": %U}' -o "$tmp/m.json" "$BIN" -q --json -n 0 "$text" > "$tmp/t.json"

"$PY" - "$BENCH_OUT/tok-stats.json" "$TOKENS" "$VOCAB" "$best_count" "$best_wall" "$numpy_rate" \
    "$tmp/t.json" "$tmp/m.json" "$text" <<'PYEOF'
import json, sys
out, n, V, count, wall, npr, tj, mj, text = sys.argv[1:]
tb = json.load(open(tj))["text"]["bytes"]
m = json.load(open(mj))
secs, cpu = m["seconds"], m["cpu_seconds"]
r = {
    "bench": "tok-stats", "threads": 1,
    "tokens": int(n), "vocab": int(V),
    "count_tokens_per_s": float(count),
    "wall_tokens_per_s": float(wall),
    "numpy_tokens_per_s": float(npr),
    "count_vs_numpy": float(count) / float(npr),
    "target_count_tokens_per_s": 2e8,
    "count_meets_target": float(count) > 2e8,
    "text_input": text, "text_bytes": tb, "text_seconds": secs,
    "text_bytes_per_s": tb / secs if secs > 0 else None,
    "text_cpu_seconds": cpu,
    "text_bytes_per_cpu_s": tb / cpu if cpu > 0 else None,
}
json.dump(r, open(out, "w"), indent=2)
print(f"counting: {float(count)/1e6:.0f} M tokens/s (loop), {float(wall)/1e6:.0f} M tokens/s (whole program), "
      f"numpy bincount {float(npr)/1e6:.0f} M tokens/s: x{r['count_vs_numpy']:.1f}; "
      f"target 200 M: {'met' if r['count_meets_target'] else 'NOT met'}")
print(f"text: {tb/1e6:.1f} MB in {secs:.2f} s = {r['text_bytes_per_s']/1e6:.1f} MB/s "
      f"({cpu:.2f} s of CPU: {r['text_bytes_per_cpu_s']/1e6:.1f} MB/s)")
PYEOF
