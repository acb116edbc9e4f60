#!/usr/bin/python3
"""torch_train.py - PyTorch's side of tests/bench/20-model.sh: the same
GPT-2 as tests/torch/gpt2_reference.py (torch.nn, float32 here), timed on
the same training step as model_bench: forward, zero_grad, backward,
gradient-norm clipping, AdamW.

    /usr/bin/python3 tests/bench/torch_train.py V CTX L NH C B T STEPS THREADS [INIT]

INIT is the file that `model_bench train ... INIT` writes: our model's
initial weights and its batch, so both sides start from the same point and
their first losses agree (to float rounding).  Without INIT the weights get
GPT-2's initialisation, the one lib/gpt2/gpt2.c uses (gpt2_init_weights): every
matrix and embedding N(0, 0.02), the two projections into the residual
stream N(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm gains 1.  (torch.nn's
own defaults, N(0, 1) embeddings, start from a loss near 84 instead of
ln V, and their tiny gradients turn into slow denormal arithmetic.)

Threads, denormal mode and the BLAS record: torch_setup.py.  Prints one JSON
object like model_bench's.  Run it with the same OMP_WAIT_POLICY and BLAS
as model_bench (20-model.sh does).
"""
import json
import math
import os
import resource
import statistics
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "torch"))
import torch_setup  # noqa: E402  (first: it sets the threads' MXCSR)
from gpt2_reference import GPT2, load_safetensors, our_tensors  # noqa: E402


def load_init(model, path, L):
    """Copy our weights (flat, gpt2.h layout) into the modules; return the batch."""
    t, _ = load_safetensors(path)
    with torch.no_grad():
        for name, mods in our_tensors(model).items():
            w = torch.from_numpy(t[name].copy())
            if name in ("wte", "wpe", "lnfw", "lnfb"):
                mods[0].copy_(w.view(mods[0].shape))
            else:                                   # stacked over layers: (L, ...)
                w = w.view(L, *mods[0].shape)
                for l, m in enumerate(mods):
                    m.copy_(w[l])
    return torch.from_numpy(t["inputs"].astype("int64")), torch.from_numpy(t["targets"].astype("int64"))


def gpt2_init(model, L):
    resid = 0.02 / math.sqrt(2 * L)
    with torch.no_grad():
        for name, mods in our_tensors(model).items():
            for m in mods:
                if name in ("ln1w", "ln2w", "lnfw"):
                    m.fill_(1.0)
                elif m.dim() == 1:
                    m.zero_()
                else:
                    m.normal_(0.0, resid if name in ("attprojw", "fcprojw") else 0.02)


def main():
    if len(sys.argv) not in (10, 11):
        print("usage: torch_train.py V CTX L NH C B T STEPS THREADS [INIT]", file=sys.stderr)
        return 2
    V, ctx, L, NH, C, B, T, steps, threads = (int(a) for a in sys.argv[1:10])
    setup = torch_setup.configure(threads)
    torch.manual_seed(1)
    model = GPT2(V, ctx, L, NH, C)
    if len(sys.argv) == 11:
        idx, tgt = load_init(model, sys.argv[10], L)
    else:
        gpt2_init(model, L)
        idx, tgt = torch.randint(V, (B, T)), torch.randint(V, (B, T))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    times = []
    first_loss = None
    warm = max(1, int(os.environ.get("TFS_BENCH_WARMUP") or 2))   # as model_bench
    for k in range(warm + steps):
        t0 = time.perf_counter()
        _, loss = model(idx, tgt)
        if k == 0:
            first_loss = loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if k >= warm:
            times.append(time.perf_counter() - t0)
    s = statistics.median(times)
    nparams = sum(p.numel() for p in model.parameters())
    nonpos = nparams - model.wpe.weight.numel()
    fpt = 6 * nonpos + 12 * L * T * C
    print(json.dumps({"params": nparams, "batch": B, "seq": T, "threads": torch.get_num_threads(),
                      "step_seconds": round(s, 6), "tokens_per_s": round(B * T / s, 1),
                      "flops_per_token": fpt, "gflops": round(B * T * fpt / s / 1e9, 2),
                      "first_loss": round(first_loss, 4), "loss": round(loss.item(), 4),
                      "init": "tfs weights" if len(sys.argv) == 11 else "GPT-2 N(0, 0.02)",
                      "torch": torch.__version__,
                      "setup": dict(setup, max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
