#!/usr/bin/env bats
# 30-bpe-encode: JSONL -> token stream -> JSONL, exactness, bad inputs, and
# parity with tiktoken and Hugging Face tokenizers (npm packages, run here).

load helper

VAL="$TFS_ASSETS/stories-val.jsonl.zst"

setup_file() {
    export TOK="$BATS_FILE_TMPDIR/tok.bin"
    bpe-train -q -n 1200 -t 2 -o "$TOK" --hf-json "$BATS_FILE_TMPDIR/tokenizer.json" "$TFS_ROOT/assets/stories-train.jsonl.zst"
    bpe-train -q -n 800 -o "$BATS_FILE_TMPDIR/other.bin" "$TFS_ROOT/assets/stories-val.jsonl.zst"
}

# The tiktoken rank files from the npm package's data, and a varied corpus.
node_refs() {
    requires node
    "$TFS_ROOT/tests/node/setup" || skip "npm packages could not be installed (tests/node/setup)"
    REF="$TFS_ROOT/tests/node/ref.js"
    local d="$BATS_FILE_TMPDIR"
    [ -s "$d/gpt2.tiktoken" ] || node "$REF" ranks gpt2 "$d/gpt2.tiktoken"
    [ -s "$d/cl100k.tiktoken" ] || node "$REF" ranks cl100k_base "$d/cl100k.tiktoken"
    [ -s "$d/o200k.tiktoken" ] || node "$REF" ranks o200k_base "$d/o200k.tiktoken"
    [ -s "$d/parity.jsonl" ] || python3 "$TFS_ROOT/tests/node/make-parity-corpus.py" "$d/parity.jsonl"
}

@test "bpe-encode: --help, unknown options and the man page agree" {
    cli_contract bpe-encode
}

@test "bpe-encode: the tokenizer operand is required" {
    run_tool bpe-encode
    [ "$status" -eq 2 ]
    [ "$stderr" = "bpe-encode: missing TOKENIZER operand
Try 'bpe-encode --help'." ]
    run_tool bpe-encode -t x "$TOK"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-encode: --threads: 'x' is not an integer"* ]]
}

@test "bpe-encode: JSONL -> ids -> JSONL gives back the documents exactly" {
    bpe-encode "$TOK" "$VAL" > "$BATS_TEST_TMPDIR/ids.bin"
    # a uint16 stream with this tokenizer's vocabulary and fingerprint
    [ "$(od -A n -t d4 -N 16 "$BATS_TEST_TMPDIR/ids.bin" | awk '{print $1, $4}')" = "20240520 1200" ]
    bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/ids.bin" | cmp - <(zstd -dc "$VAL")
    # one end-of-text id (1199) before each of the 500 documents
    [ "$(od -A n -v -t u2 -j 1024 "$BATS_TEST_TMPDIR/ids.bin" | tr -s ' ' '\n' | grep -c '^1199$')" -eq 500 ]
}

@test "bpe-encode: --threads 2 and -z give the same tokens" {
    bpe-encode "$TOK" "$VAL" > "$BATS_TEST_TMPDIR/a.bin"
    bpe-encode -t 2 -o "$BATS_TEST_TMPDIR/b.bin" "$TOK" "$VAL"
    cmp "$BATS_TEST_TMPDIR/a.bin" "$BATS_TEST_TMPDIR/b.bin"
    bpe-encode -z -t 2 "$TOK" "$VAL" > "$BATS_TEST_TMPDIR/c.bin.zst"
    [ "$(head -c 4 "$BATS_TEST_TMPDIR/c.bin.zst" | od -A n -t x1 | tr -d ' ')" = 28b52ffd ]
    bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/c.bin.zst" | cmp - <(zstd -dc "$VAL")
}

@test "bpe-encode: random bytes round-trip exactly with --raw" {
    head -c 300000 /dev/urandom > "$BATS_TEST_TMPDIR/r.bin"
    bpe-encode --raw "$TOK" "$BATS_TEST_TMPDIR/r.bin" > "$BATS_TEST_TMPDIR/r.ids"
    bpe-encode -d --raw "$TOK" "$BATS_TEST_TMPDIR/r.ids" | cmp - "$BATS_TEST_TMPDIR/r.bin"
    # mostly-text random bytes, with invalid UTF-8 mixed in, through a pipe
    { zstd -dc "$VAL" | head -c 50000; head -c 5000 /dev/urandom; } > "$BATS_TEST_TMPDIR/m.bin"
    bpe-encode --raw "$TOK" < "$BATS_TEST_TMPDIR/m.bin" | bpe-encode -d --raw "$TOK" | cmp - "$BATS_TEST_TMPDIR/m.bin"
}

@test "bpe-encode: invalid UTF-8 decodes to JSONL as U+FFFD with a warning" {
    printf '\377ok' > "$BATS_TEST_TMPDIR/x.bin"
    bpe-encode --raw "$TOK" "$BATS_TEST_TMPDIR/x.bin" > "$BATS_TEST_TMPDIR/x.ids"
    run_tool bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/x.ids"
    [ "$status" -eq 0 ]
    [ "$output" = '{"text": "�ok"}' ]
    [ "$stderr" = "bpe-encode: 1 bytes of invalid UTF-8 written as U+FFFD (use --raw for the exact bytes)" ]
}

@test "bpe-encode: special tokens are text unless --allow-special" {
    printf '{"text": "one<|endoftext|>two"}\n' > "$BATS_TEST_TMPDIR/s.jsonl"
    bpe-encode "$TOK" "$BATS_TEST_TMPDIR/s.jsonl" > "$BATS_TEST_TMPDIR/s1.bin"
    bpe-encode --allow-special "$TOK" "$BATS_TEST_TMPDIR/s.jsonl" > "$BATS_TEST_TMPDIR/s2.bin"
    n_eot() { od -A n -v -t u2 -j 1024 "$1" | tr -s ' ' '\n' | grep -c '^1199$'; }
    [ "$(n_eot "$BATS_TEST_TMPDIR/s1.bin")" -eq 1 ]
    [ "$(n_eot "$BATS_TEST_TMPDIR/s2.bin")" -eq 2 ]
    bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/s1.bin" | cmp - "$BATS_TEST_TMPDIR/s.jsonl"
    # with the special token's id, the decoder sees two documents
    [ "$(bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/s2.bin")" = '{"text": "one"}
{"text": "two"}' ]
}

@test "bpe-encode: refuses to write binary tokens to a terminal" {
    requires script
    run script -qec "bpe-encode '$TOK' '$VAL'" /dev/null
    [ "$status" -eq 1 ]
    [[ $output == *"bpe-encode: refusing to write binary data to a terminal (redirect it, use -o FILE, or -f to force)"* ]]
}

@test "bpe-encode: truncated, corrupt, foreign and missing tokenizers are clear errors" {
    head -c 100 "$TOK" > "$BATS_TEST_TMPDIR/cut.bin"
    run_tool bpe-encode "$BATS_TEST_TMPDIR/cut.bin" "$VAL"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $BATS_TEST_TMPDIR/cut.bin: truncated tok.bin: "* ]]
    cp "$TOK" "$BATS_TEST_TMPDIR/flip.bin"
    printf '\001' | dd of="$BATS_TEST_TMPDIR/flip.bin" bs=1 seek=$(( $(stat -c %s "$TOK") - 2 )) conv=notrunc 2>/dev/null
    run_tool bpe-encode "$BATS_TEST_TMPDIR/flip.bin" "$VAL"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $BATS_TEST_TMPDIR/flip.bin: corrupt tok.bin: "* ]]
    printf '\211PNG\r\n\032\n' > "$BATS_TEST_TMPDIR/x.png"
    run_tool bpe-encode "$BATS_TEST_TMPDIR/x.png" "$VAL"
    [ "$status" -eq 1 ]
    [ "$stderr" = "bpe-encode: $BATS_TEST_TMPDIR/x.png: line 1: not a tokenizer (expected tok.bin, a tiktoken rank file \"BASE64 RANK\" per line, or a Hugging Face tokenizer.json)" ]
    run_tool bpe-encode "$BATS_TEST_TMPDIR/none.bin" "$VAL"
    [ "$status" -eq 1 ]
    [ "$stderr" = "bpe-encode: $BATS_TEST_TMPDIR/none.bin: cannot open: No such file or directory" ]
    [ -z "$output" ]
}

@test "bpe-encode -d: a stream from another tokenizer is refused" {
    bpe-encode "$BATS_FILE_TMPDIR/other.bin" "$VAL" > "$BATS_TEST_TMPDIR/o.bin"
    run_tool bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/o.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $BATS_TEST_TMPDIR/o.bin: encoded with a different tokenizer (fingerprint "*"; $TOK has "* ]]
}

@test "bpe-encode -d: truncated streams, ids out of range and non-streams are errors" {
    bpe-encode "$TOK" "$VAL" > "$BATS_TEST_TMPDIR/ids.bin"
    size=$(stat -c %s "$BATS_TEST_TMPDIR/ids.bin")
    head -c $((size - 1)) "$BATS_TEST_TMPDIR/ids.bin" > "$BATS_TEST_TMPDIR/odd.bin"
    run_tool bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/odd.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $BATS_TEST_TMPDIR/odd.bin: truncated: "*" bytes of ids is not a multiple of 2" ]]
    head -c $((size - 2)) "$BATS_TEST_TMPDIR/ids.bin" > "$BATS_TEST_TMPDIR/short.bin"
    run_tool bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/short.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $BATS_TEST_TMPDIR/short.bin: truncated or corrupt: header says "* ]]
    # id 5000 (>= 1200) at position 3
    cp "$BATS_TEST_TMPDIR/ids.bin" "$BATS_TEST_TMPDIR/big.bin"
    printf '\210\023' | dd of="$BATS_TEST_TMPDIR/big.bin" bs=1 seek=1030 conv=notrunc 2>/dev/null
    run_tool bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/big.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "bpe-encode: $BATS_TEST_TMPDIR/big.bin: token 5000 at position 3 is out of range (vocabulary size 1200)" ]
    # a truncated compressed stream, through a pipe
    bpe-encode -z "$TOK" "$VAL" | head -c 3000 > "$BATS_TEST_TMPDIR/cut.zst"
    run_tool bpe-encode -d "$TOK" "$BATS_TEST_TMPDIR/cut.zst"
    [ "$status" -eq 1 ]
    [[ $stderr == *"truncated"* ]]
    run_tool bpe-encode -d "$TOK" "$VAL"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $VAL: not a token stream (wrong magic number); create one with bpe-encode" ]]
}

@test "bpe-encode: malformed JSONL names the file and line" {
    printf '{"text": "a"}\n\n{"text": 5}\n' > "$BATS_TEST_TMPDIR/bad.jsonl"
    run_tool bpe-encode -o "$BATS_TEST_TMPDIR/out.bin" "$TOK" "$BATS_TEST_TMPDIR/bad.jsonl"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $BATS_TEST_TMPDIR/bad.jsonl:3: "* ]]
    [ ! -e "$BATS_TEST_TMPDIR/out.bin" ]
    run_tool bpe-encode --skip-bad -o "$BATS_TEST_TMPDIR/out.bin" "$TOK" "$BATS_TEST_TMPDIR/bad.jsonl"
    [ "$status" -eq 0 ]
    [ "$stderr" = "bpe-encode: skipped 1 malformed lines" ]
}

@test "bpe-encode: GPT-2, cl100k and o200k ids are identical to tiktoken's (WASM and native)" {
    node_refs
    local d="$BATS_FILE_TMPDIR"
    [ "$(bpe-encode --info "$d/gpt2.tiktoken" | awk '$1 == "vocab_size" || $1 == "eot" { print $2 }' | tr '\n' ' ')" = "50257 50256 " ]
    bpe-encode -t 2 "$d/gpt2.tiktoken" "$d/parity.jsonl" > "$BATS_TEST_TMPDIR/g.bin"
    bpe-encode "$d/cl100k.tiktoken" "$d/parity.jsonl" > "$BATS_TEST_TMPDIR/c.bin"
    node "$REF" parity tiktoken gpt2 "$d/parity.jsonl" "$BATS_TEST_TMPDIR/g.bin"
    node "$REF" parity tiktoken cl100k_base "$d/parity.jsonl" "$BATS_TEST_TMPDIR/c.bin"
    node "$REF" parity tiktoken-node gpt2 "$d/parity.jsonl" "$BATS_TEST_TMPDIR/g.bin" 50256
    node "$REF" parity tiktoken-node cl100k_base "$d/parity.jsonl" "$BATS_TEST_TMPDIR/c.bin" 100257
    # o200k: tiktoken-node does not know it; the WASM build does
    bpe-encode "$d/o200k.tiktoken" "$d/parity.jsonl" > "$BATS_TEST_TMPDIR/o.bin"
    node "$REF" parity tiktoken o200k_base "$d/parity.jsonl" "$BATS_TEST_TMPDIR/o.bin"
    # the check can fail: a stream from the other vocabulary differs
    run node "$REF" parity tiktoken gpt2 "$d/parity.jsonl" "$BATS_TEST_TMPDIR/c.bin" 100257
    [ "$status" -eq 1 ]
}

@test "bpe-encode: the fast encoder gives --reference's ids (parity corpus, mixed scripts, invalid UTF-8)" {
    node_refs
    local d="$BATS_FILE_TMPDIR" t="$BATS_TEST_TMPDIR"
    # the parity corpus, then random bytes cut into JSON strings, and
    # random bytes whole (--raw)
    head -c 200000 /dev/urandom > "$t/r.bin"
    python3 -c 'import json, sys, random
random.seed(5)
atoms = ["a", "Z", "\u00e9", "\u0416", "\u4e2d", " ", "  ", "\n", "\r\n", "\t", "\u3000", "\u0085",
         "\u0301", "\u01c5", "\u02b0", "'"'"'s", "'"'"'LL", "\u017f", "123456", "\u0663", "/", "!?", "\U0001F600"]
for i in range(1000):
    s = "".join(random.choice(atoms) for _ in range(random.randint(1, 60)))
    print(json.dumps({"text": s}))' > "$t/mixed.jsonl"
    for v in gpt2 cl100k o200k; do
        for f in "$d/parity.jsonl" "$t/mixed.jsonl"; do
            bpe-encode -o "$t/fast.bin" "$d/$v.tiktoken" "$f"
            bpe-encode --reference -o "$t/ref.bin" "$d/$v.tiktoken" "$f"
            cmp "$t/fast.bin" "$t/ref.bin"
        done
        bpe-encode --raw -o "$t/fast.bin" "$d/$v.tiktoken" "$t/r.bin"
        bpe-encode --raw --reference -o "$t/ref.bin" "$d/$v.tiktoken" "$t/r.bin"
        cmp "$t/fast.bin" "$t/ref.bin"
    done
    # a tok.bin of tfs's too
    bpe-encode --raw -o "$t/fast.bin" "$TOK" "$t/r.bin"
    bpe-encode --raw --reference -o "$t/ref.bin" "$TOK" "$t/r.bin"
    cmp "$t/fast.bin" "$t/ref.bin"
    # and the mixed documents are tiktoken's ids too
    bpe-encode -o "$t/g.bin" "$d/gpt2.tiktoken" "$t/mixed.jsonl"
    node "$REF" parity tiktoken gpt2 "$t/mixed.jsonl" "$t/g.bin"
    bpe-encode -o "$t/c.bin" "$d/cl100k.tiktoken" "$t/mixed.jsonl"
    node "$REF" parity tiktoken cl100k_base "$t/mixed.jsonl" "$t/c.bin"
    bpe-encode -o "$t/o.bin" "$d/o200k.tiktoken" "$t/mixed.jsonl"
    node "$REF" parity tiktoken o200k_base "$t/mixed.jsonl" "$t/o.bin"
}

@test "bpe-encode: the caches of merged pieces give a fresh merge's ids (long pieces, repeated, evicted)" {
    node_refs
    local d="$BATS_FILE_TMPDIR" t="$BATS_TEST_TMPDIR"
    # 3,000 distinct long pieces (letters, digits, box rules, runs of spaces
    # and newlines, 23 to 1,500 bytes: more than the cache of long pieces
    # holds, some longer than it takes), each used three times in a
    # shuffled order, so that the caches hit, miss and evict; --reference
    # uses no cache
    python3 -c 'import json, random
random.seed(7)
kinds = [lambda k: "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(k)),
         lambda k: "".join(random.choice("0123456789") for _ in range(k)),
         lambda k: "\u2500" * (k // 3) + random.choice(["", "\u252c", "\u2500\u2500"]),
         lambda k: " " * k + "x", lambda k: "\n" * k, lambda k: "=" * k + "-" * random.randint(0, 3)]
pieces = [random.choice(kinds)(random.choice([random.randint(23, 120), random.randint(120, 1500)]))
          for _ in range(3000)]
use = pieces * 3
random.shuffle(use)
for i in range(0, len(use), 20):
    print(json.dumps({"text": " ".join(use[i:i + 20])}))' > "$t/long.jsonl"
    for v in gpt2 cl100k o200k; do
        bpe-encode -o "$t/fast.bin" "$d/$v.tiktoken" "$t/long.jsonl"
        bpe-encode --reference -o "$t/ref.bin" "$d/$v.tiktoken" "$t/long.jsonl"
        cmp "$t/fast.bin" "$t/ref.bin"
    done
}

@test "bpe-encode: a rank file with two tokens of the same bytes is an error naming both (1 and 2 threads)" {
    printf 'YQ== 0\nYg== 1\nYg== 2\nYQ== 3\n' > "$BATS_TEST_TMPDIR/dup.tiktoken"
    for t in 1 2; do
        run_tool bpe-encode --pattern gpt2 -t $t "$BATS_TEST_TMPDIR/dup.tiktoken" <<< '{"text": "a"}'
        [ "$status" -eq 1 ]
        [ "$stderr" = "bpe-encode: $BATS_TEST_TMPDIR/dup.tiktoken: tokens 1 and 2 have the same bytes" ]
    done
}

@test "bpe-encode: the Unicode class table is what gen_uclass.py makes from unicode-data" {
    [ -r /usr/share/unicode/UnicodeData.txt ] || skip "Debian package unicode-data not installed (tests/deps check)"
    python3 "$TFS_ROOT/lib/tok/gen_uclass.py" > "$BATS_TEST_TMPDIR/u.c"
    cmp "$BATS_TEST_TMPDIR/u.c" "$TFS_ROOT/lib/tok/uclass_data.c"
}

@test "bpe-encode: the normalization tables are what gen_unorm.py makes from unicode-data" {
    [ -r /usr/share/unicode/UnicodeData.txt ] || skip "Debian package unicode-data not installed (tests/deps check)"
    python3 "$TFS_ROOT/lib/tok/gen_unorm.py" > "$BATS_TEST_TMPDIR/n.c"
    cmp "$BATS_TEST_TMPDIR/n.c" "$TFS_ROOT/lib/tok/unorm_data.c"
}

# Every export is checked in two releases of HF tokenizers: "hf" is the newest
# on npm (0.23.2), "hf-0.13" the oldest (0.13.3, its Linux x86-64 native
# module), which predates ignore_merges and merges written as pairs
# (tests/node/ref.js).  Elsewhere npm has no 0.13 to install: the newest
# alone is checked, and the test says so by skipping at the end.
@test "bpe-encode: tokenizer.json exports load in HF tokenizers and encode identically" {
    node_refs
    local d="$BATS_FILE_TMPDIR" hf hfs="hf hf-0.13"
    [ -d "$TFS_ROOT/tests/node/node_modules/tokenizers-linux-x64-gnu" ] || hfs=hf
    # a trained tokenizer, exported by bpe-train --hf-json
    bpe-encode "$TOK" "$d/parity.jsonl" > "$BATS_TEST_TMPDIR/t.bin"
    for hf in $hfs; do
        node "$REF" parity $hf "$d/tokenizer.json" "$d/parity.jsonl" "$BATS_TEST_TMPDIR/t.bin"
    done
    # the check sees the merges: the same vocabulary with the merge list in
    # reverse order gives other ids in both releases
    jq '.model.merges |= reverse' "$d/tokenizer.json" > "$BATS_TEST_TMPDIR/rev.json"
    for hf in $hfs; do
        run node "$REF" parity $hf "$BATS_TEST_TMPDIR/rev.json" "$d/parity.jsonl" "$BATS_TEST_TMPDIR/t.bin"
        [ "$status" -eq 1 ] && [[ "$output" == *"$hf and tfs differ"* ]] || { echo "$output" >&2; false; }
    done
    # tfs reads the exported file back and encodes identically
    bpe-encode "$d/tokenizer.json" "$d/parity.jsonl" > "$BATS_TEST_TMPDIR/t2.bin"
    cmp <(tail -c +1025 "$BATS_TEST_TMPDIR/t.bin") <(tail -c +1025 "$BATS_TEST_TMPDIR/t2.bin")
    # its merges are the learned ones, as "LEFT RIGHT" strings: merge 0 made id 256 ...
    [ "$(jq '.model.merges | length' "$d/tokenizer.json")" -eq "$(bpe-encode --info "$TOK" | awk '$1 == "merges" { print $2 }')" ]
    [ "$(jq -r '.model.merges[0] | type' "$d/tokenizer.json")" = string ]
    # ... and without ignore_merges (releases before 0.19 skip it) the ids are the same
    jq '.model.ignore_merges = false' "$d/tokenizer.json" > "$BATS_TEST_TMPDIR/noign.json"
    node "$REF" parity hf "$BATS_TEST_TMPDIR/noign.json" "$d/parity.jsonl" "$BATS_TEST_TMPDIR/t.bin"
    # GPT-2 from tiktoken's rank file, exported with --export-hf
    bpe-encode --export-hf "$BATS_TEST_TMPDIR/gpt2.json" "$d/gpt2.tiktoken"
    head -c 60000 "$d/parity.jsonl" | head -n -1 > "$BATS_TEST_TMPDIR/p.jsonl"
    bpe-encode "$d/gpt2.tiktoken" "$BATS_TEST_TMPDIR/p.jsonl" > "$BATS_TEST_TMPDIR/g.bin"
    for hf in $hfs; do
        node "$REF" parity $hf "$BATS_TEST_TMPDIR/gpt2.json" "$BATS_TEST_TMPDIR/p.jsonl" "$BATS_TEST_TMPDIR/g.bin"
    done
    # cl100k_base (another pattern: (?i:...), \p{N}{1,3}); its export has no
    # <|endoftext|>, so the document separator id is given
    bpe-encode --export-hf "$BATS_TEST_TMPDIR/cl100k.json" "$d/cl100k.tiktoken"
    bpe-encode "$d/cl100k.tiktoken" "$BATS_TEST_TMPDIR/p.jsonl" > "$BATS_TEST_TMPDIR/c.bin"
    for hf in $hfs; do
        node "$REF" parity $hf "$BATS_TEST_TMPDIR/cl100k.json" "$BATS_TEST_TMPDIR/p.jsonl" "$BATS_TEST_TMPDIR/c.bin" 100257
    done
    [ "$hfs" != hf ] || skip "tokenizers 0.13 is on npm for Linux x86-64 (glibc) only; checked with the newest release alone"
}

@test "bpe-encode: the EXAMPLES of bpe-encode(1) run as written" {
    cd "$BATS_TEST_TMPDIR"
    cp "$TOK" tok.bin
    mkdir -p assets && cp "$TFS_ASSETS/stories-train.jsonl.zst" assets/
    bpe-encode tok.bin assets/stories-train.jsonl.zst > ids.bin
    [ "$(bpe-encode -d tok.bin ids.bin | head -1)" = "$(zstd -dc assets/stories-train.jsonl.zst | head -1)" ]
    bpe-encode --raw tok.bin /bin/ls | bpe-encode -d --raw tok.bin | cmp - /bin/ls
}

@test "bpe-encode: -o onto a FIFO writes through it and leaves the FIFO in place (no temp file renamed over it)" {
    local d="$BATS_TEST_TMPDIR"
    mkfifo "$d/fifo"
    timeout 20 cat "$d/fifo" > "$d/got" &
    local reader=$!
    run_tool bpe-encode -o "$d/fifo" "$TOK" "$VAL"
    wait $reader
    [ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
    [ -p "$d/fifo" ]
    bpe-encode "$TOK" "$VAL" | cmp - "$d/got"
    [ -z "$(find "$d" -name 'fifo.tmp.*')" ]
}

# tokenizer.json files written by HF tokenizers itself (tests/node/make-hf-fixtures.js)
hf_fixtures() {
    node_refs
    local d="$BATS_FILE_TMPDIR"
    [ -s "$d/hf/noeot.json" ] && return 0
    mkdir -p "$d/hf"
    zstd -dc "$TFS_ROOT/assets/stories-val.jsonl.zst" | head -200 | python3 -c 'import sys, json
for l in sys.stdin: print(json.loads(l)["text"])' > "$d/hf/train.txt"
    node "$TFS_ROOT/tests/node/make-hf-fixtures.js" "$d/hf/train.txt" "$d/hf" > /dev/null
    # the parity corpus, and the added tokens' text inside documents
    { cat "$d/parity.jsonl"
      printf '%s\n' '{"text": "one<|endoftext|>two <|user|>three[note] four"}' '{"text": "[note][note]<|user|>"}' \
          '{"text": "  lead 👍🏽 emoji ☃ [note]x"}' \
          '{"text": "a <mask> b [sep]  c\u3000<both>\u00a0\n d<mask><both>[sep]"}' \
          '{"text": "  <mask>[sep]\t\t<both>  "}'; } > "$d/hf/corpus.jsonl"
}

@test "bpe-encode: tokenizer.json from HF (ByteLevel, add_prefix_space, added tokens) encodes as HF does" {
    hf_fixtures
    local d="$BATS_FILE_TMPDIR/hf" t="$BATS_TEST_TMPDIR"
    for f in bytelevel prefix noeot added strip; do
        bpe-encode -q --no-sep "$d/$f.json" "$d/corpus.jsonl" > "$t/$f.bin"
        node "$REF" concat "$d/$f.json" "$d/corpus.jsonl" "$t/$f.bin"
    done
    # add_prefix_space changes the ids: the check can fail
    run node "$REF" concat "$d/prefix.json" "$d/corpus.jsonl" "$t/bytelevel.bin"
    [ "$status" -eq 1 ]
    # --no-special: special tokens' text is text, unlike HF
    bpe-encode -q --no-sep --no-special "$d/added.json" "$d/corpus.jsonl" > "$t/ns.bin"
    run node "$REF" concat "$d/added.json" "$d/corpus.jsonl" "$t/ns.bin"
    [ "$status" -eq 1 ]
    [[ $output == *"hf 1346, tfs "* ]]
}

@test "bpe-encode: added tokens keep their special flag; no <|endoftext|> is not invented" {
    hf_fixtures
    local d="$BATS_FILE_TMPDIR/hf"
    info() { bpe-encode --info "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
    # HF's own ids for the added tokens (added.json: <|endoftext|> 1346, <|user|> 1347, [note] 1348)
    [ "$(node -e "const t=require('$TFS_ROOT/tests/node/node_modules/tokenizers').Tokenizer.fromFile('$d/noeot.json'); console.log(t.tokenToId('<s>'), t.tokenToId('</s>'))")" = "$(info "$d/noeot.json" bos) $(info "$d/noeot.json" eos)" ]
    [ "$(info "$d/noeot.json" eot)" = none ]
    [ "$(info "$d/bytelevel.json" special)" = 0 ]
    [ "$(info "$d/added.json" special)" = 3 ]
    # without an end-of-text token, documents need a separator chosen
    run_tool bpe-encode "$d/noeot.json" "$d/corpus.jsonl"
    [ "$status" -eq 1 ]
    [ "$stderr" = "bpe-encode: $d/noeot.json: no end-of-text token (<|endoftext|>) to separate documents; choose --bos, --eos or --no-sep" ]
    # the export marks only special tokens special
    bpe-encode --export-hf "$BATS_TEST_TMPDIR/x.json" "$d/added.json"
    [ "$(python3 -c 'import json,sys; print([(a["content"], a["special"]) for a in json.load(open(sys.argv[1]))["added_tokens"]])' "$BATS_TEST_TMPDIR/x.json")" = "[('<|endoftext|>', True), ('<|user|>', True), ('[note]', False)]" ]
}

@test "bpe-encode --bos/--eos: BOS and EOS from the post-processor, as HF adds them" {
    hf_fixtures
    local d="$BATS_FILE_TMPDIR/hf" t="$BATS_TEST_TMPDIR"
    for f in noeot added; do
        bpe-encode -q --bos --eos "$d/$f.json" "$d/corpus.jsonl" > "$t/$f.bin"
        node "$REF" concat "$d/$f.json" "$d/corpus.jsonl" "$t/$f.bin" special
    done
    # and they separate the documents when decoding
    zstd -dc "$VAL" | head -5 > "$t/five.jsonl"
    bpe-encode -q --bos --eos "$d/noeot.json" "$t/five.jsonl" | bpe-encode -d --bos --eos "$d/noeot.json" | cmp - "$t/five.jsonl"
    run_tool bpe-encode --no-sep --bos "$d/noeot.json" "$t/five.jsonl"
    [ "$status" -eq 2 ]
}

@test "bpe-encode: a rank file that is not OpenAI's needs --pattern; --special and --special-file" {
    node_refs
    local d="$BATS_FILE_TMPDIR" t="$BATS_TEST_TMPDIR"
    head -n 5000 "$d/gpt2.tiktoken" > "$t/part.tiktoken"
    run_tool bpe-encode --info "$t/part.tiktoken"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $t/part.tiktoken: a tiktoken rank file that is not OpenAI's gpt2, cl100k_base or o200k_base: "*"give the pattern with --pattern"* ]]
    # a rank file with OpenAI's ranks but one token changed is not recognised
    sed '1000s/^[^ ]*/eHl6eHl6/' "$d/gpt2.tiktoken" > "$t/changed.tiktoken"
    run_tool bpe-encode --info "$t/changed.tiktoken"
    [ "$status" -eq 1 ]
    [[ $stderr == *"give the pattern with --pattern"* ]]
    # the full GPT-2 file given as unknown, with its pattern and special token, encodes as tiktoken
    printf '{"<|endoftext|>": 50256}\n' > "$t/special.json"
    bpe-encode --pattern gpt2 --special-file "$t/special.json" "$d/gpt2.tiktoken" "$d/parity.jsonl" > "$t/g.bin"
    node "$REF" parity tiktoken gpt2 "$d/parity.jsonl" "$t/g.bin"
    [ "$(bpe-encode --info --pattern gpt2 --special '<|endoftext|>=5000' "$t/part.tiktoken" | awk '$1 == "eot" { print $2 }')" = 5000 ]
    run_tool bpe-encode --info --special 'x' --pattern gpt2 "$t/part.tiktoken"
    [ "$status" -eq 1 ]
    [[ $stderr == *"--special 'x': expected TEXT=ID"* ]]
    run_tool bpe-encode --info --pattern gpt2 "$TOK"
    [ "$status" -eq 1 ]
    [[ $stderr == *"--pattern and --special apply to tiktoken rank files"* ]]
}

@test "bpe-encode: sentencepiece-style tokenizer.json from HF (Prepend/Replace normalizer or Metaspace, byte_fallback) encodes as HF does" {
    hf_fixtures
    local d="$BATS_FILE_TMPDIR/hf" t="$BATS_TEST_TMPDIR"
    for f in meta-norm metaspace; do
        bpe-encode -q --no-sep "$d/$f.json" "$d/corpus.jsonl" > "$t/$f.bin"
        node "$REF" concat "$d/$f.json" "$d/corpus.jsonl" "$t/$f.bin"
        # BOS from the post-processor "<s> $A"
        bpe-encode -q --bos "$d/$f.json" "$d/corpus.jsonl" > "$t/$f.b.bin"
        node "$REF" concat "$d/$f.json" "$d/corpus.jsonl" "$t/$f.b.bin" special
    done
    # characters outside the vocabulary became <0xXX> tokens (ids 3..258): the check covers byte_fallback
    [ "$(od -A n -v -t u2 -j 1024 "$t/metaspace.bin" | tr -s ' ' '\n' | awk '$1 >= 3 && $1 <= 258' | wc -l)" -gt 100 ]
    # the two prepend rules differ (Prepend each span, Metaspace "first"): the check can fail
    printf '{"text": "a<s>b"}\n' > "$t/one.jsonl"
    bpe-encode -q --no-sep "$d/meta-norm.json" "$t/one.jsonl" > "$t/one.bin"
    node "$REF" concat "$d/meta-norm.json" "$t/one.jsonl" "$t/one.bin"
    run node "$REF" concat "$d/metaspace.json" "$t/one.jsonl" "$t/one.bin"
    [ "$status" -eq 1 ]
    # decoding shows U+2581 as a space (the prepended one too); --bos separates documents
    printf '{"text": "a b"}\n{"text": "c"}\n' > "$t/two.jsonl"
    [ "$(bpe-encode -q --bos "$d/metaspace.json" "$t/two.jsonl" | bpe-encode -d --bos "$d/metaspace.json")" = '{"text": " a b"}
{"text": " c"}' ]
}

@test "bpe-encode: tokenizer.json NFC, NFKC, NFD and NFKD normalizers (with Metaspace, Prepend/Replace, byte_fallback) encode as HF does" {
    hf_fixtures
    local d="$BATS_FILE_TMPDIR/hf" t="$BATS_TEST_TMPDIR"
    # composed and decomposed accents, marks out of order, ligatures, fullwidth
    # forms, compatibility characters, Hangul syllables and jamo, emoji
    printf '%s\n' '{"text": "Caf\u00e9 cafe\u0301 \ufb01ne \ufb03 \uff21\uff22\uff23\uff11\uff12\uff01 x\u00b2 \u2460 \u3300 \u212b A\u030a"}' \
        '{"text": "\ud55c\uad6d\uc5b4 \u1112\u1161\u11ab \u1100\u1161\u11a8 e\u0323\u0302 e\u0302\u0323 \u1e9b\u0323 \u0958 \u2126"}' \
        '{"text": "  lead \ud83d\udc4d\ud83c\udffd emoji \u2603 \u00a0nbsp\u3000ideographic  two  spaces\ttab"}' > "$t/uni.jsonl"
    cat "$d/corpus.jsonl" >> "$t/uni.jsonl"
    for f in meta-nfkc nfc-norm bytes-nfc bytes-nfkc bytes-nfd bytes-nfkd; do
        bpe-encode -q --no-sep "$d/$f.json" "$t/uni.jsonl" > "$t/$f.bin"
        node "$REF" concat "$d/$f.json" "$t/uni.jsonl" "$t/$f.bin"
    done
    # NFKC is not NFC (fi, fullwidth, superscripts), nor NFD: the check can fail
    run node "$REF" concat "$d/bytes-nfkc.json" "$t/uni.jsonl" "$t/bytes-nfc.bin"
    [ "$status" -eq 1 ]
    run node "$REF" concat "$d/bytes-nfd.json" "$t/uni.jsonl" "$t/bytes-nfc.bin"
    [ "$status" -eq 1 ]
    # every code point, alone and before two marks in the wrong order, as HF's
    # Unicode 9.0 tables normalize it (bytes-*.json: each id is a byte + 3)
    python3 -c 'import json
cps = [c for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000]
for marks in ("", "\u0301\u0323"):
    for i in range(0, len(cps), 512):
        print(json.dumps({"text": "".join(chr(c) + marks for c in cps[i:i + 512])}, ensure_ascii=False))' > "$t/all.jsonl"
    for f in bytes-nfc bytes-nfkc bytes-nfd bytes-nfkd; do
        bpe-encode -q --no-sep "$d/$f.json" "$t/all.jsonl" > "$t/$f.all.bin"
        node "$REF" concat "$d/$f.json" "$t/all.jsonl" "$t/$f.all.bin"
    done
    # invalid UTF-8 (only --raw can give it; HF cannot take it) is kept byte
    # for byte as its <0xXX> token, and the text around it is normalized:
    # e + U+0301, 0xFF, U+FB01 -> U+00E9, 0xFF, "fi"
    printf 'e\xcc\x81\xff\xef\xac\x81' | bpe-encode -q --raw --no-sep "$d/bytes-nfkc.json" > "$t/raw.bin"
    [ "$(od -A n -v -t u2 -j 1024 "$t/raw.bin" | xargs)" = "$((0xc3 + 3)) $((0xa9 + 3)) $((0xff + 3)) $((0x66 + 3)) $((0x69 + 3))" ]
}

@test "bpe-encode: unsupported tokenizer.json parts are errors that name them" {
    hf_fixtures
    local d="$BATS_FILE_TMPDIR/hf" t="$BATS_TEST_TMPDIR"
    python3 - "$d/meta-norm.json" "$t" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
def variant(name, f):
    j = json.load(open(src)); f(j); json.dump(j, open(out + '/' + name, 'w'))
variant('lower.json', lambda j: j.__setitem__('normalizer', {'type': 'Lowercase'}))
variant('strip.json', lambda j: j['normalizer']['normalizers'].append({'type': 'StripAccents'}))
variant('regex.json', lambda j: j['normalizer']['normalizers'][1].__setitem__('pattern', {'Regex': ' +'}))
variant('digits.json', lambda j: j.__setitem__('pre_tokenizer', {'type': 'Digits', 'individual_digits': True}))
variant('single.json', lambda j: j['added_tokens'][1].__setitem__('single_word', True))
PY
    for c in "lower.json:normalizer Lowercase is not supported" "strip.json:normalizer StripAccents is not supported" \
             "regex.json:normalizer Replace of a regex is not supported" \
             "digits.json:pre_tokenizer Digits is not supported" "single.json:single_word is not supported"; do
        run_tool bpe-encode --info "$t/${c%%:*}"
        [ "$status" -eq 1 ]
        [[ $stderr == "bpe-encode: $t/${c%%:*}: "*"${c#*:}"* ]] || { echo "$stderr"; false; }
    done
}

@test "bpe-encode --shard-size: numbered shards, each a whole stream, together the unsharded stream" {
    T=$BATS_TEST_TMPDIR
    bpe-encode -q -o "$T/one.bin" "$TOK" "$VAL"
    mkdir "$T/sh" "$T/z"
    run_tool bpe-encode -q --shard-size 20K -o "$T/sh/val" "$TOK" "$VAL"
    [ "$status" -eq 0 ]
    total=$(( ($(stat -c %s "$T/one.bin") - 1024) / 2 ))
    n=$(ls "$T/sh" | wc -l)
    [ "$n" -eq $(( (total + 19999) / 20000 )) ]
    [ "$n" -ge 3 ]
    [ -f "$T/sh/val_000000.bin" ] && [ -f "$T/sh/val_00000$((n - 1)).bin" ]
    # each: this tokenizer's header, the count of its own tokens (20000 but the last)
    for f in "$T"/sh/val_*.bin; do
        read -r magic ver cnt vocab < <(od -A n -t d4 -N 16 "$f")
        [ "$magic $ver $vocab" = "20240520 1 1200" ]
        [ "$cnt" -eq $(( ($(stat -c %s "$f") - 1024) / 2 )) ]
        [ "$f" = "$T/sh/val_00000$((n - 1)).bin" ] || [ "$cnt" -eq 20000 ]
        cmp <(head -c 1024 "$f" | tail -c +13) <(head -c 1024 "$T/one.bin" | tail -c +13)
    done
    # the ids of the shards in order are the ids of the one stream
    cmp <(for f in "$T"/sh/val_*.bin; do tail -c +1025 "$f"; done) <(tail -c +1025 "$T/one.bin")
    # compressed shards hold the same ids (their header has no count)
    run_tool bpe-encode -q -z -t 2 --shard-size 20K -o "$T/z/val" "$TOK" "$VAL"
    [ "$status" -eq 0 ]
    for f in "$T"/sh/val_*.bin; do
        cmp <(zstd -dc "$T/z/$(basename "$f")" | tail -c +1025) <(tail -c +1025 "$f")
    done
    # a second run with larger shards leaves none of the first run's behind
    run_tool bpe-encode -q --shard-size 50000 -o "$T/sh/val" "$TOK" "$VAL"
    [ "$status" -eq 0 ]
    [ "$(ls "$T/sh" | wc -l)" -eq $(( (total + 49999) / 50000 )) ]
    cmp <(for f in "$T"/sh/val_*.bin; do tail -c +1025 "$f"; done) <(tail -c +1025 "$T/one.bin")
}

@test "bpe-encode --shard-size: needs -o, encoding and a positive size" {
    run_tool bpe-encode --shard-size 100 "$TOK" "$VAL"
    [ "$status" -eq 2 ]
    [[ $stderr == "bpe-encode: --shard-size needs encoding and -o PREFIX (shards are files)"* ]]
    run_tool bpe-encode -d --shard-size 100 -o x "$TOK" "$VAL"
    [ "$status" -eq 2 ]
    run_tool bpe-encode --shard-size 0 -o x "$TOK" "$VAL"
    [ "$status" -eq 2 ]
    [ ! -e x_000000.bin ]
}

@test "bpe-encode -t 2: reading ahead while the rank file loads keeps -t 1's ids and its errors" {
    node_refs
    local d="$BATS_FILE_TMPDIR" T="$BATS_TEST_TMPDIR"
    # 7 MB of documents: the reading thread reads batches of 1 MB while the
    # rank file loads (some of the input with GPT-2's, most or all of it
    # with o200k's, which loads slower), then batches of 4 MB
    { zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst"; cat "$d/parity.jsonl"; } > "$T/big.jsonl"
    for v in gpt2 o200k; do
        bpe-encode -o "$T/$v-1.bin" "$d/$v.tiktoken" "$T/big.jsonl"
        bpe-encode -t 2 -o "$T/$v-2.bin" "$d/$v.tiktoken" "$T/big.jsonl"
        cmp "$T/$v-1.bin" "$T/$v-2.bin"
        # again over the earlier output (its cached pages are dropped first)
        bpe-encode -t 2 -o "$T/$v-2.bin" "$d/$v.tiktoken" "$T/big.jsonl"
        cmp "$T/$v-1.bin" "$T/$v-2.bin"
    done
    # a rank file that cannot be read: named, as with one thread, and no output
    run_tool bpe-encode -t 2 -o "$T/none.bin" "$T/none.tiktoken" "$T/big.jsonl"
    [ "$status" -eq 1 ]
    [ "$stderr" = "bpe-encode: $T/none.tiktoken: cannot open: No such file or directory" ]
    [ -z "$(ls "$T" | grep '^none\.bin')" ]
    # a malformed line in the part read ahead
    { head -n 100 "$T/big.jsonl"; echo '{"text": 5}'; cat "$T/big.jsonl"; } > "$T/bad.jsonl"
    run_tool bpe-encode -t 2 -o "$T/bad.bin" "$d/o200k.tiktoken" "$T/bad.jsonl"
    [ "$status" -eq 1 ]
    [[ $stderr == "bpe-encode: $T/bad.jsonl:101: "* ]]
    [ -z "$(ls "$T" | grep '^bad\.bin')" ]
}

@test "bpe-encode -t 2: documents longer than the room left in the buffers read ahead keep -t 1's ids" {
    node_refs
    local d="$BATS_FILE_TMPDIR" T="$BATS_TEST_TMPDIR"
    # The first batches read ahead lie back to back in the two regular
    # buffers (core/jsonl_par.c); a document that does not fit in the room
    # left moves its batch into a buffer of its own.  Documents of 6 MB,
    # 1.5 MB and 1 MB among short ones, early enough to be read ahead while
    # o200k's rank file loads.
    zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst" > "$T/stories.jsonl"
    head -c 6000000 "$T/stories.jsonl" | jq -cRs '{text: .}' > "$T/doc6.jsonl"
    head -c 1500000 "$T/stories.jsonl" | jq -cRs '{text: .}' > "$T/doc15.jsonl"
    head -c 1000000 "$T/stories.jsonl" | jq -cRs '{text: .}' > "$T/doc1.jsonl"
    { head -n 20 "$T/stories.jsonl"; cat "$T/doc6.jsonl"; head -n 3000 "$T/stories.jsonl"; cat "$T/doc15.jsonl"
      cat "$T/doc1.jsonl"; head -n 500 "$d/parity.jsonl"; cat "$T/doc1.jsonl" "$T/doc15.jsonl"; cat "$T/stories.jsonl"; } > "$T/long.jsonl"
    for v in gpt2 o200k; do
        bpe-encode -o "$T/$v-1.bin" "$d/$v.tiktoken" "$T/long.jsonl"
        bpe-encode -t 2 -o "$T/$v-2.bin" "$d/$v.tiktoken" "$T/long.jsonl"
        cmp "$T/$v-1.bin" "$T/$v-2.bin"
    done
}
