"""llama_torch_bench.py V C L NH NKV F B T STEPS THREADS - the PyTorch side of
tests/bench/50-baseline.sh: the same architecture (tests/torch/llama_ref.py)
in float32, forward + backward + AdamW on random tokens, median step time of
STEPS after one warm-up step; one JSON object on stdout."""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from llama_ref import LlamaRef  # noqa: E402


def main():
    V, C, L, NH, NKV, F, B, T, steps, threads = map(int, sys.argv[1:11])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    c = dict(vocab=V, dim=C, layers=L, heads=NH, kv_heads=NKV, hidden=F, tied=1,
             rope_theta=10000.0, norm_eps=1e-5, context=T)
    model = LlamaRef(c)
    for n, p in model.named_parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02)
    params = list(model.parameters())
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-4, betas=(0.9, 0.95))
    times = []
    for s in range(steps + 1):
        x = torch.randint(0, V, (B, T))
        y = torch.randint(0, V, (B, T))
        t = time.perf_counter()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    med = sorted(times[1:])[steps // 2]
    nparams = sum(p.numel() for p in params)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "params": nparams, "B": B, "T": T,
                      "threads": torch.get_num_threads(), "steps": steps, "median_step_s": round(med, 4),
                      "tokens_per_s": round(B * T / med, 1), "peak_rss_mb": round(rss, 1),
                      "last_loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
