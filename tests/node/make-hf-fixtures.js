#!/usr/bin/env node
// make-hf-fixtures.js TRAIN.txt OUTDIR - tokenizer.json files written by
// Hugging Face's tokenizers (npm), the references for bpe-encode's reader:
//   bytelevel.json   BPE trained on TRAIN.txt with the ByteLevel pre-tokenizer
//   prefix.json      the same with add_prefix_space
//   added.json       bytelevel + added tokens, special (<|endoftext|>, <|user|>)
//                    and not ([note]), and a post-processor "<|user|> $A <|endoftext|>"
//   noeot.json       bytelevel + special <s>, </s> (no <|endoftext|>) and a
//                    post-processor "<s> $A </s>"
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
