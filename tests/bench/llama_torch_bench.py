"""llama_torch_bench.py V C L NH NKV F B T STEPS THREADS [INIT] - the PyTorch
side of tests/bench/50-baseline.sh: the same architecture
(tests/torch/llama_ref.py) in float32, forward + backward + AdamW on random
tokens, median step time of STEPS after one warm-up step; one JSON object on
stdout, with the loss of the first step and the set-up (torch_setup.py:
threads, BLAS and its OpenBLAS core, OMP_WAIT_POLICY, denormal mode).

INIT is the directory that `baseline_bench train ... INIT` writes: our
model's initial weights as a Hugging Face export and its first batch
(batch.safetensors), so both sides start from the same point and their first
losses agree (to float rounding).  Without INIT the weights get the
initialisation lib/llama/llama.c uses (llama_init_weights): N(0, 0.02), the two
projections into the residual stream (o_proj, down_proj) N(0, 0.02 /
sqrt(2 L)), RMSNorm gains 1."""
import json
import math
import os
import resource
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "torch"))
import torch_setup  # noqa: E402  (first: it sets the threads' MXCSR)
from llama_ref import LlamaRef, load_hf_dir, read_safetensors  # noqa: E402


def main():
    if len(sys.argv) not in (11, 12):
        print("usage: llama_torch_bench.py V C L NH NKV F B T STEPS THREADS [INIT]", file=sys.stderr)
        return 2
    V, C, L, NH, NKV, F, B, T, steps, threads = map(int, sys.argv[1:11])
    setup = torch_setup.configure(threads)
    torch.manual_seed(1)
    first = None
    if len(sys.argv) == 12:
        model, c = load_hf_dir(sys.argv[11], dtype=torch.float32)
        assert (c["vocab"], c["dim"], c["layers"], c["heads"], c["kv_heads"], c["hidden"]) == (V, C, L, NH, NKV, F), c
        batch, _ = read_safetensors(os.path.join(sys.argv[11], "batch.safetensors"))
        first = (torch.from_numpy(batch["inputs"].astype("int64")), torch.from_numpy(batch["targets"].astype("int64")))
    else:
        c = dict(vocab=V, dim=C, layers=L, heads=NH, kv_heads=NKV, hidden=F, tied=1,
                 rope_theta=10000.0, norm_eps=1e-5, context=T)
        model = LlamaRef(c)
        resid = 0.02 / math.sqrt(2 * L)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if p.dim() == 2:
                    p.normal_(0.0, resid if n.endswith(("o_proj.weight", "down_proj.weight")) else 0.02)
                else:
                    p.fill_(1.0)
    params = list(model.parameters())
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    times = []
    first_loss = None
    for s in range(steps + 1):
        if s == 0 and first:
            x, y = first
        else:
            x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
        t = time.perf_counter()
        _, loss = model(x, y)
        if s == 0:
            first_loss = loss.item()
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
                      "first_loss": round(first_loss, 4), "last_loss": round(loss.item(), 4),
                      "init": "tfs weights" if first else "N(0, 0.02), residual projections / sqrt(2 L)",
                      "setup": setup}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
