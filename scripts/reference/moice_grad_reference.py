"""Reference gradients of the MoICE router-training objective, for the Java backward pass
(cli/src/test/resources/moice-grad/<case>/).

Run from anywhere:  python scripts/reference/moice_grad_reference.py  [case ...]
Deterministic (one thread) and idempotent: each case directory is rebuilt from scratch.

Objective (docs/method.md, "Training the routers"; the Java seam is moice.train.RouterObjective):
  loss = CE + aux_coef * L_aux
  CE    = mean over the target positions t (1 <= t < T, targets[t] true; all of them when targets is null) of
          -log softmax(logits[t-1])[tokens[t]]
  L_aux = N * sum_k sum_n f[k][n] * Pbar[n], over ALL routing events (layer, token, head) of the sequence, whatever
          the targets: P = softmax(z) of the event's router logits z; f[k][n] = fraction of events whose k-th choice
          (stable descending sort of z, ties -> lower index, as moice_reference.py) is expert n, no gradient;
          Pbar[n] = mean of P[:, n] over the events. Since only sum_k f[k][n] enters, the order of the K choices
          does not change L_aux; with K = N, L_aux = N exactly and its gradient is zero.
The gradient is what autograd gives through the MoICE forward of moice_reference.py (imported, not copied): through
the renormalised top-K weights, the attention of later layers, and from each router's input x = RoPE(q, B_1) back
into q and the earlier layers. Only the routers (gate_1/2/3) require grad; the model is frozen.

Precision: the model and the routers are widened to float64 (`.double()`); transformers' RMSNorm computes in
float32 whatever the input, so its forward is replaced by the same formula without the cast; moice_reference.py's
softmaxes follow the input dtype (float64 here). Only the RoPE cos/sin tables stay transformers' float32 values
(constants, not on the gradient path).

Checks before a case is written (the script stops if one fails):
  - the float64 forward selects the same experts as the fixture's routing.json and its logits agree with the
    fixture's float32 logits;
  - the loss agrees with an independent float64 numpy evaluation (moice_numpy.py forward + a numpy loss);
  - central finite differences (step FD_STEP) of the float64 torch loss AND of the numpy loss agree with the autograd
    gradient on a few entries of every gate of every layer (the largest |gradient| and a seeded random entry);
  - at +-FD_STEP on each of those entries every routing event keeps the same experts in the same order (no
    near-tie flips), and the smallest gap of adjacent ranks 1..K+1 over all events is reported.
"""

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moice_numpy  # noqa: E402
import moice_reference as mr  # noqa: E402
import numpy_forward  # noqa: E402

RESOURCES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "cli", "src", "test", "resources"))
GRAD_DIR = os.path.join(RESOURCES, "moice-grad")

OFFICIAL_AUX_COEF = 0.3
FD_STEP = 1e-5                # central differences in float64: truncation ~h^2, rounding ~1e-16 |loss| / h
FD_TORCH_REL_TOL = 1e-5       # autograd vs finite differences of the same float64 function (noise ~1e-6 of this)
FD_NUMPY_REL_TOL = 3e-4       # ... of the independent numpy function (its RoPE tables are float64, here float32)
LOSS_NUMPY_REL_TOL = 1e-6
LOGITS_F32_REL_TOL = 2e-5     # float64 forward vs the fixture's float32 logits
MIN_PATH_EFFECT = 1e-2       # each gradient path / loss term must move the gradient by more than this
FD_ENTRIES_PER_GATE = 2       # the largest |gradient| and one seeded random entry


def case_specs():
    cases = {}
    for fixture in ("llama-gqa", "qwen2-bias-tied", "mistral-mqa", "llama-gqa-k7"):
        cases[f"{fixture}-ce"] = dict(fixture=fixture, aux_coef=0.0, targets=None)
        cases[f"{fixture}-aux"] = dict(fixture=fixture, aux_coef=OFFICIAL_AUX_COEF, targets=None)
        cases[f"{fixture}-aux-half"] = dict(fixture=fixture, aux_coef=OFFICIAL_AUX_COEF, targets="second-half")
    return cases


def target_mask(kind, length):
    """The Java `targets` array: targets[t] true when token t is predicted from position t-1; [0] always false."""
    if kind is None:
        return None
    if kind == "second-half":
        return [t >= length // 2 for t in range(length)]
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------------------------
# float64 model

def rms_norm_wide(self, hidden_states):
    """transformers' RMSNorm formula without its cast to float32."""
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def load_moice_model(model_dir, routers_path, dtype):
    """The frozen model with MoICE from the router file; only the gates require grad."""
    model = mr.load_routers(mr.load_model(model_dir), routers_path).to(dtype)
    if dtype == torch.float64:
        for module in model.modules():
            if type(module).__name__.endswith("RMSNorm"):
                module.forward = types.MethodType(rms_norm_wide, module)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(".self_attn.gate_" in name)
    return model


def gates(model):
    """Router parameters by their file names, in layer order."""
    return {name: p for name, p in model.named_parameters() if ".self_attn.gate_" in name}


def run_forward(model, tokens):
    """(logits [T, V], router logits per layer [H, T, N]) with the autograd graph."""
    captured = []
    hooks = [layer.self_attn.gate_2.register_forward_hook(lambda module, args, out: captured.append(out[0]))
             for layer in model.model.layers]
    try:
        logits = model(torch.tensor([tokens]), use_cache=False).logits[0]
    finally:
        for hook in hooks:
            hook.remove()
        for layer in model.model.layers:
            layer.self_attn.moice.trace.clear()
    return logits, captured


def selection(z, top_k):
    """Experts chosen per event, best first (stable sort: ties -> lower index), as moice_reference.py."""
    return torch.sort(z, dim=-1, descending=True, stable=True).indices[..., :top_k]


def objective(logits, router_logits, tokens, targets, aux_coef, top_k):
    """Torch loss parts; also the aux statistics f [K, N] and Pbar [N]."""
    n = router_logits[0].shape[-1]
    per_target = nn.functional.cross_entropy(logits[:-1], torch.tensor(tokens[1:]), reduction="none")
    if targets is not None:
        per_target = per_target[torch.tensor(targets[1:])]
    ce = per_target.mean()
    z = torch.cat([layer.reshape(-1, n) for layer in router_logits])                   # [events, N]
    probs = torch.softmax(z, dim=-1)
    f = nn.functional.one_hot(selection(z.detach(), top_k), n).to(z.dtype).mean(dim=0)  # [K, N]
    p_bar = probs.mean(dim=0)
    aux = n * (f * p_bar).sum()
    return dict(total=ce + aux_coef * aux, ce=ce, aux=aux, f=f, p_bar=p_bar, events=z.shape[0])


def numpy_objective(logits, router_logits, tokens, targets, aux_coef, top_k):
    """The same loss in numpy from moice_numpy's logits [T, V] and router logits (per layer [T, H, N])."""
    shifted = logits[:-1] - logits[:-1].max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    per_target = -log_probs[np.arange(len(tokens) - 1), np.asarray(tokens[1:])]
    if targets is not None:
        per_target = per_target[np.asarray(targets[1:])]
    n = router_logits[0].shape[-1]
    z = np.concatenate([layer.reshape(-1, n) for layer in router_logits])
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    chosen = np.argsort(-z, axis=-1, kind="stable")[:, :top_k]
    f = np.stack([np.bincount(chosen[:, k], minlength=n) for k in range(top_k)]) / z.shape[0]
    aux = n * float((f * probs.mean(axis=0)).sum())
    return float(per_target.mean()) + aux_coef * aux, chosen


# ----------------------------------------------------------------------------------------------------------------
# Checks

def rank_gap(router_logits, top_k):
    """Smallest difference between adjacent ranks 1..K+1 of z over all events (inf when K = N = 1)."""
    n = router_logits[0].shape[-1]
    z = torch.cat([layer.detach().reshape(-1, n) for layer in router_logits])
    ranked = torch.sort(z, dim=-1, descending=True).values
    gaps = (ranked[:, :-1] - ranked[:, 1:])[:, :min(top_k, n - 1)]
    return float(gaps.min()) if gaps.numel() else math.inf


def fd_entries(grads, seed):
    """(name, flat index) pairs: per gate the largest |gradient| and one seeded random entry."""
    generator = torch.Generator().manual_seed(seed)
    entries = []
    for name, grad in grads.items():
        flat = grad.flatten()
        picks = [int(flat.abs().argmax())]
        while len(picks) < FD_ENTRIES_PER_GATE:
            pick = int(torch.randint(flat.numel(), (1,), generator=generator))
            if pick not in picks:
                picks.append(pick)
        entries += [(name, i) for i in picks]
    return entries


def finite_difference_checks(case, model, tokens, targets, aux_coef, top_k, bases, config, weights, grads,
                             base_selection):
    """Central differences of the torch float64 loss and of the numpy loss on a few router entries."""
    params = gates(model)
    routers = {name: p.detach().numpy().copy() for name, p in params.items()}
    worst_torch = worst_numpy = 0.0
    overall = max(float(grad.abs().max()) for grad in grads.values())
    rows = []
    for name, index in fd_entries(grads, seed=len(case)):
        scale = float(grads[name].abs().max())
        values = {}
        for sign in (1, -1):
            with torch.no_grad():
                flat = params[name].view(-1)
                original = float(flat[index])
                flat[index] = original + sign * FD_STEP
                logits, router_logits = run_forward(model, tokens)
                loss = objective(logits, router_logits, tokens, targets, aux_coef, top_k)["total"]
                moved = [selection(layer, top_k) for layer in router_logits]
                flat[index] = original
            assert all(torch.equal(a, b) for a, b in zip(moved, base_selection)), \
                f"{case}: a step of {sign * FD_STEP:g} on {name}[{index}] changes a top-K selection"
            perturbed = {k: v.copy() for k, v in routers.items()}
            perturbed[name].reshape(-1)[index] += sign * FD_STEP
            np_logits, routing = moice_numpy.moice_logits(config, weights, tokens, perturbed, bases, top_k)
            np_loss, _ = numpy_objective(np_logits, [z for _, _, z in routing], tokens, targets, aux_coef, top_k)
            values[sign] = (float(loss), np_loss)
        fd_torch = (values[1][0] - values[-1][0]) / (2 * FD_STEP)
        fd_numpy = (values[1][1] - values[-1][1]) / (2 * FD_STEP)
        autograd = float(grads[name].reshape(-1)[index])
        # Relative to the entry, but entries far below the gate's (or the whole gradient's) largest value are judged
        # against 1% of the gate's (0.1% of the overall) largest |gradient|: the rounding noise of the difference
        # quotient, ~1e-16 |loss| / FD_STEP, is absolute.
        denominator = max(abs(fd_torch), 1e-2 * scale, 1e-3 * overall)
        err_torch = abs(autograd - fd_torch) / denominator
        err_numpy = abs(autograd - fd_numpy) / denominator
        assert err_torch <= FD_TORCH_REL_TOL, f"{case}: {name}[{index}] autograd {autograd} vs torch FD {fd_torch}"
        assert err_numpy <= FD_NUMPY_REL_TOL, f"{case}: {name}[{index}] autograd {autograd} vs numpy FD {fd_numpy}"
        worst_torch, worst_numpy = max(worst_torch, err_torch), max(worst_numpy, err_numpy)
        rows.append((name, index, autograd, fd_torch, fd_numpy))
    return worst_torch, worst_numpy, rows


def gradients_without_router_input_path(model, tokens, targets, aux_coef, top_k):
    """The gradient when no gradient flows from the routers' input x = RoPE(q, B_1) back into q: what a backward pass
    that forgets this path would give (its routers of earlier layers differ)."""
    hooks = [gate.register_forward_pre_hook(lambda module, args: (args[0].detach(),))
             for layer in model.model.layers for gate in (layer.self_attn.gate_1, layer.self_attn.gate_3)]
    try:
        model.zero_grad(set_to_none=True)
        logits, router_logits = run_forward(model, tokens)
        objective(logits, router_logits, tokens, targets, aux_coef, top_k)["total"].backward()
    finally:
        for hook in hooks:
            hook.remove()
    result = {name: p.grad.detach().clone() for name, p in gates(model).items()}
    model.zero_grad(set_to_none=True)
    return result


def float32_gradients(model_dir, routers_path, tokens, targets, aux_coef, top_k):
    """What plain float32 torch gives (what an fp32 engine can be expected to reach)."""
    model = load_moice_model(model_dir, routers_path, torch.float32)
    logits, router_logits = run_forward(model, tokens)
    objective(logits.double(), [z.double() for z in router_logits], tokens, targets, aux_coef, top_k)["total"] \
        .backward()
    return {name: p.grad.double() for name, p in gates(model).items()}


# ----------------------------------------------------------------------------------------------------------------

def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build_case(case, spec, out_dir):
    fixture_dir = os.path.join(RESOURCES, "moice", spec["fixture"])
    with open(os.path.join(fixture_dir, "reference.json")) as f:
        fixture_reference = json.load(f)
    model_rel = fixture_reference["model"]
    model_dir = os.path.join(RESOURCES, model_rel)
    routers_path = os.path.join(fixture_dir, "routers.safetensors")
    tokens_path = os.path.join(fixture_dir, "tokens.json")
    with open(tokens_path) as f:
        tokens = json.load(f)
    with safe_open(routers_path, framework="pt") as f:
        metadata = f.metadata()
    bases, top_k = json.loads(metadata["moice.bases"]), int(metadata["moice.top_k"])
    n = len(bases)
    targets = target_mask(spec["targets"], len(tokens))
    aux_coef = spec["aux_coef"]

    model = load_moice_model(model_dir, routers_path, torch.float64)
    logits, router_logits = run_forward(model, tokens)
    parts = objective(logits, router_logits, tokens, targets, aux_coef, top_k)
    parts["total"].backward(retain_graph=True)
    params = gates(model)
    ce_grads = dict(zip(params, torch.autograd.grad(parts["ce"], list(params.values()))))
    parts = {key: value.detach() if torch.is_tensor(value) else value for key, value in parts.items()}
    grads = {name: p.grad.detach().clone() for name, p in gates(model).items()}
    base_selection = [selection(layer.detach(), top_k) for layer in router_logits]
    checks = []

    # The fixture's own forward: same experts, same logits.
    with open(os.path.join(fixture_dir, "routing.json")) as f:
        routing = json.load(f)
    for layer, stored in zip(base_selection, routing["layers"]):
        assert np.array_equal(layer.transpose(0, 1).numpy(), np.asarray(stored["experts"])), \
            f"{case}: float64 routing differs from moice/{spec['fixture']}/routing.json"
    with safe_open(os.path.join(fixture_dir, "logits.safetensors"), framework="pt") as f:
        rel = mr.relative_error(logits.detach(), f.get_tensor("logits"))
    assert rel <= LOGITS_F32_REL_TOL, f"{case}: float64 logits vs the fixture's float32 logits: {rel}"
    checks.append(f"the float64 forward selects the experts of moice/{spec['fixture']}/routing.json and its logits "
                  f"agree with the fixture's float32 logits to {rel:.1e}")

    config, weights = numpy_forward.load_checkpoint(model_dir)
    routers = {name: p.detach().numpy() for name, p in gates(model).items()}
    np_logits, np_routing = moice_numpy.moice_logits(config, weights, tokens, routers, bases, top_k)
    np_total, _ = numpy_objective(np_logits, [z for _, _, z in np_routing], tokens, targets, aux_coef, top_k)
    rel = abs(np_total - float(parts["total"])) / abs(np_total)
    assert rel <= LOSS_NUMPY_REL_TOL, f"{case}: loss {float(parts['total'])} vs numpy {np_total}"
    checks.append(f"the loss agrees with an independent float64 numpy evaluation (moice_numpy.py) to {rel:.1e}")

    gap = rank_gap(router_logits, top_k)
    worst_torch, worst_numpy, rows = finite_difference_checks(case, model, tokens, targets, aux_coef, top_k, bases,
                                                              config, weights, grads, base_selection)
    checks.append(f"central finite differences (step {FD_STEP:g}) on {len(rows)} router entries (per gate of every "
                  f"layer the largest |gradient| and a random one) agree with autograd to {worst_torch:.1e} "
                  f"(float64 torch loss) and {worst_numpy:.1e} (independent numpy loss), relative to "
                  "max(|FD|, 1% of the gate's and 0.1% of the overall largest |gradient|); no step changes any top-K selection or its order; "
                  f"smallest gap between adjacent ranks 1..{min(top_k + 1, n)} of z over all events: {gap:.2g}")
    print(f"  {case}: FD torch {worst_torch:.1e}, numpy {worst_numpy:.1e}, rank gap {gap:.2g}")

    # The fixture must tell apart a backward pass that drops a gradient path (compared at ~1e-3 in Java).
    cut = gradients_without_router_input_path(model, tokens, targets, aux_coef, top_k)
    path_effect = max(mr.relative_error(cut[name], grads[name]) for name in grads)
    assert path_effect >= MIN_PATH_EFFECT, f"{case}: the router-input path hardly matters ({path_effect})"
    checks.append(f"dropping the gradient from the routers' input RoPE(q, B_1) back into q changes the gradient by "
                  f"max|d|/max|ref| {path_effect:.2g} (worst gate tensor)")
    if aux_coef and top_k < n:
        aux_effect = max(mr.relative_error(ce_grads[name], grads[name]) for name in grads)
        assert aux_effect >= MIN_PATH_EFFECT, f"{case}: the aux loss hardly changes the gradient ({aux_effect})"
        checks.append(f"leaving out the aux loss changes the gradient by max|d|/max|ref| {aux_effect:.2g}")

    grads32 = float32_gradients(model_dir, routers_path, tokens, targets, aux_coef, top_k)
    worst = max(mr.relative_error(grads32[name], grads[name]) for name in grads)
    checks.append(f"plain float32 torch autograd differs from this reference by max|d|/max|ref| {worst:.1e} "
                  "(worst gate tensor)")
    if top_k == n:
        assert abs(float(parts["aux"]) - n) < 1e-12, f"{case}: L_aux with K = N must be N"

    save_file({name: grad.to(torch.float32).contiguous() for name, grad in grads.items()},
              os.path.join(out_dir, "grads.safetensors"))
    gate_norms = {name: float(grad.norm()) for name, grad in grads.items()}
    notes = [f"MoICE router objective on {model_rel} with the routers and tokens of moice/{spec['fixture']} "
             f"(N={n}, K={top_k}); float64 torch autograd through moice_reference.py's MoICE forward. "
             "loss = CE + aux_coef * L_aux; CE = mean over the targets t of -log softmax(logits[t-1])[tokens[t]] "
             "(targets null: t = 1..T-1); L_aux = N * sum_k sum_n f[k][n] * Pbar[n] over all layer x token x head "
             "routing events regardless of the targets (P = softmax(z); f from a stable descending sort of z, no "
             "gradient). Gradients reach the routers through the renormalised top-K weights, later layers, and "
             "each router's input RoPE(q, B_1) back into earlier layers.",
             "Checks: " + "; ".join(checks) + "."]
    loss = dict(
        total=float(parts["total"]), ce=float(parts["ce"]), aux=float(parts["aux"]), aux_coef=aux_coef,
        top_k=top_k, N=n, targets=targets,
        target_count=len(tokens) - 1 if targets is None else sum(targets[1:]),
        tokens=os.path.relpath(tokens_path, RESOURCES), tokens_sha256=sha256(tokens_path),
        routers=os.path.relpath(routers_path, RESOURCES), routers_sha256=sha256(routers_path),
        model=model_rel, bases=bases, events=parts["events"],
        aux_f=[[float(v) for v in row] for row in parts["f"]], aux_pbar=[float(v) for v in parts["p_bar"]],
        grad_norms=gate_norms,
        finite_differences=[dict(tensor=name, index=index, autograd=a, torch_fd=t, numpy_fd=np_fd)
                            for name, index, a, t, np_fd in rows],
        torch=torch.__version__, transformers=transformers.__version__, notes=" ".join(notes))
    mr.write_json(os.path.join(out_dir, "loss.json"), loss)


def main(argv):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    specs = case_specs()
    names = argv or list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {sorted(specs)}")
    os.makedirs(GRAD_DIR, exist_ok=True)
    for name in names:
        target = os.path.join(GRAD_DIR, name)
        staging = tempfile.mkdtemp(prefix=f".{name}.", dir=GRAD_DIR)
        try:
            build_case(name, specs[name], staging)
            os.chmod(staging, 0o755)
            for file in os.listdir(staging):
                os.chmod(os.path.join(staging, file), 0o644)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(staging, target)
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging)
        print(f"{name}: {sorted(os.listdir(target))}")


if __name__ == "__main__":
    main(sys.argv[1:])
