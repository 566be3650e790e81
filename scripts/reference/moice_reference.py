"""Reference implementation of MoICE attention, Attention Buckets (AB) and Ms-PoE on transformers' Llama / Qwen2 /
Mistral models, and the fixtures under cli/src/test/resources/moice/ that the Java engine is checked against.

Run from anywhere:  python scripts/reference/moice_reference.py  [fixture name ...]
Deterministic (seeded, one thread) and idempotent: each fixture directory is rebuilt from scratch.

The methods are implemented by replacing the `forward` of the (eager) attention modules of a loaded transformers
model; embeddings, norms, MLPs, the mask (causal + sliding window) and the head stay transformers' own. Semantics
follow docs/method.md (copied in short into each fixture's reference.json):

MoICE, per layer, router shared by the layer's heads, no biases:
  x = RoPE(q_t^h, t, B_1)            query after q_proj (+ bias), rotated with the FIRST base
  z = W2 (silu(W1 x) * (W3 x))       W1, W3 [N, d], W2 [N, N]: `gate_1`, `gate_3`, `gate_2` (Linear layout [out, in])
  p = softmax(z) (float32); keep the K largest z, renormalise the kept p to sum 1
  o = sum_j p_j o_j, o_j = causal softmax attention with query and every key rotated at their positions with B_j
The model's RoPE (rotate-half layout, its rope scaling, its attention_scaling) is used for every base: the rotary
module of base B_j is transformers' own class built from the model config with rope_theta replaced by B_j.
Top-K ties: a stable descending sort of z, so among equal logits the LOWER expert index wins (torch.topk leaves tie
order unspecified); the fixtures also keep adjacent router logits of ranks 1..K+1 far apart compared with float32
noise, so no tie or near-tie occurs and an fp32 engine must select the same experts in the same order.
This implementation computes every expert and zeroes the unselected ones (as the official code); moice_numpy.py
computes only the selected ones; the fixtures are checked to agree.

Attention Buckets: the whole model runs once per base B_j (logits z_j [T, V]); per position
  w = softmax_j(max_v z_j[v]),  logits = sum_j w_j z_j.

Ms-PoE: layers 0 and 1 unchanged; in layers 2..L-1 head h uses position t / r_h for its query and the KV head g uses
t / r_kv(g) for its keys, r_kv(g) = r of query head g*group (the first query head of its group; each query head
keeps its own ratio, as in the official code). Ratios are fixed once per prompt, at prefill, from the un-rotated q.k
attention (scale 1/sqrt(d), softmax over all prompt keys, no sliding window) of the last prompt token: score_h = number of keys with
probability > 3/T (3x the row mean 1/T); heads sorted by score descending, ties by lower head index; the head of
rank i gets r = 1.2 + 0.6 i / H.
"""

import copy
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
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import repeat_kv, rotate_half

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_fixtures  # noqa: E402  (the tiny-checkpoint recipe, reused for the 4-layer Ms-PoE model)
import moice_numpy  # noqa: E402
import numpy_forward  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS_DIR = os.path.join(REPO_ROOT, "cli", "src", "test", "resources", "models")
FIXTURES_DIR = os.path.join(REPO_ROOT, "cli", "src", "test", "resources", "moice")

# Official MoICE base set for Llama-2 (10000, 17500, ...) as multiples of rope_theta, in hundredths so that
# theta * n / 100 is exact.
MOICE_BASE_PERCENT = (100, 175, 180, 190, 200, 225, 250)
# Attention Buckets' retrieval-QA bases for theta 10000 (scaled by theta / 10000 for other models).
AB_QA_BASES = (10000, 13000, 16000, 19000, 22000, 25000, 28000)
ROUTER_STD = 0.5  # decisive, varied routing (the official init 0.02 gives nearly uniform p); z scales as std^3
MSPOE_FIRST_LAYER = 2
MSPOE_MIN_RATIO = 1.2
MSPOE_MAX_RATIO = 1.8
MSPOE_OUTLIER_FACTOR = 3.0

NUMPY_REL_TOL = 2e-5         # fp32 transformers vs fp64 numpy, max|d| / max|ref|
INVARIANT_REL_TOL = 1e-5     # MoICE / AB / Ms-PoE reduced to vanilla vs transformers' vanilla
# Adjacent router logits among the ranks 1..K+1 must differ by at least max(abs, rel * max|z| of the layer), so an
# fp32 engine (router logit error ~1e-6 * max|z|) picks the same experts in the same order.
MIN_RANK_GAP_ABS = 5e-4
MIN_RANK_GAP_REL = 1e-5
MIN_SECOND_WEIGHT = 0.02     # median renormalised weight of the 2nd expert: the mixture must matter
ROUTING_WEIGHT_TOL = 1e-4    # fp32 vs fp64 routing weights (router logits reach ~100 in magnitude)
MIN_MSPOE_MARGIN = 1e-3      # smallest |p - 3/T| / (3/T) over the Ms-PoE scores: no count flips in fp32
MIN_EFFECT = 0.1             # each method must move the logits by more than this vs vanilla


# ----------------------------------------------------------------------------------------------------------------
# RoPE helpers

def rope_theta(config):
    return float(config.rope_parameters["rope_theta"])


def config_with_base(config, base):
    """The model config with rope_theta replaced by `base`; rope_type and its scaling parameters are kept."""
    cfg = copy.deepcopy(config)
    cfg.rope_parameters = dict(cfg.rope_parameters, rope_theta=float(base))
    return cfg


def rotary_for_base(model, base):
    """transformers' own rotary module of this model family, for base `base` (same scaling rule as the model)."""
    return type(model.model.rotary_emb)(config_with_base(model.config, base))


def apply_rope(x, cos, sin):
    """x [B, heads, T, d]; cos, sin [B, T, d] (or [B, heads, T, d]). rotate-half layout."""
    if cos.dim() == 3:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return x * cos + rotate_half(x) * sin


def softmax_dtype(x):
    """float32 as in transformers and the official code, or float64 when the model runs in float64 (the gradient
    reference, moice_grad_reference.py, needs every step in float64)."""
    return torch.promote_types(x.dtype, torch.float32)


def softmax_attention(module, query, key, value, attention_mask):
    """Eager causal attention of rotated query [B, H, T, d] and rotated key / value [B, Hkv, T, d] -> [B, H, T, d].
    The additive mask is transformers' own (causal, plus the sliding window where the model has one)."""
    keys = repeat_kv(key, module.num_key_value_groups)
    values = repeat_kv(value, module.num_key_value_groups)
    scores = torch.matmul(query, keys.transpose(2, 3)) * module.scaling
    scores = scores + attention_mask
    probs = nn.functional.softmax(scores, dim=-1, dtype=softmax_dtype(scores)).to(query.dtype)
    return torch.matmul(probs, values)


def project_qkv(module, hidden_states):
    """Un-rotated q [B, H, T, d], k, v [B, Hkv, T, d] (projection biases included)."""
    shape = (*hidden_states.shape[:-1], -1, module.head_dim)
    q = module.q_proj(hidden_states).view(shape).transpose(1, 2)
    k = module.k_proj(hidden_states).view(shape).transpose(1, 2)
    v = module.v_proj(hidden_states).view(shape).transpose(1, 2)
    return q, k, v


def finish(module, head_outputs):
    """[B, H, T, d] -> o_proj output [B, T, hidden]."""
    b, h, t, d = head_outputs.shape
    return module.o_proj(head_outputs.transpose(1, 2).reshape(b, t, h * d))


def check_call(cache, attention_mask):
    if cache is not None:
        raise ValueError("the reference runs full-sequence forwards: call the model with use_cache=False")
    if attention_mask is None:
        raise ValueError("expected transformers' eager additive mask (attn_implementation='eager')")


# ----------------------------------------------------------------------------------------------------------------
# MoICE

class MoiceLayerState:
    def __init__(self, bases, top_k, rotaries):
        self.bases = list(bases)
        self.top_k = top_k
        self.rotaries = rotaries  # shared by all layers: one rotary module per base
        self.trace = []           # per call: dict(router_logits, selected, weights), batch element 0


def moice_attention_forward(self, hidden_states, position_embeddings=None, attention_mask=None, cache=None,
                            position_ids=None, **kwargs):
    check_call(cache, attention_mask)
    state = self.moice
    q, k, v = project_qkv(self, hidden_states)
    if position_ids is None:
        position_ids = torch.arange(q.shape[2]).unsqueeze(0)

    tables = [rotary(v, position_ids) for rotary in state.rotaries]  # (cos, sin) [B, T, d] per base
    router_input = apply_rope(q, *tables[0])
    router_logits = self.gate_2(nn.functional.silu(self.gate_1(router_input)) * self.gate_3(router_input))
    probs = nn.functional.softmax(router_logits, dim=-1, dtype=softmax_dtype(router_logits))  # [B, H, T, N]
    selected = torch.sort(router_logits, dim=-1, descending=True, stable=True).indices[..., :state.top_k]
    chosen = probs.gather(-1, selected)
    chosen = chosen / chosen.sum(dim=-1, keepdim=True)
    # Dense [B, H, T, N] weights with zeros for the unselected experts.
    weights = torch.zeros_like(probs).scatter(-1, selected, chosen).to(q.dtype)
    state.trace.append(dict(router_logits=router_logits[0].detach().clone(), selected=selected[0].clone(),
                            weights=chosen[0].detach().clone()))

    out = torch.zeros_like(q)
    for j, (cos, sin) in enumerate(tables):
        expert_out = softmax_attention(self, apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, attention_mask)
        out = out + weights[..., j:j + 1] * expert_out
    return finish(self, out), None


def install_moice(model, bases, top_k):
    """Turns every attention layer into MoICE with fresh (zero) routers `gate_1/2/3` registered on the attention
    module, so their state_dict names are exactly the router file's tensor names."""
    if not 1 <= top_k <= len(bases):
        raise ValueError(f"top_k {top_k} must be in 1..{len(bases)}")
    rotaries = [rotary_for_base(model, base) for base in bases]
    n = len(bases)
    for layer in model.model.layers:
        attn = layer.self_attn
        d = attn.head_dim
        attn.gate_1 = nn.Linear(d, n, bias=False)
        attn.gate_2 = nn.Linear(n, n, bias=False)
        attn.gate_3 = nn.Linear(d, n, bias=False)
        for gate in (attn.gate_1, attn.gate_2, attn.gate_3):
            nn.init.zeros_(gate.weight)
        attn.moice = MoiceLayerState(bases, top_k, rotaries)
        attn.forward = types.MethodType(moice_attention_forward, attn)
    return model


def router_tensors(model):
    return {name: tensor.detach().clone().contiguous() for name, tensor in model.state_dict().items()
            if ".self_attn.gate_" in name}


def randomise_routers(model, seed, std):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.model.layers:
            for gate in (layer.self_attn.gate_1, layer.self_attn.gate_2, layer.self_attn.gate_3):
                gate.weight.copy_(torch.randn(gate.weight.shape, generator=generator) * std)


def save_routers(model, path):
    """Router file: float32 tensors in layer order, metadata moice.bases (JSON array) and moice.top_k.
    Written by hand because safetensors' writer orders the metadata keys differently from run to run."""
    state = model.model.layers[0].self_attn.moice
    metadata = {"moice.bases": json.dumps(state.bases), "moice.top_k": str(state.top_k)}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, tensor in router_tensors(model).items():
        blob = tensor.to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def load_routers(model, path):
    """Installs MoICE from a router file (bases and top_k from its metadata)."""
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    install_moice(model, json.loads(metadata["moice.bases"]), int(metadata["moice.top_k"]))
    expected = router_tensors(model)
    if set(expected) != set(tensors):
        raise ValueError(f"{path}: router tensors {sorted(tensors)} != expected {sorted(expected)}")
    model.load_state_dict(tensors, strict=False)
    return model


def moice_trace(model):
    """Routing of the last forward: per layer dict(router_logits [T, H, N], selected [T, H, K], weights [T, H, K])."""
    out = []
    for layer in model.model.layers:
        last = layer.self_attn.moice.trace[-1]
        out.append({key: value.transpose(0, 1).numpy() for key, value in last.items()})  # [H, T, .] -> [T, H, .]
    return out


# ----------------------------------------------------------------------------------------------------------------
# Ms-PoE

class MsPoeLayerState:
    def __init__(self, rotary, min_ratio, max_ratio, outlier_factor):
        self.rotary = rotary  # the model's own rotary module (its inv_freq is current for this forward)
        self.min_ratio = min_ratio
        self.max_ratio = max_ratio
        self.outlier_factor = outlier_factor
        self.ratios = None    # [H], fixed at the first forward after reset (the prompt's prefill)
        self.stats = None


def mspoe_head_ratios(module, q, k, state):
    """Ratios per query head from the un-rotated attention of the last token of this (prefill) call."""
    if q.shape[0] != 1:
        raise ValueError("Ms-PoE reference: batch size 1 only")
    n_heads, seq_len = q.shape[1], q.shape[2]
    keys = repeat_kv(k, module.num_key_value_groups)[0]                         # [H, T, d]
    scores = torch.einsum("hd,htd->ht", q[0, :, -1, :], keys) * module.scaling
    probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32)          # [H, T]
    threshold = state.outlier_factor / seq_len                                  # 3x the row mean 1/T
    counts = (probs > threshold).sum(dim=-1).tolist()
    order = sorted(range(n_heads), key=lambda h: (-counts[h], h))
    ratios = torch.empty(n_heads, dtype=torch.float64)
    for rank, h in enumerate(order):
        ratios[h] = state.min_ratio + (state.max_ratio - state.min_ratio) * rank / n_heads
    margin = float(((probs - threshold).abs() / threshold).min())
    return ratios, dict(layer=module.layer_idx, outlier_counts=[int(c) for c in counts], order=order,
                        ratios=ratios.tolist(), kv_ratios=ratios[::module.num_key_value_groups].tolist(),
                        threshold_margin=margin)


def scaled_rope_tables(rotary, positions, ratios, like):
    """cos, sin [1, len(ratios), T, d] for positions t / ratio (fractional), with the model's RoPE."""
    pos = positions.double()[None, :] / ratios[:, None]                        # [R, T]
    freqs = (pos[..., None] * rotary.inv_freq.double()).float()               # [R, T, d/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = (emb.cos() * rotary.attention_scaling).to(like.dtype)
    sin = (emb.sin() * rotary.attention_scaling).to(like.dtype)
    return cos.unsqueeze(0), sin.unsqueeze(0)


def mspoe_attention_forward(self, hidden_states, position_embeddings=None, attention_mask=None, cache=None,
                            position_ids=None, **kwargs):
    check_call(cache, attention_mask)
    state = self.mspoe
    q, k, v = project_qkv(self, hidden_states)
    if state.ratios is None:
        state.ratios, state.stats = mspoe_head_ratios(self, q, k, state)
    positions = torch.arange(q.shape[2]) if position_ids is None else position_ids[0]
    kv_ratios = state.ratios[::self.num_key_value_groups]
    q_cos, q_sin = scaled_rope_tables(state.rotary, positions, state.ratios, q)
    k_cos, k_sin = scaled_rope_tables(state.rotary, positions, kv_ratios, k)
    out = softmax_attention(self, apply_rope(q, q_cos, q_sin), apply_rope(k, k_cos, k_sin), v, attention_mask)
    return finish(self, out), None


def install_mspoe(model, first_layer=MSPOE_FIRST_LAYER, min_ratio=MSPOE_MIN_RATIO, max_ratio=MSPOE_MAX_RATIO,
                  outlier_factor=MSPOE_OUTLIER_FACTOR):
    for layer in model.model.layers[first_layer:]:
        attn = layer.self_attn
        attn.mspoe = MsPoeLayerState(model.model.rotary_emb, min_ratio, max_ratio, outlier_factor)
        attn.forward = types.MethodType(mspoe_attention_forward, attn)
    return model


def reset_mspoe(model):
    """Forget the head ratios: the next forward is a new prompt's prefill."""
    for layer in model.model.layers:
        if hasattr(layer.self_attn, "mspoe"):
            layer.self_attn.mspoe.ratios = None
            layer.self_attn.mspoe.stats = None


def mspoe_stats(model):
    return [layer.self_attn.mspoe.stats for layer in model.model.layers if hasattr(layer.self_attn, "mspoe")]


# ----------------------------------------------------------------------------------------------------------------
# Attention Buckets

def attention_buckets(model, tokens, bases):
    """Returns (combined logits [T, V], bucket weights [T, N]); each bucket is a whole-model pass with its base."""
    original = model.model.rotary_emb
    buckets = []
    try:
        for base in bases:
            model.model.rotary_emb = rotary_for_base(model, base)
            buckets.append(logits_of(model, tokens))
    finally:
        model.model.rotary_emb = original
    z = torch.stack(buckets)                                    # [N, T, V]
    weights = torch.softmax(z.amax(dim=-1).T, dim=-1)           # [T, N]
    return torch.einsum("tn,ntv->tv", weights, z).contiguous(), weights.contiguous()


# ----------------------------------------------------------------------------------------------------------------
# Running and checking

def load_model(model_dir):
    config = AutoConfig.from_pretrained(model_dir)
    if config.model_type not in ("llama", "qwen2", "mistral"):
        raise ValueError(f"{model_dir}: model_type {config.model_type} is not llama, qwen2 or mistral")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def logits_of(model, tokens):
    with torch.no_grad():
        return model(torch.tensor([tokens]), use_cache=False).logits[0].float().contiguous()


def read_tokens(model_dir):
    with open(os.path.join(model_dir, "tokens.json")) as f:
        return json.load(f)


def relative_error(actual, expected):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def moice_bases(theta):
    return [theta * n / 100 for n in MOICE_BASE_PERCENT]


def ab_bases(theta):
    return [b * theta / 10000 for b in AB_QA_BASES]


def moice_invariants(model_dir):
    """MoICE reduced to vanilla, two ways; returns notes. Also for AB with all bases equal."""
    tokens = read_tokens(model_dir)
    vanilla = logits_of(load_model(model_dir), tokens)
    theta = rope_theta(AutoConfig.from_pretrained(model_dir))
    notes = []

    model = install_moice(load_model(model_dir), [theta], 1)
    randomise_routers(model, seed=1, std=ROUTER_STD)
    rel = relative_error(logits_of(model, tokens), vanilla)
    assert rel <= INVARIANT_REL_TOL, f"{model_dir}: MoICE with the single base theta differs from vanilla: {rel}"
    notes.append(f"MoICE with one base = rope_theta (K=1) equals vanilla to {rel:.1e}")

    model = install_moice(load_model(model_dir), [theta] * len(MOICE_BASE_PERCENT), len(MOICE_BASE_PERCENT))
    randomise_routers(model, seed=2, std=ROUTER_STD)
    rel = relative_error(logits_of(model, tokens), vanilla)
    assert rel <= INVARIANT_REL_TOL, f"{model_dir}: MoICE K=N with equal bases differs from vanilla: {rel}"
    notes.append(f"MoICE K=N=7 with all bases = rope_theta (random routers) equals vanilla to {rel:.1e}")

    combined, _ = attention_buckets(load_model(model_dir), tokens, [theta] * 3)
    rel = relative_error(combined, vanilla)
    assert rel <= INVARIANT_REL_TOL, f"{model_dir}: AB with equal bases differs from vanilla: {rel}"
    notes.append(f"AB with 3 equal bases = rope_theta equals vanilla to {rel:.1e}")
    return notes


def routing_checks(name, trace, top_k, n_experts):
    """Routing must be decisive (no near-ties at the K-th place) and varied (heads and tokens differ)."""
    notes = []
    worst_gap, worst_ratio, second = math.inf, math.inf, []
    used = set()
    heads_differ = tokens_differ = events = 0
    for layer in trace:
        z = layer["router_logits"]                                      # [T, H, N]
        ranked = -np.sort(-z, axis=-1)
        gaps = (ranked[..., :-1] - ranked[..., 1:])[..., :min(top_k, n_experts - 1)]
        required = max(MIN_RANK_GAP_ABS, MIN_RANK_GAP_REL * float(np.abs(z).max()))
        worst_gap = min(worst_gap, float(gaps.min()))
        worst_ratio = min(worst_ratio, float(gaps.min()) / required)
        # What a head "picks": its expert set, or with K = N (always the full set) its best expert.
        sets = [[frozenset(layer["selected"][t, h].tolist()) if top_k < n_experts else int(layer["selected"][t, h, 0])
                 for h in range(z.shape[1])] for t in range(z.shape[0])]
        heads_differ += sum(len(set(row)) > 1 for row in sets)
        tokens_differ += sum(len({sets[t][h] for t in range(len(sets))}) > 1 for h in range(z.shape[1]))
        used |= set(layer["selected"].flatten().tolist())
        events += z.shape[0] * z.shape[1]
        if top_k > 1:
            second.append(layer["weights"][..., 1].flatten())
    n_layers, n_tokens, n_heads = len(trace), trace[0]["router_logits"].shape[0], trace[0]["router_logits"].shape[1]
    assert len(used) == n_experts, f"{name}: experts {sorted(used)} are the only ones ever selected"
    assert heads_differ >= n_layers * n_tokens // 2, f"{name}: heads of a token mostly pick the same experts"
    assert tokens_differ == n_layers * n_heads, f"{name}: some head picks the same experts for every token"
    what = "expert sets" if top_k < n_experts else "best experts"
    notes.append(f"all {n_experts} experts are selected somewhere; at {heads_differ} of {n_layers * n_tokens} "
                 f"(layer, token) pairs the heads pick different {what}; every (layer, head) picks different "
                 f"{what} at different tokens")
    assert worst_ratio >= 1, f"{name}: router logits of adjacent ranks are too close ({worst_gap})"
    z_max = max(float(np.abs(layer["router_logits"]).max()) for layer in trace)
    notes.append(f"over {events} routing events, adjacent ranks 1..{min(top_k + 1, n_experts)} of z differ by at "
                 f"least {worst_gap:.2g} (max|z| {z_max:.0f}; >= max({MIN_RANK_GAP_ABS}, {MIN_RANK_GAP_REL} max|z|), "
                 "so fp32 cannot change the selection or its order)")
    if second:
        s = np.concatenate(second)
        assert np.median(s) >= MIN_SECOND_WEIGHT, f"{name}: routing nearly one-hot (2nd weight {np.median(s)})"
        notes.append(f"renormalised weight of the 2nd expert: median {np.median(s):.3f}, max {s.max():.3f}")
    return notes


def write_json(path, value):
    """Indented JSON in which lists of numbers, and lists of such lists (one token's heads), stay on one line."""
    def nesting(v):
        if isinstance(v, dict):
            return 1 + max((nesting(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((nesting(x) for x in v), default=0)
        return 0

    def render(v, level):
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and nesting(v) <= 2) or not v:
            return json.dumps(v)
        pad = " " * (level + 1)
        if isinstance(v, dict):
            items = [f"{pad}{json.dumps(k)}: {render(x, level + 1)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + " " * level + "}"
        return "[\n" + ",\n".join(pad + render(x, level + 1) for x in v) + "\n" + " " * level + "]"

    with open(path, "w") as f:
        f.write(render(value, 0) + "\n")


def write_reference(out_dir, fields, notes):
    reference = dict(torch=torch.__version__, transformers=transformers.__version__, **fields,
                     notes=" ".join(notes))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference, f, indent=2)
        f.write("\n")


def copy_tokens(model_dir, out_dir):
    shutil.copyfile(os.path.join(model_dir, "tokens.json"), os.path.join(out_dir, "tokens.json"))


def build_moice(name, spec, out_dir):
    model_dir = os.path.join(MODELS_DIR, spec["model"])
    tokens = read_tokens(model_dir)
    vanilla = logits_of(load_model(model_dir), tokens)
    bases = moice_bases(rope_theta(AutoConfig.from_pretrained(model_dir)))
    model = install_moice(load_model(model_dir), bases, spec["top_k"])
    randomise_routers(model, spec["seed"], spec["router_std"])
    state = model.model.layers[0].self_attn.moice
    routers_path = os.path.join(out_dir, "routers.safetensors")
    save_routers(model, routers_path)

    # The fixture is made from the written router file, not from the in-memory routers.
    model = load_routers(load_model(model_dir), routers_path)
    logits = logits_of(model, tokens)
    trace = moice_trace(model)
    save_file({"logits": logits}, os.path.join(out_dir, "logits.safetensors"))
    copy_tokens(model_dir, out_dir)
    write_json(os.path.join(out_dir, "routing.json"), dict(
        bases=state.bases, top_k=state.top_k,
        layers=[dict(layer=i, experts=layer["selected"].tolist(),
                     weights=[[[float(w) for w in head] for head in token] for token in layer["weights"]],
                     router_logits=[[[float(z) for z in head] for head in token]
                                    for token in layer["router_logits"]])
                for i, layer in enumerate(trace)]))

    notes = [f"MoICE on models/{spec['model']} (weights read from there), N={len(state.bases)} bases "
             f"theta*[1, 1.75, 1.8, 1.9, 2.0, 2.25, 2.5], K={state.top_k}, random routers N(0, {spec['router_std']}) "
             f"(seed {spec['seed']}). Logits: CPU, float32, eager attention, all positions, routers read back "
             "from routers.safetensors. routing.json: per layer, [token][head] lists of the selected experts "
             "(best first, i.e. by descending router logit; ties would go to the lower index), their renormalised "
             "weights in the same order, and all N router logits z."]
    if spec.get("notes"):
        notes.append(spec["notes"])

    config, weights = numpy_forward.load_checkpoint(model_dir)
    routers = {k: v.double().numpy() for k, v in router_tensors(model).items()}
    independent, np_routing = moice_numpy.moice_logits(config, weights, tokens, routers, state.bases, state.top_k)
    rel = relative_error(logits, independent)
    assert rel <= NUMPY_REL_TOL, f"{name}: transformers vs fp64 numpy MoICE: {rel}"
    for layer, (selected, chosen, _) in zip(trace, np_routing):
        assert np.array_equal(layer["selected"], selected), f"{name}: numpy selects other experts"
        assert np.max(np.abs(layer["weights"] - chosen)) < ROUTING_WEIGHT_TOL, f"{name}: numpy weights differ"
    checks = [f"an independent fp64 numpy MoICE (selected experts only, per token and head) agrees to "
              f"max|d|/max|ref| {rel:.1e} and selects the same experts"]
    checks += routing_checks(name, trace, state.top_k, len(state.bases))
    moved = float((logits - vanilla).abs().max())
    assert moved > MIN_EFFECT, f"{name}: MoICE hardly changes the logits ({moved})"
    checks.append(f"MoICE moves the logits by up to {moved:.2f} from vanilla")
    for invariant in spec.get("invariants", []):
        checks.append(invariant)
    notes.append("Checks: " + "; ".join(checks) + ".")
    write_reference(out_dir, dict(method="moice", model=f"models/{spec['model']}", bases=state.bases,
                                  top_k=state.top_k), notes)


def build_ab(name, spec, out_dir):
    model_dir = os.path.join(MODELS_DIR, spec["model"])
    tokens = read_tokens(model_dir)
    model = load_model(model_dir)
    bases = ab_bases(rope_theta(model.config))
    vanilla = logits_of(model, tokens)
    combined, weights = attention_buckets(model, tokens, bases)
    save_file({"logits": combined, "bucket_weights": weights}, os.path.join(out_dir, "logits.safetensors"))
    copy_tokens(model_dir, out_dir)

    config, np_weights = numpy_forward.load_checkpoint(model_dir)
    independent, np_bucket_weights = moice_numpy.attention_buckets_logits(config, np_weights, tokens, bases)
    rel = relative_error(combined, independent)
    assert rel <= NUMPY_REL_TOL, f"{name}: transformers vs fp64 numpy AB: {rel}"
    assert np.max(np.abs(weights.numpy() - np_bucket_weights)) < 1e-5
    moved = float((combined - vanilla).abs().max())
    assert moved > MIN_EFFECT, f"{name}: AB hardly changes the logits ({moved})"
    top = weights.max(dim=-1).values
    notes = [f"Attention Buckets on models/{spec['model']}: one whole-model pass per base (retrieval-QA bases "
             f"[10000, 13000, ..., 28000] * theta/10000), combined per position with w = softmax_j(max_v z_j[v]), "
             "logits = sum_j w_j z_j. logits.safetensors: `logits` [T, V] (combined, float32) and `bucket_weights` "
             "[T, N] (w, bases in the order of `bases`).",
             f"Checks: an independent fp64 numpy version agrees to max|d|/max|ref| {rel:.1e}; AB moves the logits by "
             f"up to {moved:.2f} from vanilla; the largest bucket weight per position ranges "
             f"{float(top.min()):.3f}..{float(top.max()):.3f}."]
    write_reference(out_dir, dict(method="ab", model=f"models/{spec['model']}", bases=bases), notes)


def make_mspoe_model(out_dir, seed):
    """A 4-layer variant of llama-gqa (Ms-PoE leaves layers 0 and 1 alone, so 2-layer models would not test it)."""
    spec = make_model_fixtures.fixture_specs()["llama-gqa"]
    config = LlamaConfig(**dict(spec["config"], num_hidden_layers=4))
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    make_model_fixtures.reinitialise(model, seed)
    model.save_pretrained(out_dir)
    os.remove(os.path.join(out_dir, "generation_config.json"))


def build_mspoe(name, spec, out_dir):
    tokens = read_tokens(os.path.join(MODELS_DIR, spec["tokens_from"]))
    model_dir = os.path.join(out_dir, "model")
    make_mspoe_model(model_dir, spec["model_seed"])
    copy_tokens(os.path.join(MODELS_DIR, spec["tokens_from"]), out_dir)
    vanilla = logits_of(load_model(model_dir), tokens)
    save_file({"logits": vanilla}, os.path.join(out_dir, "vanilla_logits.safetensors"))

    model = install_mspoe(load_model(model_dir))
    logits = logits_of(model, tokens)
    stats = mspoe_stats(model)
    save_file({"logits": logits}, os.path.join(out_dir, "logits.safetensors"))

    # Prefill of a shorter prompt, then the rest of the tokens with the prompt's ratios (causal attention makes a
    # full forward with fixed ratios equal to prefill + token-by-token decode).
    prompt_len = spec["continuation_prompt_len"]
    reset_mspoe(model)
    logits_of(model, tokens[:prompt_len])
    continuation_stats = mspoe_stats(model)
    continuation = logits_of(model, tokens)
    assert mspoe_stats(model) == continuation_stats, "ratios must stay fixed after the prefill"
    save_file({"logits": continuation}, os.path.join(out_dir, "continuation_logits.safetensors"))

    def public(layer_stats):
        return [{k: v for k, v in s.items() if k != "threshold_margin"} for s in layer_stats]

    write_json(os.path.join(out_dir, "mspoe.json"), dict(
        first_layer=MSPOE_FIRST_LAYER, min_ratio=MSPOE_MIN_RATIO, max_ratio=MSPOE_MAX_RATIO,
        outlier_factor=MSPOE_OUTLIER_FACTOR, prompt_len=len(tokens), layers=public(stats),
        continuation=dict(prompt_len=prompt_len, layers=public(continuation_stats))))

    checks = []
    config, weights = numpy_forward.load_checkpoint(model_dir)
    rel = relative_error(vanilla, numpy_forward.forward(config, weights, tokens))
    assert rel <= NUMPY_REL_TOL, f"{name}: vanilla vs numpy_forward: {rel}"
    checks.append(f"vanilla logits of the 4-layer model agree with numpy_forward.py to {rel:.1e}")
    for label, prompt, torch_logits, torch_stats in (("full prompt", len(tokens), logits, stats),
                                                     (f"prompt of {prompt_len}", prompt_len, continuation,
                                                      continuation_stats)):
        independent, np_stats = moice_numpy.mspoe_logits(config, weights, tokens, prompt)
        rel = relative_error(torch_logits, independent)
        assert rel <= NUMPY_REL_TOL, f"{name} ({label}): transformers vs fp64 numpy Ms-PoE: {rel}"
        for mine, theirs in zip(torch_stats, np_stats):
            for key in ("outlier_counts", "order", "ratios", "kv_ratios"):
                assert np.allclose(mine[key], theirs[key], rtol=0, atol=1e-12), f"{name}: {key} differs"
        margin = min(s["threshold_margin"] for s in torch_stats)
        assert margin >= MIN_MSPOE_MARGIN, f"{name} ({label}): a probability is within {margin} of 3/T"
        orders = [s["order"] for s in torch_stats]
        assert any(order != sorted(order) for order in orders), f"{name} ({label}): head order is the identity"
        moved = float((torch_logits - vanilla).abs().max())
        assert moved > MIN_EFFECT, f"{name} ({label}): Ms-PoE hardly changes the logits ({moved})"
        ties = sum(len(set(s["outlier_counts"])) < len(s["outlier_counts"]) for s in torch_stats)
        checks.append(f"{label}: independent fp64 numpy Ms-PoE agrees to {rel:.1e} with the same counts, orders "
                      f"and ratios; head orders {orders}; layers with tied counts (lower index first) {ties}; "
                      f"every probability is at least {margin:.2g} (relative) away from 3/T; moves logits by up "
                      f"to {moved:.2f}")

    same = install_mspoe(load_model(model_dir), min_ratio=1.0, max_ratio=1.0)
    rel = relative_error(logits_of(same, tokens), vanilla)
    assert rel <= INVARIANT_REL_TOL, f"{name}: Ms-PoE with all ratios 1 differs from vanilla: {rel}"
    checks.append(f"Ms-PoE with all ratios 1 equals vanilla to {rel:.1e}")
    for small in ("llama-gqa", "qwen2-bias-tied"):
        small_dir = os.path.join(MODELS_DIR, small)
        small_tokens = read_tokens(small_dir)
        diff = float((logits_of(install_mspoe(load_model(small_dir)), small_tokens)
                      - logits_of(load_model(small_dir), small_tokens)).abs().max())
        assert diff == 0.0, f"{name}: Ms-PoE on 2-layer {small} changed the logits"
        checks.append(f"Ms-PoE on the 2-layer models/{small} equals vanilla exactly (layers 0 and 1 untouched)")

    notes = [f"Ms-PoE on a 4-layer variant of llama-gqa stored in model/ (config.json + model.safetensors: "
             f"make_model_fixtures.py recipe, seed {spec['model_seed']}; 4 query heads, 2 KV heads, head_dim 16, "
             f"theta 10000); tokens of models/{spec['tokens_from']}. Layers 0..{MSPOE_FIRST_LAYER - 1} vanilla; in "
             f"layers {MSPOE_FIRST_LAYER}..L-1 query head h uses position t/r_h, the keys of KV head g use t/r of "
             "query head g*group (first query head of the group), r = 1.2 + 0.6*rank/H. rank: heads sorted by "
             "outlier count (descending; ties: lower head index first), outlier count = number of prompt keys whose "
             "softmax(q_last . k / sqrt(d)) probability (un-rotated q, k; last prompt token; all prompt keys) is "
             "> 3/T. RoPE at the fractional position t/r: angle (t/r) * inv_freq of the model, same "
             "attention_scaling. logits.safetensors: prefill of all T tokens (ratios from the whole prompt). "
             f"continuation_logits.safetensors: ratios fixed from the first {prompt_len} tokens (the prompt), "
             "logits of all T positions (what prefill + token-by-token decode gives). vanilla_logits.safetensors: "
             "the 4-layer model without Ms-PoE. mspoe.json: per Ms-PoE layer the outlier counts, the order (head "
             "indices, most outliers first), ratios per query head, ratios per KV head, for both cases.",
             "Official code (VITA-Group/Ms-PoE utils/modify_arch/llama.py) differs: threshold 4x the row mean (not 3x); "
             "it gives head h the ratio of index order[h] (the permutation itself, not its inverse: the head with "
             "the most outliers is not necessarily the one with ratio 1.2); argsort ties are unspecified; the keys "
             "are cached already rotated. Like this reference, it rotates KV head g with the ratio of query head "
             "g*group and each query head with its own ratio.",
             "Checks: " + "; ".join(checks) + "."]
    write_reference(out_dir, dict(method="mspoe", model=f"moice/{name}/model", first_layer=MSPOE_FIRST_LAYER,
                                  min_ratio=MSPOE_MIN_RATIO, max_ratio=MSPOE_MAX_RATIO,
                                  outlier_factor=MSPOE_OUTLIER_FACTOR, gqa_rule="query head h rotates with its own "
                                  "ratio r_h; KV head g rotates its keys with r of query head g*group"), notes)


def fixture_specs():
    return {
        "llama-gqa": dict(kind="moice", model="llama-gqa", top_k=3, seed=201, router_std=ROUTER_STD,
                          invariants_of="llama-gqa"),
        "llama-gqa-k7": dict(kind="moice", model="llama-gqa", top_k=7, seed=201, router_std=ROUTER_STD,
                             notes="Same routers as moice/llama-gqa, K = N = 7 (official Llama-2 setting): every "
                                   "expert is used with its plain softmax weight."),
        "qwen2-bias-tied": dict(kind="moice", model="qwen2-bias-tied", top_k=3, seed=213, router_std=ROUTER_STD,
                                invariants_of="qwen2-bias-tied",
                                notes="q/k/v biases: the router sees the query after the q_proj bias. theta 1e6."),
        "mistral-mqa": dict(kind="moice", model="mistral-mqa", top_k=3, seed=234, router_std=ROUTER_STD,
                            invariants_of="mistral-mqa",
                            notes="MQA (one KV head), head_dim 24, sliding window 16: every expert's attention "
                                  "uses the same window mask."),
        # Router logits grow as std^3 * |q|^2; these models have larger queries, so a smaller std keeps the
        # routing a real mixture (with 0.5 the 2nd expert's median weight would be 0.009 / 5e-5).
        "llama3-rope": dict(kind="moice", model="llama3-rope", top_k=3, seed=205, router_std=0.4,
                            notes="llama3 RoPE scaling applied to each base (its wavelength thresholds act on "
                                  "each base's own frequencies)."),
        "llama-yarn-rope": dict(kind="moice", model="llama-yarn-rope", top_k=3, seed=206, router_std=0.3,
                                notes="YaRN applied to each base (the correction range depends on the base; "
                                      "attention_factor multiplies cos and sin of every expert)."),
        "llama-dynamic-rope": dict(kind="moice", model="llama-dynamic-rope", top_k=3, seed=207,
                                   router_std=ROUTER_STD,
                                   notes="Dynamic NTK applied to each base for one 56-token prefill: every position "
                                         "uses the base B_j * (2 * 56 / 32 - 1) ** (16 / 14)."),
        "ab-llama-gqa": dict(kind="ab", model="llama-gqa"),
        "mspoe-llama-gqa": dict(kind="mspoe", model_seed=111, tokens_from="llama-gqa", continuation_prompt_len=24),
    }


BUILDERS = {"moice": build_moice, "ab": build_ab, "mspoe": build_mspoe}


def main(argv):
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # fixed reduction order: same bytes on every run
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    specs = fixture_specs()
    names = argv or list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise SystemExit(f"unknown fixture(s) {unknown}; known: {sorted(specs)}")
    invariant_notes = {}
    os.makedirs(FIXTURES_DIR, exist_ok=True)
    for name in names:
        spec = dict(specs[name])
        if "invariants_of" in spec:
            model_name = spec["invariants_of"]
            if model_name not in invariant_notes:
                invariant_notes[model_name] = moice_invariants(os.path.join(MODELS_DIR, model_name))
            spec["invariants"] = invariant_notes[model_name]
        target = os.path.join(FIXTURES_DIR, name)
        staging = tempfile.mkdtemp(prefix=f".{name}.", dir=FIXTURES_DIR)
        try:
            BUILDERS[spec["kind"]](name, spec, staging)
            if os.path.exists(target):
                shutil.rmtree(target)
            for folder, _, files in os.walk(staging):
                os.chmod(folder, 0o755)
                for file in files:
                    os.chmod(os.path.join(folder, file), 0o644)
            os.rename(staging, target)
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging)
        files = sorted(os.listdir(target))
        size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(target) for f in fs)
        print(f"{name}: {size} bytes: {files}")


if __name__ == "__main__":
    main(sys.argv[1:])
