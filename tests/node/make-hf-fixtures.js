#!/usr/bin/env node
// make-hf-fixtures.js TRAIN.txt OUTDIR - tokenizer.json files written by
// Hugging Face's tokenizers (npm), the references for bpe-encode's reader:
//   bytelevel.json   BPE trained on TRAIN.txt with the ByteLevel pre-tokenizer
//   prefix.json      the same with add_prefix_space
//   added.json       bytelevel + added tokens, special (<|endoftext|>, <|user|>)
//                    and not ([note]), and a post-processor "<|user|> $A <|endoftext|>"
//   noeot.json       bytelevel + special <s>, </s> (no <|endoftext|>) and a
//                    post-processor "<s> $A </s>"
//   strip.json       bytelevel + added tokens that take the white space
//                    around them (lstrip <mask>, rstrip [sep], both <both>)
'use strict';
const tk = require('tokenizers');
const [txt, out] = process.argv.slice(2);

function trained(prefix) {
    const tok = new tk.Tokenizer(tk.BPE.empty());
    tok.setPreTokenizer(tk.byteLevelPreTokenizer(prefix, true));
    tok.train([txt]);
    return tok;
}

trained(false).save(out + '/bytelevel.json');
trained(true).save(out + '/prefix.json');

let tok = trained(false);
tok.addAddedTokens([new tk.AddedToken('<|endoftext|>', true), new tk.AddedToken('<|user|>', true),
                    new tk.AddedToken('[note]', false)]);
tok.setPostProcessor(tk.templateProcessing('<|user|> $A <|endoftext|>', null,
    [['<|user|>', tok.tokenToId('<|user|>')], ['<|endoftext|>', tok.tokenToId('<|endoftext|>')]]));
tok.save(out + '/added.json');

tok = trained(false);
tok.addAddedTokens([new tk.AddedToken('<s>', true), new tk.AddedToken('</s>', true)]);
tok.setPostProcessor(tk.templateProcessing('<s> $A </s>', null,
    [['<s>', tok.tokenToId('<s>')], ['</s>', tok.tokenToId('</s>')]]));
tok.save(out + '/noeot.json');

tok = trained(false);
tok.addAddedTokens([new tk.AddedToken('<mask>', true, { leftStrip: true }),
                    new tk.AddedToken('[sep]', false, { rightStrip: true }),
                    new tk.AddedToken('<both>', true, { leftStrip: true, rightStrip: true })]);
tok.save(out + '/strip.json');

// Sentencepiece-style BPE (Llama 2, Mistral, TinyLlama): trained with the
// Metaspace pre-tokenizer, then the model rebuilt by HF with the 256
// byte-fallback tokens <0x00>..<0xFF> and <unk>, and saved two ways:
//   meta-norm.json   normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer
//                    (HF's conversion of Llama 2)
//   metaspace.json   no normalizer, Metaspace(prepend_scheme first, split)
// both with special <unk>, <s>, </s> and a post-processor "<s> $A".
function sentencepiece(save, setup) {
    const base = new tk.Tokenizer(tk.BPE.empty());
    base.setPreTokenizer(tk.metaspacePreTokenizer('\u2581', 'always', true));
    base.train([txt]);
    base.save(out + '/meta-trained.json');
    const m = JSON.parse(require('fs').readFileSync(out + '/meta-trained.json', 'utf8')).model;
    const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = 3 + b;
    let next = 259;
    for (const [t] of Object.entries(m.vocab).sort((a, b) => a[1] - b[1])) if (!(t in vocab)) vocab[t] = next++;
    const tok = new tk.Tokenizer(tk.BPE.init(vocab, m.merges, { byteFallback: true, unkToken: '<unk>', fuseUnk: true }));
    setup(tok);
    tok.addAddedTokens([new tk.AddedToken('<unk>', true), new tk.AddedToken('<s>', true), new tk.AddedToken('</s>', true)]);
    tok.setPostProcessor(tk.templateProcessing('<s> $A', null, [['<s>', 1]]));
    tok.save(out + '/' + save);
}
sentencepiece('meta-norm.json', (tok) => tok.setNormalizer(tk.sequenceNormalizer(
    [tk.prependNormalizer('\u2581'), tk.replace(' ', '\u2581')])));
sentencepiece('metaspace.json', (tok) => tok.setPreTokenizer(tk.metaspacePreTokenizer('\u2581', 'first', true)));

// The Unicode normalizers (HF's NFC, NFKC, NFD and NFKD):
//   meta-nfkc.json   sentencepiece-style as above, normalizer NFKC, Metaspace(first)
//   nfc-norm.json    sentencepiece-style, normalizer NFC + Prepend("▁") + Replace(" ", "▁")
//   bytes-nf{c,kc,d,kd}.json  normalizer NFC, NFKC, NFD or NFKD, and only <unk>, <s>, </s> and the 256 byte
//                    tokens, no merges: each id is a byte of the normalized text
sentencepiece('meta-nfkc.json', (tok) => {
    tok.setNormalizer(tk.nfkcNormalizer());
    tok.setPreTokenizer(tk.metaspacePreTokenizer('\u2581', 'first', true));
});
sentencepiece('nfc-norm.json', (tok) => tok.setNormalizer(tk.sequenceNormalizer(
    [tk.nfcNormalizer(), tk.prependNormalizer('\u2581'), tk.replace(' ', '\u2581')])));
for (const [name, norm] of [['bytes-nfc.json', tk.nfcNormalizer()], ['bytes-nfkc.json', tk.nfkcNormalizer()],
                             ['bytes-nfd.json', tk.nfdNormalizer()], ['bytes-nfkd.json', tk.nfkdNormalizer()]]) {
    const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = 3 + b;
    const tok = new tk.Tokenizer(tk.BPE.init(vocab, [], { byteFallback: true, unkToken: '<unk>' }));
    tok.setNormalizer(norm);
    tok.addAddedTokens([new tk.AddedToken('<unk>', true), new tk.AddedToken('<s>', true), new tk.AddedToken('</s>', true)]);
    tok.save(out + '/' + name);
}
