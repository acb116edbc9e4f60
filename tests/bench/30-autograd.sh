#!/usr/bin/env bash
# tests/bench/30-autograd.sh - training throughput of the autograd level
# (lib/autograd/ag_gpt2.c) next to the custom level (lib/gpt2/gpt2.c): same model, same
# weights, same batch, steps interleaved so both see the same machine load
# (driver: tests/bench/autograd_bench.c).
#
#   tests/bench/30-autograd.sh            (run by `make bench`, or by hand)
#
# Environment: BUILD (default build), OMP_NUM_THREADS (default: all cores),
# TFS_BENCH_AUTOGRAD="V CTX L NH C B T STEPS" (default: the "tiny" model of
# 20-model.sh, the demo's: 4 layers, 4 heads, width 128, context 128,
# vocabulary 1024, batch 16 x 128, 5 steps).  Writes
# $BENCH_OUT/30-autograd.json (default $BUILD/bench) and prints one summary
# line.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
drv=$BUILD/tests/bench/autograd_bench
[ -x "$drv" ] || { echo "30-autograd.sh: $drv is missing; run make first" >&2; exit 1; }
out=${BENCH_OUT:-$BUILD/bench}
mkdir -p "$out"
# shellcheck disable=SC2086
"$drv" ${TFS_BENCH_AUTOGRAD:-1024 128 4 4 128 16 128 5} > "$out/30-autograd.json"
/usr/bin/python3 - "$out/30-autograd.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c, a = r["custom"], r["autograd"]
print(f"30-autograd: L={r['layers']} C={r['dim']} V={r['vocab']} B={r['batch']} T={r['seq']}, "
      f"{r['threads']} thread(s): custom {c['tokens_per_s']:.0f} tok/s, autograd {a['tokens_per_s']:.0f} tok/s "
      f"= {r['autograd_over_custom']:.2f}x (by CPU time {r['autograd_over_custom_cpu']:.2f}x); "
      f"forward {a['forward_ms']:.0f} vs {c['forward_ms']:.0f} ms, backward {a['backward_ms']:.0f} vs "
      f"{c['backward_ms']:.0f} ms; arena {r['arena_bytes'] / 2**20:.0f} MiB")
PY
