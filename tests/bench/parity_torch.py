#!/usr/bin/python3
"""parity_torch.py - the PyTorch twin of a tfs-train run, for
tests/bench/70-parity.sh: the same model from the same initial weights, the
same windows of the same token stream, the same AdamW, schedule, clipping
and gradient accumulation, written the way a PyTorch user would.

    parity_torch.py LEVEL INIT TRAIN VAL OUT.jsonl --steps S --batch B --accum A
                    --lr LR --min-lr LR --warmup W --clip C --weight-decay WD
                    --beta1 B1 --beta2 B2 --eps E --seed S --eval-every N
                    --eval-batches K --threads N [--seconds X]

LEVEL is custom (GPT-2) or baseline (Llama-style); INIT a checkpoint of tfs
(tests/bench/parity_init), read by its tensor names: Hugging Face GPT-2's
for custom (Conv1D weights stored (in, out)), Hugging Face Llama's for the
baseline (tests/torch/llama_ref.py).  TRAIN and VAL are token streams
(tfs-tokens(5)).  OUT gets one JSON line per step in tfs-train's --log
format (step, tokens, loss, lr, grad_norm, tokens_per_s, flops, elapsed_s,
and val_loss every --eval-every steps and at the end), so that
pipelines/compare-runs draws both runs alike.  With --seconds, training
stops after that many seconds of training (the race), as SIGINT stops
tfs-train.  Prints one JSON object: steps, seconds, and the loss over the
whole of VAL at the end.

What is tfs-train's, restated from its documentation and code (not shared):
  - data: each micro-batch is B windows of T + 1 tokens, ids[off .. off+T],
    off = rng_below(n - T) for the stream's n tokens, drawn one window
    after the other from xoshiro256** seeded by splitmix64 with seed + 1
    (lib/core/rng.c; tfs-train(1));
  - learning rate at step s (from 1): lr s / W during the warmup, then
    min_lr + (lr - min_lr) (1 + cos(pi q)) / 2, q = (s - W) / (S - W);
  - the gradient of a step is the mean of its A micro-batches' gradients;
    it is scaled by C / |g| when its global norm |g| exceeds C;
  - AdamW (torch.optim.AdamW) with weight decay on the matrices and
    embeddings only (tensors of two or more dimensions);
  - model FLOPs: 6 N + 12 L T C per token (gpt2.h, llama.h), logged with
    six significant digits as tfs-train logs them;
  - validation: the first K B T + 1 tokens of VAL, cut into windows of T
    that overlap by one token (evaluate.h), the mean loss over all
    predicted tokens.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "torch"))
import torch_setup  # noqa: E402  (first: it sets the threads' MXCSR)
from llama_ref import LlamaRef, read_safetensors  # noqa: E402

M64 = (1 << 64) - 1


# ---- the data order: tfs's generator, from its definition ------------------
class Xoshiro256ss:
    """xoshiro256** (Blackman and Vigna 2018), seeded with splitmix64."""

    def __init__(self, seed):
        self.s = []
        x = seed & M64
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        out = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return out

    def below(self, n):
        """uniform in [0, n): draws at or above the largest multiple of n are rejected"""
        if n <= 1:
            return 0
        limit = M64 - M64 % n
        while True:
            x = self.next()
            if x < limit:
                return x % n


def read_tokens(path):
    """The ids of a token stream: a 1024-byte header (magic 20240520: 16-bit
    ids, 20240801: 32-bit), then the ids."""
    h = np.fromfile(path, dtype="<i4", count=256)
    dtype = {20240520: "<u2", 20240801: "<u4"}.get(int(h[0]))
    assert dtype, f"{path}: not a token stream"
    return np.fromfile(path, dtype=dtype, offset=1024).astype(np.int64)


# ---- the models ---------------------------------------------------------------
class GPT2(nn.Module):
    """GPT-2 on Hugging Face's tensor names and Conv1D layout: y = x W + b."""

    def __init__(self, tensors, c):
        super().__init__()
        self.c = c
        self.names = sorted(tensors)
        self.p = nn.ParameterList(nn.Parameter(torch.from_numpy(tensors[n].copy())) for n in self.names)
        self.w = {n: p for n, p in zip(self.names, self.p)}

    def mask(self, T):
        return torch.full((T, T), float("-inf")).triu(1)

    def forward(self, idx, targets=None):
        w, c = self.w, self.c
        B, T = idx.shape
        C, H = c["dim"], c["heads"]
        ln = lambda x, p: F.layer_norm(x, (C,), w[p + ".weight"], w[p + ".bias"], 1e-5)
        x = w["transformer.wte.weight"][idx] + w["transformer.wpe.weight"][:T]
        for l in range(c["layers"]):
            p = f"transformer.h.{l}."
            q, k, v = (ln(x, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).split(C, 2)
            q, k, v = (z.view(B, T, H, C // H).transpose(1, 2) for z in (q, k, v))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // H) + self.mask(T), -1) @ v
            x = x + a.transpose(1, 2).reshape(B, T, C) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            f = F.gelu(ln(x, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
            x = x + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        logits = ln(x, "transformer.ln_f") @ w["transformer.wte.weight"].T
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def load_model(level, path):
    tensors, meta = read_safetensors(path)
    c = json.loads(meta["tfs.config"])
    if level == "custom":
        return GPT2(tensors, c), c
    model = LlamaRef(c)
    sd = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    if c["tied"]:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    model.load_state_dict(sd, strict=True)
    return model, c


# ---- the run -----------------------------------------------------------------
def lr_at(a, s):
    if s <= a.warmup:
        return a.lr * s / a.warmup
    if a.steps <= a.warmup:
        return a.lr
    q = min(1.0, (s - a.warmup) / (a.steps - a.warmup))
    return a.min_lr + (a.lr - a.min_lr) * 0.5 * (1 + math.cos(math.pi * q))


@torch.no_grad()
def evaluate(model, ids, B, T):
    """Mean loss over windows of T that overlap by one token (evaluate.h)."""
    nll, count, s = 0.0, 0, 0
    n = len(ids)
    while s + 1 < n:
        starts = []
        while len(starts) < B and s + T + 1 <= n:
            starts.append(s)
            s += T
        if not starts:                              # the last, shorter window
            L = n - 1 - s
            x = torch.from_numpy(ids[s:s + L])[None]
            y = torch.from_numpy(ids[s + 1:s + 1 + L])[None]
            s = n
        else:
            x = torch.from_numpy(np.stack([ids[t:t + T] for t in starts]))
            y = torch.from_numpy(np.stack([ids[t + 1:t + T + 1] for t in starts]))
        _, loss = model(x, y)
        nll += loss.item() * y.numel()
        count += y.numel()
    return nll / count


def main():
    ap = argparse.ArgumentParser()
    for name in ("level", "init", "train", "val", "out"):
        ap.add_argument(name)
    for name, t in (("steps", int), ("batch", int), ("accum", int), ("lr", float), ("min_lr", float),
                    ("warmup", int), ("clip", float), ("weight_decay", float), ("beta1", float),
                    ("beta2", float), ("eps", float), ("seed", int), ("eval_every", int),
                    ("eval_batches", int), ("threads", int)):
        ap.add_argument("--" + name.replace("_", "-"), type=t, required=True)
    ap.add_argument("--seconds", type=float, default=0)
    a = ap.parse_args()
    setup = torch_setup.configure(a.threads)
    torch.manual_seed(0)                            # nothing random is drawn by torch; for certainty
    model, c = load_model(a.level, a.init)
    T, B = c["context"], a.batch
    train, val = read_tokens(a.train), read_tokens(a.val)
    fixed_val = val[:a.eval_batches * B * T + 1]
    params = list(model.parameters())
    # model FLOPs per token, as tfs counts them: 6 N + 12 L T C, N for
    # GPT-2 every parameter but the position table (gpt2.h), for the
    # baseline the matrices, less an untied embedding table (llama.h)
    if a.level == "custom":
        N = sum(p.numel() for p in params) - c["context"] * c["dim"]
    else:
        N = sum(p.numel() for p in params if p.dim() >= 2) - (0 if c["tied"] else c["vocab"] * c["dim"])
    fpt = 6 * N + 12 * c["layers"] * T * c["dim"]
    decay = [p for p in params if p.dim() >= 2]
    other = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps)
    rng = Xoshiro256ss(a.seed + 1)
    n = len(train)
    per_step = a.accum * B * T
    elapsed, flops = 0.0, 0.0
    log = open(a.out, "w")
    step = 0
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        lr = lr_at(a, step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for _ in range(a.accum):
            offs = [rng.below(n - T) for _ in range(B)]
            x = torch.from_numpy(np.stack([train[o:o + T] for o in offs]))
            y = torch.from_numpy(np.stack([train[o + 1:o + T + 1] for o in offs]))
            _, loss = model(x, y)
            (loss / a.accum).backward()
            loss_sum += loss.item()
        # the global norm, then g * clip / |g| when |g| > clip
        norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        if a.clip > 0 and norm > a.clip:
            for p in params:
                p.grad.mul_(a.clip / norm)
        opt.step()
        dt = time.perf_counter() - t0
        elapsed += dt
        flops += fpt * per_step
        row = {"step": step, "tokens": step * per_step, "loss": round(loss_sum / a.accum, 6),
               "lr": lr, "grad_norm": norm, "tokens_per_s": round(per_step / dt, 1),
               "flops": float(f"{flops:.6g}"), "elapsed_s": round(elapsed, 3)}
        over = a.seconds and elapsed >= a.seconds
        if (a.eval_every and step % a.eval_every == 0) or step == a.steps or over:
            row["val_loss"] = round(evaluate(model, fixed_val, B, T), 6)
        log.write(json.dumps(row) + "\n")
        if over:
            break
    log.close()
    print(json.dumps({"steps": step, "seconds": round(elapsed, 3), "val_loss": evaluate(model, val, B, T),
                      "torch": torch.__version__, "setup": setup}))


if __name__ == "__main__":
    main()
