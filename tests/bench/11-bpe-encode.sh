#!/usr/bin/env bash
# tests/bench/11-bpe-encode.sh - bpe-encode on the benchmark corpus with the
# three OpenAI vocabularies (GPT-2, cl100k, o200k), in one run, against
# tiktoken: tiktoken-node (native tiktoken-rs) for GPT-2 and cl100k, the
# WASM tiktoken for o200k (tiktoken-node does not have it).
#   tfs:       JSONL read, encoded, token stream written (wall time, the
#              tokenizer's loading included), 1 and 2 threads, and --reference
#              (PCRE2 pre-tokenizer, rank-ordered merge); the best of 3 runs,
#              of 5 for 1 and 2 threads, run in turn, each writing a new
#              file (lib.bash best_alternating)
#   tiktoken:  encode only (documents already in memory)
# Results: $BENCH_OUT/bpe-encode-*.json and the summary $BENCH_OUT/bpe-encode.json.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
bench_tokenizer_refs
J=$CORPUS/corpus.jsonl
for v in gpt2 cl100k_base o200k_base; do
    [ -s "$O/$v.tiktoken" ] || node "$REF" ranks "$v" "$O/$v.tiktoken"
done
for v in gpt2 cl100k_base o200k_base; do
    echo "encoding: $v, tfs, --reference, then 1 and 2 threads in turn"
    best3 "$O/bpe-encode-$v-ref.json" bpe-encode -q -t 1 --reference -o "$O/$v-ref.ids" "$O/$v.tiktoken" "$J"
    one=(bpe-encode -q -t 1 -o "$O/$v.ids" "$O/$v.tiktoken" "$J")
    two=(bpe-encode -q -t 2 -o "$O/$v-2t.ids" "$O/$v.tiktoken" "$J")
    best_alternating "$O/bpe-encode-$v-1t.json" "$O/bpe-encode-$v-2t.json" one two "$O/$v.ids" "$O/$v-2t.ids"
    cmp "$O/$v.ids" "$O/$v-ref.ids" || { echo "bench: $v: the fast and the reference encoders differ" >&2; exit 1; }
    cmp "$O/$v.ids" "$O/$v-2t.ids" || { echo "bench: $v: 1 and 2 threads give different ids" >&2; exit 1; }
    rm -f "$O/$v-2t.ids"
done
echo "encoding: tiktoken"
node "$REF" bench-encode tiktoken-node gpt2 "$J" > "$O/bpe-encode-tiktoken-gpt2.json"
node "$REF" bench-encode tiktoken-node cl100k_base "$J" > "$O/bpe-encode-tiktoken-cl100k_base.json"
node "$REF" bench-encode tiktoken o200k_base "$J" > "$O/bpe-encode-tiktoken-o200k_base.json"

python3 - "$O" "$(bench_cpu)" <<'PY'
import json, os, sys
o, cpu = sys.argv[1], sys.argv[2]
J = lambda n: json.load(open(os.path.join(o, n)))
s = {'cpu': cpu}
for v, eng in (('gpt2', 'tiktoken-node'), ('cl100k_base', 'tiktoken-node'), ('o200k_base', 'tiktoken (WASM)')):
    tk = J(f'bpe-encode-tiktoken-{v}.json')
    mb = tk['bytes'] / 1e6          # the documents' text, the same for both
    e1, er, e2 = J(f'bpe-encode-{v}-1t.json'), J(f'bpe-encode-{v}-ref.json'), J(f'bpe-encode-{v}-2t.json')
    s[v] = {'text_mb': round(mb, 1), 'tfs_1t_s': e1['seconds'], 'tfs_1t_mb_s': round(mb / e1['seconds'], 1),
            'tfs_reference_1t_s': er['seconds'], 'tfs_2t_s': e2['seconds'], 'tfs_2t_over_1t': round(e1['seconds'] / e2['seconds'], 3),
            'tiktoken_engine': eng, 'tiktoken_s': round(tk['seconds'], 2), 'tiktoken_mb_s': round(tk['mb_per_s'], 2),
            'speedup_vs_tiktoken': round(tk['seconds'] / e1['seconds'], 2),
            'fast_over_reference': round(er['seconds'] / e1['seconds'], 2),
            # CPU time (user + system): steadier than wall time when the machine is shared
            'tfs_1t_cpu_s': e1['cpu_seconds'], 'tfs_reference_1t_cpu_s': er['cpu_seconds'],
            'tiktoken_cpu_s': round(tk['cpu_seconds'], 2),
            'cpu_speedup_vs_tiktoken': round(tk['cpu_seconds'] / e1['cpu_seconds'], 2)}
    x = s[v]
    print(f"encode {v}, {x['text_mb']} MB: tfs {x['tfs_1t_s']} s ({x['tfs_1t_mb_s']} MB/s, JSONL read and stream written),"
          f" --reference {x['tfs_reference_1t_s']} s, {eng} {x['tiktoken_s']} s: {x['speedup_vs_tiktoken']}x;"
          f" 2 threads {x['tfs_2t_over_1t']}x one; CPU time {x['tfs_1t_cpu_s']} s vs {x['tiktoken_cpu_s']} s:"
          f" {x['cpu_speedup_vs_tiktoken']}x")
json.dump(s, open(os.path.join(o, 'bpe-encode.json'), 'w'), indent=1)
PY
