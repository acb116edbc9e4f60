#!/usr/bin/env bats
# 50-tfs-train: training runs, resume, signals, non-finite steps, bad input.
# Most tests use byte-level data (tests/tools/bytes-stream: vocabulary 257,
# no tokenizer needed) cut from the default stories; the learning test uses
# a BPE tokenizer.

load helper

# One thread: fast and immune to the spinning of busy OpenMP threads on a
# loaded machine; the resume tests use two, to cover threaded determinism.
SMALL="--layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 -q"

setup_file() {
    local d=$BATS_FILE_TMPDIR
    stories_bytes train 2000 > "$d/train.bin"
    stories_bytes val 100 > "$d/val.bin"
}

setup() {
    D=$BATS_FILE_TMPDIR
    T=$BATS_TEST_TMPDIR
}

# Write N into the token count of stream FILE's header (after cutting it).
set_count() {
    /usr/bin/python3 -c '
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read()); d[8:12] = struct.pack("<i", int(sys.argv[2]))
open(sys.argv[1], "wb").write(d)' "$1" "$2"
}

# split_stream FILE OUT N... - cut token stream FILE into shards OUT-0.bin,
# OUT-1.bin, ... holding N tokens each (the rest goes into the last one);
# each is a whole stream with its own header.
split_stream() {
    /usr/bin/python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(); hdr, ids = bytearray(d[:1024]), d[1024:]
cuts = [0] + [int(x) for x in sys.argv[3:]]
for k in range(len(cuts)):
    a = sum(cuts[:k + 1]) * 2; b = a + cuts[k + 1] * 2 if k + 1 < len(cuts) else len(ids)
    hdr[8:12] = struct.pack("<i", (b - a) // 2)
    open("%s-%d.bin" % (sys.argv[2], k), "wb").write(bytes(hdr) + ids[a:b])' "$@"
}

# A small finished run in $T/m.safetensors with its log in $T/m.jsonl.
small_run() {
    run_tool tfs-train $SMALL --steps 6 --warmup 2 --val "$D/val.bin" --eval-every 3 \
        -o "$T/m.safetensors" --log "$T/m.jsonl" "$@" "$D/train.bin"
    [ "$status" -eq 0 ]
}

@test "tfs-train: command-line contract (help, unknown option, man page)" {
    cli_contract tfs-train
}

@test "tfs-train: 200 steps on the default data lower the validation loss well below the unigram entropy" {
    # The stories through a 512-token BPE tokenizer (the first 3000 for
    # training, 100 for validation).
    zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst" | head -n 3000 > "$T/train.jsonl"
    zstd -dc "$TFS_ROOT/assets/stories-val.jsonl.zst" | head -n 100 > "$T/val.jsonl"
    bpe-train -q -n 512 -o "$T/tok.bin" "$T/train.jsonl"
    bpe-encode -q -o "$T/train.ids" "$T/tok.bin" "$T/train.jsonl"
    bpe-encode -q -o "$T/val.ids" "$T/tok.bin" "$T/val.jsonl"
    # The unigram entropy of the validation tokens (the loss of the best
    # model that ignores context), in nats.
    H=$(/usr/bin/python3 -c '
import collections, math, struct, sys
d = open(sys.argv[1], "rb").read()[1024:]
ids = struct.unpack("<%dH" % (len(d) // 2), d); n = len(ids)
print(-sum(c / n * math.log(c / n) for c in collections.Counter(ids).values()))' "$T/val.ids")
    run_tool tfs-train --layers 2 --dim 64 --heads 4 --context 64 -b 16 --threads 1 -q \
        --steps 200 --warmup 20 --lr 1e-2 --min-lr 1e-3 --eval-every 100 --eval-batches 4 \
        --val "$T/val.ids" -o "$T/m.safetensors" --log "$T/m.jsonl" "$T/train.ids"
    [ "$status" -eq 0 ]
    first=$(grep -o '"loss": [0-9.]*' "$T/m.jsonl" | head -1 | cut -d' ' -f2)
    val=$(grep -o '"val_loss": [0-9.]*' "$T/m.jsonl" | tail -1 | cut -d' ' -f2)
    echo "unigram entropy $H nats, first loss $first, final validation loss $val" >&2
    # ln 512 = 6.24 at the start; at least 2 nats below the unigram entropy at the end
    awk -v h="$H" -v v="$val" -v f="$first" 'BEGIN { exit !(f > 6 && v < h - 2) }'
    [ -f "$T/m.best.safetensors" ]
}

@test "tfs-train: metrics lines carry every field, evaluations carry val_loss and val_ppl" {
    small_run
    [ "$(wc -l < "$T/m.jsonl")" -eq 6 ]
    /usr/bin/python3 - "$T/m.jsonl" <<'PY'
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for i, l in enumerate(lines):
    for k in ("step", "tokens", "loss", "lr", "grad_norm", "tokens_per_s", "flops_per_s", "flops", "elapsed_s"):
        assert k in l, (k, l)
    assert l["step"] == i + 1 and l["tokens"] == (i + 1) * 4 * 32
    assert ("val_loss" in l) == (l["step"] % 3 == 0), l
    if "val_loss" in l:
        assert abs(l["val_ppl"] - math.exp(l["val_loss"])) < 1e-3 * l["val_ppl"]
PY
}

@test "tfs-train: learning rate: linear warmup, then cosine to --min-lr" {
    run_tool tfs-train $SMALL --steps 10 --warmup 4 --lr 0.01 --min-lr 0.001 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    /usr/bin/python3 - "$T/l" <<'PY'
import json, math, sys
lr = [json.loads(l)["lr"] for l in open(sys.argv[1])]
want = [0.01 * s / 4 for s in (1, 2, 3, 4)]
want += [0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi * (s - 4) / 6)) for s in range(5, 11)]
assert all(abs(a - b) < 1e-5 * b for a, b in zip(lr, want)), (lr, want)
PY
    run_tool tfs-train $SMALL --steps 4 --warmup 0 --lr 0.01 --min-lr 0.002 --decay linear -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [ "$(grep -o '"lr": [0-9.e-]*' "$T/l" | cut -d' ' -f2 | tr '\n' ' ')" = "0.008 0.006 0.004 0.002 " ]
}

@test "tfs-train: two micro-batches of 4 give the same step as one batch of 8" {
    run_tool tfs-train $SMALL -b 8 --steps 3 -o "$T/a.st" --log "$T/a.log" "$D/train.bin"
    [ "$status" -eq 0 ]
    run_tool tfs-train $SMALL -b 4 --accum 2 --steps 3 -o "$T/b.st" --log "$T/b.log" "$D/train.bin"
    [ "$status" -eq 0 ]
    /usr/bin/python3 - "$T/a.log" "$T/b.log" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
for x, y in zip(a, b):
    assert x["tokens"] == y["tokens"]
    for k in ("loss", "grad_norm"):
        assert abs(x[k] - y[k]) <= 1e-4 * abs(x[k]), (k, x[k], y[k])
PY
}

@test "tfs-train: --tokens sets the budget in whole steps" {
    run_tool tfs-train $SMALL --tokens 1000 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    # 1000 tokens / (4 x 32 per step) = 7.8 -> 8 steps
    [ "$(tail -1 "$T/l" | grep -o '"step": [0-9]*')" = '"step": 8' ]
}

@test "tfs-train: a run stopped at step 5 and resumed is bit-identical to an uninterrupted one" {
    A="$SMALL --threads 2 --steps 12 --warmup 3 --eval-every 4 --val $D/val.bin"
    run_tool tfs-train $A -o "$T/full.st" --log "$T/full.log" "$D/train.bin"
    [ "$status" -eq 0 ]
    run_tool tfs-train $A --stop-at 5 -o "$T/part.st" --log "$T/part.log" "$D/train.bin"
    [ "$status" -eq 0 ]
    [ "$(wc -l < "$T/part.log")" -eq 5 ]
    run_tool tfs-train --resume "$T/part.st" --threads 2 -q -o "$T/res.st" --log "$T/part.log" "$D/train.bin"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/full.st" "$T/res.st"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [ "$output" = "84 tensors identical" ]    # weights and both AdamW moments
    # the logs agree too, up to the timings
    diff <(cut -d, -f1-5 "$T/full.log") <(cut -d, -f1-5 "$T/part.log")
}

@test "tfs-train: resuming from a pipe skips what was consumed and is bit-identical" {
    A="$SMALL --threads 2 --steps 10 --warmup 3"
    run_tool bash -c "cat '$D/train.bin' | tfs-train $A -o '$T/full.st' --log /dev/null -"
    [ "$status" -eq 0 ]
    run_tool bash -c "cat '$D/train.bin' | tfs-train $A --stop-at 4 -o '$T/part.st' --log /dev/null"
    [ "$status" -eq 0 ]
    run_tool bash -c "cat '$D/train.bin' | tfs-train --resume '$T/part.st' -q --threads 2 -o '$T/res.st' --log /dev/null"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/full.st" "$T/res.st"
    [ "$status" -eq 0 ]
}

@test "tfs-train: a pipe that ends stops the run with a checkpoint" {
    head -c $((1024 + 2 * 600)) "$D/train.bin" > "$T/short.bin"
    set_count "$T/short.bin" 600
    run_tool bash -c "cat '$T/short.bin' | tfs-train --layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 --steps 100 -o '$T/m.st' --log '$T/l'"
    [ "$status" -eq 0 ]
    # 600 tokens hold 4 batches of 4 x 32 + 1
    [[ $stderr == *"tfs-train: <stdin>: the data ended after step 4 (512 tokens)"* ]]
    [ -f "$T/m.st" ]
}

@test "tfs-train: SIGINT saves a checkpoint that resumes, and exits 130" {
    tfs-train $SMALL --steps 1000000 --warmup 1 -o "$T/sig.st" --log "$T/sig.log" "$D/train.bin" 2> "$T/err" &
    pid=$!
    for _ in $(seq 100); do [ -s "$T/sig.log" ] && break; sleep 0.1; done
    kill -INT $pid
    status=0
    wait $pid || status=$?
    [ "$status" -eq 130 ]
    grep -q "tfs-train: stopped by signal 2 at step [0-9]*; checkpoint saved to $T/sig.st (continue with --resume)" "$T/err"
    step=$(tail -1 "$T/sig.log" | grep -o '"step": [0-9]*' | cut -d' ' -f2)
    [ ! -e "$T/sig.st.tmp."* ]
    # loadable: the run continues from the saved step
    run_tool tfs-train --resume "$T/sig.st" --stop-at $((step + 2)) -o "$T/sig2.st" --log "$T/l2" "$D/train.bin"
    [ "$status" -eq 0 ]
    [ "$(head -1 "$T/l2" | grep -o '"step": [0-9]*')" = "\"step\": $((step + 1))" ]
}

@test "tfs-train: a non-finite step is skipped, counted and logged" {
    TFS_TRAIN_FAULT=nan:3 run_tool tfs-train $SMALL --steps 5 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $(sed -n 3p "$T/l") == '{"step": 3, "tokens": 384, "loss": null, "skipped": true,'* ]]
    grep -qF '\"skipped\":1,' "$T/m.st"
    grep -qF '\"updates\":4,' "$T/m.st"
}

@test "tfs-train: too many non-finite steps in a row stop the run with the last good state" {
    TFS_TRAIN_FAULT=nan:3-100 run_tool tfs-train $SMALL --steps 50 --max-bad 4 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == *"tfs-train: 4 steps in a row had a non-finite loss or gradient (the last at step 6); stopping. The last good weights (update 2) are saved in $T/m.st; try a lower --lr or --clip" ]]
    grep -qF '\"updates\":2,' "$T/m.st"
}

@test "tfs-train: the checkpoint goes to standard output with -o -" {
    run_tool bash -c "tfs-train $SMALL --steps 2 --log '$T/l' '$D/train.bin' > '$T/m.st'"
    [ "$status" -eq 0 ]
    [ "$(head -c 8 "$T/m.st" | od -An -t u8 | tr -d ' ')" -gt 0 ]
    grep -q '"tfs.arch":"gpt2"' "$T/m.st"
    [ "$(wc -l < "$T/l")" -eq 2 ]
}

@test "tfs-train: configurations by name from \$TFS_ASSETS, and from a file" {
    run_tool tfs-train -c tiny --steps 1 --threads 1 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"(4 layers, 4 heads, dim 128, context 128, vocab 257)"* ]]
    printf '# a comment\n\nlayers = 1\n  dim=16 \nheads = 2\ncontext = 8\nquiet = 1\n' > "$T/cfg"
    run_tool tfs-train -c "$T/cfg" --steps 1 --dim 8 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    grep -q '"tfs.config":"{\\"vocab\\":257,\\"context\\":8,\\"layers\\":1,\\"heads\\":2,\\"dim\\":8}"' "$T/m.st"
}

@test "tfs-train: a configuration with an unknown key or a bad value names the file and line" {
    printf 'layers = 2\nfrobs = 3\n' > "$T/cfg"
    run_tool tfs-train -c "$T/cfg" "$D/train.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/cfg:2: unknown setting 'frobs' (settings are the long options of tfs-train --help)" ]
    printf 'layers = two\n' > "$T/cfg"
    run_tool tfs-train -c "$T/cfg" "$D/train.bin"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-train: $T/cfg:1: layers: 'two' is not an integer"* ]]
    run_tool tfs-train -c no-such-config "$D/train.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-train: no configuration 'no-such-config' (looked for configs/no-such-config in \$TFS_ASSETS, "* ]]
}

@test "tfs-train: usage errors exit 2" {
    run_tool tfs-train --heads 3 --dim 32 "$D/train.bin"
    [ "$status" -eq 2 ]
    [ "$stderr" = "tfs-train: --dim 32 is not a multiple of --heads 3
Try 'tfs-train --help'." ]
    run_tool tfs-train --decay sawtooth "$D/train.bin"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-train: --decay: 'sawtooth' is not cosine, linear or constant"* ]]
    run_tool tfs-train --lr 1e-3 --min-lr 1e-2 "$D/train.bin"
    [ "$status" -eq 2 ]
    run_tool tfs-train --steps 12x "$D/train.bin"
    [ "$status" -eq 2 ]
    run_tool tfs-train - "$D/train.bin"
    [ "$status" -eq 2 ]
    [[ $stderr == "tfs-train: '-' (standard input) cannot be one of several inputs"* ]]
}

@test "tfs-train: bad streams: not a token stream, too short, validation vocabulary" {
    echo hello > "$T/x.bin"
    run_tool tfs-train $SMALL -o "$T/m.st" "$T/x.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/x.bin: truncated: 6 bytes, shorter than the 1024-byte header" ]
    head -c $((1024 + 2 * 20)) "$D/train.bin" > "$T/short.bin"
    set_count "$T/short.bin" 20
    run_tool tfs-train $SMALL -o "$T/m.st" "$T/short.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/short.bin: 20 tokens, too few for one window of context 32 + 1" ]
    stories_bytes val 5 --vocab 300 > "$T/v300.bin"
    run_tool tfs-train $SMALL -o "$T/m.st" --val "$T/v300.bin" "$D/train.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/v300.bin: vocabulary size 300, but the training data $D/train.bin has 257" ]
    stories_bytes val 5 --fingerprint 1234 > "$T/vfp.bin"
    run_tool tfs-train $SMALL -o "$T/m.st" --val "$T/vfp.bin" "$D/train.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/vfp.bin: encoded by another tokenizer than the training data $D/train.bin (fingerprints differ)" ]
}

@test "tfs-train: --resume refuses a stream of another vocabulary or tokenizer" {
    small_run
    stories_bytes val 50 --vocab 300 > "$T/v300.bin"
    run_tool tfs-train --resume "$T/m.safetensors" -o "$T/r.st" "$T/v300.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/v300.bin: vocabulary size 300, but $T/m.safetensors was trained on 257 (use the tokenizer of the checkpoint)" ]
    stories_bytes val 50 --fingerprint abc > "$T/fp.bin"
    run_tool tfs-train --resume "$T/m.safetensors" -o "$T/r.st" "$T/fp.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/fp.bin: encoded by tokenizer 0000000000000abc, but $T/m.safetensors was trained with tokenizer 0000006279746573 (re-encode the text with that tokenizer)" ]
    run_tool tfs-train --resume "$T/m.safetensors" --dim 64 -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-train: $T/m.safetensors: a model of 2 layers, 2 heads, dim 32, context 32; the options ask for 2, 2, 64, 32"* ]]
}

@test "tfs-train: --resume refuses another architecture, a truncated file, a wrong shape, weights only" {
    small_run
    M=$T/m.safetensors
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/rwkv.st" tfs.arch rwkv
    run_tool tfs-train --resume "$T/rwkv.st" -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/rwkv.st: not a tfs gpt2 checkpoint; create one with tfs-train" ]
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/noarch.st" tfs.arch -
    run_tool tfs-train --resume "$T/noarch.st" -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 1 ]
    head -c $(( $(stat -c %s "$M") - 100 )) "$M" > "$T/trunc.st"
    run_tool tfs-train --resume "$T/trunc.st" -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-train: $T/trunc.st: "* ]]
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/shape.st" tfs.config '{"vocab":257,"context":32,"layers":2,"heads":2,"dim":64}'
    run_tool tfs-train --resume "$T/shape.st" --dim 64 -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-train: $T/shape.st"*"transformer.wte.weight"* ]]
    "$TFS_ROOT/tests/tools/st-set-meta" "$M" "$T/nostate.st" tfs.state -
    run_tool tfs-train --resume "$T/nostate.st" -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/nostate.st: holds weights but no training state (exported?); it cannot be resumed" ]
}

@test "tfs-train: a progress bar with the loss and an ETA on a terminal, none in a pipe" {
    requires script
    # enough steps to outlast the display's 0.1 s before its first drawing
    # (120 tiny steps finish sooner on an idle machine: only the final 100%)
    run_tool script -qec "tfs-train --layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 --steps 1000 -o '$T/m.st' --log '$T/l' '$D/train.bin'" /dev/null
    [ "$status" -eq 0 ]
    [[ $output == *$'\r'"training ["*"%"*" ETA "*" step "*" loss "* ]]
    run_tool tfs-train --layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 --steps 30 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr != *$'\r'* ]]
    [[ $stderr == *"tfs-train: done: step 30"* ]]
}

@test "tfs-train: --save-every leaves a checkpoint even when the run is killed" {
    tfs-train $SMALL --steps 1000000 --save-every 3 -o "$T/m.st" --log "$T/l" "$D/train.bin" &
    pid=$!
    for _ in $(seq 200); do [ "$(wc -l < "$T/l" 2>/dev/null || echo 0)" -ge 4 ] && break; sleep 0.05; done
    kill -KILL $pid
    wait $pid || true
    [ -f "$T/m.st" ]
    step=$(grep -ao '\\"step\\":[0-9]*' "$T/m.st" | grep -o '[0-9]*$')
    echo "saved at step $step" >&2
    [ "$step" -ge 3 ] && [ $((step % 3)) -eq 0 ]
}

# ---- the OpenBLAS core (lib/core/blas_core.c, tfs(7) ENVIRONMENT) ----------
# Each runs with OPENBLAS_CORETYPE removed from the environment unless the
# test sets it.  TINY is a two-step run; --verbose names the core in use.
TINY="--layers 1 --dim 16 --heads 2 --context 16 -b 2 --threads 1 --steps 2 --verbose"

@test "tfs-train: OPENBLAS_CORETYPE set by the user is never overridden" {
    # even where auto would switch (the test hook makes OpenBLAS's pick look generic)
    run_tool env OPENBLAS_CORETYPE=Prescott TFS_BLAS_CORE=auto TFS_BLAS_TEST_CORENAME=Prescott \
        tfs-train $TINY -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: OpenBLAS core Prescott (OPENBLAS_CORETYPE set by the user)"* ]]
    [[ $stderr != *"running with"* ]]
    # a forced name does not win over it either, and the user is told
    run_tool env OPENBLAS_CORETYPE=Prescott TFS_BLAS_CORE=Haswell tfs-train $TINY -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: OPENBLAS_CORETYPE=Prescott is set, so TFS_BLAS_CORE=Haswell is not applied"* ]]
    [[ $stderr == *"tfs-train: OpenBLAS core Prescott (OPENBLAS_CORETYPE set by the user)"* ]]
}

@test "tfs-train: TFS_BLAS_CORE=NAME forces a core, before the stream on stdin is read" {
    want=$(other_core)
    own=$(own_core)
    [ -n "$own" ] && [ "$want" != "$own" ]
    run_tool bash -c "cat '$D/train.bin' | env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=$want tfs-train $TINY -o '$T/a.st' --log '$T/l' -"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: OpenBLAS core $want, as TFS_BLAS_CORE asks (OpenBLAS picked $own)"* ]]
    [[ $stderr == *"tfs-train: OpenBLAS core $want (set by tfs, see TFS_BLAS_CORE in tfs(7))"* ]]
    # the same numbers as with the core set by hand: the whole stream arrived
    cat "$D/train.bin" | OPENBLAS_CORETYPE=$want tfs-train $TINY -q -o "$T/b.st" --log "$T/l" -
    "$TFS_ROOT/tests/tools/st-compare" "$T/a.st" "$T/b.st"
    # a name in another case is the same core; -q keeps the note off stderr
    run_tool env -u OPENBLAS_CORETYPE TFS_BLAS_CORE="${want,,}" tfs-train $TINY -q -o "$T/a.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [ "$stderr" = "tfs-train: OpenBLAS core $want (set by tfs, see TFS_BLAS_CORE in tfs(7))" ]
}

@test "tfs-train: TFS_BLAS_CORE=auto replaces a generic core with the one for this CPU" {
    # the test hook TFS_BLAS_TEST_CORENAME: act as if OpenBLAS had picked Prescott
    want=$(cpu_core)
    run_tool env -u OPENBLAS_CORETYPE -u TFS_BLAS_CORE TFS_BLAS_TEST_CORENAME=Prescott \
        tfs-train $TINY -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    if [ -z "$want" ]; then      # no AVX2+FMA: nothing better to switch to
        [[ $stderr != *"running with"* ]]
        return
    fi
    [[ $stderr == *"tfs-train: OpenBLAS picked core Prescott, which leaves this CPU's "*" unused; running with $want (TFS_BLAS_CORE=keep keeps OpenBLAS's pick)"* ]]
    [[ $stderr == *"tfs-train: OpenBLAS core $want (set by tfs, see TFS_BLAS_CORE in tfs(7))"* ]]
    [ "$(grep -c 'OpenBLAS core' <<< "$stderr")" -eq 1 ]     # one re-execution, one report
}

@test "tfs-train: TFS_BLAS_CORE=keep never switches" {
    own=$(own_core)
    run_tool env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=keep TFS_BLAS_TEST_CORENAME=Prescott \
        tfs-train $TINY -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: OpenBLAS core $own (OpenBLAS's own pick)"* ]]
    [[ $stderr != *"running with"* ]] && [[ $stderr != *"TFS_BLAS_CORE asks"* ]]
}

@test "tfs-train: a bad TFS_BLAS_CORE is a usage error, before any input is read" {
    # stdin is the stream file: what tfs-train read of it is missing for wc
    size=$(stat -c %s "$D/train.bin")
    run_tool bash -c "env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=Bogus tfs-train $TINY -o '$T/m.st' - 2>'$T/err'; echo \$? \$(wc -c)" < "$D/train.bin"
    [ "$output" = "2 $size" ]
    [ "$(cat "$T/err")" = "tfs-train: TFS_BLAS_CORE: 'Bogus' is not auto, keep or an OpenBLAS core name (Haswell, Zen, SkylakeX, Cooperlake, Prescott, ...)" ]
    [ ! -e "$T/m.st" ]
    # a core whose instructions this CPU lacks
    if ! grep -qm1 -w avx512f /proc/cpuinfo; then
        run_tool env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=SkylakeX tfs-train $TINY -o "$T/m.st" "$D/train.bin"
        [ "$status" -eq 2 ]
        [ "$stderr" = "tfs-train: TFS_BLAS_CORE=SkylakeX needs AVX-512, which this CPU lacks" ]
    fi
}

@test "tfs-train: a core that fails the sgemm self-check is dropped for OpenBLAS's own pick" {
    # the test hook TFS_BLAS_SELFTEST_FAIL=1 makes the self-check fail
    want=$(other_core)
    own=$(own_core)
    run_tool env -u OPENBLAS_CORETYPE TFS_BLAS_CORE=$want TFS_BLAS_SELFTEST_FAIL=1 \
        tfs-train $TINY -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    [[ $stderr == *"tfs-train: OpenBLAS core $want failed the sgemm self-check; back to $own, OpenBLAS's own pick"* ]]
    [[ $stderr == *"tfs-train: OpenBLAS core $own (OpenBLAS's own pick, after a failed self-check)"* ]]
    [ "$(grep -c 'self-check' <<< "$stderr")" -eq 2 ]
    [ -s "$T/m.st" ]
}

# Too little room for a checkpoint of $1 bytes next to another: a tmpfs of
# 1.5 times that where mounting works (root), else a file size limit of half
# of it (RLIMIT_FSIZE via prlimit, with SIGXFSZ ignored), under which write()
# fails with EFBIG as it fails with ENOSPC on a full disk.  Sets FULL (the
# folder), RUN (the prefix of the command that must fail) and ERR (the
# strerror text it meets).
small_disk() {
    FULL=$T/full; RUN=(); mkdir -p "$FULL"
    if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=$(($1 * 3 / 2)) tmpfs "$FULL" 2>/dev/null; then
        MOUNTED=$FULL; ERR="No space left on device"
    else
        requires prlimit
        RUN=(prlimit --fsize=$(($1 / 2)) --); ERR="File too large"
    fi
}

teardown() {
    if [ -n "${MOUNTED:-}" ]; then umount "$MOUNTED"; fi
}

@test "tfs-train: a checkpoint that the disk cannot hold leaves the previous one whole and says so" {
    small_run --stop-at 3
    small_disk "$(stat -c %s "$T/m.safetensors")"
    cp "$T/m.safetensors" "$FULL/m.st"
    before=$(sha256sum < "$FULL/m.st")
    # the run resumed and saved over it: the temp file cannot grow to full size
    trap '' XFSZ
    run_tool "${RUN[@]}" tfs-train --resume "$FULL/m.st" -q -o "$FULL/m.st" "$D/train.bin"
    trap - XFSZ
    echo "$stderr" >&2
    [ "$status" -eq 1 ]
    [[ $stderr == *"$ERR"* ]]
    [[ $stderr == *"tfs-train: '$FULL/m.st' was not replaced: it still holds its previous contents"* ]]
    [ "$(sha256sum < "$FULL/m.st")" = "$before" ]
    [ -z "$(find "$FULL" -name '*.tmp.*')" ]            # the partial file is gone
    run_tool tfs-train --resume "$FULL/m.st" -q -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 0 ]
}

@test "tfs-train: killed while saving, the previous checkpoint stays whole and resumes" {
    # --save-every 1: the run spends most of its time writing (and syncing)
    # checkpoints; SIGKILL at growing delays until one lands inside a save,
    # which leaves its temp file behind (nothing can remove it).
    caught=0
    for i in $(seq 40); do
        rm -f "$T"/k.st "$T"/k.st.tmp.*
        tfs-train $SMALL --steps 1000000 --save-every 1 -o "$T/k.st" --log "$T/kl" "$D/train.bin" &
        pid=$!
        for _ in $(seq 100); do [ -f "$T/k.st" ] && break; sleep 0.02; done
        sleep "0.0$((i % 10))"
        kill -KILL $pid; wait $pid || true
        if [ -n "$(find "$T" -maxdepth 1 -name 'k.st.tmp.*')" ] && [ -f "$T/k.st" ]; then caught=1; break; fi
    done
    [ "$caught" -eq 1 ]
    # the renamed file is a complete checkpoint: it resumes
    step=$(grep -ao '\\"step\\":[0-9]*' "$T/k.st" | grep -o '[0-9]*$')
    run_tool tfs-train --resume "$T/k.st" --stop-at $((step + 1)) -q -o "$T/r.st" "$D/train.bin"
    [ "$status" -eq 0 ]
}

@test "tfs-train: 3 shards train bit for bit as their concatenation (files, a directory, a glob)" {
    # 1200 tokens cut at 400 and 801: of the 32 random windows of 33
    # tokens, about 2 straddle a boundary.  Validation from shards too.
    mkdir "$T/sh" "$T/val"
    head -c $((1024 + 2 * 1200)) "$D/train.bin" > "$T/train.bin"
    set_count "$T/train.bin" 1200
    split_stream "$T/train.bin" "$T/sh/train" 400 401
    split_stream "$D/val.bin" "$T/val/val" 5000
    A="$SMALL --steps 8 --warmup 2 --eval-every 4"
    run_tool tfs-train $A --val "$D/val.bin" -o "$T/one.st" --log "$T/one.log" "$T/train.bin"
    [ "$status" -eq 0 ]
    run_tool tfs-train $A --val "$T/val" -o "$T/three.st" --log "$T/three.log" \
        "$T/sh/train-0.bin" "$T/sh/train-1.bin" "$T/sh/train-2.bin"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/one.st" "$T/three.st"
    [ "$status" -eq 0 ]
    diff <(cut -d, -f1-5 "$T/one.log") <(cut -d, -f1-5 "$T/three.log")
    grep -q val_loss "$T/three.log"
    run_tool tfs-train $A --val "$T/val/val-*.bin" -o "$T/dir.st" --log /dev/null "$T/sh"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/one.st" "$T/dir.st"
    [ "$status" -eq 0 ]
    run_tool tfs-train $A --val "$D/val.bin" -o "$T/glob.st" --log /dev/null "$T/sh/train-*.bin"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/one.st" "$T/glob.st"
    [ "$status" -eq 0 ]
    # another order is other data: the test can tell
    run_tool tfs-train $A --val "$D/val.bin" -o "$T/swap.st" --log /dev/null \
        "$T/sh/train-1.bin" "$T/sh/train-0.bin" "$T/sh/train-2.bin"
    run "$TFS_ROOT/tests/tools/st-compare" "$T/one.st" "$T/swap.st"
    [ "$status" -ne 0 ]
}

@test "tfs-train: resuming across a shard boundary is bit-identical (mapped and compressed shards)" {
    mkdir "$T/sh" "$T/z"
    # 4 steps of 4 x 32 tokens: the sequential reader is at token 513 of
    # shard 0 (500 tokens) and 1 (300 tokens), i.e. in shard 2, at the stop
    split_stream "$D/train.bin" "$T/sh/t" 500 300
    for f in "$T"/sh/t-*.bin; do zstd -q "$f" -o "$T/z/$(basename "$f")"; done
    A="$SMALL --threads 2 --steps 10 --warmup 3"
    # mapped: random windows, the RNG state resumes
    run_tool tfs-train $A -o "$T/full.st" --log /dev/null "$D/train.bin"
    run_tool tfs-train $A --stop-at 4 -o "$T/part.st" --log /dev/null "$T/sh"
    [ "$status" -eq 0 ]
    run_tool tfs-train --resume "$T/part.st" -q --threads 2 -o "$T/res.st" --log /dev/null "$T/sh"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/full.st" "$T/res.st"
    [ "$status" -eq 0 ]
    # compressed: read once, in order; resuming skips what was consumed
    run_tool bash -c "cat '$D/train.bin' | tfs-train $A -o '$T/pfull.st' --log /dev/null -"
    [ "$status" -eq 0 ]
    run_tool tfs-train $A --stop-at 4 -o "$T/zpart.st" --log /dev/null "$T/z"
    [ "$status" -eq 0 ]
    run_tool tfs-train --resume "$T/zpart.st" -q --threads 2 -o "$T/zres.st" --log /dev/null "$T/z"
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$T/pfull.st" "$T/zres.st"
    [ "$status" -eq 0 ]
}

@test "tfs-train: a shard of another vocabulary or tokenizer is named; empty directory, unmatched glob" {
    mkdir "$T/sh" "$T/empty"
    split_stream "$D/train.bin" "$T/sh/t" 3000
    stories_bytes val 5 --vocab 300 > "$T/sh/t-2.bin"
    run_tool tfs-train $SMALL -o "$T/m.st" "$T/sh"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/sh/t-2.bin: vocabulary size 300, but $T/sh/t-0.bin (the first file of the set) has 257" ]
    stories_bytes val 5 --fingerprint 1234 > "$T/sh/t-2.bin"
    run_tool tfs-train $SMALL -o "$T/m.st" "$T/sh"
    [ "$status" -eq 1 ]
    [[ $stderr == "tfs-train: $T/sh/t-2.bin: encoded by another tokenizer than $T/sh/t-0.bin, the first file of the set"* ]]
    run_tool tfs-train $SMALL -o "$T/m.st" "$T/empty"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/empty: a directory without files (expected token-stream shards)" ]
    run_tool tfs-train $SMALL -o "$T/m.st" "$T/sh/x-*.bin"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tfs-train: $T/sh/x-*.bin: the pattern matches no file" ]
    [ ! -e "$T/m.st" ]
}

@test "tfs-train: 200 shards take a bounded number of open files and memory" {
    # 200 shards of 1 KiB of tokens each, plain (mapped) and compressed
    # (sequential): the run must fit in 16 file descriptors, and its peak
    # memory must stay within a few MiB of the run on one file.
    mkdir "$T/sh" "$T/z"
    head -c $((1024 + 2 * 200 * 512)) "$D/train.bin" > "$T/one.bin"
    set_count "$T/one.bin" $((200 * 512))
    split_stream "$T/one.bin" "$T/sh/t" $(yes 512 | head -n 199)
    [ "$(ls "$T/sh" | wc -l)" -eq 200 ]
    for f in "$T"/sh/t-1*.bin; do zstd -q "$f" -o "$T/z/$(basename "$f")"; done
    A="--layers 1 --dim 16 --heads 2 --context 16 -b 2 --threads 1 -q --steps 2000 --warmup 2"
    # (under AddressSanitizer, freed memory waits in a quarantine: none here)
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
    rss() { /usr/bin/time -f %M -o "$T/rss" bash -c "ulimit -n 16; exec tfs-train $A -o '$T/m.st' --log /dev/null $1" && cat "$T/rss"; }
    one=$(rss "$T/one.bin")
    mapped=$(rss "$T/sh")
    seq=$(rss "$T/z")
    echo "max RSS KiB: one file $one, 200 mapped shards $mapped, 111 compressed shards $seq" >&3
    # (ASan's allocator keeps its own per-size caches of freed blocks, which
    # the decompression contexts of the compressed run fill: twice the slack)
    slack=1; [[ $TFS_BUILD == */asan ]] && slack=2
    [ "$mapped" -lt $((one + 4096 * slack)) ]
    [ "$seq" -lt $((one + 8192 * slack)) ]
}
