#!/usr/bin/env bash
# 70-mpi.sh - tfs-train on two processes (mpirun, OpenMPI) against one, on
# the same machine, the same global batch and the same cores.
#
#   tests/bench/70-mpi.sh        (BUILD=build by default; make bench runs it)
#
# The 25M model (assets/configs/25m: 7 layers, width 512, context 256) on a
# random token stream of vocabulary 4096 (written here: speed does not
# depend on what the tokens say), batch 4:
#   one:      1 process x 2 threads, --accum 2
#   two:      2 ranks x 1 thread,    --accum 1       (the same steps)
#   sharded:  2 ranks x 1 thread,    --accum 1, --shard-optimizer
# TFS_BENCH_STEPS steps (default 4); tokens/s over the steps after the
# first (a warm-up), from the metrics log of rank 0, and its seconds inside
# MPI per step (comm_s).  Peak RSS of every rank (GNU time around each):
# with --shard-optimizer each rank should hold half of the AdamW moments,
# 2 x 4 bytes x P / 2 fewer bytes.  Goals (issue 15): two >= 0.9 x one in
# tokens/s; RSS falls by at least half the moments' size.
# Writes $BUILD/bench/70-mpi.json and prints a summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out=$BUILD/bench
BENCH_OUT=${BENCH_OUT:-$PWD/$out}   # lib.bash wants it when run alone
source tests/bench/lib.bash
mkdir -p "$out"
steps=${TFS_BENCH_STEPS:-4}
train=$PWD/$BUILD/bin/tfs-train
[ -x "$train" ] || { echo "70-mpi: $train missing; run make first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "70-mpi: mpirun missing (tests/deps bench installs openmpi-bin)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_WAIT_POLICY=PASSIVE TFS_BLAS_CORE=keep
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

# 4M random ids of vocabulary 4096, uint16, after the 1024-byte header
# (tfs-tokens(5)).
/usr/bin/python3 - "$w/train.bin" <<'PY'
import random, struct, sys
n, v = 4 << 20, 4096
random.seed(1)
h = struct.pack("<4i", 20240520, 1, n, v) + bytes(1024 - 16)
with open(sys.argv[1], "wb") as f:
    f.write(h)
    f.write(struct.pack("<%dH" % n, *(random.randrange(v) for _ in range(n))))
PY

cpu=$(bench_cpu)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "70-mpi: $steps steps, $cpu; load average $load_before" >&2
run="-c 25m -b 4 --steps $steps --warmup 1 -q --eval-every 0 --seed 1"
# each rank's peak RSS (kB) into $w/NAME.rss.RANK
timed() { local name=$1; shift
    /usr/bin/time -f %M -o "$w/$name.rss.${OMPI_COMM_WORLD_RANK:-0}" "$@"; }
export -f timed
export w
timed one "$train" $run --threads 2 --accum 2 -o "$w/one.st" --log "$w/one.jsonl" "$w/train.bin"
mpirun -np 2 bash -c 'timed two "$@"' _ "$train" $run --threads 1 --accum 1 \
    -o "$w/two.st" --log "$w/two.jsonl" "$w/train.bin"
mpirun -np 2 bash -c 'timed sharded "$@"' _ "$train" $run --threads 1 --accum 1 --shard-optimizer \
    -o "$w/sharded.st" --log "$w/sharded.jsonl" "$w/train.bin"

CPU="$cpu" LOAD_BEFORE="$load_before" W="$w" /usr/bin/python3 - "$out/70-mpi.json" "$steps" <<'PY'
import json, os, sys
w = os.environ["W"]
def speed(name):
    lines = [json.loads(l) for l in open(os.path.join(w, name + ".jsonl"))]
    a, b = lines[0], lines[-1]      # the first step is the warm-up
    r = {"tokens_per_s": round((b["tokens"] - a["tokens"]) / (b["elapsed_s"] - a["elapsed_s"]), 1),
         "final_loss": b["loss"]}
    if "comm_s" in b:
        r["comm_s_per_step"] = round(sum(l["comm_s"] for l in lines[1:]) / (len(lines) - 1), 4)
        r["comm_fraction"] = round(r["comm_s_per_step"] * (len(lines) - 1) / (b["elapsed_s"] - a["elapsed_s"]), 3)
    return r
def rss(name, ranks):
    return [round(int(open(os.path.join(w, "%s.rss.%d" % (name, r))).read().split()[-1]) / 1024, 1)
            for r in range(ranks)]
one, two, sharded = speed("one"), speed("two"), speed("sharded")
one["peak_rss_mb"], two["peak_rss_mb"], sharded["peak_rss_mb"] = rss("one", 1), rss("two", 2), rss("sharded", 2)
# the 25M model's parameters: from the checkpoint's size is close enough;
# count them exactly from the safetensors header instead
import struct
d = open(os.path.join(w, "one.st"), "rb").read(8)
(n,) = struct.unpack("<Q", d)
hdr = json.loads(open(os.path.join(w, "one.st"), "rb").read(8 + n)[8:])
params = sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in hdr.items()
             if k != "__metadata__" and not k.startswith("optimizer.")) // 4
half_moments_mb = round(2 * 4 * params / 2 / 2**20, 1)
saved = [round(a - b, 1) for a, b in zip(two["peak_rss_mb"], sharded["peak_rss_mb"])]
res = {
    "bench": "70-mpi", "config": "25m (L 7, C 512, NH 8, T 256), vocab 4096, B 4; global batch 8 x 256",
    "steps": int(sys.argv[2]), "params": params,
    "one_process_2_threads_accum2": one, "two_ranks_1_thread": two, "two_ranks_sharded": sharded,
    "scaling_two_over_one": round(two["tokens_per_s"] / one["tokens_per_s"], 3),
    "half_moments_mb": half_moments_mb, "rss_saved_by_sharding_mb": saved,
    "same_loss": abs(one["final_loss"] - two["final_loss"]) <= 1e-4 and abs(one["final_loss"] - sharded["final_loss"]) <= 1e-4,
    "targets": {"scaling_two_over_one": 0.9, "rss_saved_mb_at_least": half_moments_mb},
    "cpu": os.environ["CPU"], "load_before": os.environ["LOAD_BEFORE"],
    "load_after": open("/proc/loadavg").read().split()[:3],
}
json.dump(res, open(sys.argv[1], "w"), indent=1)
print("70-mpi: 1 process x 2 threads %.0f tok/s; 2 ranks x 1 thread %.0f tok/s (%.2f of it; MPI %.3f s/step, %.1f%%); "
      "sharded %.0f tok/s" % (one["tokens_per_s"], two["tokens_per_s"], res["scaling_two_over_one"],
      two["comm_s_per_step"], 100 * two["comm_fraction"], sharded["tokens_per_s"]))
print("70-mpi: peak RSS MB one %s, two %s, sharded %s; sharding saves %s MB per rank (half the moments: %.1f MB)"
      % (one["peak_rss_mb"], two["peak_rss_mb"], sharded["peak_rss_mb"], saved, half_moments_mb))
if not res["same_loss"]:
    sys.exit("70-mpi: the three runs' final losses differ: %s" % [one["final_loss"], two["final_loss"], sharded["final_loss"]])
PY
