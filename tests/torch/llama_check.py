"""llama_check.py DIR - compare lib/llama.c with the PyTorch reference.

DIR is written by `test_llama --dump DIR`: config.json, the parameter
block, a batch, and C's logits, loss, gradients and parameters after one
AdamW step.  PyTorch (llama_ref.py, in float64) computes the same from the
same weights; AdamW steps from C's gradients; each tensor's error is max|c - torch| / max|torch|, and any
error above 1e-4 fails (exit 1).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import LlamaRef, from_block, load_config  # noqa: E402

TOL = 1e-4


def main():
    d = sys.argv[1]
    c = load_config(os.path.join(d, "config.json"))
    rd = lambda name, dt=np.float32: np.fromfile(os.path.join(d, name), dtype=dt)
    B, T, V = c["B"], c["T"], c["vocab"]
    torch.manual_seed(0)
    model = LlamaRef(c).double()
    sd = {k: torch.from_numpy(v.astype(np.float64)) for k, v in from_block(rd("params.bin"), c).items()}
    if c["tied"]:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    model.load_state_dict(sd, strict=True)
    idx = torch.from_numpy(rd("inputs.bin", np.uint32).astype(np.int64)).view(B, T)
    tgt = torch.from_numpy(rd("targets.bin", np.uint32).astype(np.int64)).view(B, T)

    worst, fails = 0.0, []

    def report(name, ours, ref):
        nonlocal worst
        ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
        assert ours.shape == ref.shape, (name, ours.shape, ref.shape)
        scale = np.abs(ref).max()
        err = np.abs(ours - ref).max() / scale if scale > 0 else np.abs(ours).max()
        worst = max(worst, err)
        flag = ""
        if not err <= TOL or scale == 0:
            fails.append(name)
            flag = "  FAIL" if scale > 0 else "  FAIL (reference is all zero)"
        print(f"{name:52s} max rel err {err:.2e}  (max |ref| {scale:.3g}){flag}")

    logits, loss = model(idx, tgt)
    report("logits", rd("logits.bin").reshape(B, T, V), logits.detach().numpy())
    report("loss", rd("loss.bin"), loss.detach().numpy().reshape(1))
    loss.backward()
    cg = from_block(rd("grads.bin"), c)
    named = dict(model.named_parameters())    # a tied lm_head appears once, as the embedding
    for name, p in named.items():
        report("grad " + name, cg[name], p.grad.numpy())

    decay = [p for n, p in named.items() if p.dim() == 2]
    no_decay = [p for n, p in named.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])
    # The optimizer is checked on its own: torch steps from C's gradients.
    # (From its own gradients, a gradient near zero, whose relative error is
    # large in float, turns into a full-size first Adam step of either sign.)
    for name, p in named.items():
        p.grad = torch.from_numpy(cg[name].astype(np.float64))
    opt.step()
    ca = from_block(rd("params_after.bin"), c)
    before = from_block(rd("params.bin"), c)
    for name, p in named.items():
        # compare the update (after - before): the parameters themselves
        # would hide an error in a step that is small next to them
        report("adamw step " + name, ca[name].astype(np.float64) - before[name],
               p.detach().numpy() - before[name])
    print(f"worst max rel err {worst:.2e} over {3 + 2 * len(named) - 1} tensors; tolerance {TOL:g}")
    if fails:
        print("FAILED: " + ", ".join(fails))
        sys.exit(1)


if __name__ == "__main__":
    main()
