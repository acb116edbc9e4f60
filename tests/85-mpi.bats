#!/usr/bin/env bats
# 85-mpi: tfs-train on many processes (mpirun, OpenMPI): data parallelism
# equals one process with the accumulation multiplied, optimizer sharding
# (ZeRO-1) equals it too, one writer, faults.  Two ranks on this machine,
# over loopback TCP.  Byte-level data as in 50-tfs-train.bats.

load helper

SMALL="--layers 2 --dim 32 --heads 2 --context 32 -b 4 --threads 1 -q"

setup_file() {
    local d=$BATS_FILE_TMPDIR
    stories_bytes train 2000 > "$d/train.bin"
    stories_bytes val 100 > "$d/val.bin"
}

setup() {
    requires mpirun
    D=$BATS_FILE_TMPDIR
    T=$BATS_TEST_TMPDIR
    # OpenMPI refuses root unless told (CI runs as root); TCP on loopback
    # only; more ranks than cores is fine here.
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
    export OMPI_MCA_rmaps_base_oversubscribe=1
}

mpi2() { mpirun --oversubscribe -np 2 "$@"; }

# close A B: every weight of checkpoint A within 1e-5 of B's, relative to
# the tensor's largest value (max |a - b| / max |b|); the AdamW moments
# within 1e-3 (the second moment's tiny entries amplify the float sums'
# order).  One exception: GPT-2's key bias (the middle third of c_attn's
# bias) has a zero gradient in exact arithmetic (softmax(s + c) =
# softmax(s): adding q.b_k to every score of a query changes nothing), so
# both runs' values are float noise that AdamW normalises into steps of
# the learning rate's order: it is only checked to stay at noise level.
close() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
import numpy as np
def tensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    h = json.loads(data[8:8 + n]); h.pop("__metadata__", None)
    return {k: np.frombuffer(data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], np.float32)
            for k, v in h.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert sorted(a) == sorted(b), "different tensors"
worst = {"weights": (0, ""), "moments": (0, "")}
for k in list(a):
    if k.endswith("attn.c_attn.bias"):
        c = len(a[k]) // 3
        if not k.startswith("optimizer."):
            assert np.abs(a[k][c:2 * c]).max() < 1e-5 and np.abs(b[k][c:2 * c]).max() < 1e-5, k
        a[k] = np.concatenate([a[k][:c], a[k][2 * c:]]); b[k] = np.concatenate([b[k][:c], b[k][2 * c:]])
for k in a:
    scale = float(np.abs(b[k]).max()) or 1.0
    d = float(np.abs(a[k] - b[k]).max()) / scale
    kind = "moments" if k.startswith("optimizer.") else "weights"
    worst[kind] = max(worst[kind], (d, k))
print("%d tensors, worst relative difference: weights %.3g (%s), moments %.3g (%s)"
      % (len(a), *worst["weights"], *worst["moments"]), file=sys.stderr)
sys.exit(0 if worst["weights"][0] <= 1e-5 and worst["moments"][0] <= 1e-3 else 1)
PY
}

# same_losses A B: the two metrics logs have the same steps, losses and
# validation losses within 1e-6 (as printed, to 6 decimals: one unit of
# the last digit apart at most).
same_losses() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
for x, y in zip(a, b):
    assert x["step"] == y["step"] and x["tokens"] == y["tokens"], (x, y)
    for k in ("loss", "val_loss"):
        assert (k in x) == (k in y), k
        if k in x: assert abs(x[k] - y[k]) <= 1e-6 + 1e-12, (k, x, y)
PY
}

# equivalence MODEL [OPTION...]: 2 ranks x --accum 1 against 1 process x
# --accum 2, 20 steps from the same seed, with validation.
equivalence() {
    local model=$1; shift
    local run="$SMALL --model $model --steps 20 --warmup 2 --val $D/val.bin --eval-every 10 --eval-batches 3"
    run_tool tfs-train $run --accum 2 -o "$T/one.st" --log "$T/one.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    run_tool mpi2 tfs-train $run --accum 1 "$@" -o "$T/two.st" --log "$T/two.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    same_losses "$T/one.jsonl" "$T/two.jsonl"
    close "$T/two.st" "$T/one.st"
    # the lines of a run on many processes say so
    grep -q '"ranks": 2, "comm_s": ' "$T/two.jsonl"
    ! grep -q '"ranks"' "$T/one.jsonl"
}

@test "mpi: 2 ranks x accum 1 equal 1 process x accum 2 (custom): losses, validation, every weight and moment" {
    equivalence custom
}

@test "mpi: 2 ranks x accum 1 equal 1 process x accum 2 (baseline)" {
    equivalence baseline
}

@test "mpi: the same with --shard-optimizer (ZeRO-1), custom and baseline" {
    equivalence custom --shard-optimizer
    equivalence baseline --shard-optimizer
}

@test "mpi: the equivalence can fail: 2 ranks x accum 1 differ from 1 process x accum 1" {
    local run="$SMALL --steps 5 --warmup 2"
    run_tool tfs-train $run -o "$T/one.st" --log "$T/one.jsonl" "$D/train.bin"
    run_tool mpi2 tfs-train $run -o "$T/two.st" --log "$T/two.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    ! close "$T/two.st" "$T/one.st"
}

@test "mpi: one writer: the checkpoint to standard output once, one metrics line per step" {
    run_tool bash -c "mpirun --oversubscribe -np 2 tfs-train $SMALL --steps 3 -f --log '$T/l' '$D/train.bin' > '$T/m.st'"
    [ "$status" -eq 0 ]
    [ "$(wc -l < "$T/l")" -eq 3 ]
    # exactly one safetensors file: its header length plus header plus data
    /usr/bin/python3 - "$T/m.st" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", d[:8]); h = json.loads(d[8:8 + n]); h.pop("__metadata__")
assert len(d) == 8 + n + max(v["data_offsets"][1] for v in h.values()), len(d)
PY
    run_tool tfs-eval "$T/m.st" "$D/val.bin"
    [ "$status" -eq 0 ]
}

@test "mpi: a resumed run may change the number of ranks" {
    local run="$SMALL --steps 12 --warmup 2"
    run_tool tfs-train $run --accum 2 -o "$T/one.st" --log "$T/one.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    # 6 steps on two ranks with their moments sharded, 6 more on one process
    run_tool mpi2 tfs-train $run --shard-optimizer --stop-at 6 -o "$T/half.st" --log "$T/half.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    run_tool tfs-train --resume "$T/half.st" --accum 2 --threads 1 -q -o "$T/two.st" --log "$T/rest.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    cat "$T/half.jsonl" "$T/rest.jsonl" > "$T/two.jsonl"
    same_losses "$T/one.jsonl" "$T/two.jsonl"
    close "$T/two.st" "$T/one.st"
}

@test "mpi: a pipe is refused under mpirun, with a clear error" {
    run_tool bash -c "cat '$D/train.bin' | mpirun --oversubscribe -np 2 tfs-train $SMALL --steps 2 -o '$T/m.st' -"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-train: <stdin>: under mpirun the training data must be a regular, uncompressed file"* ]]
    [ ! -e "$T/m.st" ]
}

@test "mpi: a rank with other options or other data is refused at start, naming the rank" {
    run_tool mpirun --oversubscribe -np 1 tfs-train $SMALL --steps 2 --lr 1e-3 -o "$T/m.st" "$D/train.bin" : \
        -np 1 tfs-train $SMALL --steps 2 --lr 2e-3 -o "$T/m.st" "$D/train.bin"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-train: rank 1 of 2 has other options (model, batch, schedule or optimizer) than rank 0"* ]]
    stories_bytes train 1000 > "$T/short.bin"
    run_tool mpirun --oversubscribe -np 1 tfs-train $SMALL --steps 2 -o "$T/m.st" "$D/train.bin" : \
        -np 1 tfs-train $SMALL --steps 2 -o "$T/m.st" "$T/short.bin"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-train: rank 1 of 2 has training data of another size than rank 0"* ]]
    run_tool mpirun --oversubscribe -np 1 tfs-train $SMALL --steps 2 -o "$T/m.st" "$D/train.bin" : \
        -np 1 tfs-train $SMALL --steps 2 --shard-optimizer -o "$T/m.st" "$D/train.bin"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-train: rank 1 of 2 has another --shard-optimizer setting than rank 0"* ]]
    [ ! -e "$T/m.st" ]
}

# Start a long run on two ranks in the background; each rank's process id
# in $T/pid.RANK; mpirun's in $mpid.  Checkpoints every 2 steps.
long_run() {
    mpirun --oversubscribe -np 2 sh -c 'echo $$ > "$0/pid.$OMPI_COMM_WORLD_RANK"; exec "$@"' "$T" \
        tfs-train $SMALL --steps 1000000 --warmup 1 --save-every 2 "$@" -o "$T/m.st" --log "$T/m.jsonl" \
        "$D/train.bin" 2> "$T/err" &
    mpid=$!
    for _ in $(seq 200); do [ -s "$T/m.st" ] && [ -s "$T/pid.1" ] && break; sleep 0.1; done
    [ -s "$T/m.st" ]
}

@test "mpi: a rank killed with SIGKILL ends the run within 10 s, non-zero; the checkpoint stays loadable" {
    long_run
    kill -KILL "$(cat "$T/pid.1")"
    t0=$(date +%s)
    status=0
    wait $mpid || status=$?
    t1=$(date +%s)
    echo "mpirun exited $status after $((t1 - t0)) s" >&2
    [ "$status" -ne 0 ]
    [ $((t1 - t0)) -le 10 ]
    run_tool tfs-eval "$T/m.st" "$D/val.bin"
    [ "$status" -eq 0 ]
}

@test "mpi: SIGINT on one rank saves one checkpoint that resumes, and every rank exits 130" {
    long_run
    kill -INT "$(cat "$T/pid.1")"
    status=0
    wait $mpid || status=$?
    [ "$status" -eq 130 ]
    grep -q "tfs-train: stopped by signal 2 at step [0-9]*; checkpoint saved to $T/m.st" "$T/err"
    [ "$(grep -c 'stopped by signal' "$T/err")" -eq 1 ]
    step=$(tail -n 1 "$T/m.jsonl" | grep -o '"step": [0-9]*' | cut -d' ' -f2)
    grep -qF "\\\"step\\\":$step," "$T/m.st"
    run_tool mpi2 tfs-train --resume "$T/m.st" --stop-at $((step + 2)) -q -o "$T/m2.st" --log "$T/l2" "$D/train.bin"
    [ "$status" -eq 0 ]
    [ "$(head -n 1 "$T/l2" | grep -o '"step": [0-9]*')" = "\"step\": $((step + 1))" ]
}

@test "mpi: 2 ranks on 3 shards equal 1 process on their concatenation (windows across boundaries)" {
    # 1200 tokens cut at 400 and 801 (tokset.h): many of the windows of 33
    # straddle a boundary; each rank reads the set on its own
    head -c $((1024 + 2 * 1200)) "$D/train.bin" > "$T/train.bin"
    mkdir "$T/sh"
    /usr/bin/python3 - "$T/train.bin" "$T/sh/t" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read()); hdr, ids = d[:1024], d[1024:]
hdr[8:12] = struct.pack("<i", 1200); open(sys.argv[1], "wb").write(bytes(hdr) + bytes(ids))
for k, (a, b) in enumerate([(0, 400), (400, 801), (801, 1200)]):
    hdr[8:12] = struct.pack("<i", b - a)
    open("%s-%d.bin" % (sys.argv[2], k), "wb").write(bytes(hdr) + bytes(ids[2 * a:2 * b]))
PY
    local run="$SMALL --steps 10 --warmup 2"
    run_tool tfs-train $run --accum 2 -o "$T/one.st" --log "$T/one.jsonl" "$T/train.bin"
    [ "$status" -eq 0 ]
    run_tool mpi2 tfs-train $run --accum 1 -o "$T/two.st" --log "$T/two.jsonl" "$T/sh"
    [ "$status" -eq 0 ]
    same_losses "$T/one.jsonl" "$T/two.jsonl"
    close "$T/two.st" "$T/one.st"
}

@test "mpi: pipelines/mpi.mk trains on two ranks, here and from a hostfile, as one process with twice the accumulation" {
    requires jq
    small_demo_assets "$T/assets" 10
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    run_tool make -f "$TFS_ROOT/pipelines/mpi.mk" BIN="$TFS_BUILD/bin" OUT="$T/out" ASSETS="$T/assets" \
        CONFIG="$T/assets/configs/tiny" VOCAB=300 STEPS=20 compare
    [ "$status" -eq 0 ]
    [ "$(wc -l < "$T/out/train.jsonl")" -eq 20 ]
    a=$(sed -n 's/^final loss, 2 ranks: *//p' <<< "$output")
    b=$(sed -n 's/^final loss, one process: *//p' <<< "$output")
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(a > 0 && d * d <= 1e-12 + 1e-6 * 1e-6) }'
    # the hostfile path: this machine named in OUT/hosts with two slots
    run_tool make -f "$TFS_ROOT/pipelines/mpi.mk" BIN="$TFS_BUILD/bin" OUT="$T/out" ASSETS="$T/assets" \
        CONFIG="$T/assets/configs/tiny" VOCAB=300 STEPS=20 HOSTS=localhost SLOTS=2 -B "$T/out/model.safetensors"
    [ "$status" -eq 0 ]
    [ "$(cat "$T/out/hosts")" = "localhost slots=2" ]
    [[ $output == *"--hostfile $T/out/hosts -np 2"* ]]
    [ "$(tail -n 1 "$T/out/train.jsonl" | jq .loss)" = "$a" ]
}

@test "mpi: sums started during the backward pass give the same bits as sums after it; autograd too" {
    local run="$SMALL --steps 4 --warmup 2"
    for model in baseline custom; do
        run_tool mpi2 tfs-train $run --model $model -o "$T/overlap.st" --log "$T/a.jsonl" "$D/train.bin"
        [ "$status" -eq 0 ]
        TFS_MPI_OVERLAP=0 run_tool mpi2 tfs-train $run --model $model -o "$T/after.st" --log "$T/b.jsonl" "$D/train.bin"
        [ "$status" -eq 0 ]
        "$TFS_ROOT/tests/tools/st-compare" "$T/overlap.st" "$T/after.st"
    done
    # the autograd level reports no blocks (its sums follow the pass); it
    # trains the custom level's model
    run_tool mpi2 tfs-train $run --model autograd -o "$T/ag.st" --log "$T/c.jsonl" "$D/train.bin"
    [ "$status" -eq 0 ]
    close "$T/ag.st" "$T/overlap.st"
}

@test "mpi: SIGINT to mpirun (Ctrl-C) stops every rank after one step with one checkpoint" {
    long_run
    kill -INT $mpid
    status=0
    wait $mpid || status=$?
    [ "$status" -ne 0 ]
    grep -q "tfs-train: stopped by signal 15 at step [0-9]*; checkpoint saved to $T/m.st" "$T/err"
    step=$(tail -n 1 "$T/m.jsonl" | grep -o '"step": [0-9]*' | cut -d' ' -f2)
    grep -qF "\\\"step\\\":$step," "$T/m.st"
}

@test "mpi: tfs-eval under mpirun shares the scoring out and prints what one process prints" {
    run_tool tfs-train $SMALL --steps 3 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -eq 0 ]
    for max in "" "--max-tokens 5000"; do
        run_tool tfs-eval -b 4 $max "$T/m.st" "$D/val.bin"
        [ "$status" -eq 0 ]
        one=$output
        run_tool mpi2 tfs-eval -b 4 $max "$T/m.st" "$D/val.bin"
        [ "$status" -eq 0 ]
        [ "$output" = "$one" ]
    done
    run_tool bash -c "cat '$D/val.bin' | mpirun --oversubscribe -np 2 tfs-eval '$T/m.st' -"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-eval: <stdin>: under mpirun the stream must be a regular, uncompressed file"* ]]
    run_tool mpi2 tfs-eval --token-loss "$T/m.st" "$D/val.bin"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-eval: under mpirun only scoring a stream is shared out"* ]]
}

@test "mpi: too many non-finite steps stop every rank with one message and the last good state" {
    TFS_TRAIN_FAULT=nan:3-100 run_tool mpi2 tfs-train $SMALL --steps 50 --max-bad 4 -o "$T/m.st" --log "$T/l" "$D/train.bin"
    [ "$status" -ne 0 ]
    [[ $stderr == *"tfs-train: 4 steps in a row had a non-finite loss or gradient (the last at step 6); stopping. The last good weights (update 2) are saved in $T/m.st"* ]]
    [ "$(grep -c 'steps in a row' <<< "$stderr")" -eq 1 ]
    grep -qF '\"updates\":2,' "$T/m.st"
}
