#!/usr/bin/env bash
# 16-hf-fetch-jobs.sh - hf-fetch -j 8 against -j 1 on a 32-file dataset
# served by the stand-in Hub (tests/fakehub.py) with 50 ms of latency on
# every request and a bandwidth cap of 1 MB/s per connection, the shape of
# a real network where one download at a time leaves the line idle.
# Both runs start from an empty cache; their outputs must be identical.
# Target (issue 17): -j 8 at least 5x the throughput of -j 1.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
BUILD=${BUILD:-build}
work=$(mktemp -d)
trap 'kill "$(cat "$work/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
repo="$work/hub/repos/bench/many/main/data"
mkdir -p "$repo"
# 32 JSON Lines files of about 256 kB, each of its own rows (no two alike)
python3 - "$repo" <<'PY'
import json, random, sys
r = random.Random(16)
words = "the a cat dog ran sat on mat big small red blue tree house sun moon".split()
for k in range(32):
    with open("%s/train-%05d-of-00032.jsonl" % (sys.argv[1], k), "w") as f:
        n = 0
        while n < 256000:
            line = json.dumps({"text": " ".join(r.choice(words) for _ in range(40)), "id": k * 100000 + n}) + "\n"
            f.write(line); n += len(line)
PY
latency=0.05 rate=1000000
python3 "$TFS_ROOT/tests/fakehub.py" "$work/hub" --port-file "$work/ports" --latency $latency --rate $rate &
echo $! > "$work/pid"
for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.05; done
read -r hub_port _ < "$work/ports"
export HF_ENDPOINT="http://127.0.0.1:$hub_port"
unset HF_HUB_CACHE HF_TOKEN HF_HUB_OFFLINE

run_jobs() {    # run_jobs N: wall seconds of an empty-cache run, output in $work/out.N
    export HF_HOME="$work/hf.$1"
    local t0 t1
    t0=$(date +%s.%N)
    "$BUILD/bin/hf-fetch" -q -j "$1" bench/many > "$work/out.$1"
    t1=$(date +%s.%N)
    python3 -c "print(round($t1 - $t0, 3))"
}
s1=$(run_jobs 1)
s8=$(run_jobs 8)
identical=false
cmp -s "$work/out.1" "$work/out.8" && identical=true
mb=$(du -sb "$repo" | awk '{print $1 / 1e6}')
python3 - "$BENCH_OUT/hf-fetch-jobs.json" "$s1" "$s8" "$identical" "$mb" "$latency" "$rate" "$(bench_cpu)" <<'PY'
import json, sys
path, s1, s8, identical, mb, latency, rate, cpu = sys.argv[1:9]
s1, s8, mb = float(s1), float(s8), float(mb)
r = {
    "benchmark": "hf-fetch -j 8 vs -j 1: 32 files, stand-in Hub with latency and a per-connection bandwidth cap",
    "cpu": cpu, "files": 32, "mb": round(mb, 2), "latency_s": float(latency), "rate_bytes_per_s": int(rate),
    "j1": {"seconds": s1, "mb_per_s": round(mb / s1, 2)},
    "j8": {"seconds": s8, "mb_per_s": round(mb / s8, 2)},
    "speedup": round(s1 / s8, 2), "identical_output": identical == "true",
    "target": {"speedup": 5},
}
r["meets_target"] = r["speedup"] >= 5 and r["identical_output"]
json.dump(r, open(path, "w"), indent=2)
print("bench hf-fetch -j: %.1f MB in 32 files, %g s latency, %d B/s per connection: -j 1 %.2f s, -j 8 %.2f s, "
      "%.1fx, output identical: %s -> %s" % (mb, float(latency), int(rate), s1, s8, r["speedup"], identical, path))
PY
