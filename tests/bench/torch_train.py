#!/usr/bin/python3
"""torch_train.py - PyTorch's side of tests/bench/20-model.sh: the same
GPT-2 as tests/torch/gpt2_reference.py (torch.nn, float32 here), timed on
the same training step as model_bench: forward, zero_grad, backward,
gradient-norm clipping, AdamW.

    /usr/bin/python3 tests/bench/torch_train.py V CTX L NH C B T STEPS THREADS

Prints one JSON object like model_bench's.  Run it with
OMP_WAIT_POLICY=PASSIVE (the benchmark script does).
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from gpt2_reference import GPT2  # noqa: E402


def main():
    V, ctx, L, NH, C, B, T, steps, threads = (int(a) for a in sys.argv[1:10])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = GPT2(V, ctx, L, NH, C)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    idx = torch.randint(V, (B, T))
    tgt = torch.randint(V, (B, T))
    times = []
    for k in range(2 + steps):
        t0 = time.perf_counter()
        _, loss = model(idx, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if k >= 2:
            times.append(time.perf_counter() - t0)
    s = statistics.median(times)
    nparams = sum(p.numel() for p in model.parameters())
    nonpos = nparams - model.wpe.weight.numel()
    fpt = 6 * nonpos + 12 * L * T * C
    print(json.dumps({"params": nparams, "batch": B, "seq": T, "threads": torch.get_num_threads(),
                      "step_seconds": round(s, 6), "tokens_per_s": round(B * T / s, 1),
                      "flops_per_token": fpt, "gflops": round(B * T * fpt / s / 1e9, 2),
                      "loss": round(loss.item(), 4), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
