#!/usr/bin/env bats
# 60-tfs-eval: scoring, generation, chat through a pty, export, bad input.
# setup_file trains a small tokenizer and a small model for a few steps.

load helper

# One thread: fast and immune to the spinning of busy OpenMP threads on a
# loaded machine.
export OMP_NUM_THREADS=1

setup_file() {
    local d=$BATS_FILE_TMPDIR
    stories_tokenized "$d" 1500 60
    tfs-train --layers 2 --dim 32 --heads 2 --context 32 -b 8 --steps 40 --warmup 5 --lr 1e-2 \
        --threads 1 -q --val "$d/val.ids" --eval-batches 2 --eval-every 40 \
        -o "$d/m.st" --log "$d/m.jsonl" "$d/train.ids"
}

setup() {
    D=$BATS_FILE_TMPDIR
    T=$BATS_TEST_TMPDIR
}

field() { grep -o "\"$1\": [0-9.e+-]*" | cut -d' ' -f2; }

@test "tfs-eval: command-line contract (help, unknown option, man page)" {
    cli_contract tfs-eval
}

@test "tfs-eval: scores a stream: loss, perplexity, tokens; the same from stdin" {
    run_tool tfs-eval -q "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    [[ $output =~ ^\{\"loss\":\ [0-9.]+,\ \"perplexity\":\ [0-9.]+,\ \"tokens\":\ [0-9]+\}$ ]]
    n=$(( ($(stat -c %s "$D/val.ids") - 1024) / 2 ))
    [ "$(field tokens <<< "$output")" -eq $((n - 1)) ]     # every token but the first is predicted
    /usr/bin/python3 -c 'import json, math, sys; j = json.loads(sys.argv[1]); assert abs(math.exp(j["loss"]) - j["perplexity"]) < 1e-3 * j["perplexity"]' "$output"
    file=$output
    run_tool bash -c "cat '$D/val.ids' | tfs-eval -q '$D/m.st'"
    [ "$status" -eq 0 ]
    [ "$output" = "$file" ]
    run_tool bash -c "zstd -qc '$D/val.ids' | tfs-eval -q '$D/m.st' -"
    [ "$output" = "$file" ]
}

@test "tfs-eval: the batch size does not change the loss, a short last window is scored" {
    run_tool tfs-eval -q -b 1 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    a=$(field loss <<< "$output")
    run_tool tfs-eval -q -b 7 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    b=$(field loss <<< "$output")
    [ -n "$a" ] && [ -n "$b" ]
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 2e-6) }'
    # 40 predicted tokens = one window of 32 and one of 8
    run_tool tfs-eval -q --max-tokens 40 "$D/m.st" "$D/val.ids"
    [ "$(field tokens <<< "$output")" -eq 40 ]
}

@test "tfs-eval: agrees with the validation loss tfs-train logged (same rule)" {
    # tfs-train validated on the first 2 x 8 x 32 + 1 tokens
    want=$(tail -1 "$D/m.jsonl" | field val_loss)
    run_tool tfs-eval -q --max-tokens 512 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    got=$(field loss <<< "$output")
    [ -n "$want" ] && [ -n "$got" ]
    echo "tfs-train $want, tfs-eval $got" >&2
    awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-5) }'
}

@test "tfs-eval: bits per byte with the tokenizer" {
    run_tool tfs-eval -q --tokenizer "$D/tok.bin" "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    # the bytes of the predicted tokens are the text of the stories (all but the first eot)
    bytes=$(/usr/bin/python3 -c 'import json, sys; print(sum(len(json.loads(l)["text"].encode()) for l in open(sys.argv[1])))' "$D/val.jsonl")
    [ "$(field bytes <<< "$output")" -eq "$bytes" ]
    /usr/bin/python3 -c '
import json, math, sys
j = json.loads(sys.argv[1])
assert abs(j["bits_per_byte"] - j["loss"] * j["tokens"] / math.log(2) / j["bytes"]) < 1e-5, j' "$output"
}

@test "tfs-eval: generation is reproducible with a seed and stops at -n tokens" {
    G="--tokenizer $D/tok.bin --prompt Once -n 30 --temperature 0.9 --top-k 50 --top-p 0.95"
    run_tool tfs-eval $G --seed 5 "$D/m.st"
    [ "$status" -eq 0 ]
    first=$output
    [[ $first == Once* ]]
    [ "${#first}" -gt 10 ]
    run_tool tfs-eval $G --seed 5 "$D/m.st"
    [ "$status" -eq 0 ]
    [ "$output" = "$first" ]
    run_tool tfs-eval $G --seed 6 "$D/m.st"
    [ "$status" -eq 0 ]
    [[ $output == Once* ]]
    [ "$output" != "$first" ]
    # at most 30 tokens after the prompt's one
    n=$(printf '%s' "$first" | bpe-encode --raw -f "$D/tok.bin" | od -An -t u2 -w2 -j1024 -v | wc -l)
    [ "$n" -le 32 ]
    # three samples separated by ---
    run_tool tfs-eval $G --samples 3 "$D/m.st"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^---$' <<< "$output")" -eq 2 ]
}

@test "tfs-eval: temperature 0 is greedy: the seed does not matter" {
    run_tool tfs-eval --tokenizer "$D/tok.bin" --prompt "The" -n 20 --temperature 0 --seed 1 "$D/m.st"
    [ "$status" -eq 0 ]
    a=$output
    [[ $a == The* ]]
    [ "${#a}" -gt 3 ]
    run_tool tfs-eval --tokenizer "$D/tok.bin" --prompt "The" -n 20 --temperature 0 --seed 2 "$D/m.st"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    # greedy is the argmax: sampling from the single most likely token (top-k 1)
    # at a positive temperature, with any seed, must give the same text
    run_tool tfs-eval --tokenizer "$D/tok.bin" --prompt "The" -n 20 --temperature 0.8 --top-k 1 --seed 3 "$D/m.st"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
}

@test "tfs-eval: --chat in a terminal: commands and continuations" {
    requires script
    printf '/temperature 0\n/top-k 5\n/settings\nOnce upon\n/top-p 2\n/bogus\n/quit\n' > "$T/in"
    run_tool bash -c "script -qec \"tfs-eval --chat -n 10 --tokenizer '$D/tok.bin' '$D/m.st'\" /dev/null < '$T/in'"
    [ "$status" -eq 0 ]
    [[ $output == *"tfs-eval chat: /help lists the commands, /quit leaves."* ]]
    [[ $output == *"temperature 0, top-k 5, top-p 1, n 10"* ]]
    [[ $output == *"Once upon"* ]]
    [[ $output == *"not a number in [1e-09, 1]: '2'"* ]]
    [[ $output == *"unknown command '/bogus' (/help lists them)"* ]]
    # greedy: the continuation is the one --prompt gives
    want=$(tfs-eval --tokenizer "$D/tok.bin" --prompt "Once upon" -n 10 --temperature 0 --top-k 5 "$D/m.st")
    [[ $output == *"$want"* ]]
}

@test "tfs-eval: --chat keeps the conversation in the context; /reset starts over" {
    printf '/temperature 0\nOnce upon\nThe dog\n/reset\nThe dog\n/quit\n' > "$T/in"
    run_tool tfs-eval --chat -n 8 --tokenizer "$D/tok.bin" "$D/m.st" < "$T/in"
    [ "$status" -eq 0 ]
    first=$(tfs-eval --tokenizer "$D/tok.bin" --prompt "Once upon" -n 8 --temperature 0 "$D/m.st")
    fresh=$(tfs-eval --tokenizer "$D/tok.bin" --prompt "The dog" -n 8 --temperature 0 "$D/m.st")
    # the first line and the line after /reset are new texts: what --prompt gives
    [[ $output == *"> > $first"$'\n'"> The dog"* ]]
    [[ $output == *"> (a new conversation)"$'\n'"> $fresh"$'\n'"> " ]]
    # the second line continued the first text, so it is not that new text
    middle=${output#*"> > $first"$'\n'"> "}
    middle=${middle%%$'\n'"> (a new conversation)"*}
    echo "middle: [$middle] fresh: [$fresh]" >&2
    [[ $middle == "The dog"* ]] && [ "$middle" != "$fresh" ]
}

@test "tfs-eval: --export-hf writes config.json, model.safetensors and tokenizer.json" {
    requires numpy
    run_tool tfs-eval --export-hf "$T/hf" --tokenizer "$D/tok.bin" "$D/m.st"
    [ "$status" -eq 0 ]
    [ -f "$T/hf/tokenizer.json" ]
    run_tool tfs-eval -q --max-tokens 64 "$D/m.st" "$D/val.ids"
    want=$(field loss <<< "$output")
    # An independent GPT-2 forward pass in numpy from the exported files, with
    # Hugging Face's conventions (Conv1D: x @ W + b, W of shape (in, out)).
    run_tool /usr/bin/python3 - "$T/hf" "$D/val.ids" "$want" <<'PY'
import json, struct, sys
import numpy as np
d, ids_path, want = sys.argv[1], sys.argv[2], float(sys.argv[3])
cfg = json.load(open(d + "/config.json"))
assert cfg["model_type"] == "gpt2" and cfg["architectures"] == ["GPT2LMHeadModel"]
assert cfg["activation_function"] == "gelu_new" and cfg["tie_word_embeddings"] is True
raw = open(d + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
assert hdr["__metadata__"]["format"] == "pt"
W = {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"])
     for k, v in hdr.items() if k != "__metadata__"}
C, L, H, V = cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["vocab_size"]
assert W["transformer.h.0.attn.c_attn.weight"].shape == (C, 3 * C)
assert W["transformer.h.0.mlp.c_proj.weight"].shape == (4 * C, C)
assert not any(k.startswith("optimizer.") for k in W)
ids = np.frombuffer(open(ids_path, "rb").read()[1024:], "<u2").astype(np.int64)[:65]
def ln(x, w, b):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + cfg["layer_norm_epsilon"]) * w + b
def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
nll = 0.0
for s in (0, 32):
    x_ids, y = ids[s:s + 32], ids[s + 1:s + 33]
    T = len(x_ids)
    x = W["transformer.wte.weight"][x_ids].astype(np.float64) + W["transformer.wpe.weight"][:T]
    for l in range(L):
        p = lambda k: W["transformer.h.%d.%s" % (l, k)].astype(np.float64)
        h = ln(x, p("ln_1.weight"), p("ln_1.bias")) @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = np.split(h, 3, axis=-1)
        hs = C // H
        out = np.zeros_like(q)
        for i in range(H):
            sl = slice(i * hs, (i + 1) * hs)
            a = q[:, sl] @ k[:, sl].T / np.sqrt(hs)
            a[np.triu_indices(T, 1)] = -np.inf
            a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
            out[:, sl] = a @ v[:, sl]
        x = x + out @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = gelu(ln(x, p("ln_2.weight"), p("ln_2.bias")) @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = ln(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"])
    z = x @ W["transformer.wte.weight"].T.astype(np.float64)
    z = z - z.max(-1, keepdims=True)
    nll -= (z[np.arange(T), y] - np.log(np.exp(z).sum(-1))).sum()
got = nll / 64
print("numpy %.6f, tfs-eval %.6f" % (got, want))
assert abs(got - want) < 1e-4, (got, want)
PY
    echo "$output" >&2
    [ "$status" -eq 0 ]
}

@test "tfs-eval: usage errors exit 2" {
    run_tool tfs-eval
    [ "$status" -eq 2 ]
    [ "$stderr" = "tfs-eval: missing the checkpoint operand
Try 'tfs-eval --help'." ]
    run_tool tfs-eval --prompt hi "$D/m.st"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: --prompt needs --tokenizer, to turn text into tokens and back"* ]]
    run_tool tfs-eval --chat --prompt hi --tokenizer "$D/tok.bin" "$D/m.st"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: --prompt, --chat and --export-hf exclude each other"* ]]
    run_tool tfs-eval --prompt hi --tokenizer "$D/tok.bin" "$D/m.st" "$D/val.ids"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: unexpected operand '$D/val.ids'"* ]]
    run_tool tfs-eval --top-p 0 "$D/m.st"
    [ "$status" -eq 2 ]
}

@test "tfs-eval: refuses a stream or a tokenizer that does not fit the checkpoint" {
    stories_bytes val 3 > "$T/bytes.bin"
    run_tool tfs-eval "$D/m.st" "$T/bytes.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-eval: $T/bytes.bin: vocabulary size 257, but $D/m.st was trained on 400 (use the tokenizer of the checkpoint)" ]
    # same vocabulary size, another tokenizer
    bpe-train -q -n 400 -o "$T/tok2.bin" "$D/val.jsonl"
    bpe-encode -q -o "$T/val2.ids" "$T/tok2.bin" "$D/val.jsonl"
    run_tool tfs-eval "$D/m.st" "$T/val2.ids"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: $T/val2.ids: encoded by tokenizer "*", but $D/m.st was trained with tokenizer "*" (re-encode the text with that tokenizer)" ]]
    run_tool tfs-eval --tokenizer "$T/tok2.bin" --prompt x "$D/m.st"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: $T/tok2.bin: tokenizer "*", but $D/m.st was trained on data of tokenizer "*" (use the tokenizer it was trained with)" ]]
    bpe-train -q -n 300 -o "$T/tok3.bin" "$D/val.jsonl"
    run_tool tfs-eval --tokenizer "$T/tok3.bin" --prompt x "$D/m.st"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-eval: $T/tok3.bin: a vocabulary of 300 tokens, but $D/m.st has 400 (use the tokenizer it was trained with)" ]
}

@test "tfs-eval: refuses a foreign, truncated or misshapen checkpoint" {
    M=$D/m.st
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/rwkv.st" tfs.arch rwkv
    run_tool tfs-eval "$T/rwkv.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-eval: $T/rwkv.st: a checkpoint of architecture 'rwkv'; this program reads 'gpt2'" ]
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/hf.st" tfs.arch -
    run_tool tfs-eval "$T/hf.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-eval: $T/hf.st: not a tfs checkpoint (its metadata has no tfs.arch); create one with tfs-train" ]
    head -c 5000 "$M" > "$T/trunc.st"
    run_tool tfs-eval "$T/trunc.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: $T/trunc.st: "* ]]
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/shape.st" tfs.config '{"vocab":400,"context":32,"layers":2,"heads":2,"dim":48}'
    run_tool tfs-eval "$T/shape.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-eval: $T/shape.st: tensor transformer.wte.weight has shape (400, 32), expected (400, 48)" ]
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/deep.st" tfs.config '{"vocab":400,"context":32,"layers":3,"heads":2,"dim":32}'
    run_tool tfs-eval "$T/deep.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: $T/deep.st"*"transformer.h.2.ln_1.weight"* ]]
    echo "not a checkpoint" > "$T/text.st"
    run_tool tfs-eval "$T/text.st" "$D/val.ids"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-eval: $T/text.st: "* ]]
    run_tool tfs-eval "$T/missing.st" "$D/val.ids"
    [ "$status" -eq 1 ]
}

# ---- the OpenBLAS core (lib/core/blas_core.c; the full set is in 50-tfs-train.bats)

@test "tfs-eval: TFS_BLAS_CORE=NAME switches core before reading stdin, and scores as with the core set by hand" {
    want=$(other_core)
    own=$(own_core)
    OPENBLAS_CORETYPE=$want tfs-eval -q "$D/m.st" "$D/val.ids" > "$T/by-hand"
    run_tool bash -c "cat '$D/val.ids' | env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=$want tfs-eval --verbose '$D/m.st'"
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat "$T/by-hand")" ]
    [[ $stderr == *"tfs-eval: OpenBLAS core $want, as TFS_BLAS_CORE asks (OpenBLAS picked $own)"* ]]
    [[ $stderr == *"tfs-eval: OpenBLAS core $want (set by tfs, see TFS_BLAS_CORE in tfs(7))"* ]]
    # -q: no note, and without --verbose nothing about the core at all
    run_tool env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=$want tfs-eval -q "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
}

@test "tfs-eval: OPENBLAS_CORETYPE set by the user is kept; a bad TFS_BLAS_CORE is a usage error" {
    run_tool env OPENBLAS_CORETYPE=Prescott TFS_BLAS_CORE=auto TFS_BLAS_TEST_CORENAME=Prescott \
        tfs-eval -q --verbose "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    [ "$stderr" = "tfs-eval: OpenBLAS core Prescott (OPENBLAS_CORETYPE set by the user)" ]
    run_tool env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=Skylake tfs-eval -q "$D/m.st" "$D/val.ids"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [[ $stderr == "tfs-eval: TFS_BLAS_CORE: 'Skylake' is not auto, keep or an OpenBLAS core name"* ]]
}

# tl_check JSONL STREAM N LOSS - the --token-loss lines of JSONL against
# the first N + 1 tokens of STREAM (read here from the file) and against
# LOSS, the loss that scoring printed for the same tokens.
tl_check() {
    /usr/bin/python3 - "$@" <<'PY'
import json, math, struct, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
d = open(sys.argv[2], "rb").read()[1024:]
n, loss = int(sys.argv[3]), float(sys.argv[4])
ids = struct.unpack("<%dH" % (len(d) // 2), d)[:n + 1]
assert len(rows) == n, (len(rows), n)
assert [r["pos"] for r in rows] == list(range(1, n + 1))
assert [r["token"] for r in rows] == list(ids[1:n + 1])
mean = sum(r["loss"] for r in rows) / n
assert abs(mean - loss) < 2e-5, (mean, loss)
for r in rows:
    assert r["loss"] >= 0 and abs(r["prob"] - math.exp(-r["loss"])) <= 1e-5 * r["prob"] + 1e-12, r
    p = [t["prob"] for t in r["top"]]
    assert len(p) == 5 and p == sorted(p, reverse=True) and sum(p) <= 1 + 1e-5, r
    assert p[0] >= r["prob"] * (1 - 1e-5), r          # nothing beats the most likely
    for t in r["top"]:
        if t["token"] == r["token"]:
            assert abs(t["prob"] - r["prob"]) <= 1e-5 * r["prob"], r
PY
}

@test "tfs-eval --token-loss: per-token losses average to the loss of scoring, over several windows" {
    # 100 predicted tokens: three windows of 32 and one of 4
    run_tool tfs-eval -q --max-tokens 100 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    loss=$(field loss <<< "$output")
    run_tool tfs-eval --token-loss --max-tokens 100 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    printf '%s\n' "$output" > "$T/tl.jsonl"
    tl_check "$T/tl.jsonl" "$D/val.ids" 100 "$loss"
    # without a tokenizer no text; with one, each token's text
    ! grep -q '"text"' "$T/tl.jsonl"
    run_tool tfs-eval --token-loss --max-tokens 3 --predictions 0 --tokenizer "$D/tok.bin" "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    [ "$(printf '%s\n' "$output" | jq -c '.top')" = "$(printf '[]\n[]\n[]')" ]
    want=$(bpe-encode -d "$D/tok.bin" "$D/val.ids" | head -c 300)
    got=$(printf '%s\n' "$output" | jq -j '.text')
    [ -n "$got" ] && [[ $want == *"$got"* ]]
}

@test "tfs-eval --token-loss: the baseline level too, and a whole short stream" {
    tfs-train --model baseline --layers 2 --dim 32 --heads 2 --context 16 -b 4 --steps 10 --warmup 2 \
        --threads 1 -q -o "$T/b.st" --log "$T/b.jsonl" "$D/train.ids"
    # a stream of 41 tokens: windows of 16, 16 and 8
    /usr/bin/python3 -c '
import sys
d = open(sys.argv[1], "rb").read(); h = bytearray(d[:1024])
h[8:12] = (41).to_bytes(4, "little")
open(sys.argv[2], "wb").write(bytes(h) + d[1024:1024 + 82])' "$D/val.ids" "$T/short.ids"
    run_tool tfs-eval -q "$T/b.st" "$T/short.ids"
    [ "$status" -eq 0 ]
    loss=$(field loss <<< "$output")
    run_tool tfs-eval --token-loss "$T/b.st" "$T/short.ids"
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" > "$T/tl.jsonl"
    tl_check "$T/tl.jsonl" "$T/short.ids" 40 "$loss"
}

@test "tfs-eval --token-loss --prompt: the text after end-of-text, as bpe-encode frames a document" {
    text="Once upon a time, there was a little girl."
    jq -cn --arg t "$text" '{text: $t}' > "$T/p.jsonl"
    bpe-encode -q -o "$T/p.ids" "$D/tok.bin" "$T/p.jsonl"
    run_tool tfs-eval --token-loss --tokenizer "$D/tok.bin" "$D/m.st" "$T/p.ids"
    [ "$status" -eq 0 ]
    stream=$output
    run_tool tfs-eval --token-loss --tokenizer "$D/tok.bin" --prompt "$text" "$D/m.st"
    [ "$status" -eq 0 ]
    [ "$output" = "$stream" ]
    [ "$(printf '%s\n' "$output" | jq -j '.text')" = "$text" ]
}

@test "tfs-eval --token-loss in a terminal: the text coloured by loss, a legend, the mean loss" {
    requires script
    text="Once upon a time, there was a little girl."
    run_tool tfs-eval --token-loss --tokenizer "$D/tok.bin" --prompt "$text" "$D/m.st"
    mean=$(printf '%s\n' "$output" | jq -s 'map(.loss) | add / length * 10000 | round / 10000')
    n=$(printf '%s\n' "$output" | wc -l)
    cmd="tfs-eval --token-loss --tokenizer '$D/tok.bin' --prompt '$text' '$D/m.st'"
    run_tool script -qec "$cmd" /dev/null
    [ "$status" -eq 0 ]
    # background colours of the 256-colour palette, reset after each
    [[ $output == *$'\e[30;48;5;'*'m'* ]] && [[ $output == *$'\e[0m'* ]]
    # the text itself, with the escapes taken out
    plain=$(printf '%s' "$output" | sed -E $'s/\e\\[[0-9;]*m//g' | tr -d '\r')
    [[ $plain == "$text"* ]]
    [[ $plain == *"loss per token (nats):"* ]]
    printf -v want 'mean loss %.4f nats over %d predicted tokens' "$mean" "$n"
    [[ $plain == *"$want"* ]]
}

@test "tfs-eval --token-loss: usage errors" {
    run_tool tfs-eval --token-loss --chat --tokenizer "$D/tok.bin" "$D/m.st"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: --token-loss excludes --chat"* ]]
    run_tool tfs-eval --token-loss --export-hf "$T/x" "$D/m.st"
    [ "$status" -eq 2 ]
    run_tool tfs-eval --token-loss --prompt hi "$D/m.st"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-eval: --prompt needs --tokenizer"* ]]
    run_tool tfs-eval --token-loss --max-tokens 5 --tokenizer "$D/tok.bin" --prompt hi "$D/m.st"
    [ "$status" -eq 2 ]
    run_tool tfs-eval --token-loss --predictions -1 "$D/m.st" "$D/val.ids"
    [ "$status" -eq 2 ]
}

@test "tfs-eval --token-loss: each token's loss and top predictions equal PyTorch's (both levels)" {
    requires python-torch numpy
    # the baseline level, exported for Hugging Face and read by tests/torch/llama_ref.py
    tfs-train --model baseline --layers 2 --dim 32 --heads 4 --kv-heads 2 --context 16 -b 4 --steps 10 \
        --warmup 2 --threads 1 -q -o "$T/b.st" --log "$T/b.jsonl" "$D/train.ids"
    tfs-eval --export-hf "$T/hf" "$T/b.st"
    # 40 predicted tokens: windows of 16, 16 and 8 (custom: one of 32 and one of 8)
    for p in "$D/m.st:$T/m.tl" "$T/b.st:$T/b.tl"; do
        run_tool tfs-eval --token-loss --max-tokens 40 --predictions 3 "${p%%:*}" "$D/val.ids"
        [ "$status" -eq 0 ]
        printf '%s\n' "$output" > "${p#*:}"
    done
    run_tool /usr/bin/python3 - "$TFS_ROOT/tests/torch" "$D/m.st" "$T/hf" "$D/val.ids" "$T/m.tl" "$T/b.tl" <<'PY'
import json, math, sys
import numpy as np, torch
import torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
from llama_ref import load_hf_dir, read_safetensors
torch.set_grad_enabled(False)
ids = np.fromfile(sys.argv[4], dtype="<u2", offset=1024)[:41].astype(np.int64)

def gpt2_logits(w, c, x):
    # GPT-2 from its definition, float64: tensors with Hugging Face's names,
    # Conv1D weights as (in, out), tied output embedding, tanh GELU.
    t = lambda k: torch.from_numpy(w[k].astype(np.float64))
    T, C, H = len(x), c["dim"], c["heads"]
    ln = lambda h, p: F.layer_norm(h, (C,), t(p + ".weight"), t(p + ".bias"), 1e-5)
    h = t("transformer.wte.weight")[x] + t("transformer.wpe.weight")[:T]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(c["layers"]):
        p = f"transformer.h.{l}."
        q, k, v = (ln(h, p + "ln_1") @ t(p + "attn.c_attn.weight") + t(p + "attn.c_attn.bias")).split(C, 1)
        q, k, v = (z.view(T, H, C // H).transpose(0, 1) for z in (q, k, v))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(C // H) + mask, -1) @ v
        h = h + a.transpose(0, 1).reshape(T, C) @ t(p + "attn.c_proj.weight") + t(p + "attn.c_proj.bias")
        f = F.gelu(ln(h, p + "ln_2") @ t(p + "mlp.c_fc.weight") + t(p + "mlp.c_fc.bias"), approximate="tanh")
        h = h + f @ t(p + "mlp.c_proj.weight") + t(p + "mlp.c_proj.bias")
    return ln(h, "transformer.ln_f") @ t("transformer.wte.weight").T

w, meta = read_safetensors(sys.argv[2])
gc = json.loads(meta["tfs.config"])
lm, lc = load_hf_dir(sys.argv[3])
levels = [("custom", lambda x: gpt2_logits(w, gc, x), gc["context"], sys.argv[5]),
          ("baseline", lambda x: lm(torch.from_numpy(x)[None])[0][0], lc["context"], sys.argv[6])]
for name, logits_of, T, path in levels:
    rows = [json.loads(l) for l in open(path)]
    want = []
    for s in range(0, 40, T):           # scoring's windows
        x = ids[s:min(s + T, 40)]
        lp = torch.log_softmax(logits_of(x), -1)
        for j in range(len(x)):
            want.append((-lp[j, ids[s + j + 1]].item(), torch.topk(lp[j], 3)))
    assert len(rows) == len(want) == 40, (len(rows), len(want))
    worst = 0
    for r, (loss, top) in zip(rows, want):
        worst = max(worst, abs(r["loss"] - loss))
        assert abs(r["loss"] - loss) < 1e-4, (name, r["pos"], r["loss"], loss)
        for got, p, i in zip(r["top"], top.values.exp().tolist(), top.indices.tolist()):
            assert abs(got["prob"] - p) < 1e-4, (name, r["pos"], got, p)
            assert got["token"] == i or abs(got["prob"] - p) < 1e-6, (name, r["pos"], got, i)
    print(f"{name}: 40 token losses within {worst:.1e} of PyTorch")
PY
    [ "$status" -eq 0 ]
    [[ $output == *"custom: 40 token losses"* && $output == *"baseline: 40 token losses"* ]]
}

@test "tfs-eval: shards (files, a directory) score as their concatenation" {
    mkdir "$T/sh"
    bpe-encode -q --shard-size 3000 -o "$T/sh/val" "$D/tok.bin" "$D/val.jsonl"
    [ "$(ls "$T/sh" | wc -l)" -ge 3 ]
    run_tool tfs-eval -q "$D/m.st" "$D/val.ids"
    [ "$status" -eq 0 ]
    want=$output
    run_tool tfs-eval -q "$D/m.st" "$T/sh"
    [ "$status" -eq 0 ]
    [ "$output" = "$want" ]
    run_tool tfs-eval -q "$D/m.st" "$T"/sh/val_*.bin
    [ "$status" -eq 0 ]
    [ "$output" = "$want" ]
    run_tool tfs-eval -q --prompt hi --tokenizer "$D/tok.bin" "$D/m.st" "$T/sh"
    [ "$status" -eq 2 ]
}
