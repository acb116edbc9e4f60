# tests/bench/lib.bash - helpers for the benchmark scripts (source it).
#   bench_corpus          build (once) and cache the benchmark corpus in
#                         $BENCH_OUT/corpus: corpus.{txt,jsonl} (94.7 MB) and
#                         corpus10m.{txt,jsonl}; the builder is
#                         tests/bench/make_corpus.sh (TFS_CORPUS_SCRIPT to
#                         use another)
#   measure OUT CMD...    run CMD, write {"seconds": wall, "max_rss_mb": peak,
#                         "cpu_seconds": user + system} to OUT (wall time
#                         to the microsecond from bash's EPOCHREALTIME:
#                         time(1)'s %e has 10 ms steps, 2% of a 0.5 s run)
#   best3 OUT CMD...      measure CMD three times (for tfs's short runs) and
#                         keep the least wall and the least CPU time: on a
#                         shared machine other processes only ever add
#   jget FILE KEY         a number from a flat JSON object
#   bench_cpu             the CPU: its model name, and family/model numbers
#                         (AMD family 25 = Zen 3), as the JSON records it
#   BLAS_OMP              the folder of Debian's OpenMP OpenBLAS, the build tfs
#                         links: the PyTorch references load it through
#                         LD_LIBRARY_PATH, so both sides run the same library
: "${BENCH_OUT:?run through tests/bench/run}"
TFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CORPUS="$BENCH_OUT/corpus"
BLAS_OMP=/usr/lib/$(cc -print-multiarch)/openblas-openmp

bench_corpus() {
    [ -s "$CORPUS/corpus.jsonl" ] && [ -s "$CORPUS/corpus10m.jsonl" ] && return 0
    local script=${TFS_CORPUS_SCRIPT:-$TFS_ROOT/tests/bench/make_corpus.sh}
    [ -x "$script" ] || { echo "bench: corpus builder $script not found (set TFS_CORPUS_SCRIPT)" >&2; return 1; }
    "$script" "$CORPUS" >&2
}

measure() {
    local out=$1; shift
    local t; t=$(mktemp)
    local start=$EPOCHREALTIME
    /usr/bin/time -f '%M %U %S' -o "$t" "$@" >/dev/null
    local end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" '{ printf "{\"seconds\": %.4f, \"max_rss_mb\": %.1f, \"cpu_seconds\": %.2f}\n", e - s, $1 / 1024, $2 + $3 }' "$t" > "$out"
    rm -f "$t"
}

best3() {
    local out=$1; shift
    for i in 1 2 3; do measure "$out.$i" "$@"; done
    python3 - "$out" <<'PY'
import json, sys
o = sys.argv[1]
r = [json.load(open(f'{o}.{i}')) for i in (1, 2, 3)]
json.dump({'seconds': min(x['seconds'] for x in r), 'cpu_seconds': min(x['cpu_seconds'] for x in r),
           'max_rss_mb': max(x['max_rss_mb'] for x in r), 'runs': 3}, open(o, 'w'))
PY
    rm -f "$out".[123]
}

jget() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

bench_cpu() {
    awk -F'\t*: ' '$1 == "model name" && !n { n = $2 } $1 == "cpu family" && !f { f = $2 }
        $1 == "model" && !m { m = $2 } END { printf "%s (family %s, model %s)", n, f, m }' /proc/cpuinfo
}
