#!/usr/bin/env node
// ref.js - the reference tokenizers tfs is checked and measured against.
//   node ref.js ranks NAME OUT              write tiktoken's NAME (gpt2, cl100k_base)
//                                           as a .tiktoken rank file, from the npm
//                                           package's own data
//   node ref.js parity ENGINE SPEC JSONL IDS  encode each document of JSONL with
//                                           ENGINE and compare with the tfs token
//                                           stream IDS (documents after each eot id);
//                                           exit 1 on the first difference
//   node ref.js concat SPEC JSONL IDS [special]  HF tokenizers (SPEC = tokenizer.json):
//                                           the whole stream IDS must be the documents'
//                                           encodings back to back (with "special": as
//                                           its post-processor adds BOS/EOS)
//   node ref.js bench-encode ENGINE SPEC JSONL   single-thread encoding speed (JSON)
//   node ref.js bench-train TXT OUT.json    HF tokenizers BpeTrainer (30,000) timing (JSON)
// ENGINE: tiktoken (WASM build of OpenAI's Rust tiktoken), tiktoken-node
// (native tiktoken-rs), hf (Hugging Face tokenizers, the newest release, SPEC =
// tokenizer.json), hf-0.13 (the same in tokenizers 0.13: the npm package
// tokenizers-linux-x64-gnu 0.13.4-rc2, the native module that the tokenizers
// 0.13.3 package loads on Linux x86-64; it is built from the Rust tokenizers
// 0.13.3, and the npm registry holds no other 0.13 build of it).
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) { process.stderr.write('ref.js: ' + msg + '\n'); process.exit(1); }

function readDocs(file) {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l).text);
}

// The tfs token stream (tfs-tokens(5)): 1024-byte header, then uint16 or uint32 ids.
function readStream(file) {
    const b = fs.readFileSync(file);
    const magic = b.readInt32LE(0), wide = magic === 20240801;
    if (!wide && magic !== 20240520) die(file + ': not a token stream');
    const eot = null;
    const n = (b.length - 1024) / (wide ? 4 : 2);
    const ids = new Uint32Array(n);
    for (let i = 0; i < n; i++) ids[i] = wide ? b.readUInt32LE(1024 + 4 * i) : b.readUInt16LE(1024 + 2 * i);
    return { ids, eot };
}

function splitDocs(ids, eot) {
    const docs = [];
    let cur = null;
    for (const id of ids) {
        if (id === eot) { if (cur) docs.push(cur); cur = []; } else cur.push(id);
    }
    if (cur) docs.push(cur);
    return docs;
}

function engine(name, spec) {
    if (name === 'tiktoken') {
        const { get_encoding } = require('tiktoken');
        const enc = get_encoding(spec);
        return { encode: (t) => Array.from(enc.encode_ordinary(t)), eot: enc.encode('<|endoftext|>', 'all')[0] };
    }
    if (name === 'tiktoken-node') {
        const tn = require('tiktoken-node');
        const enc = tn.getEncoding(spec);
        return { encode: (t) => enc.encode(t), eot: null };
    }
    if (name === 'hf' || name === 'hf-0.13') {
        // both releases have the same N-API interface: fromFile, a Promise from encode
        let mod;
        try { mod = require(name === 'hf' ? 'tokenizers' : 'tokenizers-linux-x64-gnu'); }
        catch (e) { die(name + ': not installed here (tests/node/setup): ' + e.message.split('\n')[0]); }
        const { Tokenizer } = mod;
        const tok = Tokenizer.fromFile(spec);
        return {
            encodeAsync: async (t) => (await tok.encode(t, null, { addSpecialTokens: false })).getIds(),
            eot: tok.tokenToId('<|endoftext|>'),
        };
    }
    die('unknown engine ' + name);
}

function b64(s) { return Buffer.from(s, 'latin1').toString('base64'); }

async function main() {
    const [cmd, ...a] = process.argv.slice(2);
    if (cmd === 'ranks') {
        // tiktoken's npm data: bpe_ranks holds lines "! OFFSET TOKEN TOKEN ...",
        // base64 tokens with consecutive ranks from OFFSET.
        const j = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules/tiktoken/encoders', a[0] + '.json'), 'utf8'));
        const out = [];
        for (const line of j.bpe_ranks.split('\n').filter(Boolean)) {
            const [, off, ...toks] = line.split(' ');
            toks.forEach((t, i) => out.push(t + ' ' + (Number(off) + i)));
        }
        fs.writeFileSync(a[1], out.join('\n') + '\n');
        return;
    }
    if (cmd === 'parity') {
        const [eng, spec, jsonl, idsFile, eotArg] = a;
        const e = engine(eng, spec);
        const docs = readDocs(jsonl);
        const { ids } = readStream(idsFile);
        const eot = eotArg !== undefined ? Number(eotArg) : e.eot;
        const ours = splitDocs(ids, eot);
        if (ours.length !== docs.length) die(`${docs.length} documents in ${jsonl}, ${ours.length} in ${idsFile}`);
        let ntok = 0;
        for (let i = 0; i < docs.length; i++) {
            const ref = e.encodeAsync ? await e.encodeAsync(docs[i]) : e.encode(docs[i]);
            const got = ours[i];
            ntok += ref.length;
            let k = 0;
            while (k < ref.length && k < got.length && ref[k] === got[k]) k++;
            if (k < ref.length || k < got.length) {
                die(`document ${i + 1}: ${eng} and tfs differ at token ${k}: ${eng} ` +
                    JSON.stringify(Array.from(ref.slice(k, k + 8))) + ', tfs ' + JSON.stringify(Array.from(got.slice(k, k + 8))) +
                    '\n  text near there: ' + JSON.stringify(docs[i].slice(0, 200)));
            }
        }
        console.log(`${eng} ${path.basename(spec)}: ${docs.length} documents, ${ntok} tokens, identical`);
        return;
    }
    if (cmd === 'concat') {
        const [spec, jsonl, idsFile, special] = a;
        const { Tokenizer } = require('tokenizers');
        const tok = Tokenizer.fromFile(spec);
        const { ids } = readStream(idsFile);
        let k = 0, d = 0;
        for (const doc of readDocs(jsonl)) {
            d++;
            const ref = (await tok.encode(doc, null, { addSpecialTokens: special === 'special' })).getIds();
            for (let i = 0; i < ref.length; i++, k++)
                if (ids[k] !== ref[i])
                    die(`document ${d}, token ${i}: hf ${ref[i]}, tfs ${ids[k]}\n  text: ` + JSON.stringify(doc.slice(0, 200)));
        }
        if (k !== ids.length) die(`tfs has ${ids.length - k} more ids than hf`);
        console.log(`hf ${path.basename(spec)}: ${d} documents, ${k} tokens, identical`);
        return;
    }
    if (cmd === 'bench-encode') {
        const [eng, spec, jsonl] = a;
        const e = engine(eng, spec);
        const docs = readDocs(jsonl);
        const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d), 0);
        let ntok = 0;
        const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
        for (const d of docs) ntok += (e.encodeAsync ? await e.encodeAsync(d) : e.encode(d)).length;
        const s = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
        // cpu_seconds: the process's CPU time while encoding (every thread), steadier than
        // the wall time on a loaded machine
        console.log(JSON.stringify({ engine: eng, spec: path.basename(spec), bytes, tokens: ntok, seconds: s, mb_per_s: bytes / 1e6 / s,
                                     cpu_seconds: (c.user + c.system) / 1e6 }));
        return;
    }
    if (cmd === 'bench-train') {
        const [txt, out] = a;
        const tk = require('tokenizers');
        const tok = new tk.Tokenizer(tk.BPE.empty ? tk.BPE.empty() : tk.BPE.init({}, []));
        tok.setPreTokenizer(tk.byteLevelPreTokenizer(false, true));
        const t0 = process.hrtime.bigint();
        tok.train([txt]);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (out) tok.save(out);
        console.log(JSON.stringify({ engine: 'hf-tokenizers', vocab: tok.getVocabSize(true), seconds: s }));
        return;
    }
    die('usage: ref.js ranks|parity|bench-encode|bench-train ...');
}
main().catch((e) => die(String(e && e.stack || e)));
