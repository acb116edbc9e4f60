#!/usr/bin/env bash
# tests/bench/12-bpe-train-1g.sh - bpe-train on 1 GB of text: its peak memory
# and time, on all of it and with --sample, against HF tokenizers' trainer
# (npm `tokenizers`, BpeTrainer) in the same run.
#   corpus:   the English benchmark corpus (94.7 MB), then the text files of
#             the Linux kernel's source (Debian's linux-source-6.1, fetched
#             with `apt-get download`, not installed), until the documents
#             hold 1e9 bytes (tests/bench/make_corpus1g.py); built once, in
#             $BENCH_OUT/corpus1g (2 GB kept: JSONL and plain text; about
#             1.5 GB more while the source tree is unpacked).  Source code
#             is the hard case for the memory: far more distinct pieces
#             (identifiers, numbers, hex constants) than English of the same
#             size.  The package's version is recorded: Debian's security
#             updates change it.
#   training: 30,000 tokens, 2 threads on both sides; tfs on every document,
#             then on $SAMPLE (20,000) of them drawn at random (--sample)
# Results: $BENCH_OUT/bpe-train-1g-*.json and the summary $BENCH_OUT/bpe-train-1g.json.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
bench_tokenizer_refs
G=$O/corpus1g
SAMPLE=${SAMPLE:-20000}
mkdir -p "$G"
if [ ! -s "$G/corpus1g.jsonl" ]; then
    echo "corpus: fetching linux-source-6.1 (about 140 MB) and building 1 GB of documents in $G"
    rm -rf "$G/src" "$G"/*.deb
    (cd "$G" && apt-get download linux-source-6.1 >&2)
    deb=$(ls "$G"/linux-source-6.1_*.deb)
    dpkg-deb --field "$deb" Version > "$G/version"
    mkdir -p "$G/src"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/linux-source-6.1.tar.xz' | tar -xJ -C "$G/src"
    python3 tests/bench/make_corpus1g.py "$G/src" "$CORPUS/corpus.jsonl" "$G" > "$G/stats"
    rm -rf "$G/src" "$deb"
fi
read -r docs bytes < "$G/stats"
echo "training: 30k, 2 threads, $docs documents, $bytes bytes of text (linux-source-6.1 $(cat "$G/version"))"
export RAYON_NUM_THREADS=2
measure "$O/bpe-train-1g-tfs.json" bpe-train -q -t 2 -n 30000 -o "$O/tok30k-1g.bin" "$G/corpus1g.jsonl"
measure "$O/bpe-train-1g-tfs-sample.json" bpe-train -q -t 2 -n 30000 --sample "$SAMPLE" -o "$O/tok30k-1g-sample.bin" "$G/corpus1g.jsonl"
measure "$O/bpe-train-1g-hf.json" node "$REF" bench-train "$G/corpus1g.txt" "$O/hf30k-1g.json"

python3 - "$O" "$docs" "$bytes" "$SAMPLE" "$(cat "$G/version")" "$(bench_cpu)" <<'PY'
import json, os, sys
o, docs, nbytes, sample, version, cpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
J = lambda n: json.load(open(os.path.join(o, n)))
t, ts, h = J('bpe-train-1g-tfs.json'), J('bpe-train-1g-tfs-sample.json'), J('bpe-train-1g-hf.json')
s = {'cpu': cpu, 'docs': docs, 'text_bytes': nbytes, 'linux_source_version': version,
     'tfs_s': t['seconds'], 'tfs_peak_mb': t['max_rss_mb'],
     'tfs_sample_docs': sample, 'tfs_sample_s': ts['seconds'], 'tfs_sample_peak_mb': ts['max_rss_mb'],
     'hf_s': h['seconds'], 'hf_peak_mb': h['max_rss_mb'],
     'speedup_vs_hf': round(h['seconds'] / t['seconds'], 2),
     'peak_fraction_of_hf': round(t['max_rss_mb'] / h['max_rss_mb'], 3)}
json.dump(s, open(os.path.join(o, 'bpe-train-1g.json'), 'w'), indent=1)
print(f"train 30k on {nbytes / 1e9:.2f} GB ({docs} documents): tfs {t['seconds']:.1f} s, peak {t['max_rss_mb']:.0f} MB;"
      f" --sample {sample}: {ts['seconds']:.1f} s, {ts['max_rss_mb']:.0f} MB;"
      f" HF tokenizers {h['seconds']:.1f} s, {h['max_rss_mb']:.0f} MB: {s['speedup_vs_hf']}x, {100 * s['peak_fraction_of_hf']:.1f}% of its peak")
PY
