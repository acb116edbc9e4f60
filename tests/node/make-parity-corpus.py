#!/usr/bin/env python3
"""make-parity-corpus.py OUT.jsonl [SCALE] - a varied, deterministic corpus for
tokenizer parity tests: English stories (assets/), C source and man pages of
this repository, many scripts, emoji sequences, whitespace runs of every
Unicode kind, digit runs, contractions in both cases, and random mixes of
code points from long-established blocks.  SCALE (default 1) multiplies the
number of random documents."""
import json, os, random, subprocess, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
out, scale = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
rng = random.Random(20241125)
docs = []

# English: stories from the default data
stories = subprocess.run(['zstd', '-dc', os.path.join(root, 'assets', 'stories-val.jsonl.zst')],
                         check=True, capture_output=True).stdout.decode().splitlines()
docs += [json.loads(l)['text'] for l in stories[:100 * scale]]

# Code and roff: this repository's own sources, in chunks
for d in ('lib', 'man', 'tests'):
    for name in sorted(os.listdir(os.path.join(root, d))):
        p = os.path.join(root, d, name)
        if os.path.isfile(p) and name.endswith(('.c', '.h', '.1', '.5', '.7', '.bash', '.py')):
            text = open(p, encoding='utf-8', errors='replace').read()
            docs += [text[i:i + 3000] for i in range(0, len(text), 3000)]

fixed = [
    "Привет, мир! Как дела? Съешь же ещё этих мягких французских булок.",
    "Γειά σου Κόσμε· ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "مرحبا بالعالم! هذه جملة عربية مع أرقام ١٢٣٤٥٦ و 7890.",
    "שלום עולם, זה משפט בעברית.",
    "नमस्ते दुनिया, यह हिन्दी वाक्य है। संख्या: १२३४",
    "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "你好，世界！这是一个中文句子，包含标点符号。１２３４５",
    "こんにちは世界。カタカナとひらがなと漢字が混ざっています。",
    "안녕하세요 세계! 한국어 문장입니다.",
    "Ünïcödé àccénts: naïve café, Ærøskøbing, Straße, İstanbul, ǅemal",
    "Combining: e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937 Z\u0351\u0352\u0353",
    "Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 ❤️ 🤖💬 😀😃😄 ✅ #️⃣ 1️⃣",
    "Whitespace:\t\ttabs  two   three    four\r\nCRLF\n\n\nblank lines\u00a0nbsp\u3000ideographic\u2028ls\u2029ps\u0085nel\u200bzwsp\ufeffbom end   ",
    "   leading spaces and trailing   ",
    "\n\n\n",
    "Digits: 1 12 123 1234 12345 123456789012345678901234567890 3.14159 1,000,000 ٣٤٥ ⅷ ² ½",
    "Contractions: it's I'm we'll they've she'd don't DON'T IT'S I'LL You'Re o'clock ’s rock'n'roll ''",
    "Code: int main(void) { return a->b[i] <= 0x7f ? x++ : --y; } // comment /* block */ $var @dec #inc",
    "URL https://example.com/path?q=1&r=2#frag email a.b@c.de path C:\\Windows\\sys32",
    "Punctuation runs: ... !!! ??? --- === *** ~~~ ((( ))) [[[ ]]] {{{ }}} <<< >>> ||| \"quoted\" «guillemets» „Anführung“",
    "Mixed: abc123def ABC_def-ghi.jkl 3rd 21st x²+y²=z² α+β=γ",
]
docs += fixed

# Long pieces (the encoder switches to its O(n log n) merge above 128 bytes)
longs = ['a' * 3000, ''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(2500)),
         ' ' * 1000 + 'x', '!?' * 400, '\n' * 400 + 'end', '😀🎉👍' * 150, 'ab' * 700 + ' ' + 'Zz' * 333,
         ''.join(rng.choice('0123456789') for _ in range(999)), 'é' * 600 + 'ß' * 300]
docs += longs

# Random mixes of code points from long-established blocks
blocks = [(0x20, 0x7e), (0xa0, 0xff), (0x100, 0x17f), (0x370, 0x3ff), (0x400, 0x4ff), (0x5d0, 0x5ea),
          (0x620, 0x64a), (0x660, 0x669), (0x900, 0x97f), (0xe01, 0xe5b), (0x3041, 0x3096), (0x30a1, 0x30fa),
          (0x4e00, 0x9fa5), (0xac00, 0xd7a3), (0x2000, 0x206f), (0x2190, 0x22ff), (0x2500, 0x257f),
          (0x1f300, 0x1f64f), (0x1f900, 0x1f9ff), (0xff01, 0xff5e), (0x300, 0x36f)]
spaces = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u2009', '\u0085', '\u2028', ' \n ', '\n\n']
for i in range(300 * scale):
    parts = []
    for _ in range(rng.randint(1, 60)):
        r = rng.random()
        if r < 0.5:
            lo, hi = rng.choice(blocks)
            parts.append(''.join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 12))))
        elif r < 0.8:
            parts.append(rng.choice(spaces) * rng.randint(1, 4))
        else:
            parts.append(rng.choice(["'s", "'LL", "'t", " 'd", "123", "4567", "''", "'", "the", " The"]))
    docs.append(''.join(parts))

with open(out, 'w', encoding='utf-8') as f:
    for d in docs:
        if '<|' in d:
            d = d.replace('<|', '< |')    # no special token text: tiktoken would refuse it
        f.write(json.dumps({'text': d}, ensure_ascii=False) + '\n')
