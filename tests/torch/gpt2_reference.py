#!/usr/bin/python3
"""gpt2_reference.py - the PyTorch half of the reference check for the
custom model (tests/55-torch-reference.bats; the C half is gpt2_dump.c).

    /usr/bin/python3 tests/torch/gpt2_reference.py DIR

Reads DIR/input.safetensors (weights, batch, config, AdamW settings) and
DIR/result.safetensors (what lib/gpt2/gpt2.c computed), builds the same GPT-2
from plain torch.nn modules in float64, loads the weights, and compares:
the logits, the loss, the gradient of every parameter tensor, and every
parameter after one step of torch.optim.AdamW.  For each tensor it prints
    rel = max |C - torch| / max |torch|
and exits 1 if any rel exceeds 1e-4 (2 on a usage or format error).

Dependencies: torch and numpy; safetensors is parsed here with json (the
format: 8-byte little-endian header length, JSON header, raw data; see
lib/core/safetensors.h).
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOL = 1e-4


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    buf = data[8 + n:]
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: {name}: dtype {t['dtype']}")
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(buf[begin:end], dtype="<f4").reshape(t["shape"])
    return tensors, meta


# ---- the model, written the way a PyTorch user would write GPT-2 ----------

class Attention(nn.Module):
    def __init__(self, C, NH, ctx):
        super().__init__()
        self.NH = NH
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)))

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.NH
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.NH, hs).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, C, NH, ctx):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = Attention(C, NH, ctx)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.c_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, V, ctx, L, NH, C):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(ctx, C)
        self.h = nn.ModuleList(Block(C, NH, ctx) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T          # tied output projection
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1))
        return logits, loss


def our_tensors(model):
    """Our parameter names (gpt2.h) -> the module tensors that hold them,
    per layer for the stacked (L, ...) ones."""
    h = model.h
    return {
        "wte": [model.wte.weight], "wpe": [model.wpe.weight],
        "ln1w": [b.ln_1.weight for b in h], "ln1b": [b.ln_1.bias for b in h],
        "qkvw": [b.attn.c_attn.weight for b in h], "qkvb": [b.attn.c_attn.bias for b in h],
        "attprojw": [b.attn.c_proj.weight for b in h], "attprojb": [b.attn.c_proj.bias for b in h],
        "ln2w": [b.ln_2.weight for b in h], "ln2b": [b.ln_2.bias for b in h],
        "fcw": [b.c_fc.weight for b in h], "fcb": [b.c_fc.bias for b in h],
        "fcprojw": [b.c_proj.weight for b in h], "fcprojb": [b.c_proj.bias for b in h],
        "lnfw": [model.ln_f.weight], "lnfb": [model.ln_f.bias],
    }


def stacked(ts, per_layer):
    return torch.stack(ts) if per_layer else ts[0]


def main():
    if len(sys.argv) != 2:
        print("usage: gpt2_reference.py DIR", file=sys.stderr)
        return 2
    d = sys.argv[1]
    inp, meta = load_safetensors(f"{d}/input.safetensors")
    res, _ = load_safetensors(f"{d}/result.safetensors")
    cfg, opt = json.loads(meta["config"]), json.loads(meta["adamw"])
    torch.manual_seed(0)
    model = GPT2(cfg["vocab"], cfg["context"], cfg["layers"], cfg["heads"], cfg["dim"]).double()
    names = our_tensors(model)
    # every tensor but the embeddings and the final LayerNorm is stacked
    # over layers, (L, ...), in our layout
    stacked_names = set(names) - {"wte", "wpe", "lnfw", "lnfb"}
    with torch.no_grad():
        for name, ts in names.items():
            w = torch.from_numpy(inp[name].astype(np.float64))
            if name in stacked_names:
                for l, t in enumerate(ts):
                    t.copy_(w[l])
            else:
                ts[0].copy_(w)
    idx = torch.from_numpy(inp["inputs"].astype(np.int64))
    tgt = torch.from_numpy(inp["targets"].astype(np.int64))

    logits, loss = model(idx, tgt)
    loss.backward()

    failed = []

    def compare(label, ours, ref):
        ref = ref.detach().numpy()
        ours = ours.astype(np.float64)
        scale = np.max(np.abs(ref))
        rel = np.max(np.abs(ours - ref)) / scale if scale > 0 else np.max(np.abs(ours))
        ok = rel <= TOL
        print(f"{'ok  ' if ok else 'FAIL'} {label:<16} rel {rel:.2e}  (max |ref| {scale:.3g})")
        if not ok:
            failed.append(label)

    compare("logits", res["logits"], logits)
    compare("loss", res["loss"].reshape(()), loss)
    for name, ts in names.items():
        compare(f"grad.{name}", res[f"grad.{name}"], stacked([t.grad for t in ts], name in stacked_names))

    # One AdamW step with the same settings; the gradient scale (what
    # clipping would apply) multiplies the gradients first.
    decays = set(opt["decays"])
    groups = [
        {"params": [t for n in names if n in decays for t in names[n]], "weight_decay": opt["weight_decay"]},
        {"params": [t for n in names if n not in decays for t in names[n]], "weight_decay": 0.0},
    ]
    adamw = torch.optim.AdamW(groups, lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])
    with torch.no_grad():
        for p in model.parameters():
            p.grad *= opt["grad_scale"]
    adamw.step()
    for name, ts in names.items():
        compare(f"after.{name}", res[f"after.{name}"], stacked([t.detach() for t in ts], name in stacked_names))

    if failed:
        print(f"gpt2_reference.py: {len(failed)} tensors differ from PyTorch by more than {TOL:g}: {' '.join(failed)}")
        return 1
    print(f"gpt2_reference.py: logits, loss, {len(names)} gradients and {len(names)} updated tensors match PyTorch (rel <= {TOL:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
