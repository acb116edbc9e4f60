#!/usr/bin/env bats
# 90-pipeline: the programs composed the way the README shows them, from a
# dataset on a (local, stand-in) Hub to generated text:
#   hf-fetch tinystories | bpe-train ...; hf-fetch tinystories | bpe-encode tok.bin > ids.bin
#   tfs-train ids.bin; tfs-eval; tok-stats

load helper

setup_file() {
    export HUB_ROOT="$BATS_FILE_TMPDIR/hub"
    local repo="$HUB_ROOT/repos/roneneldan/TinyStories/main"
    mkdir -p "$repo"
    # TinyStories-style text files (documents separated by <|endoftext|>
    # lines), made from the default data: 400 training and 60 validation stories.
    for split in train:train:400 valid:val:60; do
        IFS=: read -r name src n <<< "$split"
        zstd -dc "$TFS_ROOT/assets/stories-$src.jsonl.zst" | head -n "$n" |
            python3 -c 'import sys, json
for line in sys.stdin:
    print(json.loads(line)["text"]); print("<|endoftext|>")' > "$repo/TinyStories-$name.txt"
    done
    printf '# TinyStories (stand-in)\n' > "$repo/README.md"
    # FineWeb-Edu's sample-10BT (stand-in, pipelines/fineweb.mk): 6 JSON
    # Lines files of 100 stories each under sample/10BT/, as the card says
    local fw="$HUB_ROOT/repos/HuggingFaceFW/fineweb-edu"
    mkdir -p "$fw/main/sample/10BT"
    echo '{"configs": [{"config_name": "sample-10BT", "data_files": [{"split": "train", "path": "sample/10BT/*"}]}]}' > "$fw/card.json"
    for k in 0 1 2 3 4 5; do
        zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst" | sed -n "$((k * 100 + 1)),$((k * 100 + 100))p" \
            > "$fw/main/sample/10BT/00${k}_00000.jsonl"
    done
    python3 "$TFS_ROOT/tests/fakehub.py" "$HUB_ROOT" --port-file "$HUB_ROOT/ports" 3>&- &
    echo $! > "$BATS_FILE_TMPDIR/hub.pid"
    for _ in $(seq 100); do [ -s "$HUB_ROOT/ports" ] && break; sleep 0.05; done
    read -r HUB_PORT _ < "$HUB_ROOT/ports"
    export HUB_PORT
}

teardown_file() {
    kill "$(cat "$BATS_FILE_TMPDIR/hub.pid")" 2>/dev/null || true
}

setup() {
    export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT"
    export HF_HOME="$BATS_FILE_TMPDIR/hf" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/config"
    unset HF_HUB_CACHE HF_TOKEN HF_HUB_OFFLINE
    W="$BATS_FILE_TMPDIR/work"
    mkdir -p "$W"
}

@test "pipeline: hf-fetch tinystories | bpe-train, then | bpe-encode tok.bin > ids.bin (the README's line)" {
    run bash -o pipefail -c "hf-fetch -q tinystories | bpe-train -q --vocab-size 600 -o '$W/tok.bin'"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    run bash -o pipefail -c "hf-fetch -q tinystories | bpe-encode '$W/tok.bin' > '$W/ids.bin'"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    run bash -o pipefail -c "hf-fetch -q tinystories --split validation | bpe-encode '$W/tok.bin' > '$W/val.bin'"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    # 400 documents: 400 end-of-text ids in the stream (one before each document)
    run tok-stats --json -t "$W/tok.bin" "$W/ids.bin"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    docs=$(printf '%s' "$output" | python3 -c 'import sys, json
d = json.load(sys.stdin)
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "documents" and isinstance(v, int): return v
            r = find(v)
            if r is not None: return r
print(find(d))')
    [ "$docs" = 400 ]
}

@test "pipeline: decoding the stream gives back exactly the fetched text" {
    run bash -o pipefail -c "hf-fetch -q tinystories > '$W/fetched.jsonl' && bpe-encode -d '$W/tok.bin' < '$W/ids.bin' > '$W/decoded.jsonl'"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    cmp "$W/fetched.jsonl" "$W/decoded.jsonl"
}

@test "pipeline: a second fetch works offline, from the cache alone" {
    HF_HUB_OFFLINE=1 run_tool hf-fetch -q tinystories
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 400 ]
    [ "$output" = "$(cat "$W/fetched.jsonl")" ]
}

@test "pipeline: tfs-train learns from the fetched stories and tfs-eval scores and samples" {
    run tfs-train -q --layers 2 --heads 2 --dim 64 --context 64 --batch 8 --steps 60 --warmup 10 \
        --val "$W/val.bin" --eval-every 60 --eval-batches 4 --seed 3 -o "$W/model.safetensors" \
        --log "$W/log.jsonl" "$W/ids.bin"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    [ -s "$W/model.safetensors" ]
    run tfs-eval "$W/model.safetensors" "$W/val.bin"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    loss=$(printf '%s' "$output" | python3 -c 'import sys, json; print(json.load(sys.stdin)["loss"])')
    # The unigram entropy of the validation tokens, in nats, counted the way
    # tfs-eval scores them (every token but the first is predicted): the
    # loss of the best model that ignores context.  ln(600) = 6.40 is that
    # of a uniform guess.
    H=$(python3 -c '
import collections, math, struct, sys
d = open(sys.argv[1], "rb").read()[1024:]
ids = struct.unpack("<%dH" % (len(d) // 2), d)[1:]; n = len(ids)
print(-sum(c / n * math.log(c / n) for c in collections.Counter(ids).values()))' "$W/val.bin")
    echo "unigram entropy $H nats, loss $loss" >&2
    # 60 steps use the context: 0.48-0.76 nats below H over seeds 1-4
    python3 -c "import sys; sys.exit(0 if $loss < $H - 0.3 else 1)" || { echo "loss $loss, unigram entropy $H" >&2; false; }
    run tfs-eval "$W/model.safetensors" --tokenizer "$W/tok.bin" --prompt "Once upon a time" -n 20 --seed 1
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    [[ $output == "Once upon a time"* ]]
}

@test "pipeline: the demo reports its data with tok-stats, and an interrupted demo resumes training" {
    requires jq gnuplot
    A=$BATS_TEST_TMPDIR/assets D=$BATS_TEST_TMPDIR/demo
    small_demo_assets "$A" 100
    unset MAKEFLAGS MAKELEVEL MFLAGS
    mk=(make --no-print-directory -C "$TFS_ROOT" -f pipelines/demo.mk BIN="$TFS_BUILD/bin" OUT="$D"
        ASSETS="$A" VOCAB=300 THREADS=1 SAVE_EVERY=2)

    # A run too long to finish, in its own process group; once it has saved a
    # checkpoint, SIGINT goes to make and all its children, as Ctrl-C does.
    setsid -w bash -c 'echo $$ > "$0"; exec "$@"' "$BATS_TEST_TMPDIR/pgid" "${mk[@]}" STEPS=1000000 train \
        > "$BATS_TEST_TMPDIR/log1" 2>&1 3>&- &
    job=$!
    for _ in $(seq 1200); do [ -s "$D/train.safetensors" ] && break; sleep 0.05; done
    [ -s "$D/train.safetensors" ]
    pg=$(cat "$BATS_TEST_TMPDIR/pgid")
    kill -INT -- "-$pg"
    rc=0; wait "$job" || rc=$?
    for _ in $(seq 600); do kill -0 -- "-$pg" 2>/dev/null || break; sleep 0.05; done
    cat "$BATS_TEST_TMPDIR/log1" >&2
    [ "$rc" -ne 0 ]
    [[ $(cat "$BATS_TEST_TMPDIR/log1") =~ stopped\ by\ signal\ 2\ at\ step\ ([0-9]+) ]]
    k=${BASH_REMATCH[1]}
    [ ! -e "$D/model.safetensors" ]
    [ -s "$D/train.safetensors" ]

    # The demo again, 10 steps longer: it continues at step k + 1, not at 1.
    run_tool "${mk[@]}" STEPS=$((k + 10)) demo
    [ "$status" -eq 0 ]
    [[ $output == *"== tfs-train: resuming the interrupted run from $D/train.safetensors"* ]]
    [[ $stderr == *"steps $((k + 1)) to $((k + 10)) of $((k + 10)),"* ]]
    [[ $stderr != *"steps 1 to"* ]]
    [ -s "$D/model.safetensors" ] && [ -s "$D/model.best.safetensors" ] && [ -s "$D/loss.png" ]
    [ ! -e "$D/train.safetensors" ]
    # every step logged once, in order, across both runs; and plotted once
    [ "$(jq -s "[.[].step] == [range(1; $k + 11)]" "$D/train.jsonl")" = true ]
    [ "$(wc -l < "$D/train.dat")" -eq $((k + 10)) ]
    # the data statistics come from tok-stats: documents, and the tokens of a
    # stream counted at its own width (vocabulary 300: 2-byte ids)
    [[ $output == *"   $A/stories-train.jsonl.zst: 300 documents, "*" words, "*" bytes/document"* ]]
    [[ $output == *"   $A/stories-val.jsonl.zst: 40 documents, "* ]]
    for s in train:300 val:40; do
        n=$(( ($(stat -c %s "$D/${s%:*}.ids") - 1024) / 2 ))
        [[ $output == *"   $D/${s%:*}.ids: $n tokens (uint16 ids, vocabulary 300), ${s#*:} documents, "* ]]
    done
    [[ $output =~ the\ loss\ of\ a\ model\ without\ context:\ [0-9]+\.[0-9]{4}\ nats ]]
    # a finished demo trains no more
    t=$(stat -c %Y.%y "$D/model.safetensors")
    run_tool "${mk[@]}" STEPS=$((k + 10)) train
    [ "$status" -eq 0 ]
    [[ $output$stderr != *tfs-train* ]]
    [ "$(stat -c %Y.%y "$D/model.safetensors")" = "$t" ]
}

@test "pipeline: fineweb.mk fetches and encodes shares side by side, on one machine or two, and trains on the shards" {
    small_demo_assets "$W/fw-assets" 10
    F="make -s -f $TFS_ROOT/pipelines/fineweb.mk BIN=$TFS_BUILD/bin ASSETS=$W/fw-assets SHARES=3 SHARD_SIZE=20K"
    F="$F VOCAB=300 TOK_DOCS=200 CONFIG=tiny TOKENS=2560 THREADS=1 JOBS=2"
    # one machine, two make jobs
    run_tool $F -j 2 OUT="$W/fw1"
    [ "$status" -eq 0 ]
    [ -f "$W/fw1/model.safetensors" ]
    [[ ${lines[-1]} =~ ^\{\"loss\":\ [0-9.]+,\ \"perplexity\":\ [0-9.]+,\ \"tokens\":\ [0-9]+,\ \"bytes\":\ [0-9]+,\ \"bits_per_byte\":\ [0-9.]+\}$ ]]
    grep -q '"val_loss"' "$W/fw1/train.jsonl"
    [ "$(ls "$W"/fw1/tokens/*/train_*.bin | wc -l)" -ge 4 ]
    # the shards in name order are the whole split encoded at once
    hf-fetch -q fineweb-edu-10b | bpe-encode -q "$W/fw1/tok.bin" > "$W/fw-all.bin"
    cmp <(for f in "$W"/fw1/tokens/*/train_*.bin; do tail -c +1025 "$f"; done) <(tail -c +1025 "$W/fw-all.bin")
    # two machines: the tokenizer once, each machine its shares, then gathered
    mkdir -p "$W/fw2a" "$W/fw2b"
    cp "$W/fw1/tok.bin" "$W/fw2a/"; cp "$W/fw1/tok.bin" "$W/fw2b/"
    run_tool $F -j 2 OUT="$W/fw2a" SHARD=0/2 tokens
    [ "$status" -eq 0 ]
    run_tool $F -j 2 OUT="$W/fw2b" SHARD=1/2 tokens
    [ "$status" -eq 0 ]
    [ "$(ls "$W/fw2a/tokens")" = "000
002" ]
    [ "$(ls "$W/fw2b/tokens")" = "001" ]
    cp -a "$W/fw2b/tokens/001" "$W/fw2a/tokens/"
    diff -r "$W/fw1/tokens" "$W/fw2a/tokens"
    # trained there, the run is the one-machine run
    run_tool $F OUT="$W/fw2a" train
    [ "$status" -eq 0 ]
    run "$TFS_ROOT/tests/tools/st-compare" "$W/fw1/model.safetensors" "$W/fw2a/model.safetensors"
    [ "$status" -eq 0 ]
}

@test "pipeline: tinystories.mk encodes the training stories in shares and trains on the shards" {
    small_demo_assets "$W/ts-assets" 100
    run_tool make -s -f "$TFS_ROOT/pipelines/tinystories.mk" -j 2 BIN="$TFS_BUILD/bin" ASSETS="$W/ts-assets" \
        OUT="$W/ts" SHARES=3 SHARD_SIZE=30K VOCAB=300 CONFIG=tiny THREADS=1 evaluate
    [ "$status" -eq 0 ]
    [ -f "$W/ts/model.safetensors" ]
    [ "$(ls "$W"/ts/tokens/*/train_*.bin | wc -l)" -ge 3 ]
    # one stream after the other, the shares are the training stories
    bpe-encode -q "$W/ts/tok.bin" "$W/ts/train.jsonl.zst" > "$W/ts-all.bin"
    cmp <(for f in "$W"/ts/tokens/*/train_*.bin; do tail -c +1025 "$f"; done) <(tail -c +1025 "$W/ts-all.bin")
    [[ ${lines[-1]} =~ ^\{\"loss\":\ [0-9.]+, ]]
}

@test "pipeline: finetune.mk fetches a model from the Hub, encodes with its tokenizer.json, fine-tunes, exports" {
    requires python-torch numpy
    # a stand-in for openai-community/gpt2: a small GPT-2 in transformers'
    # layout whose tokenizer.json has 300 ids (a padded vocabulary of 320)
    local m="$HUB_ROOT/models/openai-community/gpt2/main" t="$BATS_TEST_TMPDIR"
    zstd -dc "$TFS_ROOT/assets/stories-train.jsonl.zst" | head -n 200 > "$t/docs.jsonl"
    bpe-train -q -n 300 -o "$t/tok.bin" "$t/docs.jsonl"
    bpe-encode -q -o "$t/ids.bin" "$t/tok.bin" "$t/docs.jsonl"
    tfs-train -q --layers 1 --dim 16 --heads 2 --context 16 -s 1 -o "$t/tiny.st" --log /dev/null "$t/ids.bin"
    tfs-eval -q --export-hf "$t/tiny" --tokenizer "$t/tok.bin" "$t/tiny.st"
    /usr/bin/python3 "$TFS_ROOT/tests/torch/hf_models.py" make "$m" --arch gpt2 --vocab 320 --variant sharded
    cp "$t/tiny/tokenizer.json" "$m/"
    run_tool make -s -f "$TFS_ROOT/pipelines/finetune.mk" BIN="$TFS_BUILD/bin" OUT="$W/ft" ROWS=300 VAL_ROWS=40 \
        CONTEXT=32 BATCH=4 STEPS=30 LR=3e-3 WARMUP=5 THREADS=1
    [ "$status" -eq 0 ]
    [[ $(cat "$W/ft/model.path") == "$HF_HOME/hub/models--openai-community--gpt2/snapshots/"* ]]
    # fine-tuning lowered the validation loss of the pretrained (random) model
    before=$(jq .loss "$W/ft/before.json") after=$(jq .loss "$W/ft/after.json")
    echo "before $before after $after" >&2
    python3 -c "import sys; sys.exit(0 if $after < $before - 1 else 1)"
    [ "$(jq -r .torch_dtype "$W/ft/hf/config.json")" = bfloat16 ] && [ -f "$W/ft/hf/tokenizer.json" ]
    [[ $output == *"Once upon a time"* ]]
    # the fine-tuned run started at step 1 and validated
    [[ $(head -n 1 "$W/ft/train.jsonl") == '{"step": 1, '* ]]
    grep -q '"val_loss"' "$W/ft/train.jsonl"
}
