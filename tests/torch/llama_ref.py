"""llama_ref.py - an independent PyTorch implementation of the baseline
(Llama-style) architecture, with Hugging Face LlamaForCausalLM's parameter
names and shapes.  Used by llama_check.py (the correctness comparison with
lib/llama.c) and by tests/bench/50-baseline.sh (the speed reference).

Written from the architecture's definition, not from lib/llama.c: separate
q/k/v/gate/up projections, attention with an explicit causal mask, and
repeat_kv for grouped-query attention.  Only torch, numpy and json.
"""
import json
import math

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


def block_tensors(c):
    """The C parameter block (lib/llama.h, enum llama_param) as (HF name, flat
    offset, shape, row slice) entries, in block order."""
    V, C, L, F_ = c["vocab"], c["dim"], c["layers"], c["hidden"]
    hs = C // c["heads"]
    KVD = c["kv_heads"] * hs
    QKV = C + 2 * KVD
    out, off = [], 0
    out.append(("model.embed_tokens.weight", off, (V, C))); off += V * C
    for l in range(L):
        out.append((f"model.layers.{l}.input_layernorm.weight", off + l * C, (C,)))
    off += L * C
    for l in range(L):
        base = off + l * QKV * C
        out.append((f"model.layers.{l}.self_attn.q_proj.weight", base, (C, C)))
        out.append((f"model.layers.{l}.self_attn.k_proj.weight", base + C * C, (KVD, C)))
        out.append((f"model.layers.{l}.self_attn.v_proj.weight", base + (C + KVD) * C, (KVD, C)))
    off += L * QKV * C
    for l in range(L):
        out.append((f"model.layers.{l}.self_attn.o_proj.weight", off + l * C * C, (C, C)))
    off += L * C * C
    for l in range(L):
        out.append((f"model.layers.{l}.post_attention_layernorm.weight", off + l * C, (C,)))
    off += L * C
    for l in range(L):
        base = off + l * 2 * F_ * C
        out.append((f"model.layers.{l}.mlp.gate_proj.weight", base, (F_, C)))
        out.append((f"model.layers.{l}.mlp.up_proj.weight", base + F_ * C, (F_, C)))
    off += L * 2 * F_ * C
    for l in range(L):
        out.append((f"model.layers.{l}.mlp.down_proj.weight", off + l * C * F_, (C, F_)))
    off += L * C * F_
    out.append(("model.norm.weight", off, (C,))); off += C
    if not c["tied"]:
        out.append(("lm_head.weight", off, (V, C))); off += V * C
    return out, off


def from_block(flat, c):
    """{HF name: numpy array} from a flat float array in the C block layout."""
    entries, total = block_tensors(c)
    assert flat.size == total, f"block has {flat.size} floats, config says {total}"
    return {n: flat[o:o + int(np.prod(s))].reshape(s) for n, o, s in entries}


def load_config(path):
    with open(path) as f:
        return json.load(f)
