#!/usr/bin/python3
"""torch_gpt2.py - check the autograd level against PyTorch.

    torch_gpt2.py DIR/ag.bin

ag.bin is written by `test_autograd_gpt2 --torch DIR` (format in
tests/unit/test_autograd_gpt2.c): the tiny config, a batch, the weights in
gpt2.h's block order, and what the C side computed: the loss, every
parameter's gradient, and the losses of 5 AdamW steps on that batch.

This script builds the same GPT-2 in PyTorch, in float64 (so that the
reference's own rounding is negligible), from the same weights, and prints
for each tensor the largest difference relative to the tensor's largest
magnitude.  It exits 1 when any exceeds its tolerance (float32 on the C
side: 1e-6 for the loss, 1e-5 for the gradients and the AdamW trajectory).
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_dump(path):
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != b"TFSAGDMP":
        sys.exit(f"{path}: not an autograd dump (make one with test_autograd_gpt2 --torch DIR)")
    (count,) = struct.unpack_from("<I", buf, 8)
    pos, out = 12, {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", buf, pos); pos += 4
        name = buf[pos:pos + n].decode(); pos += n
        dtype, ndim = struct.unpack_from("<II", buf, pos); pos += 8
        dims = struct.unpack_from(f"<{ndim}I", buf, pos); pos += 4 * ndim
        size = int(np.prod(dims))
        arr = np.frombuffer(buf, dtype="<f4" if dtype == 0 else "<u4", count=size, offset=pos)
        pos += 4 * size
        out[name] = arr.reshape(dims)
    return out


def gpt2_loss(P, idx, tgt, cfg):
    """The architecture of gpt2.h, written the PyTorch way."""
    V, ctx, L, NH, C, B, T = cfg
    hs = C // NH
    x = P["wte"][idx] + P["wpe"][:T]                                  # (B, T, C)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        h = F.layer_norm(x, (C,), P["ln1w"][l], P["ln1b"][l], 1e-5)
        qkv = F.linear(h, P["qkvw"][l], P["qkvb"][l])                  # (B, T, 3C)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + F.linear(y, P["attprojw"][l], P["attprojb"][l])
        h = F.layer_norm(x, (C,), P["ln2w"][l], P["ln2b"][l], 1e-5)
        h = F.gelu(F.linear(h, P["fcw"][l], P["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, P["fcprojw"][l], P["fcprojb"][l])
    x = F.layer_norm(x, (C,), P["lnfw"], P["lnfb"], 1e-5)
    logits = x @ P["wte"].T                                           # tied output projection
    return F.cross_entropy(logits.view(-1, V), tgt.view(-1))


def main():
    d = read_dump(sys.argv[1])
    cfg = [int(v) for v in d["config"]]
    V, ctx, L, NH, C, B, T = cfg
    shapes = {"wte": (V, C), "wpe": (ctx, C), "ln1w": (L, C), "ln1b": (L, C),
              "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C), "attprojb": (L, C),
              "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, 4 * C, C), "fcb": (L, 4 * C),
              "fcprojw": (L, C, 4 * C), "fcprojb": (L, C), "lnfw": (C,), "lnfb": (C,)}
    P = {k: torch.tensor(d[k].astype(np.float64).reshape(s), requires_grad=True) for k, s in shapes.items()}
    idx = torch.tensor(d["inputs"].astype(np.int64))
    tgt = torch.tensor(d["targets"].astype(np.int64))

    worst_ok = True

    def report(what, ours, ref, tol):
        nonlocal worst_ok
        ref = np.asarray(ref, dtype=np.float64).ravel()
        ours = np.asarray(ours, dtype=np.float64).ravel()
        scale = max(np.abs(ref).max(), 1e-30)
        rel = np.abs(ours - ref).max() / scale
        ok = rel <= tol
        worst_ok &= bool(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what:<16} max |ours - torch| / max |torch| = {rel:.2e} (tol {tol:g})")

    loss = gpt2_loss(P, idx, tgt, cfg)
    loss.backward()
    report("loss", d["loss"], [loss.item()], 1e-6)
    for k in shapes:
        report("grad." + k, d["grad." + k], P[k].grad.numpy(), 1e-5)

    # 5 AdamW steps on the same batch; matrices decay, the rest do not
    for k in P:
        P[k].grad = None
    matrices = ("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw")
    decay = [P[k] for k in matrices]
    rest = [P[k] for k in shapes if k not in matrices]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(len(d["adamw_losses"])):
        opt.zero_grad()
        loss = gpt2_loss(P, idx, tgt, cfg)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    report("adamw_losses", d["adamw_losses"], losses, 1e-5)
    print("losses ours :", " ".join(f"{v:.6f}" for v in d["adamw_losses"]))
    print("losses torch:", " ".join(f"{v:.6f}" for v in losses))
    sys.exit(0 if worst_ok else 1)


if __name__ == "__main__":
    main()
