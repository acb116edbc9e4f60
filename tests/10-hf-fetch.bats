#!/usr/bin/env bats
# 10-hf-fetch: datasets from a local stand-in for the Hugging Face Hub
# (tests/fakehub.py, on 127.0.0.1), Parquet against parquet-testing and an
# independent writer (hyparquet-writer).

load helper

PQT=${PQT:-$TFS_ROOT/tests/fixtures/parquet-testing}

# ---- the fake Hub, once per file --------------------------------------
make_repos() {
    local r=$1/repos fx="$TFS_ROOT/tests/fixtures/hub"
    # shards data/{split}-NNNNN-of-NNNNN: splits train and validation
    mkdir -p "$r/test/stories/main/data"
    cp "$fx/stories-train-0.parquet" "$r/test/stories/main/data/train-00000-of-00002-a1b2.parquet"
    cp "$fx/stories-train-1.parquet" "$r/test/stories/main/data/train-00001-of-00002-a1b2.parquet"
    cp "$fx/stories-validation.parquet" "$r/test/stories/main/data/validation-00000-of-00001-c3d4.parquet"
    printf '# Stories\n' > "$r/test/stories/main/README.md"
    # one Parquet file of 3 row groups (for Range reads)
    mkdir -p "$r/test/groups/main"
    cp "$fx/groups.parquet" "$r/test/groups/main/train.parquet"
    # two Parquet files of 3 row groups of 1500 rows (--shard by row
    # groups): groups.parquet, and a copy whose text says ROW for row
    # (same length, plain pages: still a valid file, with other bytes)
    mkdir -p "$r/test/rgroups/main/data"
    cp "$fx/groups.parquet" "$r/test/rgroups/main/data/train-00000-of-00002.parquet"
    python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(d.replace(b"row 0", b"ROW 0"))' \
        "$fx/groups.parquet" "$r/test/rgroups/main/data/train-00001-of-00002.parquet"
    # configs from the card data: en (default) and fr
    mkdir -p "$r/test/configs/main/en/train" "$r/test/configs/main/fr/sub"
    printf '{"text": "en train %d", "n": %d}\n' 1 1 2 2 > "$r/test/configs/main/en/train/part-0.jsonl"
    printf '{"text": "en test %d", "n": %d}\n' 1 1 > "$r/test/configs/main/en/test-0.jsonl"
    printf '{"text": "fr a"}\n' > "$r/test/configs/main/fr/a.jsonl"
    printf '{"text": "fr b"}\n' > "$r/test/configs/main/fr/sub/b.jsonl"
    cat > "$r/test/configs/card.json" <<'EOF'
{"configs": [
  {"config_name": "en", "default": true,
   "data_files": [{"split": "train", "path": "en/train/*.jsonl"}, {"split": "test", "path": ["en/test-*.jsonl"]}]},
  {"config_name": "fr", "data_files": "fr/**"}]}
EOF
    # split keywords in folder names and in file names; gzip
    mkdir -p "$r/test/folders/main/train" "$r/test/folders/main/valid"
    printf '{"text": "folder train"}\n' > "$r/test/folders/main/train/a.jsonl"
    printf '{"text": "folder valid"}\n' > "$r/test/folders/main/valid/b.jsonl"
    mkdir -p "$r/test/names/main"
    printf '{"text": "name train 1"}\n{"text": "name train 2"}\n' | gzip -c > "$r/test/names/main/mydata_train.jsonl.gz"
    printf '{"text": "name dev"}\n' | gzip -c > "$r/test/names/main/mydata-dev.jsonl.gz"
    # a JSON array; plain text lines; TinyStories-style documents, zstd
    mkdir -p "$r/test/jsonarr/main" "$r/test/lines/main" "$r/test/tiny/main"
    printf '[{"a": 1, "b": "x"},\n {"a": 2.5, "b": null}]\n' > "$r/test/jsonarr/main/data.json"
    printf 'first line\nsecond line\n' > "$r/test/lines/main/corpus.txt"
    printf 'Once there was a dog.\nIt ran.\n<|endoftext|>\nA second story.\n<|endoftext|>\n' | zstd -q -c > "$r/test/tiny/main/TinyStories-train.txt.zst"
    printf 'A valid story.\n<|endoftext|>\n' | zstd -q -c > "$r/test/tiny/main/TinyStories-valid.txt.zst"
    # only CSV: read from the converted Parquet branch
    mkdir -p "$r/test/csvonly/main" "$r/test/csvonly/refs%2Fconvert%2Fparquet/default/train"
    printf 'a,b\n1,2\n' > "$r/test/csvonly/main/data.csv"
    cp "$fx/converted-train.parquet" "$r/test/csvonly/refs%2Fconvert%2Fparquet/default/train/0000.parquet"
    # 32 JSON Lines shards of 2 to 6 rows (-j, --shard)
    mkdir -p "$r/test/many/main/data"
    local k j
    for k in $(seq 0 31); do
        for j in $(seq 0 $((k % 5 + 1))); do printf '{"text": "file %d row %d"}\n' "$k" "$j"; done \
            > "$r/test/many/main/data/train-$(printf %05d "$k")-of-00032.jsonl"
    done
    # gated and private
    mkdir -p "$r/test/gated/main/data" "$r/test/private/main/data"
    cp "$fx/stories-validation.parquet" "$r/test/gated/main/data/train-00000-of-00001.parquet"
    echo '{"gated": "manual", "tokens": ["hf_good_token_123"]}' > "$r/test/gated/access.json"
    cp "$fx/stories-validation.parquet" "$r/test/private/main/data/train-00000-of-00001.parquet"
    echo '{"private": true, "tokens": ["hf_good_token_123"]}' > "$r/test/private/access.json"
}

setup_file() {
    export HUB_ROOT="$BATS_FILE_TMPDIR/hub"
    mkdir -p "$HUB_ROOT"
    make_repos "$HUB_ROOT"
    python3 "$TFS_ROOT/tests/fakehub.py" "$HUB_ROOT" --port-file "$HUB_ROOT/ports" --page-size 2 3>&- &
    echo $! > "$BATS_FILE_TMPDIR/hub.pid"
    for _ in $(seq 100); do [ -s "$HUB_ROOT/ports" ] && break; sleep 0.05; done
    read -r HUB_PORT CDN_PORT < "$HUB_ROOT/ports"
    export HUB_PORT CDN_PORT
}

teardown() { showlog; }

teardown_file() {
    kill "$(cat "$BATS_FILE_TMPDIR/hub.pid")" 2>/dev/null || true
}

setup() {
    export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT"
    export HF_HOME="$BATS_TEST_TMPDIR/hf" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/config"
    unset HF_HUB_CACHE HF_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE HF_HUB_DISABLE_IMPLICIT_TOKEN HF_HUB_DOWNLOAD_TIMEOUT HF_FETCH_RANGE_MIN
    rm -f "$HUB_ROOT/faults.json"
    : > "$HUB_ROOT/requests.log"
}

faults() { printf '%s\n' "$1" > "$HUB_ROOT/faults.json"; }
requests() { cat "$HUB_ROOT/requests.log"; }
nreq() { grep -c -- "$1" "$HUB_ROOT/requests.log" || true; }
showlog() { echo "--- requests:" >&2; cat "$HUB_ROOT/requests.log" >&2; }
cache() { echo "$HF_HOME/hub/datasets--test--$1"; }

STORIES_TRAIN='{"text": "Once upon a time, Lily saw a bird 0.", "id": 0, "score": 0.0}'

# ---- command line -----------------------------------------------------
@test "hf-fetch: command-line contract (help, unknown option, man page)" {
    cli_contract hf-fetch
}

@test "hf-fetch: usage errors exit 2" {
    run_tool hf-fetch
    [ "$status" -eq 2 ]
    [ "$stderr" = "hf-fetch: missing REPO or ALIAS
Try 'hf-fetch --help'." ]
    run_tool hf-fetch a/b c/d
    [ "$status" -eq 2 ]
    [[ $stderr == "hf-fetch: extra operand 'c/d'"* ]]
    run_tool hf-fetch --limit 3x test/stories
    [ "$status" -eq 2 ]
    [[ $stderr == "hf-fetch: --limit: '3x' is not a number"* ]]
}

@test "hf-fetch: the man page documents every environment variable" {
    for v in HF_ENDPOINT HF_HOME HF_HUB_CACHE HF_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE \
             HF_HUB_DISABLE_IMPLICIT_TOKEN HF_HUB_DOWNLOAD_TIMEOUT HF_FETCH_RANGE_MIN TMPDIR XDG_CACHE_HOME XDG_CONFIG_HOME TFS_ASSETS; do
        grep -q "^\.B $v" "$TFS_ROOT/man/hf-fetch.1" || { echo "$v not documented" >&2; false; }
    done
}

@test "hf-fetch: --file: data errors name the file and line; unknown columns list the columns" {
    printf '{"text": "a"}\n{"text": oops}\n' > "$BATS_TEST_TMPDIR/bad.jsonl"
    run_tool hf-fetch --file "$BATS_TEST_TMPDIR/bad.jsonl"
    [ "$status" -eq 1 ]
    [ "$output" = '{"text": "a"}' ]
    [[ $stderr == "hf-fetch: $BATS_TEST_TMPDIR/bad.jsonl:2: invalid JSON: "* ]]
    run_tool hf-fetch --file "$BATS_TEST_TMPDIR/bad.jsonl" --columns txt
    [ "$stderr" = "hf-fetch: $BATS_TEST_TMPDIR/bad.jsonl:1: no column 'txt'; columns: text" ]
    run_tool hf-fetch --file "$TFS_ROOT/tests/fixtures/hub/stories-validation.parquet" -C text,nope
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: $TFS_ROOT/tests/fixtures/hub/stories-validation.parquet: no column 'nope'; columns: text, id, score" ]
    run_tool hf-fetch --file "$BATS_TEST_TMPDIR/x.csv"
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: $BATS_TEST_TMPDIR/x.csv: the csv format is not supported" ]
    run_tool hf-fetch --file "$BATS_TEST_TMPDIR/x.bin"
    [ "$stderr" = "hf-fetch: $BATS_TEST_TMPDIR/x.bin: unknown format (expected .parquet, .jsonl, .json or .txt, maybe .gz or .zst)" ]
    printf 'not parquet at all' > "$BATS_TEST_TMPDIR/fake.parquet"
    run_tool hf-fetch --file "$BATS_TEST_TMPDIR/fake.parquet"
    [ "$stderr" = "hf-fetch: $BATS_TEST_TMPDIR/fake.parquet: not a Parquet file (no PAR1 magic)" ]
}

# ---- registry ---------------------------------------------------------
@test "hf-fetch: --list prints the registry with the issue's aliases" {
    run_tool hf-fetch --list
    [ "$status" -eq 0 ]
    for a in tinystories tiny-textbooks tiny-strange-textbooks tiny-codes fineweb-edu-10b fineweb; do
        grep -qE "^$a +" <<<"$output" || { echo "alias $a missing" >&2; false; }
    done
    grep -qE '^fineweb +HuggingFaceFW/fineweb +sample-10BT +train +text$' <<<"$output"
    grep -qE '^tinystories +roneneldan/TinyStories ' <<<"$output"
}

@test "hf-fetch: a user alias emits {\"text\": ...} and skips null texts" {
    mkdir -p "$XDG_CONFIG_HOME/tfs"
    echo "mystories test/stories - train,validation text" > "$XDG_CONFIG_HOME/tfs/datasets.txt"
    run_tool hf-fetch mystories --split validation
    [ "$status" -eq 0 ]
    [ "$output" = '{"text": "A cat named Max 0."}
{"text": "A cat named Max 2."}' ]
    run_tool hf-fetch nosuchalias
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: 'nosuchalias' is neither a repository id (org/name) nor a known alias (hf-fetch --list shows them)" ]
}

# ---- listing, configs, splits, formats ----------------------------------
@test "hf-fetch: whole rows of Parquet shards, listing read over Link pages" {
    run_tool hf-fetch test/stories
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 10 ]
    [ "${lines[0]}" = "$STORIES_TRAIN" ]
    [ "${lines[9]}" = '{"text": "Tom had a red ball 4. \"Look!\" he said — ünïcödé ✓", "id": 4, "score": 1.0}' ]
    # 5 entries (3 files, 2 folders... ) at 2 a page: 3 pages, the next URL keeps recursive=true
    [ "$(nreq '/tree/.*recursive=true&cursor=2')" -eq 1 ]
    [ "$(nreq '/tree/.*recursive=true&cursor=4')" -eq 1 ]
    [ "$(nreq 'cdn GET /cdn/')" -eq 2 ]
}

@test "hf-fetch: inferred splits from shard names; unknown split lists the splits" {
    run_tool hf-fetch test/stories --split validation --columns text,id
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = '{"text": null, "id": 1}' ]
    run_tool hf-fetch test/stories --split test
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/stories: config 'default' has no split 'test'; splits: train, validation" ]
    run_tool hf-fetch test/stories --config other
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/stories: no config 'other'; configs: default" ]
}

@test "hf-fetch: configs from the card data (default, named, patterns with ** and lists)" {
    run_tool hf-fetch test/configs
    [ "$status" -eq 0 ]
    [ "$output" = '{"text": "en train 1", "n": 1}
{"text": "en train 2", "n": 2}' ]
    run_tool hf-fetch test/configs --split test
    [ "$output" = '{"text": "en test 1", "n": 1}' ]
    run_tool hf-fetch test/configs --config fr
    [ "$output" = '{"text": "fr a"}
{"text": "fr b"}' ]
    run_tool hf-fetch test/configs --config de
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/configs: no config 'de'; configs: en, fr" ]
    run_tool hf-fetch test/configs --split validation
    [ "$stderr" = "hf-fetch: test/configs: config 'en' has no split 'validation'; splits: train, test" ]
}

@test "hf-fetch: splits from folder names and file names; gzip JSON Lines" {
    run_tool hf-fetch test/folders --split validation
    [ "$output" = '{"text": "folder valid"}' ]
    run_tool hf-fetch test/names
    [ "$output" = '{"text": "name train 1"}
{"text": "name train 2"}' ]
    run_tool hf-fetch test/names --split validation
    [ "$output" = '{"text": "name dev"}' ]
}

@test "hf-fetch: a JSON array, plain text lines, <|endoftext|> documents in zstd" {
    run_tool hf-fetch test/jsonarr
    [ "$output" = '{"a": 1, "b": "x"}
{"a": 2.5, "b": null}' ]
    run_tool hf-fetch test/lines
    [ "$output" = '{"text": "first line"}
{"text": "second line"}' ]
    run_tool hf-fetch test/tiny
    [ "$output" = '{"text": "Once there was a dog.\nIt ran."}
{"text": "A second story."}' ]
    run_tool hf-fetch test/tiny --split validation -n 1
    [ "$output" = '{"text": "A valid story."}' ]
}

@test "hf-fetch: a dataset in no readable format is read from refs/convert/parquet" {
    run_tool hf-fetch test/csvonly --columns text
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '{"text": "converted row 0"}' ]
    [ "${#lines[@]}" -eq 4 ]
    [ "$(nreq 'revision/refs%2Fconvert%2Fparquet')" -eq 1 ]
    [ "$(cat "$(cache csvonly)/refs/refs/convert/parquet")" = "$(ls "$(cache csvonly)/snapshots" | while read -r s; do [ -e "$(cache csvonly)/snapshots/$s/default" ] && echo "$s"; done)" ]
}

# ---- cache --------------------------------------------------------------
@test "hf-fetch: cache layout of huggingface_hub (refs, blobs, relative symlinks)" {
    run_tool hf-fetch test/stories -q
    [ "$status" -eq 0 ]
    local d; d=$(cache stories)
    sha=$(cat "$d/refs/main")
    [[ $sha =~ ^[0-9a-f]{40}$ ]]
    [ "$(wc -c < "$d/refs/main")" -eq 40 ]     # no newline
    link="$d/snapshots/$sha/data/train-00000-of-00002-a1b2.parquet"
    [ -L "$link" ]
    target=$(readlink "$link")
    blob=$(sha256sum "$TFS_ROOT/tests/fixtures/hub/stories-train-0.parquet" | cut -d' ' -f1)
    [ "$target" = "../../../blobs/$blob" ]
    cmp "$link" "$TFS_ROOT/tests/fixtures/hub/stories-train-0.parquet"
    [ -z "$(ls "$d/blobs" | grep incomplete)" ]
}

@test "hf-fetch: a second run makes one metadata request and no download" {
    run_tool hf-fetch test/stories
    first=$output
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch test/stories
    [ "$status" -eq 0 ]
    [ "$output" = "$first" ]
    [ "$(requests | wc -l)" -eq 1 ]
    [ "$(nreq 'revision/main')" -eq 1 ]
}

@test "hf-fetch: offline mode reads the cache with no request, or fails clearly" {
    run_tool hf-fetch test/stories --offline
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: dataset 'test/stories', revision 'main': not in the cache ("*") and offline mode is on" ]]
    run_tool hf-fetch test/stories -n 2
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch test/stories --offline -n 2
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$STORIES_TRAIN" ]
    HF_HUB_OFFLINE=1 run_tool hf-fetch test/stories -n 1
    [ "$status" -eq 0 ]
    [ "$(requests | wc -l)" -eq 0 ]
    # the second shard was never fetched (limit): offline cannot have it
    HF_HUB_OFFLINE=yes run_tool hf-fetch test/stories
    [ "$status" -eq 1 ]
    [[ $stderr == *"file 'data/train-00001-of-00002-a1b2.parquet' is not in the cache"*"offline mode is on" ]]
}

@test "hf-fetch: files fetched by Python tools (no saved metadata) are used offline" {
    run_tool hf-fetch test/names
    rm -rf "$HF_HOME/tfs-hf-fetch"
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch test/names --offline
    [ "$status" -eq 0 ]
    [ "$output" = '{"text": "name train 1"}
{"text": "name train 2"}' ]
    [ "$(requests | wc -l)" -eq 0 ]
}

@test "hf-fetch: HF_HUB_CACHE moves the cache" {
    HF_HUB_CACHE="$BATS_TEST_TMPDIR/elsewhere" run_tool hf-fetch test/lines
    [ "$status" -eq 0 ]
    [ -s "$BATS_TEST_TMPDIR/elsewhere/datasets--test--lines/refs/main" ]
    [ ! -e "$HF_HOME/hub/datasets--test--lines" ]
}

@test "hf-fetch: rows of the first file are out before the next file is downloaded (-j 1 and -j 4)" {
    faults '[{"port": "cdn", "path": "train-00001-of-00002", "delay": 3}]'
    hf-fetch -q -j 1 test/stories > "$BATS_TEST_TMPDIR/out" &
    pid=$!
    for _ in $(seq 40); do [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -ge 5 ] && break; sleep 0.05; done
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 5 ]
    kill -0 "$pid"
    wait "$pid"
    # the same with 4 downloads at once (issue 17: the first JSONL row of a
    # Parquet dataset is out before the second file finishes downloading)
    rm -rf "$HF_HOME"
    hf-fetch -q -j 4 test/stories > "$BATS_TEST_TMPDIR/out" &
    pid=$!
    for _ in $(seq 40); do [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -ge 5 ] && break; sleep 0.05; done
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 5 ]     # the first shard, while the second waits
    kill -0 "$pid"                                      # still downloading
    wait "$pid"
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 10 ]
}

@test "hf-fetch: --limit stops before downloading further files" {
    run_tool hf-fetch test/stories --limit 3
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [ "$(nreq 'cdn GET')" -eq 1 ]
    run_tool hf-fetch test/stories --limit 0
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "hf-fetch: progress on a terminal only, and not with -q" {
    requires script
    script -qfc "hf-fetch test/stories -n 1 > /dev/null" "$BATS_TEST_TMPDIR/tty" > /dev/null
    grep -q $'\r''data/train-00000-of-00002-a1b2.parquet \[#*\] 100% .* MB' "$BATS_TEST_TMPDIR/tty"
    rm -rf "$HF_HOME"
    script -qfc "hf-fetch -q test/stories -n 1 > /dev/null" "$BATS_TEST_TMPDIR/tty2" > /dev/null
    [ -e "$BATS_TEST_TMPDIR/tty2" ]
    run grep -c 'parquet \[' "$BATS_TEST_TMPDIR/tty2"
    [ "$status" -eq 1 ]                                 # no progress bar with -q (1: no match, 2: an error)
    rm -rf "$HF_HOME"
    run_tool hf-fetch test/stories -n 1
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ $stderr != *"["* ]]
}

@test "hf-fetch: --limit reads a large Parquet file by ranges (footer, first row group)" {
    mkdir -p "$BATS_TEST_TMPDIR/tmp"
    HF_FETCH_RANGE_MIN=100000 TMPDIR="$BATS_TEST_TMPDIR/tmp" run_tool hf-fetch test/groups -n 2 --columns text
    [ "$status" -eq 0 ]
    [ "$output" = '{"text": "row 00000 abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"}
{"text": "row 00001 bcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"}' ]
    # the start, the end (footer) and the first row group's text chunk: 3 ranged requests
    [ "$(nreq '^cdn GET')" -eq 3 ]
    [ "$(nreq '^cdn GET .* range=-')" -eq 0 ]
    [ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ]                   # no temporary file left
    [ ! -e "$(cache groups)/blobs" ] || [ -z "$(ls -A "$(cache groups)/blobs")" ]   # nothing partial cached
    # the ranges read are kept (rangecache.h): the same rows again need no request
    : > "$HUB_ROOT/requests.log"
    HF_FETCH_RANGE_MIN=100000 run_tool hf-fetch test/groups -n 2 --columns text
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = '{"text": "row 00001 bcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"}' ]
    [ "$(nreq '^cdn GET')" -eq 0 ]
    [ "$(wc -l < "$HF_HOME/tfs-hf-fetch/datasets--test--groups/ranges/$(sha256sum "$TFS_ROOT/tests/fixtures/hub/groups.parquet" | cut -c1-64).ranges")" -eq 3 ]
    # more rows: only the ranges not yet held
    HF_FETCH_RANGE_MIN=100000 run_tool hf-fetch test/groups -n 2 --columns text,n
    [ "$status" -eq 0 ]
    [ "$(nreq '^cdn GET')" -eq 1 ]
    # rows from the last row group; a server that ignores Range still works
    faults '[{"port": "cdn", "path": "/cdn/", "ignore_range": true}]'
    HF_FETCH_RANGE_MIN=100000 run_tool hf-fetch test/groups -n 4500 --columns n
    [ "$status" -eq 0 ]
    [ "${lines[4499]}" = '{"n": 4499}' ]
    # below the threshold (default 64 MiB) the file is downloaded and cached
    rm "$HUB_ROOT/faults.json"
    run_tool hf-fetch test/groups -n 1 --columns n
    [ "$output" = '{"n": 0}' ]
    [ -L "$(cache groups)/snapshots/$(cat "$(cache groups)/refs/main")/train.parquet" ]
}

# ---- transfers: resume, retries, faults ---------------------------------
@test "hf-fetch: a connection cut mid-body is resumed with Range in the same run" {
    faults '[{"port": "cdn", "path": "/cdn/", "cut_after": 100, "times": 1}]'
    run_tool hf-fetch test/stories --split validation
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ $stderr == *"retrying in 1 s (try 2 of 5)"* ]]
    [ "$(nreq 'cdn GET .* range=bytes=100-')" -eq 1 ]
}

@test "hf-fetch: an interrupted download continues from its partial file on the next run" {
    # cut once, then refuse every resume: the run fails, the partial file stays
    faults '[{"port": "cdn", "path": "/cdn/", "cut_after": 100, "times": 1},
             {"port": "cdn", "path": "/cdn/", "status": 503, "retry_after": 0}]'
    run_tool hf-fetch -q test/stories --split validation
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/stories: file 'data/validation-00000-of-00001-c3d4.parquet': server error 503 after 5 tries" ]
    part=$(ls "$(cache stories)"/blobs/*.incomplete)
    [ "$(stat -c %s "$part")" -eq 100 ]
    rm "$HUB_ROOT/faults.json"
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch test/stories --split validation
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [ "$(nreq 'cdn GET .* range=bytes=100-')" -eq 1 ]
    [ ! -e "$part" ]
}

@test "hf-fetch: a server that ignores Range makes the download start over" {
    faults '[{"port": "cdn", "path": "/cdn/", "cut_after": 100, "times": 1}, {"port": "cdn", "path": "/cdn/", "ignore_range": true}]'
    run_tool hf-fetch test/stories --split validation
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '{"text": "A cat named Max 0.", "id": 0, "score": 0.0}' ]
    [ "$(nreq 'cdn GET .* range=bytes=100-')" -eq 1 ]
    blob=$(sha256sum "$TFS_ROOT/tests/fixtures/hub/stories-validation.parquet" | cut -d' ' -f1)
    cmp "$(cache stories)/blobs/$blob" "$TFS_ROOT/tests/fixtures/hub/stories-validation.parquet"
}

@test "hf-fetch: 429 with Retry-After is waited out, then retried" {
    faults '[{"port": "hub", "path": "/revision/", "status": 429, "retry_after": 1, "times": 1}]'
    start=$SECONDS
    run_tool hf-fetch test/lines
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '{"text": "first line"}' ]
    [[ $stderr == *"HTTP 429; retrying in 1 s (try 2 of 5)"* ]]
    [ "$(nreq 'revision/main')" -eq 2 ]
    [ $((SECONDS - start)) -ge 1 ]
}

@test "hf-fetch: RateLimit header sets the wait; 5xx then success" {
    faults '[{"port": "hub", "path": "/tree/", "status": 429, "ratelimit": "\"api\";r=0;t=0", "times": 1},
             {"port": "cdn", "path": "/cdn/", "status": 503, "times": 1}]'
    run_tool hf-fetch test/names
    [ "$status" -eq 0 ]
    [[ $stderr == *"HTTP 429; retrying in 1 s"* ]]
    [[ $stderr == *"HTTP 503; retrying in 1 s"* ]]
    [ "${#lines[@]}" -eq 2 ]
}

@test "hf-fetch: a stalled transfer times out (HF_HUB_DOWNLOAD_TIMEOUT) and is retried" {
    # headers, then nothing for 4 s
    faults '[{"port": "cdn", "path": "/cdn/", "cut_after": 0, "stall": 4, "times": 1}]'
    start=$SECONDS
    HF_HUB_DOWNLOAD_TIMEOUT=1 run_tool hf-fetch test/stories --split validation
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ $stderr == *"Timeout was reached; retrying in 1 s (try 2 of 5)"* ]]
    [ "$(nreq 'cdn GET')" -eq 2 ]
}

@test "hf-fetch: persistent 5xx fails after 5 tries with a clear message" {
    faults '[{"port": "hub", "path": "/revision/", "status": 502, "retry_after": 0, "times": 5}]'
    run_tool hf-fetch -q test/lines
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: dataset 'test/lines', revision 'main': server error 502 after 5 tries" ]
    [ "$(nreq 'revision/main')" -eq 5 ]
}

@test "hf-fetch: a corrupted download (sha256 mismatch) is rejected and not published" {
    faults '[{"port": "cdn", "path": "/cdn/", "corrupt": true}]'
    run_tool hf-fetch test/stories --split validation
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: test/stories: file 'data/validation-00000-of-00001-c3d4.parquet': sha256 mismatch (expected "*"); the corrupt download was discarded, run again to retry" ]]
    [ -z "$output" ]
    [ -z "$(ls -A "$(cache stories)/blobs")" ]
    [ ! -e "$(cache stories)/snapshots" ] || [ -z "$(find "$(cache stories)/snapshots" -type l)" ]
    rm "$HUB_ROOT/faults.json"
    run_tool hf-fetch test/stories --split validation
    [ "$status" -eq 0 ]
}

@test "hf-fetch: two processes on the same file do not corrupt it (lock)" {
    faults '[{"port": "cdn", "path": "/cdn/", "delay": 1}]'
    hf-fetch -q test/stories --split validation > "$BATS_TEST_TMPDIR/a" &
    pa=$!
    hf-fetch -q test/stories --split validation > "$BATS_TEST_TMPDIR/b" &
    pb=$!
    wait $pa
    wait $pb
    [ "$(wc -l < "$BATS_TEST_TMPDIR/a")" -eq 3 ]
    cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
    [ "$(nreq 'cdn GET')" -eq 1 ]
    blob=$(sha256sum "$TFS_ROOT/tests/fixtures/hub/stories-validation.parquet" | cut -d' ' -f1)
    cmp "$(cache stories)/blobs/$blob" "$TFS_ROOT/tests/fixtures/hub/stories-validation.parquet"
}

# ---- errors and the token ---------------------------------------------------
@test "hf-fetch: 401 for a missing or gated repo suggests HF_TOKEN" {
    run_tool hf-fetch test/nosuch
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: dataset 'test/nosuch', revision 'main': 401 Unauthorized (Repository not found): the repository does not exist, is private, or is gated; if you have access, set HF_TOKEN to an access token" ]
    run_tool hf-fetch test/gated
    [ "$status" -eq 1 ]
    [[ $stderr == *"401 Unauthorized"*"set HF_TOKEN"* ]]
}

@test "hf-fetch: 403 for a token without access; the token is never printed" {
    HF_TOKEN=hf_wrong_secret_999 run_tool hf-fetch test/gated
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: dataset 'test/gated', revision 'main': 403 Forbidden"*"your token has no access to this repository"* ]]
    [[ $stderr != *hf_wrong_secret_999* ]]
    HF_TOKEN=hf_wrong_secret_999 run_tool hf-fetch test/private
    [ "$status" -eq 1 ]
    [[ $stderr == *"401 Unauthorized"*"or the token (HF_TOKEN) is not valid for it" ]]
    [[ $stderr != *hf_wrong_secret_999* ]]
}

@test "hf-fetch: 404 for a revision and for a file" {
    run_tool hf-fetch test/lines --revision nope
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: dataset 'test/lines', revision 'nope': revision not found (404) (Invalid rev id: nope)" ]
    faults '[{"port": "hub", "path": "/resolve/", "status": 404, "error_code": "EntryNotFound", "times": 1}]'
    run_tool hf-fetch test/lines
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/lines: file 'corpus.txt': file not found (404)" ]
}

@test "hf-fetch: the token reaches the Hub but never the redirect (CDN) host" {
    HF_TOKEN=hf_good_token_123 run_tool hf-fetch test/gated --columns id
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [ "$(nreq '^hub .* auth=yes')" -ge 3 ]
    [ "$(nreq '^hub .* auth=no')" -eq 0 ]
    [ "$(nreq '^cdn GET')" -eq 1 ]
    [ "$(nreq '^cdn .* auth=yes')" -eq 0 ]
}

@test "hf-fetch: the token file under HF_HOME, HF_TOKEN_PATH, HF_HUB_DISABLE_IMPLICIT_TOKEN" {
    mkdir -p "$HF_HOME"
    printf '  hf_good_token_123\n' > "$HF_HOME/token"
    run_tool hf-fetch test/private -q -n 1 --columns id
    [ "$status" -eq 0 ]
    [ "$output" = '{"id": 0}' ]
    rm "$HF_HOME/token"
    printf 'hf_good_token_123' > "$BATS_TEST_TMPDIR/tok"
    HF_TOKEN_PATH="$BATS_TEST_TMPDIR/tok" run_tool hf-fetch test/private -q -n 1 --columns id
    [ "$status" -eq 0 ]
    : > "$HUB_ROOT/requests.log"
    HF_TOKEN=hf_good_token_123 HF_HUB_DISABLE_IMPLICIT_TOKEN=1 run_tool hf-fetch test/gated -q
    [ "$status" -eq 1 ]
    [ "$(nreq 'auth=yes')" -eq 0 ]
}

# ---- Parquet ------------------------------------------------------------------
@test "hf-fetch: every flat parquet-testing file reads; expected values match" {
    for f in alltypes_plain alltypes_dictionary alltypes_plain.snappy alltypes_tiny_pages_plain binary \
             byte_stream_split.zstd concatenated_gzip_members datapage_v1-snappy-compressed-checksum \
             datapage_v1-uncompressed-checksum datapage_v2_empty_datapage.snappy delta_binary_packed \
             delta_byte_array delta_encoding_optional_column delta_encoding_required_column \
             delta_length_byte_array dict-page-offset-zero int32_with_null_pages lz4_raw_compressed \
             lz4_raw_compressed_larger page_v2_empty_compressed plain-dict-uncompressed-checksum \
             rle-dict-snappy-checksum rle_boolean_encoding single_nan unknown-logical-type; do
        hf-fetch --file "$PQT/data/$f.parquet" > "$BATS_TEST_TMPDIR/$f.jsonl" || { echo "$f failed" >&2; false; }
    done
    # the suite's expected values (CSV; an empty field is null)
    for f in delta_binary_packed delta_byte_array delta_encoding_optional_column delta_encoding_required_column; do
        python3 - "$BATS_TEST_TMPDIR/$f.jsonl" "$PQT/data/${f}_expect.csv" <<'EOF'
import csv, json, sys
got = [list(json.loads(l).values()) for l in open(sys.argv[1])]
exp = list(csv.reader(open(sys.argv[2])))[1:]
assert len(got) == len(exp), (sys.argv[2], len(got), len(exp))
for i, (g, e) in enumerate(zip(got, exp)):
    g = ['' if v is None else str(v) for v in g]
    assert g == e, (sys.argv[2], i, g, e)
EOF
    done
    [ "$(sed -n 2p "$BATS_TEST_TMPDIR/alltypes_plain.jsonl")" = '{"id": 5, "bool_col": false, "tinyint_col": 1, "smallint_col": 1, "int_col": 1, "bigint_col": 10, "float_col": 1.1, "double_col": 10.1, "date_string_col": "03/01/09", "string_col": "1", "timestamp_col": "2009-03-01T00:01:00"}' ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/concatenated_gzip_members.jsonl")" -eq 513 ]
    [ "$(tail -1 "$BATS_TEST_TMPDIR/concatenated_gzip_members.jsonl")" = '{"long_col": 513}' ]
    [ "$(cat "$BATS_TEST_TMPDIR/single_nan.jsonl")" = '{"mycol": null}' ]
}

@test "hf-fetch: unsupported Parquet features and bad_data files fail with a message" {
    run_tool hf-fetch --file "$PQT/data/nulls.snappy.parquet"
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: $PQT/data/nulls.snappy.parquet: column 'b_struct' is a nested group (struct, list or map): hf-fetch reads flat columns of basic types only" ]
    run_tool hf-fetch --file "$PQT/data/byte_array_decimal.parquet"
    [[ $stderr == *"column 'value' is a DECIMAL"* ]]
    for f in "$PQT"/bad_data/*.parquet "$PQT/data/nation.dict-malformed.parquet"; do
        run_tool timeout 20 hf-fetch --file "$f"
        [ "$status" -eq 1 ] || { echo "$f: status $status" >&2; false; }
        [[ $stderr == "hf-fetch: $f: "* ]] || { echo "$f: no message" >&2; false; }
    done
}

@test "hf-fetch: files from an independent writer (hyparquet-writer), random UTF-8, every encoding" {
    requires node
    "$TFS_ROOT/tests/npm/install" || skip "optional: npm packages could not be installed"
    python3 - "$BATS_TEST_TMPDIR" <<'EOF'
import json, random, sys
d = sys.argv[1]
rnd = random.Random(7)
alphabet = 'abc xyz ABC 0123 "\\\n\t/' + 'éüñçåß' + 'Ωжש中文日本' + '✓☃' + '😀𝄞🎉' + '\x01\x1f'
def s():
    return ''.join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
n = 3000
strs = [s() if rnd.random() > 0.1 else None for _ in range(n)]
rep = [rnd.choice(['alpha', 'beta', 'gamma ✓', None]) for _ in range(n)]
i32 = [rnd.randint(-2**31, 2**31 - 1) for _ in range(n)]
i64 = [rnd.choice([rnd.randint(-2**63, 2**63 - 1), rnd.randint(-5, 5), None]) for _ in range(n)]
f64 = [rnd.choice([rnd.uniform(-1e6, 1e6), rnd.random() * 10 ** rnd.randint(-300, 300), 0.0, None]) for _ in range(n)]
bools = [rnd.choice([True, False, None]) for _ in range(n)]
cols = [
    {"name": "s", "type": "STRING", "data": strs},
    {"name": "dict", "type": "STRING", "data": rep},
    {"name": "delta_len", "type": "STRING", "data": strs, "encoding": "DELTA_LENGTH_BYTE_ARRAY"},
    {"name": "delta_ba", "type": "STRING", "data": sorted(x or '' for x in strs), "encoding": "DELTA_BYTE_ARRAY"},
    {"name": "i32", "type": "INT32", "data": i32, "encoding": "DELTA_BINARY_PACKED", "nullable": False},
    {"name": "i64", "type": "INT64", "data": [None if v is None else str(v) for v in i64]},
    {"name": "f64", "type": "DOUBLE", "data": f64},
    {"name": "f64_split", "type": "DOUBLE", "data": [v if v is not None else 1.5 for v in f64], "encoding": "BYTE_STREAM_SPLIT", "nullable": False},
    {"name": "b", "type": "BOOLEAN", "data": bools},
]
for codec in ["SNAPPY", "UNCOMPRESSED"]:
    json.dump({"codec": codec, "rowGroupSize": 1000, "pageSize": 4096, "columns": cols}, open("%s/%s.json" % (d, codec), "w"))
exp = []
for i in range(n):
    row = {}
    for c in cols:
        v = c["data"][i]
        row[c["name"]] = int(v) if c["type"] == "INT64" and v is not None else v
    exp.append(row)
json.dump(exp, open(d + "/expected.json", "w"))
EOF
    for codec in SNAPPY UNCOMPRESSED; do
        node "$TFS_ROOT/tests/npm/write-parquet.mjs" "$BATS_TEST_TMPDIR/$codec.parquet" < "$BATS_TEST_TMPDIR/$codec.json"
        run_tool hf-fetch --file "$BATS_TEST_TMPDIR/$codec.parquet"
        [ "$status" -eq 0 ]
        printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/$codec.jsonl"
        python3 - "$BATS_TEST_TMPDIR/$codec.jsonl" "$BATS_TEST_TMPDIR/expected.json" <<'EOF'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
exp = json.load(open(sys.argv[2]))
assert len(got) == len(exp), (len(got), len(exp))
for i, (g, e) in enumerate(zip(got, exp)):
    assert list(g) == list(e), (i, list(g))
    for k in e:
        assert g[k] == e[k], (i, k, g[k], e[k])
EOF
    done
}

# ---- hostile servers (issue 18) ------------------------------------------
# A listener that records whether anything connected to it: prints its port.
listener() {
    python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
s.settimeout(float(sys.argv[2]))
try:
    while True:
        c, _ = s.accept(); open(sys.argv[1], "a").write("connected\n"); c.close()
except socket.timeout:
    pass' "$1" "$2" &
}

@test "hf-fetch: redirects to file://, gopher:// and dict:// are refused, nothing is reached" {
    local f=data/validation-00000-of-00001-c3d4.parquet
    # file:// on a FIFO: a writer would get through only if hf-fetch opened it
    mkfifo "$BATS_TEST_TMPDIR/fifo"
    ( rc=0; timeout 4 sh -c "echo x > '$BATS_TEST_TMPDIR/fifo'" || rc=$?; echo "$rc" > "$BATS_TEST_TMPDIR/writer" ) &
    wpid=$!
    faults "[{\"port\": \"hub\", \"path\": \"/resolve/\", \"status\": 302, \"location\": \"file://$BATS_TEST_TMPDIR/fifo\"}]"
    run_tool hf-fetch -q test/stories --split validation
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/stories: file '$f': refusing a redirect to 'file://$BATS_TEST_TMPDIR/fifo': only http and https are followed" ]
    wait "$wpid"
    [ "$(cat "$BATS_TEST_TMPDIR/writer")" -eq 124 ]     # nobody opened the FIFO
    # gopher:// and dict:// to a local listener: no connection
    listener "$BATS_TEST_TMPDIR/conn" 4 > "$BATS_TEST_TMPDIR/lport"
    lpid=$!
    for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/lport" ] && break; sleep 0.05; done
    port=$(cat "$BATS_TEST_TMPDIR/lport")
    for loc in "gopher://127.0.0.1:$port/1x" "dict://127.0.0.1:$port/d:word"; do
        faults "[{\"port\": \"hub\", \"path\": \"/resolve/\", \"status\": 302, \"location\": \"$loc\"}]"
        run_tool hf-fetch -q test/stories --split validation
        [ "$status" -eq 1 ]
        [ "$stderr" = "hf-fetch: test/stories: file '$f': refusing a redirect to '$loc': only http and https are followed" ]
    done
    wait "$lpid"
    [ ! -e "$BATS_TEST_TMPDIR/conn" ]
    [ "$(nreq '^cdn ')" -eq 0 ]
    # the endpoint itself must be http or https
    HF_ENDPOINT="ftp://127.0.0.1:$HUB_PORT" run_tool hf-fetch test/stories
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: HF_ENDPOINT: only http and https URLs are used: 'ftp://127.0.0.1:$HUB_PORT'" ]
}

@test "hf-fetch: over https, a redirect down to http:// is refused; https redirects are followed" {
    local d="$BATS_TEST_TMPDIR" f=data/validation-00000-of-00001-c3d4.parquet
    # a stand-in Hub over TLS, on the same repositories, with a certificate
    # made here and trusted through CURL_CA_BUNDLE
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
    python3 "$TFS_ROOT/tests/fakehub.py" "$HUB_ROOT" --port-file "$d/tls-ports" --page-size 2 \
        --tls "$d/cert.pem" "$d/key.pem" 3>&- &
    local tpid=$!
    for _ in $(seq 100); do [ -s "$d/tls-ports" ] && break; sleep 0.05; done
    read -r tport tcdn < "$d/tls-ports"
    # without faults the whole download goes over https, CDN redirect included
    HF_ENDPOINT="https://127.0.0.1:$tport" CURL_CA_BUNDLE="$d/cert.pem" run_tool hf-fetch -q test/stories --split validation
    [ "$status" -eq 0 ] || { echo "$stderr" >&2; kill "$tpid"; false; }
    [ -n "$output" ]
    # a 302 from https to http is refused before any request goes out
    faults "[{\"port\": \"hub\", \"path\": \"/resolve/\", \"status\": 302, \"location\": \"http://127.0.0.1:$CDN_PORT/cdn/x\"}]"
    rm -rf "$HF_HOME"
    HF_ENDPOINT="https://127.0.0.1:$tport" CURL_CA_BUNDLE="$d/cert.pem" run_tool hf-fetch -q test/stories --split validation
    kill "$tpid"
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/stories: file '$f': refusing a redirect from https to http ('http://127.0.0.1:$CDN_PORT/cdn/x'): a downgrade would expose the transfer" ]
    [ "$(nreq "^cdn GET /cdn/x")" -eq 0 ]
}

@test "hf-fetch: Retry-After as an HTTP-date is waited out (a past date: at once)" {
    faults '[{"port": "hub", "path": "/revision/", "status": 429, "retry_after_date": -3600, "times": 1}]'
    run_tool hf-fetch test/lines
    [ "$status" -eq 0 ]
    [[ $stderr == *"HTTP 429; retrying in 0 s (try 2 of 5)"* ]]
    faults '[{"port": "hub", "path": "/revision/", "status": 503, "retry_after_date": 3, "times": 1}]'
    start=$SECONDS
    run_tool hf-fetch test/lines
    [ "$status" -eq 0 ]
    [[ $stderr == *"HTTP 503; retrying in "[23]" s (try 2 of 5)"* ]]
    [ $((SECONDS - start)) -ge 2 ]
}

@test "hf-fetch: a range read answered with the wrong Content-Range is an error, not a retry" {
    mkdir -p "$BATS_TEST_TMPDIR/tmp"
    # the head and the footer arrive; the column chunk's answer names other bytes
    faults '[{"port": "cdn", "path": "/cdn/", "times": 2}, {"port": "cdn", "path": "/cdn/", "content_range": "bytes 0-99/100"}]'
    HF_FETCH_RANGE_MIN=100000 TMPDIR="$BATS_TEST_TMPDIR/tmp" run_tool hf-fetch test/groups -n 2 --columns text
    [ "$status" -eq 1 ]
    [[ $stderr =~ ^"hf-fetch: test/groups: file 'train.parquet': the server answered a request for bytes "[0-9]+-[0-9]+" with Content-Range bytes 0-99/100; refusing it"$ ]]
    [ -z "$output" ]
    [ "$(nreq '^cdn GET')" -eq 3 ]                           # no retry into a truncated copy
    [ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ]
    # the right total but another start is refused the same way
    faults '[{"port": "cdn", "path": "/cdn/", "content_range": "bytes 1-65536/'"$(stat -c %s "$TFS_ROOT/tests/fixtures/hub/groups.parquet")"'"}]'
    HF_FETCH_RANGE_MIN=100000 run_tool hf-fetch test/groups -n 2 --columns text
    [ "$status" -eq 1 ]
    [[ $stderr == *"with Content-Range bytes 1-65536/"*"; refusing it" ]]
}

@test "hf-fetch: a partial- conversion is refused unless --allow-partial, which names the fraction" {
    local r="$HUB_ROOT/repos/test/partial"
    mkdir -p "$r/main" "$r/refs%2Fconvert%2Fparquet/default/partial-train"
    printf 'a,b\n1,2\n' > "$r/main/data.csv"
    cp "$TFS_ROOT/tests/fixtures/hub/converted-train.parquet" "$r/refs%2Fconvert%2Fparquet/default/partial-train/0000.parquet"
    # the card counts 16 rows; the converted part holds 4
    echo '{"dataset_info": {"splits": [{"name": "train", "num_examples": 16}]}}' > "$r/card.json"
    run_tool hf-fetch -q test/partial --columns text
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: test/partial: the converted Parquet branch holds only part of split 'train' (partial-train); the dataset card counts 16 rows in all; --allow-partial reads that part" ]
    [ -z "$output" ]
    run_tool hf-fetch test/partial --columns text --allow-partial
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 4 ]
    [[ $stderr == *"hf-fetch: test/partial: reading only part of split 'train', the part the Hub converted (partial-train); the dataset card counts 16 rows in all"* ]]
    [[ $stderr == *"hf-fetch: test/partial: wrote 4 of the 16 rows of split 'train' (25.0%): the rest was never converted"* ]]
}

@test "hf-fetch: a non-LFS file is checked against its git sha1" {
    local r="$HUB_ROOT/repos/test/small"
    mkdir -p "$r/main"
    printf '{"text": "small 1"}\n{"text": "small 2"}\n' > "$r/main/small.jsonl"
    echo '["small.jsonl"]' > "$r/nolfs.json"
    oid=$(git hash-object "$r/main/small.jsonl" 2>/dev/null || python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$r/main/small.jsonl")
    faults '[{"port": "hub", "path": "/resolve/", "corrupt": true}]'
    run_tool hf-fetch test/small
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: test/small: file 'small.jsonl': git sha1 mismatch (expected $oid, got "*"); the corrupt download was discarded, run again to retry" ]]
    [ -z "$output" ]
    [ -z "$(ls -A "$(cache small)/blobs")" ]
    rm "$HUB_ROOT/faults.json"
    run_tool hf-fetch test/small
    [ "$status" -eq 0 ]
    [ "$output" = '{"text": "small 1"}
{"text": "small 2"}' ]
    [ -f "$(cache small)/blobs/$oid" ]
    [ "$(nreq '^cdn ')" -eq 0 ]                              # served by /resolve itself
}

# A Parquet file of one FIXED_LEN_BYTE_ARRAY column: a dictionary of one
# WIDTH-byte value, and one data page whose single RLE run claims ROWS
# indices into it (parquet.thrift field ids, Thrift compact protocol).
# With a fourth argument K, the run of that page is K indices and a second
# page holds the other ROWS - K, all of them index 1: out of range.
hostile_parquet() {
    python3 - "$1" "$2" "$3" "${4:-}" <<'EOF2'
import struct, sys
path, rows, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
first = int(sys.argv[4]) if sys.argv[4] else rows
def uleb(n):
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def zz(n): return uleb((n << 1) ^ (n >> 63))
class S:            # a struct: fields in increasing id order
    def __init__(self): self.b, self.last = b'', 0
    def head(self, fid, t):
        assert 0 < fid - self.last <= 15
        self.b += bytes([(fid - self.last) << 4 | t]); self.last = fid
    def i32(self, fid, v): self.head(fid, 5); self.b += zz(v); return self
    def i64(self, fid, v): self.head(fid, 6); self.b += zz(v); return self
    def bin(self, fid, v): self.head(fid, 8); self.b += uleb(len(v)) + v; return self
    def struct(self, fid, s): self.head(fid, 12); self.b += s.end(); return self
    def lst(self, fid, t, items):
        self.head(fid, 9)
        self.b += bytes([len(items) << 4 | t]) if len(items) < 15 else bytes([0xf0 | t]) + uleb(len(items))
        for it in items: self.b += it
        return self
    def end(self): return self.b + b'\0'
value = b'a' * width
dict_page = S().i32(1, 2).i32(2, width).i32(3, width).struct(7, S().i32(1, 1).i32(2, 0)).end() + value
# RLE_DICTIONARY body: bit width 1, then one run: header (count << 1), value byte
def page(n, index):
    body = bytes([1]) + uleb(n << 1) + bytes([index])
    return S().i32(1, 0).i32(2, len(body)).i32(3, len(body)).struct(5, S().i32(1, n).i32(2, 8).i32(3, 3).i32(4, 3)).end() + body
chunk = dict_page + page(first, 0) + (page(rows - first, 1) if first < rows else b'')
meta = (S().i32(1, 7).lst(2, 5, [zz(0), zz(8)]).lst(3, 8, [uleb(1) + b'v']).i32(4, 0).i64(5, rows)
        .i64(6, len(chunk)).i64(7, len(chunk)).i64(9, 4 + len(dict_page)).i64(11, 4))
col = S().i64(2, 4).struct(3, meta).end()
rg = S().lst(1, 12, [col]).i64(2, len(chunk)).i64(3, rows).end()
schema = [S().bin(4, b'schema').i32(5, 1).end(), S().i32(1, 7).i32(2, width).i32(3, 0).bin(4, b'v').end()]
footer = S().i32(1, 1).lst(2, 12, schema).i64(3, rows).lst(4, 12, [rg]).end()
open(path, 'wb').write(b'PAR1' + chunk + footer + struct.pack('<I', len(footer)) + b'PAR1')
EOF2
}

# Peak resident memory (KiB) of a command, from getrusage of the children.
peak_rss() {
    python3 -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stderr.write(r.stderr.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)' "$@"
}

@test "hf-fetch: a 1 KiB Parquet file claiming 16 GiB of values fails fast, in little memory" {
    f="$BATS_TEST_TMPDIR/bomb.parquet"
    hostile_parquet "$f" $((1 << 24)) 1024           # 16Mi values of 1 KiB: 16 GiB
    [ "$(stat -c %s "$f")" -lt 1400 ]
    run_tool peak_rss timeout 20 hf-fetch --file "$f"
    read -r rss rc <<<"$output"
    [ "$rc" -eq 1 ]
    [ "$stderr" = "hf-fetch: $f: decoding needs more than the memory budget of 64 MiB (column 'v', values: 16384 MiB more); if the file is genuine, raise the budget with --max-memory" ]
    [ "$rss" -lt 102400 ] || { echo "peak RSS $rss KiB" >&2; false; }
}

@test "hf-fetch: --max-memory raises the decode budget" {
    f="$BATS_TEST_TMPDIR/big.parquet"
    hostile_parquet "$f" 100000 1024                  # 100 MB of values, more than 64 MiB
    run_tool hf-fetch --file "$f" -n 1
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: $f: decoding needs more than the memory budget of 64 MiB (column 'v', values: 98 MiB more)"* ]]
    hf-fetch --file "$f" --max-memory 256Mi > "$BATS_TEST_TMPDIR/out"
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 100000 ]
    [ "$(tail -1 "$BATS_TEST_TMPDIR/out")" = "{\"v\": \"$(printf 'a%.0s' $(seq 1024))\"}" ]
    run_tool hf-fetch --file "$f" --max-memory 0
    [ "$status" -eq 2 ]
}

# A stand-in for HuggingFaceFW/fineweb: configs default (data/*/*) and
# sample-10BT (sample/10BT/*), in the card data and in README.md's YAML.
make_fineweb() {
    local r="$HUB_ROOT/repos/HuggingFaceFW/fineweb" fx="$TFS_ROOT/tests/fixtures/hub"
    [ -d "$r" ] && return 0
    mkdir -p "$r/main/data/CC-MAIN-2024-10" "$r/main/sample/10BT"
    cp "$fx/stories-validation.parquet" "$r/main/data/CC-MAIN-2024-10/000_00000.parquet"
    cp "$fx/stories-train-0.parquet" "$r/main/sample/10BT/000_00000.parquet"
    cp "$fx/stories-train-1.parquet" "$r/main/sample/10BT/001_00000.parquet"
    cat > "$r/main/README.md" <<'EOF2'
---
license: odc-by
configs:
- config_name: default
  data_files:
  - split: train
    path: data/*/*
- config_name: sample-10BT
  data_files:
  - split: train
    path: sample/10BT/*
---
# FineWeb (a stand-in)
EOF2
    echo '{"license": "odc-by", "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/*/*"}]},
           {"config_name": "sample-10BT", "data_files": [{"split": "train", "path": "sample/10BT/*"}]}]}' > "$r/card.json"
}

@test "hf-fetch: the fineweb alias works offline, from saved metadata or a bare snapshot" {
    make_fineweb
    run_tool hf-fetch -q fineweb
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 10 ]
    [ "${lines[0]}" = '{"text": "Once upon a time, Lily saw a bird 0."}' ]
    online=$output
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch -q fineweb --offline
    [ "$status" -eq 0 ]
    [ "$output" = "$online" ]
    # a snapshot as huggingface_hub leaves it: no saved answers, the card in README.md
    d="$HF_HOME/hub/datasets--HuggingFaceFW--fineweb"
    sha=$(cat "$d/refs/main")
    mkdir -p "$d/blobs"
    cp "$HUB_ROOT/repos/HuggingFaceFW/fineweb/main/README.md" "$d/blobs/readme"
    ln -s ../../blobs/readme "$d/snapshots/$sha/README.md"
    rm -rf "$HF_HOME/tfs-hf-fetch"
    run_tool hf-fetch -q fineweb --offline
    [ "$status" -eq 0 ]
    [ "$output" = "$online" ]
    [ "$(requests | wc -l)" -eq 0 ]
}

@test "hf-fetch: offline, a split only partly in the cache is an error naming the missing files" {
    make_fineweb
    run_tool hf-fetch -q fineweb
    [ "$status" -eq 0 ]
    d="$HF_HOME/hub/datasets--HuggingFaceFW--fineweb"
    sha=$(cat "$d/refs/main")
    blob=$(readlink "$d/snapshots/$sha/sample/10BT/001_00000.parquet")
    rm "$d/snapshots/$sha/sample/10BT/$blob" "$d/snapshots/$sha/sample/10BT/001_00000.parquet"
    run_tool hf-fetch -q fineweb --offline
    [ "$status" -eq 1 ]
    [ -z "$output" ]                                    # not a row of a part of the split
    [ "$stderr" = "hf-fetch: HuggingFaceFW/fineweb: config 'sample-10BT', split 'train' is only partly in the cache: file 'sample/10BT/001_00000.parquet' is not in the cache ($d) and offline mode is on" ]
    # a bare snapshot (no saved listing): the shard names tell what is missing
    run_tool hf-fetch -q test/stories
    s="$(cache stories)"
    sha=$(cat "$s/refs/main")
    rm "$s/snapshots/$sha/data/train-00001-of-00002-a1b2.parquet"
    rm -rf "$HF_HOME/tfs-hf-fetch"
    run_tool hf-fetch -q test/stories --offline
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$stderr" = "hf-fetch: test/stories: config 'default', split 'train' is only partly in the cache: file 'data/train-00001-of-00002*' is not in the cache ($s) and offline mode is on" ]
    # a --limit that the shards present satisfy needs no more
    run_tool hf-fetch -q test/stories --offline -n 3
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
}

@test "hf-fetch: a row group's first rows are out before its last page is read" {
    f="$BATS_TEST_TMPDIR/pages.parquet"
    hostile_parquet "$f" 10 4 6            # page 1: 6 good rows; page 2: 4 bad indices
    run_tool hf-fetch --file "$f"
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: $f: column 'v': dictionary index 1 out of range (1 entries)" ]
    [ "${#lines[@]}" -eq 6 ]
    [ "${lines[5]}" = '{"v": "aaaa"}' ]
    # a limit within the first page never reads the second
    run_tool hf-fetch --file "$f" -n 6
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 6 ]
}

# ---- parallel downloads and shares (-j, --shard) ------------------------
@test "hf-fetch -j: 8 downloads at once write the same bytes as one at a time" {
    HF_HOME="$BATS_TEST_TMPDIR/h1" run_tool hf-fetch -q -j 1 test/many
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 125 ]
    [ "${lines[0]}" = '{"text": "file 0 row 0"}' ]
    [ "${lines[124]}" = '{"text": "file 31 row 2"}' ]
    printf '%s\n' "${lines[@]}" > "$BATS_TEST_TMPDIR/one"
    HF_HOME="$BATS_TEST_TMPDIR/h8" hf-fetch -q -j 8 test/many > "$BATS_TEST_TMPDIR/eight"
    cmp "$BATS_TEST_TMPDIR/one" "$BATS_TEST_TMPDIR/eight"
    [ "$(nreq 'cdn GET /cdn/')" -eq 64 ]       # each file once per cache
    # the cache is the one -j 1 makes: a second run downloads nothing
    : > "$HUB_ROOT/requests.log"
    HF_HOME="$BATS_TEST_TMPDIR/h8" hf-fetch -q -j 8 test/many | cmp - "$BATS_TEST_TMPDIR/one"
    [ "$(nreq 'cdn GET')" -eq 0 ]
}

@test "hf-fetch -j: files ahead of the one being written download at once, never more than N" {
    # file 0 answers after 3 s: meanwhile -j 4 has asked for files 1 to 3, not 4
    faults '[{"port": "cdn", "path": "name=train-00000-", "delay": 3}]'
    hf-fetch -q -j 4 test/many > "$BATS_TEST_TMPDIR/out" &
    pid=$!
    for _ in $(seq 60); do [ "$(nreq 'cdn GET')" -ge 4 ] && break; sleep 0.05; done
    sleep 0.3
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 0 ]         # file 0 first: nothing yet
    [ "$(nreq 'cdn GET')" -eq 4 ]
    [ "$(nreq 'hub GET /datasets/test/many/resolve/.*train-00004')" -eq 0 ]
    wait "$pid"
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 125 ]
    [ "$(head -1 "$BATS_TEST_TMPDIR/out")" = '{"text": "file 0 row 0"}' ]
}

@test "hf-fetch -j: 16 downloads fit in 16 open files and the memory of one" {
    rss() {
        rm -rf "$HF_HOME"
        /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" bash -c "ulimit -n 16; exec hf-fetch -q -j $1 test/many" \
            > "$BATS_TEST_TMPDIR/out.$1" && cat "$BATS_TEST_TMPDIR/rss"
    }
    one=$(rss 1)
    sixteen=$(rss 16)
    echo "max RSS KiB: -j 1 $one, -j 16 $sixteen" >&3
    cmp "$BATS_TEST_TMPDIR/out.1" "$BATS_TEST_TMPDIR/out.16"
    [ "$sixteen" -lt $((one + 4096)) ]
}

@test "hf-fetch -j: a failed download stops the run with its reason, the rows before it written" {
    faults '[{"path": "train-00005", "status": 404, "error_code": "EntryNotFound"}]'
    run_tool hf-fetch -q -j 4 test/many
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: "*"train-00005-of-00032.jsonl"* ]]
    [ "$(grep -c 'hf-fetch' <<<"$stderr")" -eq 1 ]        # said once, by the child that failed
    [ "${#lines[@]}" -eq 20 ]                               # files 0..4: 2+3+4+5+6 rows
    [ "${lines[19]}" = '{"text": "file 4 row 5"}' ]
}

@test "hf-fetch --shard: the shares one after the other are the split, each row once (N = 1, 3, 7)" {
    hf-fetch -q test/many > "$BATS_TEST_TMPDIR/all"
    hf-fetch -q test/stories > "$BATS_TEST_TMPDIR/stories"
    for n in 1 3 7; do
        # 32 files: blocks of files; 2 Parquet files: blocks of row groups;
        # 1 JSON Lines file: blocks of rows
        for i in $(seq 0 $((n - 1))); do hf-fetch -q --shard "$i/$n" test/many; done > "$BATS_TEST_TMPDIR/cat"
        cmp "$BATS_TEST_TMPDIR/all" "$BATS_TEST_TMPDIR/cat"
        for i in $(seq 0 $((n - 1))); do hf-fetch -q --shard "$i/$n" test/stories; done > "$BATS_TEST_TMPDIR/cat"
        cmp "$BATS_TEST_TMPDIR/stories" "$BATS_TEST_TMPDIR/cat"
        for i in $(seq 0 $((n - 1))); do hf-fetch -q --shard "$i/$n" test/configs; done > "$BATS_TEST_TMPDIR/cat"
        [ "$(cat "$BATS_TEST_TMPDIR/cat")" = '{"text": "en train 1", "n": 1}
{"text": "en train 2", "n": 2}' ]
    done
    # share 1 of 3 of 32 files: files 10..20 (21 rows... its first and last rows)
    run_tool hf-fetch -q --shard 1/3 test/many
    [ "${lines[0]}" = '{"text": "file 10 row 0"}' ]
    [ "${lines[-1]}" = '{"text": "file 20 row 1"}' ]
    # stories: 2 files of one row group each; share 2 of 7 of the 2 row
    # groups is empty (2 * 2 / 7 = 2 * 3 / 7 = 0), share 3 is the first file
    run_tool hf-fetch -q --shard 2/7 test/stories
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    hf-fetch -q --shard 3/7 test/stories > "$BATS_TEST_TMPDIR/s3"
    [ -s "$BATS_TEST_TMPDIR/s3" ]
    hf-fetch -q --file "$TFS_ROOT/tests/fixtures/hub/stories-train-0.parquet" | cmp - "$BATS_TEST_TMPDIR/s3"
    # JSON Lines, 1 file of 2 rows: share 2 of 3 is row 1 (2 * 2 / 3 = 1, 2 * 3 / 3 = 2)
    run_tool hf-fetch -q --shard 2/3 test/configs
    [ "$output" = '{"text": "en train 2", "n": 2}' ]
    # only the share's files are downloaded
    rm -rf "$HF_HOME"; : > "$HUB_ROOT/requests.log"
    hf-fetch -q --shard 0/8 test/many > /dev/null
    [ "$(nreq 'cdn GET')" -eq 4 ]
}

# Bytes the CDN sent for ranged requests "range=bytes=A-B" in the log.
range_bytes() { sed -n 's/^cdn GET .* range=bytes=\([0-9]*\)-\([0-9]*\)$/\1 \2/p' "$HUB_ROOT/requests.log" | awk '{ s += $2 - $1 + 1 } END { print s + 0 }'; }

@test "hf-fetch --shard: fewer Parquet files than shares: blocks of row groups, each share fetching only its own" {
    hf-fetch -q test/rgroups > "$BATS_TEST_TMPDIR/all"
    [ "$(wc -l < "$BATS_TEST_TMPDIR/all")" -eq 9000 ]
    split=$(( $(stat -c %s "$TFS_ROOT/tests/fixtures/hub/groups.parquet") * 2 ))
    for n in 3 7; do
        # one cache for all shares: together they fetch each byte at most once, by ranges
        rm -rf "$HF_HOME"; : > "$HUB_ROOT/requests.log"
        for i in $(seq 0 $((n - 1))); do hf-fetch -q --shard "$i/$n" test/rgroups; done > "$BATS_TEST_TMPDIR/cat"
        cmp "$BATS_TEST_TMPDIR/all" "$BATS_TEST_TMPDIR/cat"
        [ "$(nreq '^cdn GET .* range=-')" -eq 0 ]
        [ "$(range_bytes)" -le "$split" ]
    done
    # 6 row groups of 1500 rows in 3 shares: share 1 is the last of file 0 and the first of file 1
    run_tool hf-fetch -q --shard 1/3 test/rgroups --columns text
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3000 ]
    [[ ${lines[0]} == '{"text": "row 03000 '* ]]
    [[ ${lines[2999]} == '{"text": "ROW 01499 '* ]]
    # in 7 shares: share 0 is empty (6 * 1 / 7 = 0), cleanly; share 1 is row group 0
    run_tool hf-fetch -q --shard 0/7 test/rgroups
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ -z "$stderr" ]
    run_tool hf-fetch -q --shard 1/7 test/rgroups
    [ "${#lines[@]}" -eq 1500 ]
    [ "${lines[1499]}" = "$(sed -n 1500p "$BATS_TEST_TMPDIR/all")" ]
    # each share alone (its own cache) fetches the footers and its row
    # groups: a third of the split and two footer reads (64 KiB each), not the whole
    for i in 0 1 2; do
        rm -rf "$HF_HOME"; : > "$HUB_ROOT/requests.log"
        hf-fetch -q --shard "$i/3" test/rgroups > /dev/null
        [ "$(nreq '^cdn GET .* range=-')" -eq 0 ]
        echo "share $i/3: $(range_bytes) of $split bytes" >&3
        [ "$(range_bytes)" -le $((split / 3 + 2 * 65536)) ]
        # per file its magic and its footer, then one request per row group
        # (its chunks in one range): 2 + 2 + 2
        [ "$(nreq '^cdn GET')" -eq 6 ]
    done
    # --limit within a share: its first rows
    run_tool hf-fetch -q --shard 1/3 -n 2 test/rgroups --columns n
    [ "$output" = '{"n": 3000}
{"n": 3001}' ]
    # offline, the cached files are read, no request
    hf-fetch -q test/rgroups > /dev/null
    : > "$HUB_ROOT/requests.log"
    hf-fetch -q --offline --shard 1/3 test/rgroups | cmp - <(sed -n 3001,6000p "$BATS_TEST_TMPDIR/all")
    [ "$(nreq GET)" -eq 0 ]
}

@test "hf-fetch --shard and -j: usage errors" {
    for bad in 3/3 -1/2 1/0 1 a/b 1/2x; do
        run_tool hf-fetch --shard "$bad" test/many
        [ "$status" -eq 2 ]
        [[ $stderr == "hf-fetch: --shard: '$bad' is not I/N with 0 <= I < N"* ]]
    done
    run_tool hf-fetch -j 0 test/many
    [ "$status" -eq 2 ]
}

@test "hf-fetch -j: the progress line counts files, rows, bytes and the rate" {
    requires script
    script -qfc "hf-fetch -j 2 test/many > /dev/null" "$BATS_TEST_TMPDIR/tty" > /dev/null
    grep -qE 'files \[#*\] 100% .*32/32 files, 125 rows, 0\.0 MB, [0-9.]+ MB/s' "$BATS_TEST_TMPDIR/tty"
    # a share of row groups counts row groups and rows
    script -qfc "hf-fetch --shard 1/3 test/rgroups > /dev/null" "$BATS_TEST_TMPDIR/tty2" > /dev/null
    grep -qE 'row groups \[#*\] 100% .*2/2 row groups, 3000 rows, [0-9]+ rows/s' "$BATS_TEST_TMPDIR/tty2"
}

@test "hf-fetch --list REPO: configs, splits, files with sizes and rows (footers by Range), as a table or JSON" {
    requires jq
    run_tool hf-fetch --list test/stories
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "CONFIG           SPLIT        FORMAT    FILES          BYTES         ROWS    CARD_ROWS" ]
    fx="$TFS_ROOT/tests/fixtures/hub"
    s0=$(stat -c %s "$fx/stories-train-0.parquet") s1=$(stat -c %s "$fx/stories-train-1.parquet")
    sv=$(stat -c %s "$fx/stories-validation.parquet")
    [[ ${lines[1]} =~ ^default\ +train\ +parquet\ +2\ +$((s0 + s1))\ +10\ +\?$ ]]
    [[ ${lines[2]} =~ ^\ +$s0\ +5\ \ data/train-00000-of-00002-a1b2.parquet$ ]]
    [[ ${lines[4]} =~ ^default\ +validation\ +parquet\ +1\ +$sv\ +3\ +\?$ ]]
    # the rows come from the footers, read by Range requests: nothing downloaded whole
    [ "$(nreq 'cdn GET /cdn/.*range=-')" -eq 0 ]
    [ "$(nreq 'cdn GET /cdn/.*range=bytes=')" -ge 3 ]
    run_tool hf-fetch --list --json test/stories
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    [ "$(jq -c '[.config, .split, .format, .nfiles, .bytes, .rows, [.files[].rows]]' <<<"${lines[0]}")" = "[\"default\",\"train\",\"parquet\",2,$((s0 + s1)),10,[5,5]]" ]
    [ "$(jq -r '.files[1].path' <<<"${lines[0]}")" = "data/train-00001-of-00002-a1b2.parquet" ]
    # configs from the card; JSON Lines files: rows unknown without reading them
    run_tool hf-fetch --list --json test/configs
    [ "$status" -eq 0 ]
    [ "$(jq -r '[.config, .split, .format, .nfiles, (.rows | tostring)] | join(" ")' <<<"$output")" = "en train jsonl 1 null
en test jsonl 1 null
fr train jsonl 2 null" ]
    # --config narrows it
    run_tool hf-fetch --list --json --config fr test/configs
    [ "${#lines[@]}" -eq 1 ]
    # the footers were kept (rangecache.h): listing again asks the CDN nothing
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch --list test/stories
    [[ ${lines[1]} =~ \ 10\ +\?$ ]]
    [ "$(nreq 'cdn GET')" -eq 0 ]
    # fetched files are counted from the cache, offline too
    hf-fetch -q test/stories > /dev/null
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch --list --offline test/stories
    [ "$status" -eq 0 ]
    [[ ${lines[1]} =~ \ 10\ +\?$ ]]
    [ -z "$(requests)" ]
    run_tool hf-fetch --json test/stories
    [ "$status" -eq 2 ]
    [[ $stderr == "hf-fetch: --json goes with --list REPO|ALIAS"* ]]
}

# ---- models (--model) ---------------------------------------------------
# make_model NAME: a sharded GPT-2 in transformers' layout (tests/torch/
# hf_models.py), with files hf-fetch leaves alone by default: another
# framework's weights, an onnx/ folder.
make_model() {
    local m=$HUB_ROOT/models/test/$1
    [ -d "$m" ] && return 0
    /usr/bin/python3 "$TFS_ROOT/tests/torch/hf_models.py" make "$m/main" --arch gpt2 --variant sharded
    printf 'not read by tfs\n' > "$m/main/pytorch_model.bin"
    mkdir -p "$m/main/onnx"
    printf '{}\n' > "$m/main/onnx/config.json"
    printf '# A tiny GPT-2\n' > "$m/main/README.md"
    cp -r "$m/main" "$m/v1"
    printf '{"note": "v1"}\n' > "$m/v1/generation_config.json"
}
mcache() { echo "$HF_HOME/hub/models--test--$1"; }

@test "hf-fetch --model: a multi-file model into models--org--name, its snapshot printed; tfs-eval reads it" {
    requires python-torch numpy
    make_model tinygpt
    run_tool hf-fetch -q --model test/tinygpt
    [ "$status" -eq 0 ]
    snap=$output
    [[ $snap == "$(mcache tinygpt)/snapshots/"* ]] && [ -d "$snap" ]
    [ "$(cd "$snap" && find . -type l -o -type f | sort | tr '\n' ' ')" = "./config.json ./model-00001-of-00002.safetensors ./model-00002-of-00002.safetensors ./model.safetensors.index.json " ]
    [ -n "$(cat "$(mcache tinygpt)/refs/main")" ]
    # the API and the resolve paths of a model
    [ "$(nreq 'hub GET /api/models/test/tinygpt/revision/main')" -eq 1 ]
    [ "$(nreq 'hub GET /test/tinygpt/resolve/')" -eq 4 ]
    [ "$(nreq 'pytorch_model.bin')" -eq 0 ] && [ "$(nreq 'onnx')" -eq 0 ]
    # the snapshot is the model: the same loss as the source directory
    zstd -dc "$TFS_ROOT/assets/stories-val.jsonl.zst" | head -n 5 | "$TFS_ROOT/tests/tools/bytes-stream" > "$BATS_TEST_TMPDIR/s.bin"
    run_tool tfs-eval -q --max-tokens 32 "$snap" "$BATS_TEST_TMPDIR/s.bin"
    [ "$status" -eq 0 ]
    a=$output
    run_tool tfs-eval -q --max-tokens 32 "$HUB_ROOT/models/test/tinygpt/main" "$BATS_TEST_TMPDIR/s.bin"
    [ "$a" = "$output" ]
    # a second run downloads nothing; offline, no request at all
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch -q --model test/tinygpt
    [ "$output" = "$snap" ]
    [ "$(nreq 'resolve')" -eq 0 ] && [ "$(nreq 'cdn GET')" -eq 0 ]
    : > "$HUB_ROOT/requests.log"
    run_tool hf-fetch -q --offline --model test/tinygpt
    [ "$status" -eq 0 ] && [ "$output" = "$snap" ]
    [ -z "$(requests)" ]
}

@test "hf-fetch --model: --include, --revision, and no matching file" {
    requires python-torch numpy
    make_model tinygpt
    run_tool hf-fetch -q --model --include config.json --include 'onnx/*' test/tinygpt
    [ "$status" -eq 0 ]
    [ "$(cd "$output" && find . -type l -o -type f | sort | tr '\n' ' ')" = "./config.json ./onnx/config.json " ]
    run_tool hf-fetch -q --model --revision v1 --include '*.json' test/tinygpt
    [ "$status" -eq 0 ]
    [ "$(cat "$output/generation_config.json")" = '{"note": "v1"}' ]
    run_tool hf-fetch -q --model --include '*.gguf' test/tinygpt
    [ "$status" -eq 1 ]
    [ "$stderr" = "hf-fetch: model 'test/tinygpt', revision 'main': no file matches *.gguf" ]
    run_tool hf-fetch -q --model test/nosuchmodel
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: model 'test/nosuchmodel', revision 'main'"* ]]
    run_tool hf-fetch --include '*.json' test/stories
    [ "$status" -eq 2 ]
    [[ $stderr == "hf-fetch: --include goes with --model"* ]]
    run_tool hf-fetch --model --limit 3 test/tinygpt
    [ "$status" -eq 2 ]
}

@test "hf-fetch --model: a cut download resumes; a corrupt one is rejected and not published" {
    requires python-torch numpy
    make_model tinygpt
    faults '[{"port": "cdn", "path": "/cdn/", "cut_after": 100, "times": 1}]'
    run_tool hf-fetch -q --model --include 'model-00001-*' test/tinygpt
    [ "$status" -eq 0 ]
    cmp "$output/model-00001-of-00002.safetensors" "$HUB_ROOT/models/test/tinygpt/main/model-00001-of-00002.safetensors"
    [ "$(nreq 'cdn GET /cdn/.*range=bytes=100-')" -eq 1 ]
    faults '[{"port": "cdn", "path": "/cdn/", "corrupt": true}]'
    run_tool hf-fetch -q --model --include 'model-00002-*' test/tinygpt
    [ "$status" -eq 1 ]
    [[ $stderr == "hf-fetch: test/tinygpt: file 'model-00002-of-00002.safetensors': sha256 mismatch"* ]]
    [ ! -e "$(mcache tinygpt)/snapshots/$(cat "$(mcache tinygpt)/refs/main")/model-00002-of-00002.safetensors" ]
}

@test "hf-fetch -j: a reader that stops early (| head) ends the downloads too" {
    faults '[{"port": "cdn", "path": "name=train-00000-"}, {"port": "cdn", "path": "name=train-00001-", "delay": 1},
             {"port": "cdn", "path": "name=train-0000", "delay": 30}]'
    # file 0 at once, file 1 after 1 s (its rows meet a closed pipe), files 2..4 would take 30 s
    run bash -c "hf-fetch -q -j 5 test/many | head -1"
    [ "$output" = '{"text": "file 0 row 0"}' ]
    for _ in $(seq 40); do pgrep -f 'hf-fetch -q -j 5 test/many' > /dev/null || break; sleep 0.1; done
    ! pgrep -f 'hf-fetch -q -j 5 test/many'
}
