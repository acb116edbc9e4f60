#!/usr/bin/env bats
# 40-tok-stats: statistics of text and token streams, and the vocabulary
# recommendation.  Small inputs whose numbers are known by hand, an
# independent numpy count of a larger stream, and every bad input.

load helper

PY=/usr/bin/python3

# mkstream FILE VOCAB FINGERPRINT_HEX BITS ID...: write a token stream
# (tfs-tokens(5)) by hand, independent of lib/core/tokstream.c.
mkstream() {
    "$PY" - "$@" <<'EOF'
import struct, sys
out, vocab, fp, bits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 16), int(sys.argv[4])
ids = [int(x) for x in sys.argv[5:]]
magic, version = (20240801, 7) if bits == 32 else (20240520, 1)
h = [magic, version, len(ids), vocab, fp & 0xffffffff, fp >> 32] + [0] * 250
with open(out, 'wb') as f:
    f.write(struct.pack('<256I', *h))
    f.write(struct.pack('<%d%s' % (len(ids), 'I' if bits == 32 else 'H'), *ids))
EOF
}

# jget FILE EXPR: evaluate a Python expression on the JSON document j
jget() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# recommend_ref SUBSET SIZES < JSONL: an independent Python version of
# what tok-stats(1) says --recommend does: hold out every tenth document,
# train byte-level BPE (GPT-2 pre-tokens, min frequency 2) on the others,
# encode the held-out documents with each size's prefix of the merges and
# pick the knee.  Prints JSON: trained_vocab, bpt (bytes per token by size),
# recommended.  Slow in general, fast on the stories (753 distinct pieces).
recommend_ref() {
    "$PY" -c "$(cat <<'PY'
import collections, json, re, sys
subset, sizes = int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")]
S = "[ \t\n\x0b\x0c\r]"
gpt2 = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^ \t\n\x0b\x0c\rA-Za-z0-9]+|%s+(?!\S)|%s+" % (S, S))
train, held, held_bytes, held_max = collections.Counter(), collections.Counter(), 0, max(subset // 9, 1)
ntrain = nheld = 0
for i, line in enumerate(sys.stdin, 1):
    t = json.loads(line)["text"]
    assert t.isascii(), "the reference pattern is written for ASCII text"
    if i % 10 == 0:
        if nheld < held_max: held.update(gpt2.findall(t)); held_bytes += len(t.encode()); nheld += 1
    elif ntrain < subset:
        train.update(gpt2.findall(t)); ntrain += 1
# BPE training: the most frequent pair (ties: smaller left, then right id),
# counts weighted by the pieces' counts; a pair whose bytes are already a
# token reuses that id; stop when no pair occurs twice
tok = [bytes([b]) for b in range(256)]
ids = {b: i for i, b in enumerate(tok)}
words = [[list(p.encode()), c] for p, c in train.items()]
while len(tok) + 1 < sizes[-1]:
    pairs = collections.Counter()
    for w, c in words:
        for a, b in zip(w, w[1:]): pairs[a, b] += c
    if not pairs: break
    (a, b), n = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
    if n < 2: break
    m = tok[a] + tok[b]
    if m not in ids: ids[m] = len(tok); tok.append(m)
    new = ids[m]
    for wc in words:
        w, out, k = wc[0], [], 0
        while k < len(w):
            if k + 1 < len(w) and w[k] == a and w[k + 1] == b: out.append(new); k += 2
            else: out.append(w[k]); k += 1
        wc[0] = out
trained = len(tok) + 1            # + end-of-text
# encoding (bpe-encode(1)): merge the adjacent pair whose bytes form the
# token of lowest id, repeatedly; vocabulary k keeps ids below k - 1
def encode(piece, k):
    if ids.get(piece, k) < k - 1: return 1          # a piece that is a token is that token
    parts = [bytes([c]) for c in piece]
    while len(parts) > 1:
        best = min(((ids.get(parts[j] + parts[j + 1], k), j) for j in range(len(parts) - 1)))
        if best[0] >= k - 1: break
        j = best[1]; parts[j:j + 2] = [parts[j] + parts[j + 1]]
    return len(parts)
reached = sorted(set([s for s in sizes if s <= trained] + ([trained] if trained < sizes[-1] else [])))
bpt = {k: held_bytes / sum(encode(p.encode(), k) * c for p, c in held.items()) for k in reached}
# the knee (tok-stats(1)): x params, y bytes per token, both scaled to [0, 1]
# between the smallest and largest size; farthest above y = x, larger on ties
a, z = reached[0], reached[-1]
rec = a if a == z or bpt[z] <= bpt[a] else max(reached, key=lambda k: (round((bpt[k] - bpt[a]) / (bpt[z] - bpt[a]) - (k - a) / (z - a), 12), k))
print(json.dumps({"trained_vocab": trained, "bpt": {str(k): v for k, v in bpt.items()}, "recommended": rec}))
PY
)" "$@"
}

# a small tokenizer trained on the validation stories (fast)
mktok() {
    bpe-train -q -n 400 -o "$BATS_TEST_TMPDIR/tok.bin" "$TFS_ASSETS/stories-val.jsonl.zst" 2>/dev/null
}

@test "tok-stats: --help, unknown options and the man page agree" {
    cli_contract tok-stats
}

# ---- token streams: numbers known by hand ----

@test "tok-stats: a uniform stream has log2(V) bits of entropy and needs every id" {
    f=$BATS_TEST_TMPDIR/u.bin
    mkstream "$f" 8 0 16 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
    run_tool tok-stats --eot 0 --json "$f"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['tokens']")" = 16 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['documents']")" = 2 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['tokens_per_document']")" = 8.0 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "abs(j['tokens']['entropy_bits_per_token'] - 3) < 1e-9")" = True ]
    # 90% of 16 tokens needs 15 of them: all 8 ids; so do the higher levels
    [ "$(jget "$BATS_TEST_TMPDIR/j" "list(j['tokens']['coverage'].values())")" = "[8, 8, 8, 8]" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['ids_never_used']")" = "[]" ]
    # the readable report says the same
    run_tool tok-stats --eot 0 "$f"
    [[ $output == *"unigram entropy                 3.0000 bits per token"* ]]
    [[ $output == *"documents                            2 (end-of-text id 0)"* ]]
}

@test "tok-stats: a one-token stream has zero entropy; documents unknown without --eot" {
    f=$BATS_TEST_TMPDIR/one.bin
    mkstream "$f" 10 0 16 3 3 3 3 3 3 3
    run_tool tok-stats --json "$f"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['entropy_bits_per_token']")" = 0.0 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['documents']")" = None ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['ids_used']")" = 1 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['ids_never_used']")" = "[0, 1, 2, 4, 5, 6, 7, 8, 9]" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "list(j['tokens']['coverage'].values())")" = "[1, 1, 1, 1]" ]
    run_tool tok-stats "$f"
    [[ $output == *"documents                            ? (end-of-text id unknown: give --tokenizer or --eot)"* ]]
    [[ $output == *"ids never used                       9: 0 1 2 4 5 6 7 8 9"* ]]
    run_tool tok-stats --eot 3 --json "$f"
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['documents']")" = 7 ]
}

@test "tok-stats: coverage ranks and the CSV CDF of a known histogram" {
    # counts: id 2: 50, id 0: 40, id 3: 9, id 1: 1, id 4: 0  (100 tokens)
    ids=$(for i in $(seq 50); do echo 2; done; for i in $(seq 40); do echo 0; done
          for i in $(seq 9); do echo 3; done; echo 1)
    f=$BATS_TEST_TMPDIR/c.bin
    # shellcheck disable=SC2086
    mkstream "$f" 5 0 16 $ids
    run_tool tok-stats --json "$f"
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    # 90%: 50+40; 95% and 99%: +9; 99.9% needs all 100 tokens
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['coverage']")" = "{'90': 2, '95': 3, '99': 3, '99.9': 4}" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[(t['id'], t['count']) for t in j['tokens']['top']]")" = "[(2, 50), (0, 40), (3, 9), (1, 1)]" ]
    run_tool tok-stats --csv "$f"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "rank,id,count,share,cumulative" ]
    [ "${lines[1]}" = "1,2,50,0.5,0.5" ]
    [ "${lines[2]}" = "2,0,40,0.4,0.9" ]
    [ "${lines[3]}" = "3,3,9,0.09,0.99" ]
    [ "${lines[4]}" = "4,1,1,0.01,1" ]
    [ "${lines[5]}" = "5,4,0,0,1" ]
    [ "${#lines[@]}" -eq 6 ]
    # the man page's example: how many ids cover 99% of the tokens
    run_tool bash -c "tok-stats --csv '$f' | awk -F, 'NR > 1 && \$5 >= 0.99 { print \$1; exit }'"
    [ "$output" = 3 ]
}

@test "tok-stats: 32-bit, zstd-compressed and piped streams give the same counts" {
    mkstream "$BATS_TEST_TMPDIR/a32" 70000 0 32 5 1 5 69999 5 9
    zstd -q -c "$BATS_TEST_TMPDIR/a32" > "$BATS_TEST_TMPDIR/a32.zst"
    for how in file zst pipe; do
        case $how in
        file) run_tool tok-stats --csv -n 0 "$BATS_TEST_TMPDIR/a32" ;;
        zst) run_tool tok-stats --csv -n 0 "$BATS_TEST_TMPDIR/a32.zst" ;;
        pipe) run_tool bash -c "cat '$BATS_TEST_TMPDIR/a32' | tok-stats --csv --tokens" ;;
        esac
        [ "$status" -eq 0 ]
        [ "${lines[1]}" = "1,5,3,0.5,0.5" ]
        [ "${lines[2]}" = "2,1,1,0.166666667,0.666666667" ]
        [ "${lines[3]}" = "3,9,1,0.166666667,0.833333333" ]
        [ "${lines[4]}" = "4,69999,1,0.166666667,1" ]
    done
}

@test "tok-stats: counts, entropy and coverage agree with numpy on a 1M-token stream" {
    requires numpy
    f=$BATS_TEST_TMPDIR/z.bin
    "$PY" - "$f" > "$BATS_TEST_TMPDIR/ref" <<'EOF'
import numpy as np, struct, sys
rng = np.random.default_rng(7)
V = 5000
ids = np.minimum(rng.zipf(1.3, 1_000_000) - 1, V - 1).astype('<u2')
h = [20240520, 1, len(ids), V, 0, 0] + [0] * 250
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<256I', *h)); f.write(ids.tobytes())
c = np.bincount(ids, minlength=V).astype(np.float64)
p = c[c > 0] / c.sum()
H = -(p * np.log2(p)).sum()
cum = np.cumsum(np.sort(c)[::-1])
ranks = [int(np.searchsorted(cum, np.ceil(q * c.sum() - 1e-9)) + 1) for q in (0.9, 0.95, 0.99, 0.999)]
print(f"{H:.9f} {int((c > 0).sum())} {ranks}")
EOF
    read -r H used ranks < "$BATS_TEST_TMPDIR/ref"
    run_tool tok-stats --json "$f"
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "abs(j['tokens']['entropy_bits_per_token'] - $H) < 1e-7")" = True ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['ids_used']")" = "$used" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "list(j['tokens']['coverage'].values())")" = "$ranks" ]
}

# ---- with the tokenizer ----

@test "tok-stats: a stream with its tokenizer: bytes per token, token text, bits per byte" {
    mktok
    tok=$BATS_TEST_TMPDIR/tok.bin
    run_tool bpe-encode --info "$tok"
    fp=$(awk '$1 == "fingerprint" { print $2 }' <<< "$output")
    eot=$(awk '$1 == "eot" { print $2 }' <<< "$output")
    # two documents: "hi" and "h" (byte tokens 104 'h', 105 'i')
    mkstream "$BATS_TEST_TMPDIR/s.bin" 400 "$fp" 16 "$eot" 104 105 "$eot" 104
    run_tool tok-stats -t "$tok" --json "$BATS_TEST_TMPDIR/s.bin"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['documents']")" = 2 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['bytes']")" = 3 ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['tokens']['bytes_per_token']")" = 1.0 ]
    # H of (2/5, 2/5, 1/5) spread over 3 bytes for 5 tokens
    [ "$(jget "$BATS_TEST_TMPDIR/j" "abs(j['tokens']['entropy_bits_per_byte'] - 1.5219280949 * 5 / 3) < 1e-9")" = True ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[(t['id'], t['text'], t['hex']) for t in j['tokens']['top']][:2]")" = "[(104, 'h', '68'), ($eot, '<|endoftext|>', '3c7c656e646f66746578747c3e')]" ]
    run_tool tok-stats -t "$tok" -n 1 "$BATS_TEST_TMPDIR/s.bin"
    [[ $output == *'       1      104            2  40.000%  "h"'* ]]
}

@test "tok-stats: encoded text and its token stream give the same token statistics" {
    mktok
    tok=$BATS_TEST_TMPDIR/tok.bin
    bpe-encode -q "$tok" "$TFS_ASSETS/stories-val.jsonl.zst" -o "$BATS_TEST_TMPDIR/ids.bin"
    strip="{k: v for k, v in j['tokens'].items() if k not in ('count_seconds', 'tokens_per_second')}"
    run_tool tok-stats -t "$tok" --json "$BATS_TEST_TMPDIR/ids.bin"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/a"
    run_tool tok-stats -t "$tok" --json "$TFS_ASSETS/stories-val.jsonl.zst"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/b"
    [ "$(jget "$BATS_TEST_TMPDIR/a" "$strip")" = "$(jget "$BATS_TEST_TMPDIR/b" "$strip")" ]
    [ "$(jget "$BATS_TEST_TMPDIR/a" "j['tokens']['documents']")" = 500 ]
    [ "$(jget "$BATS_TEST_TMPDIR/b" "j['tokens']['bytes'] == j['text']['bytes']")" = True ]
}

@test "tok-stats: a stream from another tokenizer is refused (fingerprint, vocabulary)" {
    mktok
    tok=$BATS_TEST_TMPDIR/tok.bin
    fp=$(bpe-encode --info "$tok" | awk '$1 == "fingerprint" { print $2 }')
    f=$BATS_TEST_TMPDIR/other.bin
    mkstream "$f" 400 123456789abcdef0 16 1 2 3
    run_tool tok-stats -t "$tok" "$f"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $f: encoded with a different tokenizer than $tok (fingerprint 123456789abcdef0, tokenizer $fp)" ]
    [ -z "$output" ]
    # no fingerprint recorded: the vocabulary size must still match
    mkstream "$f" 512 0 16 1 2 3
    run_tool tok-stats -t "$tok" "$f"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $f: vocabulary size 512 does not match $tok (400)" ]
    # two streams from different tokenizers
    mkstream "$BATS_TEST_TMPDIR/a.bin" 300 0 16 1
    mkstream "$BATS_TEST_TMPDIR/b.bin" 300 00000000000000aa 16 1
    run_tool tok-stats "$BATS_TEST_TMPDIR/a.bin" "$BATS_TEST_TMPDIR/b.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $BATS_TEST_TMPDIR/b.bin: encoded with a different tokenizer than $BATS_TEST_TMPDIR/a.bin (vocabulary 300, fingerprint 00000000000000aa; expected 300, 0000000000000000)" ]
}

# ---- bad token streams ----

@test "tok-stats: truncated and corrupt streams exit 1 and say what is wrong" {
    f=$BATS_TEST_TMPDIR/t.bin
    mkstream "$f" 10 0 16 1 2 3 4
    head -c 1031 "$f" > "$BATS_TEST_TMPDIR/odd.bin"        # 3.5 ids
    run_tool tok-stats "$BATS_TEST_TMPDIR/odd.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $BATS_TEST_TMPDIR/odd.bin: truncated: 7 bytes of ids is not a multiple of 2" ]
    head -c 1030 "$f" > "$BATS_TEST_TMPDIR/short.bin"      # 3 of 4 ids
    run_tool tok-stats "$BATS_TEST_TMPDIR/short.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $BATS_TEST_TMPDIR/short.bin: truncated or corrupt: header says 4 tokens, file holds 3" ]
    # the same truncation, compressed (read sequentially)
    zstd -q -c "$BATS_TEST_TMPDIR/short.bin" > "$BATS_TEST_TMPDIR/short.zst"
    run_tool tok-stats "$BATS_TEST_TMPDIR/short.zst"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $BATS_TEST_TMPDIR/short.zst: truncated: header says 4 tokens, stream holds 3" ]
    head -c 500 "$f" > "$BATS_TEST_TMPDIR/hdr.bin"
    run_tool tok-stats --tokens - < "$BATS_TEST_TMPDIR/hdr.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: <stdin>: truncated: 500 bytes, shorter than the 1024-byte header" ]
    mkstream "$BATS_TEST_TMPDIR/big.bin" 10 0 16 1 12 3
    run_tool tok-stats "$BATS_TEST_TMPDIR/big.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $BATS_TEST_TMPDIR/big.bin: token 12 at position 1 is out of range (vocabulary size 10)" ]
}

# ---- text ----

@test "tok-stats: text statistics of a small JSONL file, counted by hand" {
    f=$BATS_TEST_TMPDIR/t.jsonl
    printf '%s\n' '{"text": "Hello world"}' '{"text": "a-b c", "id": 2}' '' '{"text": "\u00fcn\u00ef 12"}' > "$f"
    run_tool tok-stats --json --rare 2 "$f"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    t="j['text']"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[$t[k] for k in ('documents', 'bytes', 'characters', 'words', 'hyphenated_words')]")" = "[3, 24, 22, 6, 1]" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[$t[k] for k in ('ascii_bytes', 'other_utf8_bytes', 'invalid_utf8_bytes')]")" = "[20, 4, 0]" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "$t['scripts']['Latin letters beyond ASCII']")" = 2 ]
    # lengths in characters 11, 5, 6: nearest-rank quartiles 5, 6, 11
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[$t['length']['characters'][k] for k in ('min', 'q1', 'median', 'q3', 'max')]")" = "[5, 5, 6, 11, 11]" ]
    # gpt2 pieces: "Hello" " world" | "a" "-" "b" " c" | "ünï" " 12"
    p="j['pre_tokens']"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[$p['pre_tokens'], $p['distinct']]")" = "[8, 8]" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "$p['classes']")" = "{'single_characters': 3, 'whitespace_runs': 0, 'punctuation_heavy': 1, 'numbers': 1}" ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "$p['rare']")" = "{'below': 2, 'distinct': 8, 'occurrences': 8}" ]
    # the same from standard input
    run_tool bash -c "tok-stats --json --rare 2 < '$f'"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/k"
    [ "$(jget "$BATS_TEST_TMPDIR/k" "j['inputs']")" = "['<stdin>']" ]
    [ "$(jget "$BATS_TEST_TMPDIR/k" "(j['text'], j['pre_tokens'])")" = "$(jget "$BATS_TEST_TMPDIR/j" "(j['text'], j['pre_tokens'])")" ]
}

@test "tok-stats: pre-token edge cases counted by hand" {
    # white-space runs and numbers do not occur in the stories: add some
    f=$BATS_TEST_TMPDIR/e.jsonl
    printf '%s\n' '{"text": "In 2024,   Tom said \"wow!!!\"\n\n\nand left..."}' > "$f"
    run_tool tok-stats -n 3 "$f"
    [ "$status" -eq 0 ]
    [[ $output == *"white-space runs                         2  "* ]]     # "  " and "\n\n" (gpt2 leaves the last space or newline to what follows)
    [[ $output == *"numbers                                  1  "* ]]     # " 2024"
    [[ $output == *"punctuation-heavy                        4  "* ]]     # "," " \"" "!!!\"" "..."
}

@test "tok-stats: malformed JSONL exits 1 naming the file and line" {
    f=$BATS_TEST_TMPDIR/bad.jsonl
    printf '%s\n' '{"text": "fine"}' '{"text": "broken' > "$f"
    run_tool tok-stats "$f"
    [ "$status" -eq 1 ]
    [[ $stderr == "tok-stats: $f:2: "* ]]
    [ -z "$output" ]
    printf '%s\n' '{"text": 5}' > "$f"
    run_tool tok-stats "$f"
    [ "$status" -eq 1 ]
    [[ $stderr == "tok-stats: $f:1: "*text* ]]
}

@test "tok-stats: inputs that are not there or do not fit together" {
    run_tool tok-stats "$BATS_TEST_TMPDIR/nope.jsonl"
    [ "$status" -eq 1 ]
    [[ $stderr == "tok-stats: "*"nope.jsonl"* ]]
    mkstream "$BATS_TEST_TMPDIR/s.bin" 10 0 16 1
    printf '{"text": "x"}\n' > "$BATS_TEST_TMPDIR/t.jsonl"
    run_tool tok-stats "$BATS_TEST_TMPDIR/s.bin" "$BATS_TEST_TMPDIR/t.jsonl"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: cannot mix token streams and JSONL text in one run" ]
    # an empty input is zero documents, not an error
    run_tool tok-stats --json /dev/null
    [ "$status" -eq 0 ]
    [[ $output == *'"documents": 0'* ]]
}

@test "tok-stats: usage errors exit 2 and name the option" {
    run_tool tok-stats --json --csv x
    [ "$status" -eq 2 ]
    [ "$stderr" = $'tok-stats: --json and --csv exclude each other\nTry \'tok-stats --help\'.' ]
    run_tool tok-stats --sizes 512 x
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --sizes, --subset and --dim go with --recommend"* ]]
    run_tool tok-stats --recommend --sizes 1024,512 x
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --sizes: sizes must increase (512 after 1024)"* ]]
    run_tool tok-stats --recommend --sizes 257 x
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --sizes: 257 is out of range [258, "* ]]
    run_tool tok-stats --top 3x x
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --top: '3x' is not a number"* ]]
    run_tool tok-stats -t tok.bin --eot 3 x
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --eot: the tokenizer names its end-of-text id"* ]]
    run_tool tok-stats --plot - x
    [ "$status" -eq 2 ]
    mkstream "$BATS_TEST_TMPDIR/s.bin" 10 0 16 1
    run_tool tok-stats --eot 10 "$BATS_TEST_TMPDIR/s.bin"
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --eot: 10 is not below the vocabulary size 10"* ]]
    run_tool tok-stats --recommend "$BATS_TEST_TMPDIR/s.bin"
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --recommend needs JSONL text, and $BATS_TEST_TMPDIR/s.bin is a token stream"* ]]
    run_tool tok-stats --pattern '(' /dev/null
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --pattern: "* ]]
}

# ---- the recommendation ----

@test "tok-stats: --recommend on the default data measures every size and picks the knee" {
    run_tool tok-stats --recommend --json -q "$TFS_ASSETS/stories-train.jsonl.zst"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    r="j['recommend']"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "($r['train_documents'], $r['heldout_documents'])")" = "(9900, 1100)" ]
    # the stories have few distinct words: training runs out of pairs below 2048,
    # and the size it reached is compared too
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[s['size'] for s in $r['sizes'] if s['reached']] == [512, 1024, $r['trained_vocab']]")" = True ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "[s['size'] for s in $r['sizes'] if not s['reached']]")" = "[2048, 4096, 8192, 16384, 32768, 65536]" ]
    # compression rises with the size; embedding cost is size * 512
    [ "$(jget "$BATS_TEST_TMPDIR/j" "all(a['bytes_per_token'] < b['bytes_per_token'] for a, b in zip([s for s in $r['sizes'] if s['reached']], [s for s in $r['sizes'] if s['reached']][1:]))")" = True ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "all(s['embedding_params'] == 512 * s['size'] for s in $r['sizes'] if s['reached'])")" = True ]
    # "the whole report should take seconds"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "j['seconds'] < 20")" = True ]
    # the vocabulary reached, every size's bytes per token and the knee agree
    # with an independent training and encoding
    zstd -dc "$TFS_ASSETS/stories-train.jsonl.zst" | recommend_ref 10000 512,1024,2048,4096,8192,16384,32768,65536 > "$BATS_TEST_TMPDIR/ref"
    ref="json.load(open('$BATS_TEST_TMPDIR/ref'))"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "$r['trained_vocab'] == $ref['trained_vocab']")" = True ]
    [ "$(jget "$BATS_TEST_TMPDIR/j" "(lambda got, want: got.keys() == want.keys() and all(abs(got[k] - want[k]) < 1e-8 for k in got))({str(s['size']): s['bytes_per_token'] for s in $r['sizes'] if s['reached']}, $ref['bpt'])")" = True ]
    rec=$(jget "$BATS_TEST_TMPDIR/ref" "j['recommended']")
    [ "$(jget "$BATS_TEST_TMPDIR/j" "$r['recommended']")" = "$rec" ]
    [[ $(jget "$BATS_TEST_TMPDIR/j" "$r['reason']") == "$rec: "*"% of the compression gained from 512 to "* ]]
    # the readable report: the reference's bytes per token for 1,024 (3
    # decimals), and the knee marked on its row, whose params are size x 64
    run_tool tok-stats --recommend -q -n 0 --sizes 512,1024,4096 --dim 64 "$TFS_ASSETS/stories-train.jsonl.zst"
    [ "$status" -eq 0 ]
    [ "$(awk '$1 == "1,024" { print $2 }' <<< "$output")" = "$(jget "$BATS_TEST_TMPDIR/ref" "'%.3f' % j['bpt']['1024']")" ]
    [ "$(awk '$NF == "<-" { print $1, $(NF - 1) }' <<< "$output")" = "$(jget "$BATS_TEST_TMPDIR/ref" "'{:,} {:,}'.format(j['recommended'], 64 * j['recommended'])")" ]
    [[ $output == *"  recommended: $rec: "* ]]
}

@test "tok-stats: the knee of a hand-made curve" {
    # --subset small enough to reach every size on a few hundred documents
    run_tool tok-stats --recommend --json -q --subset 90 --sizes 300,400,500 "$TFS_ASSETS/stories-val.jsonl.zst"
    [ "$status" -eq 0 ]
    echo "$output" > "$BATS_TEST_TMPDIR/j"
    r="j['recommend']"
    [ "$(jget "$BATS_TEST_TMPDIR/j" "($r['train_documents'], $r['heldout_documents'])")" = "(90, 10)" ]
    # recompute the knee from the reported rows: argmax of y - x, scaled
    [ "$(jget "$BATS_TEST_TMPDIR/j" "(lambda s: s[max(range(len(s)), key=lambda i: ((s[i]['bytes_per_token'] - s[0]['bytes_per_token']) / (s[-1]['bytes_per_token'] - s[0]['bytes_per_token']) - (s[i]['size'] - s[0]['size']) / (s[-1]['size'] - s[0]['size']), s[i]['size']))]['size'])([s for s in $r['sizes'] if s['reached']]) == $r['recommended']")" = True ]
    printf '{"text": "a"}\n' > "$BATS_TEST_TMPDIR/few.jsonl"
    run_tool tok-stats --recommend "$BATS_TEST_TMPDIR/few.jsonl"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tok-stats: $BATS_TEST_TMPDIR/few.jsonl: --recommend needs at least 10 documents (got 1)" ]
}

# ---- output forms ----

@test "tok-stats: --plot draws a PNG with gnuplot, atomically" {
    requires gnuplot
    mktok
    run_tool tok-stats -q -t "$BATS_TEST_TMPDIR/tok.bin" --plot "$BATS_TEST_TMPDIR/p.png" "$TFS_ASSETS/stories-val.jsonl.zst"
    [ "$status" -eq 0 ]
    [ "$(head -c 8 "$BATS_TEST_TMPDIR/p.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
    [ "$(ls "$BATS_TEST_TMPDIR" | grep -c tmp)" -eq 0 ]
}

@test "tok-stats: --csv on text without a tokenizer lists the pre-tokens" {
    printf '%s\n' '{"text": "a b a, \"a\""}' > "$BATS_TEST_TMPDIR/q.jsonl"
    run_tool tok-stats --csv "$BATS_TEST_TMPDIR/q.jsonl"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "rank,count,share,cumulative,pre_token" ]
    # pieces "a" " b" " a" "," " \"" "a" "\"": "a" twice, ties in byte order
    [ "${lines[1]}" = '1,2,0.285714286,0.285714286,"a"' ]
    [ "${lines[2]}" = '2,1,0.142857143,0.428571429," """' ]
    [ "${lines[6]}" = '6,1,0.142857143,1,","' ]
    [ "${#lines[@]}" -eq 7 ]
}

# ---- --summary: one line ----

@test "tok-stats: --summary of 16- and 32-bit streams counts ids at the stream's own width" {
    # the same 16 ids, as 2-byte and as 4-byte ids: 16 tokens either way, and
    # the file sizes say so (1024-byte header + 16 x width)
    mkstream "$BATS_TEST_TMPDIR/u16" 8 0 16 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
    mkstream "$BATS_TEST_TMPDIR/u32" 8 0 32 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/u16")" -eq $((1024 + 16 * 2)) ]
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/u32")" -eq $((1024 + 16 * 4)) ]
    # 8 ids equally often: log2(8) bits = ln(8) nats
    nats=$("$PY" -c 'import math; print(f"{math.log(8):.4f}")')
    for w in 16 32; do
        run_tool tok-stats --summary --eot 0 "$BATS_TEST_TMPDIR/u$w"
        [ "$status" -eq 0 ]
        [ "$output" = "$BATS_TEST_TMPDIR/u$w: 16 tokens (uint$w ids, vocabulary 8), 2 documents, unigram entropy 3.0000 bits = $nats nats/token" ]
    done
    # without an end-of-text id the documents are unknown; one repeated id has entropy 0
    mkstream "$BATS_TEST_TMPDIR/one" 10 0 16 3 3 3 3 3
    run_tool tok-stats --summary "$BATS_TEST_TMPDIR/one"
    [ "$output" = "$BATS_TEST_TMPDIR/one: 5 tokens (uint16 ids, vocabulary 10), documents unknown, unigram entropy 0.0000 bits = 0.0000 nats/token" ]
}

@test "tok-stats: --summary of JSONL text agrees with an independent count" {
    f=$BATS_TEST_TMPDIR/t.jsonl
    printf '%s\n' '{"text": "Hello world"}' '{"text": "a-b  c\nd", "id": 2}' '{"text": "\u00fcn\u00ef 12 \u4e2d"}' > "$f"
    # documents, UTF-8 bytes, code points, white-space separated words
    ref=$("$PY" - "$f" <<'PYEOF'
import json, sys
d = [json.loads(l)["text"] for l in open(sys.argv[1])]
b = sum(len(t.encode()) for t in d)
print(f"{len(d)} documents, {b} bytes, {sum(map(len, d))} characters, "
      f"{sum(len(t.split()) for t in d)} words, {b / len(d):.1f} bytes/document")
PYEOF
)
    run_tool tok-stats --summary "$f"
    [ "$status" -eq 0 ]
    [ "$output" = "$f: $ref" ]
    # the default data: the same count on a compressed file, read whole
    ref=$(zstd -dc "$TFS_ASSETS/stories-val.jsonl.zst" | "$PY" -c 'import json, sys
d = [json.loads(l)["text"] for l in sys.stdin]
print(len(d), sum(len(t.encode()) for t in d), sum(len(t.split()) for t in d))')
    run_tool tok-stats -q --summary "$TFS_ASSETS/stories-val.jsonl.zst"
    [ "$status" -eq 0 ]
    read -r docs bytes words <<< "$ref"
    [[ $output == "$TFS_ASSETS/stories-val.jsonl.zst: $docs documents, $bytes bytes, "*" characters, $words words, "* ]]
}

@test "tok-stats: --summary with the tokenizer: the text's tokens are the stream's" {
    mktok
    tok=$BATS_TEST_TMPDIR/tok.bin
    val=$TFS_ASSETS/stories-val.jsonl.zst
    bpe-encode -q "$tok" "$val" -o "$BATS_TEST_TMPDIR/ids.bin"
    # the stream holds (size - header) / 2 ids: vocabulary 400 fits 16 bits
    n=$(( ($(stat -c %s "$BATS_TEST_TMPDIR/ids.bin") - 1024) / 2 ))
    docs=$(zstd -dc "$val" | wc -l)
    run_tool tok-stats -q --summary -t "$tok" "$BATS_TEST_TMPDIR/ids.bin"
    [ "$status" -eq 0 ]
    [[ $output == "$BATS_TEST_TMPDIR/ids.bin: $n tokens (uint16 ids, vocabulary 400), $docs documents, "*" bytes/token, unigram entropy "*" nats/token" ]]
    stream=${output#*), $docs documents}
    # the text encoded on the fly: its text part, then the same token part
    run_tool tok-stats -q --summary -t "$tok" "$val"
    [ "$status" -eq 0 ]
    [[ $output == "$val: $docs documents, "*" bytes/document; $n tokens (uint16 ids, vocabulary 400)$stream" ]]
    # bytes/token: the text's bytes over the tokens that are not end-of-text
    bytes=$(zstd -dc "$val" | "$PY" -c 'import json, sys; print(sum(len(json.loads(l)["text"].encode()) for l in sys.stdin))')
    bpt=$("$PY" -c "print(f'{$bytes / ($n - $docs):.3f}')")
    [[ $stream == ", $bpt bytes/token, "* ]]
    # the entropy in nats is the entropy in bits times ln 2
    [[ $stream =~ entropy\ ([0-9.]+)\ bits\ =\ ([0-9.]+)\ nats ]]
    [ "$("$PY" -c "print(abs(${BASH_REMATCH[1]} * 0.6931471805599453 - ${BASH_REMATCH[2]}) < 1e-4)")" = True ]
}

@test "tok-stats: --summary excludes --json and --csv" {
    run_tool tok-stats --summary --json x
    [ "$status" -eq 2 ]
    [ "$stderr" = $'tok-stats: --summary and --json exclude each other\nTry \'tok-stats --help\'.' ]
    run_tool tok-stats --csv --summary x
    [ "$status" -eq 2 ]
    [[ $stderr == "tok-stats: --summary and --csv exclude each other"* ]]
    [ -z "$output" ]
}

@test "tok-stats: shards (several files, a directory) count as their concatenation" {
    mkdir "$BATS_TEST_TMPDIR/sh"
    mkstream "$BATS_TEST_TMPDIR/sh/a" 10 0 16 5 1 5
    mkstream "$BATS_TEST_TMPDIR/sh/b" 10 0 16 9
    mkstream "$BATS_TEST_TMPDIR/sh/c" 10 0 16 5 5
    for how in files dir; do
        case $how in
        files) run_tool tok-stats --csv -n 0 "$BATS_TEST_TMPDIR"/sh/* ;;
        dir) run_tool tok-stats --csv -n 0 "$BATS_TEST_TMPDIR/sh" ;;
        esac
        [ "$status" -eq 0 ]
        [ "${lines[1]}" = "1,5,4,0.666666667,0.666666667" ]
        [ "${lines[2]}" = "2,1,1,0.166666667,0.833333333" ]
        [ "${lines[3]}" = "3,9,1,0.166666667,1" ]
    done
}
