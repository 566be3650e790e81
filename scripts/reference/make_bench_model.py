"""Writes a random-weight checkpoint with exactly the shape of SmolLM2-135M, for benchmarks. Never committed.

    python scripts/reference/make_bench_model.py [--dtype f32|f16|bf16] [--out DIR] [--seed N]

Default output: models/smollm2-135m-shape (git-ignored). Needs only numpy: the safetensors file is streamed
tensor by tensor (about 540 MB in f32) and config.json is written by hand in the layout the real
SmolLM2-135M checkpoint uses (top-level rope_theta, rope_scaling null). The directory appears atomically.

With --verify (needs torch + transformers) it loads the result with LlamaForCausalLM, checks the parameter count
and runs a short forward.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "models", "smollm2-135m-shape")
EXPECTED_PARAMETERS = 134_515_008

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 576,
    "initializer_range": 0.041666666666666664,
    "intermediate_size": 1536,
    "max_position_embeddings": 8192,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "pad_token_id": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "use_cache": True,
    "vocab_size": 49152,
}

DTYPES = {  # flag -> (safetensors dtype name, torch_dtype name in config.json, bytes per element)
    "f32": ("F32", "float32", 4),
    "f16": ("F16", "float16", 2),
    "bf16": ("BF16", "bfloat16", 2),
}


def tensor_shapes(config):
    """Tensor names and shapes in HF Llama naming; no lm_head.weight because the embeddings are tied."""
    hidden = config["hidden_size"]
    inter = config["intermediate_size"]
    head_dim = hidden // config["num_attention_heads"]
    kv_width = config["num_key_value_heads"] * head_dim
    shapes = {"model.embed_tokens.weight": (config["vocab_size"], hidden)}
    for layer in range(config["num_hidden_layers"]):
        pre = f"model.layers.{layer}."
        shapes[pre + "input_layernorm.weight"] = (hidden,)
        shapes[pre + "self_attn.q_proj.weight"] = (hidden, hidden)
        shapes[pre + "self_attn.k_proj.weight"] = (kv_width, hidden)
        shapes[pre + "self_attn.v_proj.weight"] = (kv_width, hidden)
        shapes[pre + "self_attn.o_proj.weight"] = (hidden, hidden)
        shapes[pre + "post_attention_layernorm.weight"] = (hidden,)
        shapes[pre + "mlp.gate_proj.weight"] = (inter, hidden)
        shapes[pre + "mlp.up_proj.weight"] = (inter, hidden)
        shapes[pre + "mlp.down_proj.weight"] = (hidden, inter)
    shapes["model.norm.weight"] = (hidden,)
    return dict(sorted(shapes.items()))  # save_pretrained also writes names in sorted order


def random_tensor(rng, name, shape, std):
    if name.endswith("norm.weight"):
        return (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    return (std * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)


def encode(values, dtype_flag):
    """Little-endian bytes of a float32 array in the requested storage format."""
    if dtype_flag == "f32":
        return values.astype("<f4").tobytes()
    if dtype_flag == "f16":
        return values.astype("<f2").tobytes()
    bits = values.astype("<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even (no NaNs here)
    return rounded.astype("<u2").tobytes()


def write_safetensors(path, shapes, dtype_flag, seed, std):
    """Streams one safetensors file: 8-byte header length, JSON header, then each tensor's bytes in order."""
    type_name, _, width = DTYPES[dtype_flag]
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = int(np.prod(shape)) * width
        header[name] = {"dtype": type_name, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)  # keep the data 8-byte aligned, as the reference writer does
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(len(header_bytes).to_bytes(8, "little"))
        f.write(header_bytes)
        for name, shape in shapes.items():
            f.write(encode(random_tensor(rng, name, shape, std), dtype_flag))


def verify(out_dir, dtype_flag):
    import torch
    from transformers import LlamaForCausalLM

    torch_dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype_flag]
    model = LlamaForCausalLM.from_pretrained(out_dir, dtype=torch_dtype).eval()
    count = sum(p.numel() for p in model.parameters())
    assert count == EXPECTED_PARAMETERS, f"transformers counts {count} parameters"
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "lm_head not tied"
    with torch.no_grad():
        logits = model.float()(torch.tensor([[1, 200, 3000, 40000]])).logits
    assert torch.isfinite(logits).all(), "non-finite logits"
    print(f"verified with transformers: {count} parameters, tied head, finite logits {tuple(logits.shape)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=135)
    parser.add_argument("--verify", action="store_true", help="load with transformers and check (needs torch)")
    args = parser.parse_args()

    shapes = tensor_shapes(CONFIG)
    count = sum(int(np.prod(s)) for s in shapes.values())
    assert count == EXPECTED_PARAMETERS, f"shape table gives {count} parameters, expected {EXPECTED_PARAMETERS}"

    out_dir = os.path.abspath(args.out)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".smollm2-shape.", dir=parent)
    try:
        config = dict(CONFIG, torch_dtype=DTYPES[args.dtype][1])
        with open(os.path.join(staging, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        write_safetensors(os.path.join(staging, "model.safetensors"), shapes, args.dtype, args.seed,
                          CONFIG["initializer_range"])
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.chmod(staging, 0o755)
        os.rename(staging, out_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    size = os.path.getsize(os.path.join(out_dir, "model.safetensors"))
    print(f"wrote {out_dir}: {count} parameters, {args.dtype}, model.safetensors {size} bytes")
    if args.verify:
        verify(out_dir, args.dtype)


if __name__ == "__main__":
    sys.exit(main())
