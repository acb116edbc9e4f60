"""attention_ref.py - tfs-eval --attention's matrix file against PyTorch.

    attention_ref.py custom CKPT.safetensors MATRIX
    attention_ref.py baseline HF_EXPORT_DIR MATRIX

Reads the token ids, the layer and the head (or "mean of N heads") from the
matrix file's comment lines (tfs-eval(1), ATTENTION MATRIX FILE), runs the
same tokens through the model written with torch in float64 up to that
layer, computes softmax(q k^T / sqrt(hs) + causal mask) there, and compares
every weight: it exits 1 when one differs by more than 1e-4.

The models are written from their definitions, not from tfs's C: GPT-2 with
Hugging Face's tensor names and Conv1D (in, out) weights, as the checkpoint
stores them; the baseline through llama_ref.LlamaRef (HF's Llama layout,
rotate_half rotary, repeat_kv).  Only torch, numpy and json.
"""
import math
import json
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import load_hf_dir, read_safetensors, rotate_half  # noqa: E402

TOL = 1e-4


def read_matrix(path):
    ids, rows, title = [], [], None
    for line in open(path, encoding="utf-8"):
        if line.startswith("# token "):
            ids.append(int(line.split()[3]))
        elif line.startswith("#"):
            title = line
        elif line.strip():
            rows.append([float(x) for x in line.split()])
    m = re.search(r"layer (\d+), (?:head (\d+) of (\d+)|mean of (\d+) heads)", title or "")
    assert m, f"{path}: no title line"
    layer = int(m.group(1))
    head = int(m.group(2)) if m.group(2) is not None else None
    return np.array(ids), np.array(rows), layer, head


def gpt2_probs(ckpt, x, layer):
    """(H, T, T) attention probabilities of GPT-2's layer `layer`."""
    w, meta = read_safetensors(ckpt)
    c = json.loads(meta["tfs.config"])
    t = lambda k: torch.from_numpy(w[k].astype(np.float64))
    T, C, H = len(x), c["dim"], c["heads"]
    ln = lambda h, p: F.layer_norm(h, (C,), t(p + ".weight"), t(p + ".bias"), 1e-5)
    h = t("transformer.wte.weight")[x] + t("transformer.wpe.weight")[:T]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(layer + 1):
        p = f"transformer.h.{l}."
        q, k, v = (ln(h, p + "ln_1") @ t(p + "attn.c_attn.weight") + t(p + "attn.c_attn.bias")).split(C, 1)
        q, k, v = (z.view(T, H, C // H).transpose(0, 1) for z in (q, k, v))
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(C // H) + mask, -1)
        if l == layer:
            return att
        a = att @ v
        h = h + a.transpose(0, 1).reshape(T, C) @ t(p + "attn.c_proj.weight") + t(p + "attn.c_proj.bias")
        f = F.gelu(ln(h, p + "ln_2") @ t(p + "mlp.c_fc.weight") + t(p + "mlp.c_fc.bias"), approximate="tanh")
        h = h + f @ t(p + "mlp.c_proj.weight") + t(p + "mlp.c_proj.bias")


def llama_probs(hf_dir, x, layer):
    """(H, T, T) attention probabilities of the Llama reference's layer `layer`."""
    model, c = load_hf_dir(hf_dir)
    T, hs = len(x), c["dim"] // c["heads"]
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat((ang, ang), dim=-1)
    cos, sin = ang.cos(), ang.sin()
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    h = model.model.embed_tokens(torch.from_numpy(x)[None])
    for l, lay in enumerate(model.model.layers):
        if l == layer:
            a = lay.self_attn
            n = lay.input_layernorm(h)
            q = a.q_proj(n).view(1, T, a.nh, a.hs).transpose(1, 2)
            k = a.k_proj(n).view(1, T, a.nkv, a.hs).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = (k * cos + rotate_half(k) * sin).repeat_interleave(a.nh // a.nkv, dim=1)
            return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(a.hs) + mask, -1)[0]
        h = lay(h, cos, sin, mask)


def main():
    level, model, path = sys.argv[1:4]
    ids, got, layer, head = read_matrix(path)
    torch.set_grad_enabled(False)
    probs = (gpt2_probs if level == "custom" else llama_probs)(model, ids, layer)
    want = (probs.mean(0) if head is None else probs[head]).numpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = np.abs(got - want).max()
    what = "mean of heads" if head is None else f"head {head}"
    if diff > TOL:
        print(f"FAIL {level} layer {layer} {what}: differs from PyTorch by {diff:.2e} (> {TOL})")
        sys.exit(1)
    print(f"ok {level} layer {layer} {what}: {len(ids)} tokens within {diff:.1e} of PyTorch")


if __name__ == "__main__":
    main()
