#!/usr/bin/env bash
# tests/bench/10-bpe.sh - bpe-train and bpe-encode against Hugging Face
# tokenizers (npm `tokenizers`), sentencepiece (Debian `spm_train`) and
# tiktoken (npm `tiktoken-node`, native; `tiktoken`, WASM), in the same run.
#   training: 30,000 vocabulary (what npm's HF binding trains) on the 94.7 MB
#             corpus, 2 threads; sentencepiece BPE 32,000 on the 10 MB subset
#             (it is single-threaded and takes minutes on the full corpus)
#   encoding: GPT-2's vocabulary, one thread (and two for tfs; tfs's short
#             runs the best of 5, 1 and 2 threads in turn, each writing
#             a new file, lib.bash best_alternating)
# Results: $BENCH_OUT/bpe-*.json and the summary $BENCH_OUT/bpe.json.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
bench_tokenizer_refs
node "$REF" ranks gpt2 "$O/gpt2.tiktoken"
export RAYON_NUM_THREADS=2

echo "training: tfs bpe-train, 30k, 2 threads, $(du -m "$CORPUS/corpus.jsonl" | cut -f1) MB"
measure "$O/bpe-train-tfs.json" bpe-train -q -t 2 -n 30000 -o "$O/tok30k.bin" "$CORPUS/corpus.jsonl"
echo "training: HF tokenizers BpeTrainer, 30k"
measure "$O/bpe-train-hf.json" node "$REF" bench-train "$CORPUS/corpus.txt" "$O/hf30k.json"
echo "training: tfs and sentencepiece BPE, 32k, 10 MB subset"
measure "$O/bpe-train-tfs-10m.json" bpe-train -q -t 2 -n 32000 -o "$O/tok32k-10m.bin" "$CORPUS/corpus10m.jsonl"
if command -v spm_train >/dev/null; then
    measure "$O/bpe-train-spm-10m.json" spm_train --input="$CORPUS/corpus10m.txt" --model_prefix="$O/spm32k" \
        --model_type=bpe --vocab_size=32000 --num_threads=2 --minloglevel=2
else
    echo "bench: spm_train not found (Debian package sentencepiece): no sentencepiece figure" >&2
fi

echo "encoding: GPT-2 vocabulary"
one=(bpe-encode -q -t 1 -o "$O/gpt2.ids" "$O/gpt2.tiktoken" "$CORPUS/corpus.jsonl")
two=(bpe-encode -q -t 2 -o "$O/gpt2-2t.ids" "$O/gpt2.tiktoken" "$CORPUS/corpus.jsonl")
best_alternating "$O/bpe-encode-tfs-1t.json" "$O/bpe-encode-tfs-2t.json" one two "$O/gpt2.ids" "$O/gpt2-2t.ids"
cmp "$O/gpt2.ids" "$O/gpt2-2t.ids" || { echo "bench: 1 and 2 threads give different ids" >&2; exit 1; }
rm -f "$O/gpt2-2t.ids"
node "$REF" bench-encode tiktoken-node gpt2 "$CORPUS/corpus.jsonl" > "$O/bpe-encode-tiktoken-node.json"
measure "$O/bpe-encode-tfs-10m.json" bpe-encode -q -t 1 -o "$O/gpt2-10m.ids" "$O/gpt2.tiktoken" "$CORPUS/corpus10m.jsonl"
node "$REF" bench-encode tiktoken gpt2 "$CORPUS/corpus10m.jsonl" > "$O/bpe-encode-tiktoken-wasm.json"
bpe-encode --export-hf "$O/gpt2-hf.json" "$O/gpt2.tiktoken"
node "$REF" bench-encode hf "$O/gpt2-hf.json" "$CORPUS/corpus10m.jsonl" > "$O/bpe-encode-hf.json"

python3 - "$O" "$CORPUS" <<'PY'
import json, os, sys
o, corpus = sys.argv[1], sys.argv[2]
J = lambda n: json.load(open(os.path.join(o, n))) if os.path.exists(os.path.join(o, n)) else None
mb = os.path.getsize(os.path.join(corpus, 'corpus.jsonl')) / 1e6
mb10 = os.path.getsize(os.path.join(corpus, 'corpus10m.jsonl')) / 1e6
text_mb = J('bpe-encode-tiktoken-node.json')['bytes'] / 1e6
text_mb10 = J('bpe-encode-tiktoken-wasm.json')['bytes'] / 1e6
tt, th = J('bpe-train-tfs.json'), J('bpe-train-hf.json')
t10, spm = J('bpe-train-tfs-10m.json'), J('bpe-train-spm-10m.json')
e1, e2, e10 = J('bpe-encode-tfs-1t.json'), J('bpe-encode-tfs-2t.json'), J('bpe-encode-tfs-10m.json')
tn, tw, hf = J('bpe-encode-tiktoken-node.json'), J('bpe-encode-tiktoken-wasm.json'), J('bpe-encode-hf.json')
s = {
  'corpus_jsonl_mb': round(mb, 1), 'corpus_text_mb': round(text_mb, 1),
  'train_30k_tfs_2t_s': tt['seconds'], 'train_30k_tfs_rss_mb': tt['max_rss_mb'],
  'train_30k_hf_s': th['seconds'], 'train_30k_hf_rss_mb': th['max_rss_mb'],
  'train_speedup_vs_hf': round(th['seconds'] / tt['seconds'], 2),
  'train_32k_10m_tfs_s': t10['seconds'],
  'train_32k_10m_spm_s': spm['seconds'] if spm else None,
  'train_speedup_vs_spm_10m': round(spm['seconds'] / t10['seconds'], 1) if spm else None,
  'encode_tfs_1t_mb_s': round(text_mb / e1['seconds'], 2), 'encode_tfs_2t_mb_s': round(text_mb / e2['seconds'], 2),
  'encode_tiktoken_node_mb_s': round(tn['mb_per_s'], 2),
  'encode_speedup_vs_tiktoken_node': round(text_mb / e1['seconds'] / tn['mb_per_s'], 2),
  'encode_2t_over_1t': round(e1['seconds'] / e2['seconds'], 3),
  'encode_tfs_10m_mb_s': round(text_mb10 / e10['seconds'], 2),
  'encode_tiktoken_wasm_10m_mb_s': round(tw['mb_per_s'], 2), 'encode_hf_10m_mb_s': round(hf['mb_per_s'], 2),
}
json.dump(s, open(os.path.join(o, 'bpe.json'), 'w'), indent=1)
print(f"train 30k, {mb:.1f} MB: tfs {tt['seconds']:.1f} s ({tt['max_rss_mb']:.0f} MB), HF tokenizers {th['seconds']:.1f} s ({th['max_rss_mb']:.0f} MB): {s['train_speedup_vs_hf']}x")
if spm: print(f"train 32k, {mb10:.1f} MB: tfs {t10['seconds']:.1f} s, sentencepiece {spm['seconds']:.1f} s: {s['train_speedup_vs_spm_10m']}x")
print(f"encode GPT-2, 1 thread: tfs {s['encode_tfs_1t_mb_s']} MB/s (JSONL read and stream written included), tiktoken-node {s['encode_tiktoken_node_mb_s']} MB/s: {s['encode_speedup_vs_tiktoken_node']}x")
print(f"encode GPT-2, 2 threads: tfs {s['encode_tfs_2t_mb_s']} MB/s: {s['encode_2t_over_1t']}x one thread")
print(f"encode GPT-2, 10 MB subset: tfs {s['encode_tfs_10m_mb_s']} MB/s, tiktoken WASM {s['encode_tiktoken_wasm_10m_mb_s']} MB/s, HF tokenizers {s['encode_hf_10m_mb_s']} MB/s")
PY
