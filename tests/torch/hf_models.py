#!/usr/bin/python3
"""hf_models.py - Hugging Face model directories for tests/65-hf-models.bats,
and an independent float64 reference of their loss.

    hf_models.py make DIR --arch gpt2|llama [--dtype f32|bf16|f16] [--variant V]... [--seed S] [--vocab V]
        DIR/config.json and DIR/model.safetensors (or, with --variant sharded,
        model.safetensors.index.json and two shards) in transformers' layout,
        random weights made by torch.  Variants:
          gpt2:  noprefix (GPT2Model names, no "transformer."), maskbuf (old
                 files' attn.bias / attn.masked_bias buffers), lmhead (a
                 stored lm_head.weight equal to wte), sharded
          llama: tied (tie_word_embeddings, no lm_head), sharded, llama3rope
                 (Llama 3's rope_scaling), qbias (a
                 q_proj.bias the config does not announce), headdim (hidden
                 64, 4 heads of head_dim 32: q_proj (128, 64), o_proj (64, 128)),
                 oddhidden (hidden 66, 4 heads of head_dim 16)
    hf_models.py loss DIR STREAM T
        The mean cross-entropy of the first T predictions of the token
        stream (tfs-tokens(5)): positions 0..T-1 predict 1..T, computed in
        float64 from the weights as stored (bf16 and f16 ones rounded as the
        file holds them).  Prints {"loss": ...}.

Written from the architectures' definitions in transformers' terms (GPT-2's
Conv1D keeps (in, out) weights: y = x @ W + b; Llama's nn.Linear (out, in):
y = x @ W^T), not from lib/: functional code, torch and numpy only.  The
safetensors format (8-byte little-endian header length, JSON header, raw
little-endian data) is parsed and written here with json.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

# ---- safetensors ------------------------------------------------------------
TORCH_DTYPE = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
ST_NAME = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int64: "I64"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:       # numpy has no bfloat16: its 16 bits as int16
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, meta=None):
    header, off, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors.items():
        b = raw_bytes(t)
        header[name] = {"dtype": ST_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    buf, out = data[8 + n:], {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        raw, shape = buf[a:b], e["shape"]
        if e["dtype"] == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())
        elif e["dtype"] == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f2").astype(np.float32))
        elif e["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16).float()
        else:
            continue
        out[name] = t.reshape(shape).double()
    return out


def read_model(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
        w = {}
        for f in files:
            w.update(read_safetensors(os.path.join(d, f)))
        return w
    return read_safetensors(os.path.join(d, "model.safetensors"))


def read_stream(path, n):
    with open(path, "rb") as f:
        data = f.read()
    h = struct.unpack("<256i", data[:1024])
    width = 2 if h[1] == 1 else 4
    ids = np.frombuffer(data[1024:1024 + width * n], dtype="<u2" if width == 2 else "<u4")
    return torch.tensor(ids.astype(np.int64))


# ---- making models ------------------------------------------------------------
def save_dir(d, cfg, tensors, dtype, sharded):
    os.makedirs(d, exist_ok=True)
    cfg["torch_dtype"] = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[dtype]
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    tensors = {k: (v if v.dtype == torch.int64 or v.dtype == torch.bool else v.to(TORCH_DTYPE[dtype]))
               for k, v in tensors.items()}
    if not sharded:
        write_safetensors(os.path.join(d, "model.safetensors"), tensors, {"format": "pt"})
        return
    names = list(tensors)
    half = len(names) // 2
    parts = [names[:half], names[half:]]
    wm = {}
    for i, part in enumerate(parts):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(parts))
        write_safetensors(os.path.join(d, fn), {k: tensors[k] for k in part}, {"format": "pt"})
        wm.update({k: fn for k in part})
    json.dump({"metadata": {"total_size": 0}, "weight_map": wm},
              open(os.path.join(d, "model.safetensors.index.json"), "w"), indent=2)


def make_gpt2(a):
    V, P, C, L, NH = a.vocab, 64, 32, 2, 4
    g = torch.Generator().manual_seed(a.seed)
    r = lambda *s, std=0.1: torch.randn(*s, generator=g) * std
    pre = "" if "noprefix" in a.variant else "transformer."
    t = {pre + "wte.weight": r(V, C, std=0.5), pre + "wpe.weight": r(P, C, std=0.3)}
    for i in range(L):
        h = "%sh.%d." % (pre, i)
        t[h + "ln_1.weight"] = 1 + r(C)
        t[h + "ln_1.bias"] = r(C)
        if "maskbuf" in a.variant:      # what old transformers saved: a causal mask buffer
            t[h + "attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
            t[h + "attn.masked_bias"] = torch.tensor(-1e4)
        t[h + "attn.c_attn.weight"] = r(C, 3 * C)       # Conv1D: (in, out)
        t[h + "attn.c_attn.bias"] = r(3 * C)
        t[h + "attn.c_proj.weight"] = r(C, C)
        t[h + "attn.c_proj.bias"] = r(C)
        t[h + "ln_2.weight"] = 1 + r(C)
        t[h + "ln_2.bias"] = r(C)
        t[h + "mlp.c_fc.weight"] = r(C, 4 * C)
        t[h + "mlp.c_fc.bias"] = r(4 * C)
        t[h + "mlp.c_proj.weight"] = r(4 * C, C)
        t[h + "mlp.c_proj.bias"] = r(C)
    t[pre + "ln_f.weight"] = 1 + r(C)
    t[pre + "ln_f.bias"] = r(C)
    if "lmhead" in a.variant:
        t["lm_head.weight"] = t[pre + "wte.weight"].clone()
    cfg = {"architectures": ["GPT2Model" if "noprefix" in a.variant else "GPT2LMHeadModel"],
           "model_type": "gpt2", "vocab_size": V, "n_positions": P, "n_ctx": P, "n_embd": C,
           "n_layer": L, "n_head": NH, "n_inner": None, "activation_function": "gelu_new",
           "layer_norm_epsilon": 1e-5, "scale_attn_weights": True, "tie_word_embeddings": True}
    save_dir(a.dir, cfg, t, a.dtype, "sharded" in a.variant)


def make_llama(a):
    V, P, C, L, NH, NKV, FF = a.vocab, 64, 32, 2, 4, 2, 48
    hs = C // NH
    if "headdim" in a.variant:          # LlamaConfig's head_dim, not hidden_size / heads
        C, hs = 64, 32
    if "oddhidden" in a.variant:        # hidden 66, not a multiple of the 4 heads of 16
        C, hs = 66, 16
    g = torch.Generator().manual_seed(a.seed)
    r = lambda *s, std=0.1: torch.randn(*s, generator=g) * std
    tied = "tied" in a.variant
    t = {"model.embed_tokens.weight": r(V, C, std=0.5)}
    for i in range(L):
        h = "model.layers.%d." % i
        t[h + "input_layernorm.weight"] = 1 + r(C)
        t[h + "self_attn.q_proj.weight"] = r(NH * hs, C, std=0.3)      # nn.Linear: (out, in)
        t[h + "self_attn.k_proj.weight"] = r(NKV * hs, C, std=0.3)
        t[h + "self_attn.v_proj.weight"] = r(NKV * hs, C)
        t[h + "self_attn.o_proj.weight"] = r(C, NH * hs)
        t[h + "post_attention_layernorm.weight"] = 1 + r(C)
        t[h + "mlp.gate_proj.weight"] = r(FF, C)
        t[h + "mlp.up_proj.weight"] = r(FF, C)
        t[h + "mlp.down_proj.weight"] = r(C, FF)
    t["model.norm.weight"] = 1 + r(C)
    if "qbias" in a.variant:            # a bias the config does not announce
        t["model.layers.0.self_attn.q_proj.bias"] = r(NH * hs)
    if not tied:
        t["lm_head.weight"] = r(V, C, std=0.3)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V,
           "hidden_size": C, "intermediate_size": FF, "num_hidden_layers": L, "num_attention_heads": NH,
           "num_key_value_heads": NKV, "head_dim": hs, "max_position_embeddings": P, "hidden_act": "silu",
           "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "rope_scaling": None, "attention_bias": False,
           "mlp_bias": False, "tie_word_embeddings": tied}
    if "llama3rope" in a.variant:       # every branch of the scaling: kept, blended, stretched frequencies
        cfg["rope_theta"] = 10000.0
        cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 8.0, "original_max_position_embeddings": 256}
    save_dir(a.dir, cfg, t, a.dtype, "sharded" in a.variant)


# ---- float64 forward passes ---------------------------------------------------
def causal_attention(q, k, v):
    # q, k, v: (NH, T, hs); softmax(q k^T / sqrt(hs) + causal mask) v
    T, hs = q.shape[1], q.shape[2]
    att = q @ k.transpose(-1, -2) / math.sqrt(hs)
    att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(att, -1) @ v


def gpt2_logits(w, cfg, ids):
    pre = "transformer." if "transformer.wte.weight" in w else ""
    W = lambda n: w[pre + n]
    T, C, NH = len(ids), cfg["n_embd"], cfg["n_head"]
    ln = lambda x, n: F.layer_norm(x, (C,), W(n + ".weight"), W(n + ".bias"), cfg.get("layer_norm_epsilon", 1e-5))
    x = W("wte.weight")[ids] + W("wpe.weight")[:T]
    for i in range(cfg["n_layer"]):
        h = "h.%d." % i
        qkv = ln(x, h + "ln_1") @ W(h + "attn.c_attn.weight") + W(h + "attn.c_attn.bias")
        q, k, v = (z.view(T, NH, C // NH).transpose(0, 1) for z in qkv.split(C, -1))
        y = causal_attention(q, k, v).transpose(0, 1).reshape(T, C)
        x = x + y @ W(h + "attn.c_proj.weight") + W(h + "attn.c_proj.bias")
        m = ln(x, h + "ln_2") @ W(h + "mlp.c_fc.weight") + W(h + "mlp.c_fc.bias")
        m = 0.5 * m * (1 + torch.tanh(math.sqrt(2 / math.pi) * (m + 0.044715 * m ** 3)))     # gelu_new
        x = x + m @ W(h + "mlp.c_proj.weight") + W(h + "mlp.c_proj.bias")
    x = ln(x, "ln_f")
    return x @ W("wte.weight").T        # tied output projection


def llama_logits(w, cfg, ids):
    T, C, NH = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    # LlamaConfig: head_dim, when given, else hidden_size / heads; the scale is 1/sqrt(head_dim)
    NKV, hs, eps = cfg.get("num_key_value_heads", NH), cfg.get("head_dim") or C // NH, cfg["rms_norm_eps"]
    rms = lambda x, g: x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * g
    # rotary, transformers' rotate_half convention: pair dimension j with j + hs/2
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    rs = cfg.get("rope_scaling")
    if rs:      # Llama 3: stretch the low frequencies by factor, keep the high ones, blend between
        f, lo, hi, orig = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        smooth = (orig / wavelen - lo) / (hi - lo)
        scaled = torch.where(wavelen > orig / lo, inv / f, inv)
        medium = (wavelen <= orig / lo) & (wavelen >= orig / hi)
        inv = torch.where(medium, (1 - smooth) * inv / f + smooth * inv, scaled)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    rot = lambda z: z * cos + torch.cat([-z[..., hs // 2:], z[..., :hs // 2]], -1) * sin
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        h = "model.layers.%d." % i
        a = rms(x, w[h + "input_layernorm.weight"])
        q = (a @ w[h + "self_attn.q_proj.weight"].T).view(T, NH, hs).transpose(0, 1)
        k = (a @ w[h + "self_attn.k_proj.weight"].T).view(T, NKV, hs).transpose(0, 1)
        v = (a @ w[h + "self_attn.v_proj.weight"].T).view(T, NKV, hs).transpose(0, 1)
        q, k = rot(q), rot(k)
        k, v = k.repeat_interleave(NH // NKV, 0), v.repeat_interleave(NH // NKV, 0)
        y = causal_attention(q, k, v).transpose(0, 1).reshape(T, NH * hs)
        x = x + y @ w[h + "self_attn.o_proj.weight"].T
        a = rms(x, w[h + "post_attention_layernorm.weight"])
        m = F.silu(a @ w[h + "mlp.gate_proj.weight"].T) * (a @ w[h + "mlp.up_proj.weight"].T)
        x = x + m @ w[h + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def loss(a):
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    w = read_model(a.dir)
    ids = read_stream(a.stream, a.T + 1)
    f = gpt2_logits if cfg["model_type"] == "gpt2" else llama_logits
    logits = f(w, cfg, ids[:-1])
    print(json.dumps({"loss": F.cross_entropy(logits, ids[1:]).item()}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    m.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    m.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    m.add_argument("--variant", action="append", default=[])
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--vocab", type=int, default=257)
    lo = sub.add_parser("loss")
    lo.add_argument("dir")
    lo.add_argument("stream")
    lo.add_argument("T", type=int)
    a = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    if a.cmd == "make":
        torch.set_default_dtype(torch.float32)
        (make_gpt2 if a.arch == "gpt2" else make_llama)(a)
    else:
        loss(a)


if __name__ == "__main__":
    sys.exit(main())
