"""Independent float64 forward pass for the fixture checkpoints, written from the papers / HF docs.

It reads only config.json and the safetensors files (no transformers), so agreement with the logits that
transformers computed shows that the fixture exercises what we think it does (sliding window, each RoPE
scaling rule, biases, tied embeddings, explicit head_dim). It also documents, in one short file, the exact
semantics the Java engine has to reproduce.
"""

import json
import math
import os

import numpy as np
from safetensors.numpy import load_file


def load_checkpoint(model_dir):
    """Returns (config dict, {name: float64 array}) for a directory written by save_pretrained."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    index_path = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for name in files:
        # safetensors.numpy has no bfloat16; read raw bits and widen by hand.
        weights.update(_load_any_dtype(os.path.join(model_dir, name)))
    return config, weights


def _load_any_dtype(path):
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        shape = info["shape"]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2")
        elif info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        out[name] = arr.astype(np.float64).reshape(shape)
    return out


def rope_parameters(config):
    """The RoPE dict, accepting both the transformers 5 layout (rope_parameters) and the legacy one
    (top-level rope_theta + rope_scaling, whose type key may be 'type' or 'rope_type')."""
    params = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
    params.setdefault("rope_theta", config.get("rope_theta", 10000.0))
    params["rope_type"] = params.get("rope_type", params.get("type", "default"))
    return params


def inverse_frequencies(config, head_dim, seq_len):
    """Returns (inv_freq [head_dim/2], attention_scaling applied to cos and sin)."""
    p = rope_parameters(config)
    base = float(p["rope_theta"])
    dim = head_dim
    kind = p["rope_type"]
    exponents = np.arange(0, dim, 2, dtype=np.float64) / dim
    if kind == "default":
        return base ** -exponents, 1.0
    if kind == "linear":
        return base ** -exponents / p["factor"], 1.0
    if kind == "dynamic":
        # NTK-aware base, recomputed from the current length; for a prefill the length is the whole block,
        # and every position of the block (also the early ones) uses the same enlarged base.
        max_pos = config["max_position_embeddings"]
        length = max(seq_len, max_pos)
        factor = p["factor"]
        base = base * ((factor * length / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return base ** -exponents, 1.0
    if kind == "llama3":
        inv = base ** -exponents
        factor = p["factor"]
        old_len = p["original_max_position_embeddings"]
        low_wavelen = old_len / p["low_freq_factor"]
        high_wavelen = old_len / p["high_freq_factor"]
        out = np.empty_like(inv)
        for i, f in enumerate(inv):
            wavelen = 2 * math.pi / f
            if wavelen < high_wavelen:
                out[i] = f
            elif wavelen > low_wavelen:
                out[i] = f / factor
            else:
                smooth = (old_len / wavelen - p["low_freq_factor"]) / (p["high_freq_factor"] - p["low_freq_factor"])
                out[i] = (1 - smooth) * f / factor + smooth * f
        return out, 1.0
    if kind == "yarn":
        factor = p["factor"]
        old_len = p["original_max_position_embeddings"]
        beta_fast = p.get("beta_fast") or 32
        beta_slow = p.get("beta_slow") or 1

        def correction_dim(rotations):
            return dim * math.log(old_len / (rotations * 2 * math.pi)) / (2 * math.log(base))

        low = correction_dim(beta_fast)
        high = correction_dim(beta_slow)
        if p.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(dim // 2) - low) / (high - low), 0, 1)
        extrapolation_weight = 1 - ramp
        pos_freqs = base ** exponents
        inv = (1 / (factor * pos_freqs)) * (1 - extrapolation_weight) + (1 / pos_freqs) * extrapolation_weight
        scaling = p.get("attention_factor")
        if scaling is None:
            scaling = 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0
        return inv, scaling
    raise ValueError(f"unsupported rope_type {kind}")


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rotate_half_layout(x, cos, sin):
    """HF checkpoint layout: the head vector is [first half | second half], pair (i, i + d/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def linear(x, weights, prefix):
    y = x @ weights[prefix + ".weight"].T
    if prefix + ".bias" in weights:
        y = y + weights[prefix + ".bias"]
    return y


def sliding_window_of(config):
    if config.get("model_type") == "qwen2" and not config.get("use_sliding_window", False):
        return None
    return config.get("sliding_window")


def forward(config, weights, tokens):
    """Logits [T, vocab] in float64 for one sequence starting at position 0."""
    hidden = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim") or hidden // n_heads
    eps = config["rms_norm_eps"]
    T = len(tokens)

    inv_freq, attention_scaling = inverse_frequencies(config, head_dim, T)
    angles = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]
    cos = np.cos(angles) * attention_scaling
    sin = np.sin(angles) * attention_scaling

    q_idx = np.arange(T)[:, None]
    k_idx = np.arange(T)[None, :]
    allowed = k_idx <= q_idx
    window = sliding_window_of(config)
    if window is not None:
        allowed &= k_idx > q_idx - window  # each query sees itself and the window-1 keys before it

    x = weights["model.embed_tokens.weight"][np.asarray(tokens)]
    for layer in range(config["num_hidden_layers"]):
        pre = f"model.layers.{layer}."
        h = rms_norm(x, weights[pre + "input_layernorm.weight"], eps)
        q = linear(h, weights, pre + "self_attn.q_proj").reshape(T, n_heads, head_dim)
        k = linear(h, weights, pre + "self_attn.k_proj").reshape(T, n_kv, head_dim)
        v = linear(h, weights, pre + "self_attn.v_proj").reshape(T, n_kv, head_dim)
        q = rotate_half_layout(q, cos[:, None, :], sin[:, None, :])
        k = rotate_half_layout(k, cos[:, None, :], sin[:, None, :])
        heads = []
        for head in range(n_heads):
            kv = head // (n_heads // n_kv)
            scores = q[:, head, :] @ k[:, kv, :].T / math.sqrt(head_dim)
            scores = np.where(allowed, scores, -np.inf)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            heads.append(scores @ v[:, kv, :])
        x = x + linear(np.concatenate(heads, axis=-1), weights, pre + "self_attn.o_proj")
        h = rms_norm(x, weights[pre + "post_attention_layernorm.weight"], eps)
        gate = linear(h, weights, pre + "mlp.gate_proj")
        up = linear(h, weights, pre + "mlp.up_proj")
        x = x + linear(gate / (1 + np.exp(-gate)) * up, weights, pre + "mlp.down_proj")
    x = rms_norm(x, weights["model.norm.weight"], eps)
    head = weights.get("lm_head.weight")
    if head is None:
        if not config.get("tie_word_embeddings", False):
            raise ValueError("lm_head.weight missing but tie_word_embeddings is false")
        head = weights["model.embed_tokens.weight"]
    return x @ head.T
