#!/usr/bin/env python3
"""tests/bench/make_corpus1g.py SRC ENGLISH OUTDIR [BYTES] - the 1 GB corpus of
tests/bench/12-bpe-train-1g.sh.

Its documents are those of ENGLISH (the benchmark corpus, corpus.jsonl), then
every text file under SRC (the Linux kernel's source tree), in path order
(folders and files sorted by name), one document per file, until the
documents' text reaches BYTES (default 1,000,000,000) bytes of UTF-8.  A file
that is not valid UTF-8, holds a NUL byte or only white space is skipped.
Writes OUTDIR/corpus1g.jsonl ({"text": ...} per line) and OUTDIR/corpus1g.txt
(each document followed by a blank line, what HF tokenizers' trainer reads),
then prints the documents and bytes.
"""
import json
import os
import sys


def kernel_files(src):
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if "\0" in text or not text.strip():
                continue
            yield text


def main():
    if len(sys.argv) not in (4, 5):
        print("usage: make_corpus1g.py SRC ENGLISH OUTDIR [BYTES]", file=sys.stderr)
        return 2
    src, english, outdir = sys.argv[1:4]
    target = int(sys.argv[4]) if len(sys.argv) == 5 else 1_000_000_000
    docs = total = 0
    tmp_jsonl, tmp_txt = (os.path.join(outdir, "corpus1g." + e + ".tmp") for e in ("jsonl", "txt"))
    with open(tmp_jsonl, "w", encoding="utf-8", newline="\n") as jsonl, \
         open(tmp_txt, "w", encoding="utf-8", newline="\n") as txt:
        def put(text):
            nonlocal docs, total
            jsonl.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            txt.write(text + "\n\n")
            docs += 1
            total += len(text.encode("utf-8"))
        with open(english, encoding="utf-8") as f:
            for line in f:
                put(json.loads(line)["text"])
        for text in kernel_files(src):
            if total >= target:
                break
            put(text)
    if total < target:
        print(f"make_corpus1g.py: {src} holds too little text: {total} bytes in all", file=sys.stderr)
        return 1
    os.replace(tmp_jsonl, os.path.join(outdir, "corpus1g.jsonl"))
    os.replace(tmp_txt, os.path.join(outdir, "corpus1g.txt"))
    print(docs, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
