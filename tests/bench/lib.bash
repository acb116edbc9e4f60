# tests/bench/lib.bash - helpers for the benchmark scripts (source it).
#   bench_corpus          build (once) and cache the benchmark corpus in
#                         $BENCH_OUT/corpus: corpus.{txt,jsonl} (94.7 MB) and
#                         corpus10m.{txt,jsonl}; the builder is
#                         tests/bench/make_corpus.sh (TFS_CORPUS_SCRIPT to
#                         use another)
#   bench_tokenizer_refs  the start of the tokenizer benchmarks (10, 11, 12):
#                         to the repository root, the corpus (bench_corpus),
#                         the npm references (tests/node/setup); sets REF
#                         (tests/node/ref.js, which runs them) and O
#                         ($BENCH_OUT)
#   measure OUT CMD...    run CMD, write {"seconds": wall, "max_rss_mb": peak,
#                         "cpu_seconds": user + system} to OUT (wall time
#                         to the microsecond from bash's EPOCHREALTIME:
#                         time(1)'s %e has 10 ms steps, 2% of a 0.5 s run)
#   best3 OUT CMD...      measure CMD three times (for tfs's short runs) and
#                         keep the least wall and the least CPU time: on a
#                         shared machine other processes only ever add
#   best_alternating OUT_A OUT_B A B [FILE_A FILE_B]
#                         for a ratio of two short runs (1 and 2 threads):
#                         the commands in the arrays named A and B, in turn,
#                         $BEST_RUNS times (5), each kept as best3 does.  In
#                         turn, a slow spell of the machine (a VM's neighbours)
#                         falls on both sides, not on all the runs of one.
#                         FILE_A, FILE_B: the commands' outputs, deleted
#                         before each run, untimed, so that each run writes a
#                         new file as a first run does.  Replacing a file
#                         frees the old one's blocks inside the rename, and
#                         on a file system mounted with `discard` (ext4 here)
#                         the rename then waits for the disk to trim them:
#                         10 to 20 ms for 66 MB of ids on the VM of the
#                         README, the file system's work, not the encoder's
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

bench_tokenizer_refs() {
    cd "$TFS_ROOT"
    bench_corpus
    tests/node/setup
    REF=tests/node/ref.js
    O=$BENCH_OUT
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

# keep_best OUT N: OUT.1 .. OUT.N (measure's) -> OUT, the least wall and CPU
# time, the largest peak memory, and every run's wall time
keep_best() {
    python3 - "$1" "$2" <<'PY'
import json, sys
o, n = sys.argv[1], int(sys.argv[2])
r = [json.load(open(f'{o}.{i}')) for i in range(1, n + 1)]
json.dump({'seconds': min(x['seconds'] for x in r), 'cpu_seconds': min(x['cpu_seconds'] for x in r),
           'max_rss_mb': max(x['max_rss_mb'] for x in r), 'runs': n,
           'all_seconds': [x['seconds'] for x in r]}, open(o, 'w'))
PY
    local i
    for ((i = 1; i <= $2; i++)); do rm -f "$1.$i"; done
}

best3() {
    local out=$1; shift
    local i
    for i in 1 2 3; do measure "$out.$i" "$@"; done
    keep_best "$out" 3
}

best_alternating() {
    local out_a=$1 out_b=$2 file_a=${5:-} file_b=${6:-}
    local -n cmd_a=$3 cmd_b=$4
    local n=${BEST_RUNS:-5} i
    for ((i = 1; i <= n; i++)); do
        [ -z "$file_a" ] || rm -f "$file_a"
        measure "$out_a.$i" "${cmd_a[@]}"
        [ -z "$file_b" ] || rm -f "$file_b"
        measure "$out_b.$i" "${cmd_b[@]}"
    done
    keep_best "$out_a" "$n"
    keep_best "$out_b" "$n"
}

jget() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

bench_cpu() {
    awk -F'\t*: ' '$1 == "model name" && !n { n = $2 } $1 == "cpu family" && !f { f = $2 }
        $1 == "model" && !m { m = $2 } END { printf "%s (family %s, model %s)", n, f, m }' /proc/cpuinfo
}
