#!/usr/bin/env bats
# 62-attention: tfs-eval --attention LAYER[:HEAD] and --heatmap, on both
# levels: the matrix file's shape and laws (rows sum to 1, causal), the
# weights against PyTorch (tests/torch/attention_ref.py), the picture, and
# the errors.  setup_file trains a small tokenizer and one small model of
# each level for a few steps.

load helper

export OMP_NUM_THREADS=1

setup_file() {
    local d=$BATS_FILE_TMPDIR
    stories_tokenized "$d" 1000 20
    # the custom level: 2 layers, 2 heads, context 32
    tfs-train --layers 2 --dim 32 --heads 2 --context 32 -b 8 --steps 30 --warmup 5 --lr 1e-2 \
        --threads 1 -q -o "$d/m.st" --log "$d/m.jsonl" "$d/train.ids"
    # the baseline: grouped-query attention (4 query heads, 2 kv heads), rotary
    tfs-train --model baseline --layers 2 --dim 32 --heads 4 --kv-heads 2 --context 24 -b 4 --steps 30 \
        --warmup 5 --lr 1e-2 --threads 1 -q -o "$d/b.st" --log "$d/b.jsonl" "$d/train.ids"
}

setup() {
    D=$BATS_FILE_TMPDIR
    T=$BATS_TEST_TMPDIR
}

# check_matrix FILE N - the matrix file has N token lines and N rows of N
# numbers; each row sums to 1 (within 1e-5), is 0 above the diagonal and
# positive on and below it.  Prints the reason and fails otherwise.
check_matrix() {
    awk -v n="$2" '
        /^# token / { tokens++; next }
        /^#/ { next }
        { r++
          if (NF != n) { print "row " r " has " NF " numbers, not " n; bad = 1; exit }
          s = 0
          for (j = 1; j <= NF; j++) {
              s += $j
              if (j > r && $j != 0) { print "row " r " attends to the future: " $j " at " j; bad = 1; exit }
              if (j <= r && !($j > 0)) { print "row " r " has weight " $j " at " j; bad = 1; exit }
          }
          if (s < 1 - 1e-5 || s > 1 + 1e-5) { print "row " r " sums to " s; bad = 1; exit } }
        END { if (bad) exit 1
              if (tokens != n || r != n) { print tokens " tokens and " r " rows, not " n; exit 1 } }' "$1"
}

@test "tfs-eval --attention, --heatmap: in --help and in the man page" {
    run_tool tfs-eval --help
    [[ $output == *"--attention LAYER[:HEAD]"* && $output == *"--heatmap PNG"* ]]
    grep -q '^\.BI \\-\\-attention ' "$TFS_ROOT/man/tfs-eval.1"
    grep -q '^\.BI \\-\\-heatmap ' "$TFS_ROOT/man/tfs-eval.1"
    grep -q '^\.SH ATTENTION MATRIX FILE' "$TFS_ROOT/man/tfs-eval.1"
}

@test "tfs-eval --attention: custom level, every head and the mean: rows sum to 1, causal" {
    for spec in 0 0:0 0:1 1 1:1; do
        run_tool tfs-eval --attention $spec --max-tokens 20 "$D/m.st" "$D/val.ids"
        [ "$status" -eq 0 ]
        printf '%s\n' "$output" > "$T/a.txt"
        run check_matrix "$T/a.txt" 20
        echo "$output"
        [ "$status" -eq 0 ]
    done
    # the title names what it holds; the tokens are the stream's first 20
    head -n 1 "$T/a.txt" | grep -qx '# tfs attention matrix: layer 1, head 1 of 2, 20 tokens, .*val.ids, .*m.st'
    [ "$(grep '^# token ' "$T/a.txt" | cut -d' ' -f4 | tr '\n' ' ')" == \
      "$(od -An -v -t u2 -j 1024 -N 40 "$D/val.ids" | xargs) " ]
}

@test "tfs-eval --attention: the mean of the heads is the mean of each head's matrix" {
    for spec in 1 1:0 1:1; do
        tfs-eval --attention $spec --max-tokens 12 "$D/m.st" "$D/val.ids" | grep -v '^#' > "$T/$spec.txt"
    done
    paste -d' ' "$T/1:0.txt" "$T/1:1.txt" "$T/1.txt" | awk '{ for (j = 1; j <= 12; j++) {
        d = ($j + $(j + 12)) / 2 - $(j + 24); if (d > 1e-6 || d < -1e-6) { print NR, j, d; exit 1 } } }'
    # and the heads differ, so this says something
    ! cmp -s "$T/1:0.txt" "$T/1:1.txt"
}

@test "tfs-eval --attention: baseline level (rotary, grouped-query): the whole context by default" {
    run_tool tfs-eval --attention 1:3 "$D/b.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" > "$T/a.txt"
    run check_matrix "$T/a.txt" 24
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "tfs-eval --attention --prompt: the tokens of the text after end-of-text, with their text" {
    run_tool tfs-eval --attention 0 --tokenizer "$D/tok.bin" --prompt 'Once upon a "time"' "$D/m.st"
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" > "$T/a.txt"
    # the same ids as --token-loss scores for the same prompt (which lists them from position 1)
    want=$(tfs-eval --token-loss --predictions 0 --tokenizer "$D/tok.bin" --prompt 'Once upon a "time"' "$D/m.st" |
           jq -r .token | xargs)
    got=$(grep '^# token ' "$T/a.txt" | cut -d' ' -f4 | tail -n +2 | xargs)
    [ "$got" == "$want" ]
    n=$(grep -c '^# token ' "$T/a.txt")
    check_matrix "$T/a.txt" "$n"
    # the text of each token is a JSON string; together they spell the prompt
    [ "$(grep '^# token ' "$T/a.txt" | cut -d' ' -f5- | jq -j . | tail -c +14)" == 'Once upon a "time"' ]
}

@test "tfs-eval --attention: equals PyTorch's attention within 1e-4 (both levels, heads and means)" {
    requires python-torch numpy
    tfs-eval --export-hf "$T/hf" "$D/b.st"
    for spec in 0 0:1 1:0 1:1; do
        tfs-eval --attention $spec --max-tokens 32 "$D/m.st" "$D/val.ids" > "$T/m$spec.txt"
        run_tool /usr/bin/python3 "$TFS_ROOT/tests/torch/attention_ref.py" custom "$D/m.st" "$T/m$spec.txt"
        [ "$status" -eq 0 ]
        [[ $output == "ok custom layer ${spec%%:*} "* ]]
    done
    for spec in 0 0:2 1:1 1:3; do
        tfs-eval --attention $spec "$D/b.st" "$D/val.ids" > "$T/b$spec.txt"
        run_tool /usr/bin/python3 "$TFS_ROOT/tests/torch/attention_ref.py" baseline "$T/hf" "$T/b$spec.txt"
        [ "$status" -eq 0 ]
        [[ $output == "ok baseline layer ${spec%%:*} "* ]]
    done
    # the check can fail: one weight moved by 1e-3 is caught
    awk '/^#/ || done { print; next } { $1 = $1 - 0.001; done = 1; print }' "$T/b1:3.txt" > "$T/bad.txt"
    run_tool /usr/bin/python3 "$TFS_ROOT/tests/torch/attention_ref.py" baseline "$T/hf" "$T/bad.txt"
    [ "$status" -eq 1 ]
    [[ $output == "FAIL baseline layer 1 head 3: differs from PyTorch by 1.00e-03"* ]]
}

@test "tfs-eval --attention --heatmap: a PNG with the tokens on both axes; gnuplot's input is escaped" {
    requires gnuplot
    mkdir "$T/p"
    run_tool tfs-eval --attention 1:0 --heatmap "$T/p/a b.png" --tokenizer "$D/tok.bin" \
        --prompt 'He said "no" \ then'$'\n''left.' "$D/m.st"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ $output == "# tfs attention matrix: layer 1, head 0 of 2,"* ]]
    [ "$(head -c 8 "$T/p/a b.png" | od -An -t x1 | xargs)" == "89 50 4e 47 0d 0a 1a 0a" ]
    [ "$(ls "$T/p")" == "a b.png" ]     # no temporary file left
    # wider for more tokens: the picture grows with the text
    tfs-eval --attention 0 --heatmap "$T/long.png" --max-tokens 30 "$D/m.st" "$D/val.ids" > /dev/null
    [ "$(stat -c %s "$T/long.png")" -gt 0 ]
    w() { od -An -t u1 -j 16 -N 4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }'; }
    [ "$(w "$T/long.png")" -gt "$(w "$T/p/a b.png")" ]
}

@test "tfs-eval --heatmap without gnuplot: a clear error before anything is written" {
    mkdir "$T/bin"
    ln -s "$(command -v tfs-eval)" "$T/bin/tfs-eval"
    run_tool env PATH="$T/bin" "$T/bin/tfs-eval" --attention 0 --heatmap "$T/a.png" "$D/m.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ $stderr == "tfs-eval: --heatmap: gnuplot is not on PATH"* ]]
    [ ! -e "$T/a.png" ]
}

@test "tfs-eval --attention: usage and data errors" {
    for bad in x 1: :1 -1 1:-1 1:x 1:2:3 ''; do
        run_tool tfs-eval --attention "$bad" "$D/m.st" "$D/val.ids"
        [ "$status" -eq 2 ]
        [[ $stderr == "tfs-eval: --attention takes LAYER or LAYER:HEAD, numbers from 0 (got '$bad')"* ]]
    done
    run_tool tfs-eval --heatmap "$T/a.png" "$D/m.st" "$D/val.ids"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: --heatmap draws the matrix of --attention: give both"* ]]
    run_tool tfs-eval --attention 0 --token-loss "$D/m.st" "$D/val.ids"
    [ "$status" -eq 2 ]
    run_tool tfs-eval --attention 0 --chat --tokenizer "$D/tok.bin" "$D/m.st"
    [ "$status" -eq 2 ]
    run_tool tfs-eval --attention 0 --max-tokens 3 --tokenizer "$D/tok.bin" --prompt hi "$D/m.st"
    [ "$status" -eq 2 ]
    # what only the checkpoint can say: exit 1, named
    run_tool tfs-eval --attention 2 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: --attention: layer 2, but the model has 2 (0 to 1)" ]]
    [ -z "$output" ]
    run_tool tfs-eval --attention 0:4 "$D/b.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: --attention: head 4, but the model has 4 (0 to 3)" ]]
    run_tool tfs-eval --attention 0 --tokenizer "$D/tok.bin" --prompt "$(head -c 2000 "$D/val.jsonl")" "$D/m.st"
    [ "$status" -eq 1 ]
    [[ $stderr == *"more than the model's context of 32: attention is over one window"* ]]
}

@test "tfs-eval --attention: imported Hugging Face models too (an export read back: the same matrix)" {
    for level in m b; do
        tfs-eval --export-hf "$T/hf-$level" "$D/$level.st"
        tfs-eval --attention 1:1 --max-tokens 16 "$D/$level.st" "$D/val.ids" | tail -n +2 > "$T/own.txt"
        run_tool tfs-eval --attention 1:1 --max-tokens 16 "$T/hf-$level" "$D/val.ids"
        [ "$status" -eq 0 ]
        [[ ${lines[0]} == "# tfs attention matrix: layer 1, head 1 of "*", 16 tokens, "*"hf-$level" ]]
        diff "$T/own.txt" <(printf '%s\n' "$output" | tail -n +2)
    done
}
