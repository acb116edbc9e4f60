#!/usr/bin/env bats
# 20-bpe-train: learning a byte-level BPE tokenizer from JSONL.

load helper

STORIES="$TFS_ASSETS/stories-train.jsonl.zst"
VAL="$TFS_ASSETS/stories-val.jsonl.zst"

info() { bpe-encode --info "$1" | awk -v k="$2" '$1 == k { print $2 }'; }

# first_merge < JSONL: an independent count of what bpe-train(1) says its
# first step does: cut each document into GPT-2 pre-tokens, count the
# adjacent byte pairs inside them weighted by each piece's count, and take
# the most frequent pair, on a tie the smaller left id, then the smaller
# right id.  Prints "LEFT RIGHT COUNT PIECES PAIRS TEXT", tab-separated: PIECES the
# distinct pieces of 2 bytes or more, PAIRS the distinct pairs, TEXT the
# pair's bytes.
first_merge() {
    /usr/bin/python3 -c "$(cat <<'PY'
import collections, json, re, sys
# GPT-2's pattern for ASCII text: \p{L} is [A-Za-z], \p{N} [0-9], \s PCRE's [ \t\n\v\f\r]
S = "[ \t\n\x0b\x0c\r]"
gpt2 = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^ \t\n\x0b\x0c\rA-Za-z0-9]+|%s+(?!\S)|%s+" % (S, S))
pieces = collections.Counter()
for line in sys.stdin:
    t = json.loads(line)["text"]
    assert t.isascii(), "the reference pattern is written for ASCII text"
    pieces.update(gpt2.findall(t))
pairs = collections.Counter()
for p, c in pieces.items():
    b = p.encode()
    for x, y in zip(b, b[1:]):
        pairs[x, y] += c
(l, r), n = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
print(l, r, n, sum(len(p) >= 2 for p in pieces), len(pairs), bytes([l, r]).decode(), sep="\t")
PY
)"
}

@test "bpe-train: --help, unknown options and the man page agree" {
    cli_contract bpe-train
}

@test "bpe-train: --vocab-size and --output are required" {
    run_tool bpe-train -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [ "$stderr" = "bpe-train: --vocab-size is required
Try 'bpe-train --help'." ]
    run_tool bpe-train -n 300 "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-train: --output is required"* ]]
}

@test "bpe-train: bad numbers, sizes, patterns and special tokens are usage errors" {
    run_tool bpe-train -n 12x -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-train: --vocab-size: '12x' is not a number (trailing 'x'; suffixes K, M, G, Ki, Mi, Gi)"* ]]
    run_tool bpe-train -n 256 -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-train: --vocab-size: 256 is out of range [257, 16777216]"* ]]
    run_tool bpe-train -n 257 --special '<|pad|>' -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-train: --vocab-size 257 leaves no room: 256 bytes + 2 special tokens need at least 258"* ]]
    run_tool bpe-train -n 300 --pattern '(unclosed' -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-train: --pattern: bad regular expression: position 9: missing closing parenthesis"* ]]
    run_tool bpe-train -n 300 --special '<|endoftext|>' -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-train: --special: '<|endoftext|>' is given twice"* ]]
    run_tool bpe-train -n 300 -t 0 -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 2 ]
    [ ! -e "$BATS_TEST_TMPDIR/t.bin" ]
}

@test "bpe-train: trains the requested vocabulary; ids 256.. are merges, the end-of-text token last" {
    run_tool bpe-train -q -n 1000 -o "$BATS_TEST_TMPDIR/t.bin" --dump "$BATS_TEST_TMPDIR/t.txt" "$STORIES"
    [ "$status" -eq 0 ]
    [ "$(info "$BATS_TEST_TMPDIR/t.bin" vocab_size)" = 1000 ]
    [ "$(info "$BATS_TEST_TMPDIR/t.bin" merges)" = 743 ]
    [ "$(info "$BATS_TEST_TMPDIR/t.bin" eot)" = 999 ]
    # the dump: a header, then one line per id in merge order
    # the first merge is the pair an independent count finds most frequent
    IFS=$'\t' read -r l r _ _ _ text < <(zstd -dc "$STORIES" | first_merge)
    [ -n "$text" ]
    grep -qxF "256	$l+$r	$text" "$BATS_TEST_TMPDIR/t.txt"
    grep -q "^999	special	<|endoftext|>$" "$BATS_TEST_TMPDIR/t.txt"
    [ "$(grep -vc '^#' "$BATS_TEST_TMPDIR/t.txt")" -eq 1000 ]
}

@test "bpe-train --sample: trains on N documents drawn from the whole input, the same ones each time" {
    local t="$BATS_TEST_TMPDIR"
    # 500 documents "aa", then 500 "bb": a sample of 100 drawn uniformly
    # holds some of each (the first 100 would be all "aa"); the first merge's
    # count is the number of sampled documents that hold it
    python3 -c 'for w in ["aa"] * 500 + ["bb"] * 500: print("{\"text\": \"%s\"}" % w)' > "$t/ab.jsonl"
    run_tool bpe-train -v -n 260 --sample 100 -o "$t/s.bin" "$t/ab.jsonl"
    [ "$status" -eq 0 ]
    [[ $stderr == *"bpe-train: trained on a sample of 100 of the 1000 documents"* ]]
    a=$(sed -n "s/.*count \([0-9]*\) 'aa'/\1/p" <<< "$stderr")
    b=$(sed -n "s/.*count \([0-9]*\) 'bb'/\1/p" <<< "$stderr")
    [ $((a + b)) -eq 100 ] && [ "$a" -ge 30 ] && [ "$b" -ge 30 ]
    bpe-train -q -n 260 --sample 100 -o "$t/s2.bin" "$t/ab.jsonl"
    cmp "$t/s.bin" "$t/s2.bin"
    # a sample larger than the input is the whole input
    bpe-train -q -n 1000 --sample 100000 -o "$t/all.bin" "$VAL"
    bpe-train -q -n 1000 -o "$t/full.bin" "$VAL"
    cmp "$t/all.bin" "$t/full.bin"
    bpe-train -q -n 1000 --sample 50 -o "$t/few.bin" "$VAL"
    ! cmp -s "$t/few.bin" "$t/full.bin"
    run_tool bpe-train -n 300 --sample 0 -o "$t/x.bin" "$VAL"
    [ "$status" -eq 2 ]
}

@test "bpe-train: byte-identical tok.bin for --threads 1 and 2, and from stdin" {
    bpe-train -q -n 2000 -t 1 -o "$BATS_TEST_TMPDIR/t1.bin" "$STORIES"
    bpe-train -q -n 2000 -t 2 -o "$BATS_TEST_TMPDIR/t2.bin" "$STORIES"
    zstd -dc "$STORIES" | bpe-train -q -n 2000 -t 2 -o "$BATS_TEST_TMPDIR/t3.bin"
    cmp "$BATS_TEST_TMPDIR/t1.bin" "$BATS_TEST_TMPDIR/t2.bin"
    cmp "$BATS_TEST_TMPDIR/t1.bin" "$BATS_TEST_TMPDIR/t3.bin"
}

@test "bpe-train: --verbose prints each merge with its count and bytes" {
    run_tool bpe-train -v -n 260 -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 0 ]
    # pieces, pairs and the first merge with its count, counted independently
    IFS=$'\t' read -r l r n pieces pairs text < <(zstd -dc "$VAL" | first_merge)
    [ "${stderr_lines[0]}" = "bpe-train: $pieces distinct pieces of 2 bytes or more, $pairs distinct pairs" ]
    [ "${stderr_lines[1]}" = "bpe-train: merge 1: $l + $r -> 256 count $n '$text'" ]
    [ "${#stderr_lines[@]}" -eq 4 ]
    # a tie: pieces "cd" " ab" " cd" " ab" hold (c,d) (' ',a) (a,b) twice
    # each, so the stated tie-break picks the smallest left id, ' ' + 'a'
    printf '{"text": "cd ab cd ab"}\n' > "$BATS_TEST_TMPDIR/tie.jsonl"
    IFS=$'\t' read -r l r n _ _ text < <(first_merge < "$BATS_TEST_TMPDIR/tie.jsonl")
    [ "$l $r $n" = "32 97 2" ]
    run_tool bpe-train -v -n 258 --min-frequency 1 -o "$BATS_TEST_TMPDIR/tie.bin" "$BATS_TEST_TMPDIR/tie.jsonl"
    [ "$status" -eq 0 ]
    [ "${stderr_lines[1]}" = "bpe-train: merge 1: $l + $r -> 256 count $n '$text'" ]
}

@test "bpe-train: --min-frequency stops early with a warning" {
    printf '{"text": "ab ab ab cd"}\n' > "$BATS_TEST_TMPDIR/in.jsonl"
    run_tool bpe-train -n 400 --min-frequency 3 -o "$BATS_TEST_TMPDIR/t.bin" "$BATS_TEST_TMPDIR/in.jsonl"
    [ "$status" -eq 0 ]
    [ "$stderr" = "bpe-train: stopped at 1 merges (vocabulary 258 of 400): no pair occurs often enough (--min-frequency)" ]
    [ "$(info "$BATS_TEST_TMPDIR/t.bin" vocab_size)" = 258 ]
}

@test "bpe-train: --pattern and --special are kept in the tokenizer" {
    run_tool bpe-train -q -n 600 --pattern cl100k --special '<|pad|>' -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 0 ]
    [ "$(info "$BATS_TEST_TMPDIR/t.bin" special)" = 2 ]
    [ "$(info "$BATS_TEST_TMPDIR/t.bin" eot)" = 598 ]
    # the pattern is stored in the file (tfs-tokenizer(5)): cl100k's has "\p{N}{1,3}"
    grep -qF '\p{N}{1,3}' "$BATS_TEST_TMPDIR/t.bin"
}

@test "bpe-train: malformed JSONL names the file and line; --skip-bad skips it" {
    printf '{"text": "hello"}\n{"text": oops}\n{"text": "world"}\n' > "$BATS_TEST_TMPDIR/bad.jsonl"
    run_tool bpe-train -n 300 -o "$BATS_TEST_TMPDIR/t.bin" "$BATS_TEST_TMPDIR/bad.jsonl"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-train: $BATS_TEST_TMPDIR/bad.jsonl:2: malformed JSON: "* ]]
    [ ! -e "$BATS_TEST_TMPDIR/t.bin" ]
    run_tool bpe-train -n 300 --skip-bad -o "$BATS_TEST_TMPDIR/t.bin" "$BATS_TEST_TMPDIR/bad.jsonl"
    [ "$status" -eq 0 ]
    [[ $stderr == "bpe-train: skipped 1 malformed lines"* ]]
    run_tool bpe-train -n 300 --field body -o "$BATS_TEST_TMPDIR/t.bin" "$VAL"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-train: $VAL:1: no field \"body\" (choose one with --field)" ]]
}

@test "bpe-train: a missing input file is a data error" {
    run_tool bpe-train -n 300 -o "$BATS_TEST_TMPDIR/t.bin" "$BATS_TEST_TMPDIR/nope.jsonl"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-train: "*"nope.jsonl"*"No such file or directory" ]]
}
