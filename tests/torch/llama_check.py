"""llama_check.py DIR - compare lib/llama/llama.c with the PyTorch reference.

DIR is written by `llama_dump DIR`: DIR/hf is the model before the step as
a Hugging Face export (config.json + model.safetensors); loading it into
llama_ref.LlamaRef, which has LlamaForCausalLM's names and shapes, with
strict=True checks the export.  DIR/result.safetensors holds the batch and
what C computed.  PyTorch (float64) computes logits, loss and gradients from
the same weights, and steps AdamW from C's gradients (a gradient near zero,
whose relative error is large in float, would otherwise become a full-size
first Adam step of either sign).  Each tensor's error is
max|c - torch| / max|torch|; any error above 1e-4 fails (exit 1).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import load_hf_dir, read_safetensors  # noqa: E402

TOL = 1e-4


def main():
    d = sys.argv[1]
    model, c = load_hf_dir(os.path.join(d, "hf"))
    print(f"export loads as a Llama model: {c['layers']} layers, {c['heads']} heads, "
          f"{c['kv_heads']} kv heads, tied={c['tied']}")
    res, meta = read_safetensors(os.path.join(d, "result.safetensors"))
    adamw = json.loads(meta["adamw"])
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    idx = torch.from_numpy(res["inputs"].astype(np.int64))
    tgt = torch.from_numpy(res["targets"].astype(np.int64))
    fails, count = [], 0

    def report(name, ours, ref):
        nonlocal count
        ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
        assert ours.shape == ref.shape, (name, ours.shape, ref.shape)
        scale = np.abs(ref).max()
        err = np.abs(ours - ref).max() / scale if scale > 0 else np.inf
        count += 1
        ok = err <= TOL
        if not ok:
            fails.append(name)
        print(f"{'ok  ' if ok else 'FAIL'} {name:56s} rel {err:.2e}  (max |ref| {scale:.3g})")

    logits, loss = model(idx, tgt)
    report("logits", res["logits"], logits.detach().numpy())
    report("loss", res["loss"], loss.detach().numpy().reshape(1))
    loss.backward()
    named = dict(model.named_parameters())    # a tied lm_head appears once, as the embedding
    for name, p in named.items():
        report("grad." + name, res["grad." + name], p.grad.numpy())
    decay = [p for p in named.values() if p.dim() == 2]
    no_decay = [p for p in named.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": adamw["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=adamw["lr"], betas=(adamw["beta1"], adamw["beta2"]), eps=adamw["eps"])
    for name, p in named.items():
        p.grad = torch.from_numpy(res["grad." + name].astype(np.float64))
    opt.step()
    for name, p in named.items():
        # the update (after - before): the weights themselves would hide an
        # error in a step that is small next to them
        report("after." + name, res["after." + name].astype(np.float64) - before[name],
               p.detach().numpy() - before[name])
    if fails:
        print(f"{len(fails)} tensors differ from PyTorch by more than {TOL:g}: " + ", ".join(fails))
        sys.exit(1)
    print(f"all {count} tensors match PyTorch (rel <= {TOL:g})")


if __name__ == "__main__":
    main()
