# tests/helper.bash - shared setup for every bats suite (load it with
# `load helper`).  Programs run from the build directory ($TFS_BUILD/bin is
# first on PATH, set by tests/run-all).
#
#   run_tool PROG ARGS...   run PROG; the command line and status are echoed
#                           to stderr, which bats shows only on failure
#   requires THING...       skip unless THING is available (an unknown THING
#                           is a bug in the test, not a skip)
#   cli_contract PROG       the checks every program gets for free: --help on
#                           stdout with exit 0, an unknown option named on
#                           stderr with exit 2, every --help option in the
#                           man page, and the man page's OPTIONS in --help
#   fixture NAME            path of tests/fixtures/NAME
#   cpu_core                the OpenBLAS core tfs(7)'s rule picks for this
#                           CPU, from /proc/cpuinfo (tests/tools/cpu-core)
#   own_core                the core OpenBLAS picks by itself here
#   other_core              a core this CPU runs that OpenBLAS did not pick
#
# TFS_BLAS_CORE=keep for every suite: on a CPU that OpenBLAS does not know,
# tfs-train and tfs-eval would otherwise switch core and say so on stderr,
# which tests that compare stderr do not expect.  The switch has its own
# tests (the last ones of 50-tfs-train.bats and 60-tfs-eval.bats), which
# set TFS_BLAS_CORE themselves.

TFS_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
TFS_BUILD=${TFS_BUILD:-$TFS_ROOT/build}
export PATH="$TFS_BUILD/bin:$PATH"
export TFS_ASSETS="$TFS_ROOT/assets"
export TFS_BLAS_CORE=keep
bats_require_minimum_version 1.5.0

run_tool() {
    echo "\$ $*" >&2
    run --separate-stderr "$@"
    echo "status=$status" >&2
    echo "stdout: $output" >&2
    echo "stderr: $stderr" >&2
}

fixture() { echo "$TFS_ROOT/tests/fixtures/$1"; }

requires() {
    local t
    for t in "$@"; do
        case $t in
        python-torch) /usr/bin/python3 -c 'import torch' 2>/dev/null || skip "python3-torch is not installed" ;;
        numpy) /usr/bin/python3 -c 'import numpy' 2>/dev/null || skip "python3-numpy is not installed" ;;
        node) command -v node >/dev/null || skip "node is not installed" ;;
        gnuplot) command -v gnuplot >/dev/null || skip "gnuplot is not installed" ;;
        valgrind) command -v valgrind >/dev/null || skip "valgrind is not installed" ;;
        script) command -v script >/dev/null || skip "script(1) is not installed" ;;
        jq) command -v jq >/dev/null || skip "jq is not installed" ;;
        mpirun) command -v mpirun >/dev/null || skip "mpirun (openmpi-bin) is not installed" ;;
        *) echo "requires: unknown requirement '$t'" >&2; return 1 ;;
        esac
    done
}

# stories_bytes SPLIT DOCS [OPTION...] - the first DOCS stories of the
# bundled SPLIT (train or val) as a byte-level token stream (one token per
# byte, tests/tools/bytes-stream; OPTIONs go to it) on stdout: model tests'
# data without training a tokenizer first.
stories_bytes() {
    local split=$1 docs=$2
    shift 2
    zstd -dc "$TFS_ROOT/assets/stories-$split.jsonl.zst" | "$TFS_ROOT/tests/tools/bytes-stream" --docs "$docs" "$@"
}

# stories_tokenized DIR TRAIN VAL - the first TRAIN training and VAL
# validation stories as DIR/train.jsonl and DIR/val.jsonl, a 400-token
# tokenizer learned from the training ones (DIR/tok.bin), and both encoded
# with it (DIR/train.ids, DIR/val.ids).
stories_tokenized() {
    zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst" | head -n "$2" > "$1/train.jsonl"
    zstd -dc "$TFS_ROOT/assets/stories-val.jsonl.zst" | head -n "$3" > "$1/val.jsonl"
    bpe-train -q -n 400 -o "$1/tok.bin" "$1/train.jsonl"
    bpe-encode -q -o "$1/train.ids" "$1/tok.bin" "$1/train.jsonl"
    bpe-encode -q -o "$1/val.ids" "$1/tok.bin" "$1/val.jsonl"
}

# small_demo_assets DIR EVAL_EVERY - a folder to give pipelines/demo.mk as
# ASSETS: the first 300 training and 40 validation stories, and a "tiny"
# configuration far smaller than the real one, so that a step takes
# milliseconds (validation every EVAL_EVERY steps).
small_demo_assets() {
    mkdir -p "$1/configs"
    zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst" | head -n 300 | zstd -q > "$1/stories-train.jsonl.zst"
    zstd -dc "$TFS_ROOT/assets/stories-val.jsonl.zst" | head -n 40 | zstd -q > "$1/stories-val.jsonl.zst"
    printf '%s\n' 'layers = 1' 'heads = 2' 'dim = 32' 'context = 32' 'batch = 4' 'warmup = 5' \
        "eval-every = $2" 'eval-batches = 2' > "$1/configs/tiny"
}

# The long options listed by --help, one per line.
help_options() {
    "$1" --help | grep -oE '^ +(-[a-zA-Z0-9], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+'
}

cli_contract() {
    local prog=$1 man="$TFS_ROOT/man/$1.1" o missing=""
    run_tool "$prog" --help
    [ "$status" -eq 0 ] || { echo "$prog --help exited $status" >&2; return 1; }
    [[ $output == "Usage: $prog "* ]] || { echo "$prog --help: no usage line on stdout" >&2; return 1; }
    [ -z "$stderr" ] || { echo "$prog --help wrote to stderr" >&2; return 1; }
    run_tool "$prog" --no-such-option-xyz
    [ "$status" -eq 2 ] || { echo "$prog: unknown option exited $status, expected 2" >&2; return 1; }
    [[ $stderr == *"$prog: unrecognized option '--no-such-option-xyz'"* ]] || { echo "unknown option not named" >&2; return 1; }
    [[ $stderr == *"Try '$prog --help'."* ]] || return 1
    [ -z "$output" ] || { echo "$prog: usage error wrote to stdout" >&2; return 1; }
    [ -f "$man" ] || { echo "no man page $man" >&2; return 1; }
    # Every --help option appears in the man page (roff writes - as \- ) ...
    for o in $(help_options "$prog"); do
        grep -qF -- "\\-\\-${o#--}" "$man" || grep -qF -- "$o" "$man" || missing="$missing $o"
    done
    [ -z "$missing" ] || { echo "$prog: options missing from $man:$missing" >&2; return 1; }
    # ... and every option the man page documents (.TP lines) is in --help.
    local helptext; helptext=$("$prog" --help)
    for o in $(grep -A1 '^\.TP' "$man" | grep -oE '\\-\\-[a-z0-9-]+' | sed 's/\\//g' | sort -u); do
        [[ $helptext == *"$o"* ]] || missing="$missing $o"
    done
    [ -z "$missing" ] || { echo "$prog: man page options not in --help:$missing" >&2; return 1; }
}

# The rule of tfs(7), ENVIRONMENT, applied to /proc/cpuinfo's flags.
cpu_core() { "$TFS_ROOT/tests/tools/cpu-core"; }

# tfs-eval --verbose names the core before it opens the (missing) checkpoint.
own_core() {
    env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=keep tfs-eval --verbose /nonexistent/ckpt 2>&1 |
        sed -n 's/^tfs-eval: OpenBLAS core \([^ ]*\) .*/\1/p'
}

# A core to force that this CPU runs and OpenBLAS did not pick by itself:
# Haswell where the CPU has AVX2 and FMA, else an SSE core.
other_core() {
    local own; own=$(own_core)
    if [ -n "$(cpu_core)" ] && [ "$own" != Haswell ]; then echo Haswell
    elif [ "$own" != Prescott ]; then echo Prescott
    else echo Nehalem; fi
}
