"""Independent float64 numpy forward passes for MoICE, Attention Buckets and Ms-PoE.

Written straight from docs/method.md, without transformers: it shares only the checkpoint reader and the plain decoder
pieces (RMSNorm, linear, rotate-half RoPE, RoPE scaling rules) of `numpy_forward.py`. `moice_reference.py` runs its
patched-transformers implementation and this one side by side; agreement to ~1e-6 shows both say the same thing.

MoICE here computes, for every (token, head), ONLY its K selected experts, one at a time, each with its own query
rotation and keys rotated at their own positions; the transformers implementation instead computes every expert and
multiplies the unselected ones by zero (as the official code does). Equal results show the two are the same.
"""

import math

import numpy as np

import numpy_forward as nf


def with_base(config, base):
    """The config with rope_theta replaced by `base` and every other RoPE setting (scaling) kept."""
    params = dict(nf.rope_parameters(config), rope_theta=float(base))
    out = dict(config, rope_parameters=params)
    out.pop("rope_scaling", None)
    out.pop("rope_theta", None)
    return out


def shape_of(config):
    hidden = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_heads
    head_dim = config.get("head_dim") or hidden // n_heads
    return n_heads, n_kv, head_dim


def rope_tables(config, head_dim, seq_len, positions, base=None):
    """cos, sin [len(positions), head_dim/2] of the model's RoPE (with its scaling) for `base` (default: the
    model's own rope_theta). `seq_len` is what dynamic NTK uses; `positions` may be fractional (Ms-PoE)."""
    cfg = config if base is None else with_base(config, base)
    inv_freq, attention_scaling = nf.inverse_frequencies(cfg, head_dim, seq_len)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(angles) * attention_scaling, np.sin(angles) * attention_scaling


def rotate(x, cos, sin):
    return nf.rotate_half_layout(x, cos, sin)


def allowed_mask(config, seq_len):
    q_idx = np.arange(seq_len)[:, None]
    k_idx = np.arange(seq_len)[None, :]
    allowed = k_idx <= q_idx
    window = nf.sliding_window_of(config)
    if window is not None:
        allowed &= k_idx > q_idx - window
    return allowed


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def attend(q_row, keys, values, allowed_row, head_dim):
    """One query row against rotated keys [T, d]: causal (and windowed) softmax attention, scale 1/sqrt(d)."""
    scores = keys @ q_row / math.sqrt(head_dim)
    scores = np.where(allowed_row, scores, -np.inf)
    return softmax(scores) @ values


def forward(config, weights, tokens, attention):
    """Logits [T, vocab] (float64). `attention(layer, q, k, v)` gets the un-rotated q [T, H, d], k, v [T, Hkv, d]
    of a layer and returns the concatenated head outputs [T, H*d] before o_proj."""
    eps = config["rms_norm_eps"]
    x = weights["model.embed_tokens.weight"][np.asarray(tokens)]
    n_heads, n_kv, head_dim = shape_of(config)
    T = len(tokens)
    for layer in range(config["num_hidden_layers"]):
        pre = f"model.layers.{layer}."
        h = nf.rms_norm(x, weights[pre + "input_layernorm.weight"], eps)
        q = nf.linear(h, weights, pre + "self_attn.q_proj").reshape(T, n_heads, head_dim)
        k = nf.linear(h, weights, pre + "self_attn.k_proj").reshape(T, n_kv, head_dim)
        v = nf.linear(h, weights, pre + "self_attn.v_proj").reshape(T, n_kv, head_dim)
        x = x + nf.linear(attention(layer, q, k, v), weights, pre + "self_attn.o_proj")
        h = nf.rms_norm(x, weights[pre + "post_attention_layernorm.weight"], eps)
        gate = nf.linear(h, weights, pre + "mlp.gate_proj")
        up = nf.linear(h, weights, pre + "mlp.up_proj")
        x = x + nf.linear(gate / (1 + np.exp(-gate)) * up, weights, pre + "mlp.down_proj")
    x = nf.rms_norm(x, weights["model.norm.weight"], eps)
    head = weights.get("lm_head.weight")
    if head is None:
        head = weights["model.embed_tokens.weight"]
    return x @ head.T


def moice_logits(config, weights, tokens, routers, bases, top_k):
    """MoICE forward. `routers`: {tensor name: array} as in a router file. Returns (logits, routing) where
    routing[layer] = (selected [T, H, K] expert ids, best first; weights [T, H, K]; router logits z [T, H, N])."""
    n_heads, n_kv, head_dim = shape_of(config)
    group = n_heads // n_kv
    T = len(tokens)
    positions = np.arange(T)
    tables = [rope_tables(config, head_dim, T, positions, base) for base in bases]
    allowed = allowed_mask(config, T)
    routing = []

    def attention(layer, q, k, v):
        pre = f"model.layers.{layer}.self_attn."
        w1, w2, w3 = (routers[pre + f"gate_{i}.weight"].astype(np.float64) for i in (1, 2, 3))
        cos1, sin1 = tables[0]
        x = rotate(q, cos1[:, None, :], sin1[:, None, :])           # [T, H, d]
        a = x @ w1.T
        z = (a / (1 + np.exp(-a)) * (x @ w3.T)) @ w2.T               # [T, H, N]
        p = softmax(z)
        selected = np.argsort(-z, axis=-1, kind="stable")[..., :top_k]  # ties: lower expert index first
        chosen = np.take_along_axis(p, selected, axis=-1)
        chosen = chosen / chosen.sum(axis=-1, keepdims=True)
        rotated_keys = [rotate(k, cos[:, None, :], sin[:, None, :]) for cos, sin in tables]
        out = np.zeros((T, n_heads, head_dim))
        for t in range(T):
            for h in range(n_heads):
                for slot in range(top_k):
                    j = selected[t, h, slot]
                    cos, sin = tables[j]
                    q_rot = rotate(q[t, h], cos[t], sin[t])
                    o = attend(q_rot, rotated_keys[j][:, h // group], v[:, h // group], allowed[t], head_dim)
                    out[t, h] += chosen[t, h, slot] * o
        routing.append((selected, chosen, z))
        return out.reshape(T, n_heads * head_dim)

    return forward(config, weights, tokens, attention), routing


def vanilla_logits(config, weights, tokens, base=None):
    n_heads, n_kv, head_dim = shape_of(config)
    T = len(tokens)
    cos, sin = rope_tables(config, head_dim, T, np.arange(T), base)
    allowed = allowed_mask(config, T)

    def attention(layer, q, k, v):
        qr = rotate(q, cos[:, None, :], sin[:, None, :])
        kr = rotate(k, cos[:, None, :], sin[:, None, :])
        group = n_heads // n_kv
        out = np.stack([np.stack([attend(qr[t, h], kr[:, h // group], v[:, h // group], allowed[t], head_dim)
                                  for h in range(n_heads)]) for t in range(T)])
        return out.reshape(T, n_heads * head_dim)

    return forward(config, weights, tokens, attention)


def attention_buckets_logits(config, weights, tokens, bases):
    """Returns (combined logits [T, vocab], bucket weights [T, N])."""
    buckets = np.stack([vanilla_logits(config, weights, tokens, base) for base in bases])  # [N, T, V]
    w = softmax(buckets.max(axis=-1).T)                                                    # [T, N]
    return np.einsum("tn,ntv->tv", w, buckets), w


def mspoe_logits(config, weights, tokens, prompt_len, first_layer=2, min_ratio=1.2, max_ratio=1.8,
                 outlier_factor=3.0):
    """Ms-PoE forward of all `tokens`, with head ratios fixed from the first `prompt_len` tokens (the prompt).
    Returns (logits, per-layer dict(outlier_counts, order, ratios, kv_ratios))."""
    n_heads, n_kv, head_dim = shape_of(config)
    group = n_heads // n_kv
    T = len(tokens)
    positions = np.arange(T, dtype=np.float64)
    allowed = allowed_mask(config, T)
    inv_freq, attention_scaling = nf.inverse_frequencies(config, head_dim, T)
    stats = []

    def table(pos):
        angles = pos[:, None] * inv_freq[None, :]
        return np.cos(angles) * attention_scaling, np.sin(angles) * attention_scaling

    def attention(layer, q, k, v):
        if layer < first_layer:
            ratios = np.ones(n_heads)
            kv_ratios = np.ones(n_kv)
        else:
            # Position awareness from the un-rotated q.k of the last PROMPT token against every prompt key.
            last = prompt_len - 1
            counts = []
            for h in range(n_heads):
                probs = softmax(k[:prompt_len, h // group] @ q[last, h] / math.sqrt(head_dim))
                counts.append(int(np.sum(probs > outlier_factor / prompt_len)))
            order = sorted(range(n_heads), key=lambda h: (-counts[h], h))
            ratios = np.empty(n_heads)
            for rank, h in enumerate(order):
                ratios[h] = min_ratio + (max_ratio - min_ratio) * rank / n_heads
            kv_ratios = ratios[::group]
            stats.append(dict(layer=layer, outlier_counts=counts, order=order, ratios=ratios.tolist(),
                              kv_ratios=kv_ratios.tolist()))
        out = np.zeros((T, n_heads, head_dim))
        for g in range(n_kv):
            cos, sin = table(positions / kv_ratios[g])
            keys = rotate(k[:, g], cos, sin)
            for h in range(g * group, (g + 1) * group):
                cos, sin = table(positions / ratios[h])
                queries = rotate(q[:, h], cos, sin)
                for t in range(T):
                    out[t, h] = attend(queries[t], keys, v[:, g], allowed[t], head_dim)
        return out.reshape(T, n_heads * head_dim)

    return forward(config, weights, tokens, attention), stats
