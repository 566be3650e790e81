"""Reference values for moice.train.AdamW: torch.optim.AdamW on 12 float32 parameters (one MoICE router layer with N = 2, d = 2) over 3 steps.

Run by hand (never at test time):  /work/refvenv/bin/python scripts/reference/make_adamw_fixture.py
Writes cli/src/test/resources/train/adamw.json with, per case: the settings, the learning rate of each step (so that a
warm-up schedule is given explicitly), the initial parameters, the gradient fed at each step and torch's parameters
and moments after each step.
"""
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "cli/src/test/resources/train/adamw.json"


def run_case(name, weight_decay, lrs, seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.nn.Parameter(torch.randn(12, generator=g, dtype=torch.float32) * 0.05)
    init = p.detach().clone()
    opt = torch.optim.AdamW([p], lr=lrs[0], betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    grads, params, m, v = [], [], [], []
    for step, lr in enumerate(lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        grad = torch.randn(12, generator=g, dtype=torch.float32) * (0.1 if step != 1 else 3.0)
        grad[3] = 0.0  # an element whose gradient is zero at some step
        grad[7] = 1e-9 if step == 0 else grad[7]  # tiny gradient: eps matters
        p.grad = grad.clone()
        opt.step()
        state = opt.state[p]
        grads.append(grad.tolist())
        params.append(p.detach().tolist())
        m.append(state["exp_avg"].tolist())
        v.append(state["exp_avg_sq"].tolist())
    return {"name": name, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay, "lrs": lrs,
            "init": init.tolist(), "grads": grads, "params": params, "m": m, "v": v}


def main():
    cases = [
        run_case("constant lr, no weight decay", 0.0, [1e-3, 1e-3, 1e-3], 1),
        run_case("warm-up 1/3, 2/3, 1 of 1e-2 and weight decay 0.1", 0.1, [1e-2 / 3, 2e-2 / 3, 1e-2], 2),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"_provenance": "torch " + torch.__version__ + " torch.optim.AdamW (foreach=None, "
                                              "amsgrad=False), float32; scripts/reference/make_adamw_fixture.py",
                               "cases": cases}, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
