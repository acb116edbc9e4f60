"""llama_ref.py - an independent PyTorch implementation of the baseline
(Llama-style) architecture, with Hugging Face LlamaForCausalLM's parameter
names and shapes.  Used by llama_check.py (the correctness comparison with
lib/llama/llama.c) and by tests/bench/50-baseline.sh (the speed reference).

Written from the architecture's definition, not from lib/llama/llama.c: separate
q/k/v/gate/up projections, attention with an explicit causal mask, and
repeat_kv for grouped-query attention.  Only torch, numpy and json.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # y = x / sqrt(mean(x^2) + eps) * g
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    # [x1, x2] -> [-x2, x1] over the two halves of the head dimension
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, self.nh, self.nkv = c["dim"], c["heads"], c["kv_heads"]
        self.hs = C // self.nh
        self.q_proj = nn.Linear(C, self.nh * self.hs, bias=False)
        self.k_proj = nn.Linear(C, self.nkv * self.hs, bias=False)
        self.v_proj = nn.Linear(C, self.nkv * self.hs, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hs, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hs).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hs).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv           # repeat_kv: kv head j serves query heads j*rep .. j*rep+rep-1
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hs) + mask
        y = torch.softmax(att, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hs))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["dim"], c["hidden"], bias=False)
        self.up_proj = nn.Linear(c["dim"], c["hidden"], bias=False)
        self.down_proj = nn.Linear(c["hidden"], c["dim"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["dim"], c["norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["dim"], c["norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab"], c["dim"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"], c["norm_eps"])


class LlamaRef(nn.Module):
    """names: model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ... lm_head.weight"""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        self.lm_head = nn.Linear(c["dim"], c["vocab"], bias=False)
        if c["tied"]:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, idx, targets=None):
        c = self.c
        B, T = idx.shape
        hs = c["dim"] // c["heads"]
        dt = self.model.norm.weight.dtype
        # HF's rotary tables: inv_freq_i = theta^(-2i/hs), angles repeated over both halves
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat((ang, ang), dim=-1)
        cos, sin = ang.cos().to(dt), ang.sin().to(dt)
        mask = torch.full((T, T), float("-inf"), dtype=dt).triu(1)
        x = self.model.embed_tokens(idx)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.model.norm(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, c["vocab"]), targets.view(-1))


def config_from_hf(h):
    """Our config dict from a Hugging Face LlamaConfig (config.json)."""
    assert h["model_type"] == "llama" and h["architectures"] == ["LlamaForCausalLM"], h
    assert not h.get("attention_bias") and not h.get("mlp_bias") and h.get("rope_scaling") is None
    assert h["hidden_act"] == "silu"
    return dict(vocab=h["vocab_size"], dim=h["hidden_size"], hidden=h["intermediate_size"],
                layers=h["num_hidden_layers"], heads=h["num_attention_heads"],
                kv_heads=h.get("num_key_value_heads", h["num_attention_heads"]),
                context=h["max_position_embeddings"], norm_eps=h["rms_norm_eps"],
                rope_theta=h["rope_theta"], tied=bool(h.get("tie_word_embeddings", True)))


def read_safetensors(path):
    """({name: float32 array}, metadata) of a safetensors file: an 8-byte
    little-endian header length, the JSON header, then the tensor bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", (name, t["dtype"])
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=np.float32).reshape(t["shape"])
    return out, meta


def load_hf_dir(d, dtype=torch.float64):
    """A LlamaRef from an export directory (config.json + model.safetensors);
    load_state_dict(strict=True) fails on any missing, extra or misshapen tensor."""
    with open(os.path.join(d, "config.json")) as f:
        c = config_from_hf(json.load(f))
    model = LlamaRef(c).to(dtype)
    tensors, _ = read_safetensors(os.path.join(d, "model.safetensors"))
    sd = {k: torch.from_numpy(v.astype(np.float64)).to(dtype) for k, v in tensors.items()}
    if c["tied"]:
        assert "lm_head.weight" not in sd, "a tied export must not carry lm_head.weight"
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    model.load_state_dict(sd, strict=True)
    return model, c
