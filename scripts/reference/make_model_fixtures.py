"""Builds the tiny random checkpoints under cli/src/test/resources/models/ and the logits transformers computes for them.

Run from anywhere:  python scripts/reference/make_model_fixtures.py  [name ...]
Deterministic (every fixture has its own seed) and idempotent: each fixture directory is rebuilt from scratch.

Each fixture directory holds config.json and the safetensors weights exactly as save_pretrained writes them,
tokens.json (the input ids), logits.safetensors (float32 `logits` [T, vocab], all positions, computed on CPU in
float32 with eager attention from the saved files), reference.json (versions + notes) and, for some, greedy.json.
"""

import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_forward  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES_DIR = os.path.join(REPO_ROOT, "cli", "src", "test", "resources", "models")

LINEAR_STD = 0.2  # gives logits a spread of several units through a 64-wide untied head
BIAS_STD = 0.1
NORM_STD = 0.1
EMBED_STD = 1.0
GREEDY_NEW_TOKENS = 20
GREEDY_MIN_GAP = 0.01
SAVED_VS_MEMORY_TOL = 1e-6  # max |Δ| between the logits of the in-memory model and of the reloaded files
NUMPY_REL_TOL = 2e-5  # max |Δ| / max |ref| between transformers fp32 and the independent fp64 forward

COMMON = dict(hidden_size=64, num_hidden_layers=2, attn_implementation="eager")


def fixture_specs():
    """name -> dict(family, config kwargs, seq_len, seed, weights dtype, notes, extra options)."""
    llama = dict(COMMON, vocab_size=256, intermediate_size=100, num_attention_heads=4, num_key_value_heads=2,
                 max_position_embeddings=128, rms_norm_eps=1e-5)
    return {
        "llama-gqa": dict(
            family="llama", seed=101, seq_len=40, greedy_prompt_len=16,
            config=dict(llama, eos_token_id=None),
            notes="Llama, 4 query heads sharing 2 KV heads (GQA), head_dim 16, intermediate 100 (not a multiple "
                  "of 8), untied lm_head, default RoPE theta 10000. eos_token_id is null so greedy generation "
                  "never stops early."),
        "mistral-mqa": dict(
            family="mistral", seed=102, seq_len=48, sliding_window_check=True,
            config=dict(COMMON, vocab_size=320, intermediate_size=90, num_attention_heads=4, num_key_value_heads=1,
                        head_dim=24, sliding_window=16, max_position_embeddings=128, rms_norm_eps=1e-6,
                        rope_theta=10000.0),
            notes="Mistral, 4 query heads sharing 1 KV head (MQA), explicit head_dim 24 (q_proj out 96 != hidden "
                  "64), intermediate 90, sliding_window 16 with 48 tokens. transformers' eager mask lets query i "
                  "attend keys j with i - 16 < j <= i (the window includes the query itself: 16 keys)."),
        "qwen2-bias-tied": dict(
            family="qwen2", seed=103, seq_len=36, greedy_prompt_len=12,
            config=dict(COMMON, vocab_size=384, intermediate_size=136, num_attention_heads=4, num_key_value_heads=2,
                        tie_word_embeddings=True, use_sliding_window=False, max_position_embeddings=256,
                        rms_norm_eps=1e-6, rope_theta=1000000.0),
            notes="Qwen2: q/k/v projections have biases (o_proj none), tie_word_embeddings true (no lm_head.weight "
                  "in the file: logits use model.embed_tokens.weight), use_sliding_window false, rope_theta 1e6, "
                  "no bos token (bos_token_id null)."),
        "llama3-rope": dict(
            family="llama", seed=104, seq_len=64, rope_check=True,
            config=dict(COMMON, vocab_size=256, intermediate_size=100, num_attention_heads=2, num_key_value_heads=2,
                        max_position_embeddings=128, rms_norm_eps=1e-5,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=32)),
            notes="Llama 3 RoPE scaling, MHA (2 heads, 2 KV heads), head_dim 32, 64 tokens. "
                  "original_max_position_embeddings is 32, not 16: with 16 the high-frequency cutoff wavelength "
                  "16/4 = 4 is below the shortest RoPE wavelength 2*pi, so no pair would stay unscaled. With 32 "
                  "(theta 10000, head_dim 32) pair 0 (wavelength 6.28 < 8) is unchanged, pairs 1-2 (11.2, 19.9) "
                  "are smoothly interpolated, pairs 3-15 (wavelength > 32) are divided by 8."),
        "llama-linear-rope": dict(
            family="llama", seed=105, seq_len=48, rope_check=True,
            config=dict(llama, rope_scaling=dict(rope_type="linear", factor=4.0)),
            notes="Linear RoPE scaling (position interpolation), factor 4: inv_freq divided by 4."),
        "llama-dynamic-rope": dict(
            family="llama", seed=106, seq_len=56, rope_check=True,
            config=dict(llama, max_position_embeddings=32, rope_scaling=dict(rope_type="dynamic", factor=2.0)),
            notes="Dynamic NTK RoPE, factor 2, max_position_embeddings 32, 56 tokens. For a prefill of T tokens "
                  "transformers uses seq_len = max(position_ids) + 1 = T (if T > max_position_embeddings) and "
                  "base = theta * (factor * T / max_position_embeddings - (factor - 1)) ** (head_dim / "
                  "(head_dim - 2)) = 10000 * 2.5 ** (16/14) for EVERY position of the block, including the ones "
                  "below 32. In incremental decoding it recomputes the base whenever the length grows past the "
                  "largest length seen so far, but keys already in its cache keep the rotation they got, so decode "
                  "results depend on how the sequence was split; these logits are for one 56-token prefill."),
        "llama-yarn-rope": dict(
            family="llama", seed=107, seq_len=64, rope_check=True,
            config=dict(llama, head_dim=32, max_position_embeddings=64,
                        rope_scaling=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=16)),
            notes="YaRN, factor 4, original_max_position_embeddings 16, explicit head_dim 32 (q_proj out 128 != "
                  "hidden 64), 64 tokens. beta_fast 32 / beta_slow 1 (defaults), truncate true: correction range "
                  "[low, high] = [0, 2], so pair 0 is extrapolated (unchanged), pair 1 is half/half, pairs >= 2 "
                  "are interpolated (divided by 4). attention_factor = 0.1 * ln(4) + 1 multiplies both cos and sin "
                  "(so q.k scores scale by its square)."),
        "llama-bias": dict(
            family="llama", seed=108, seq_len=32,
            config=dict(llama, attention_bias=True, mlp_bias=True),
            notes="Llama with attention_bias (q, k, v AND o_proj biases) and mlp_bias (gate, up, down biases)."),
        "llama-bf16-sharded": dict(
            family="llama", seed=109, seq_len=40, weights_dtype=torch.bfloat16, max_shard_size="100KB",
            config=dict(llama),
            notes="Weights stored as bfloat16 in several shards with model.safetensors.index.json. Reference "
                  "logits are computed in float32 from the bf16 weights (loaded, then .float()), as the Java engine "
                  "computes in fp32 from bf16 weights."),
        "llama-f16": dict(
            family="llama", seed=110, seq_len=40, weights_dtype=torch.float16,
            config=dict(llama),
            notes="Weights stored as float16 (one file). Reference logits are computed in float32 from the f16 "
                  "weights (loaded, then .float())."),
    }


FAMILIES = {
    "llama": (LlamaConfig, LlamaForCausalLM),
    "mistral": (MistralConfig, MistralForCausalLM),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM),
}


def reinitialise(model, seed):
    """Replaces HF's near-zero default init so that logits, attention and every bias actually matter."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():  # tied lm_head is the embedding and is listed once
            if name.endswith("embed_tokens.weight"):
                mean, std = 0.0, EMBED_STD
            elif name.endswith("norm.weight"):
                mean, std = 1.0, NORM_STD
            elif name.endswith(".bias"):
                mean, std = 0.0, BIAS_STD
            elif name.endswith("proj.weight") or name == "lm_head.weight":
                mean, std = 0.0, LINEAR_STD
            else:
                raise ValueError(f"parameter {name} has no init rule")
            param.copy_(torch.randn(param.shape, generator=generator) * std + mean)


def make_tokens(spec, config):
    rng = np.random.default_rng(spec["seed"])
    ids = rng.integers(3, config.vocab_size, size=spec["seq_len"]).tolist()
    if config.bos_token_id is not None:
        ids[0] = config.bos_token_id
    return [int(i) for i in ids]


def logits_of(model, tokens):
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].float().contiguous()


def load_saved(model_cls, directory, weights_dtype):
    """The model as the Java engine sees it: the file's weights, widened exactly to float32."""
    model = model_cls.from_pretrained(directory, dtype=weights_dtype, attn_implementation="eager")
    return model.float().eval()


def greedy_by_full_forward(model, prompt, count):
    """Greedy continuation without the KV cache: an independent check of model.generate.
    Returns (ids, smallest gap between the best and second-best logit over the steps)."""
    ids = list(prompt)
    smallest_gap = math.inf
    for _ in range(count):
        last = logits_of(model, ids)[-1]
        top2 = torch.topk(last, 2).values
        smallest_gap = min(smallest_gap, float(top2[0] - top2[1]))
        ids.append(int(last.argmax()))
    return ids[len(prompt):], smallest_gap


def relative_error(actual, expected):
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def build(name, spec, out_dir):
    config_cls, model_cls = FAMILIES[spec["family"]]
    config = config_cls(**spec["config"])
    torch.manual_seed(spec["seed"])
    model = model_cls(config).eval()
    reinitialise(model, spec["seed"])
    weights_dtype = spec.get("weights_dtype", torch.float32)
    with torch.no_grad():
        # Round the parameters only, so the in-memory model equals the saved one. (model.to(bf16) would also
        # round the rotary inv_freq buffer, which from_pretrained keeps in float32.)
        for param in model.parameters():
            param.copy_(param.to(weights_dtype).float())
    tokens = make_tokens(spec, config)
    memory_logits = logits_of(model, tokens)

    save_kwargs = {"max_shard_size": spec["max_shard_size"]} if "max_shard_size" in spec else {}
    model.to(weights_dtype).save_pretrained(out_dir, **save_kwargs)
    os.remove(os.path.join(out_dir, "generation_config.json"))
    with open(os.path.join(out_dir, "tokens.json"), "w") as f:
        json.dump(tokens, f)
        f.write("\n")

    # Reference logits come from the saved files, not from the in-memory model.
    saved_model = load_saved(model_cls, out_dir, weights_dtype)
    logits = logits_of(saved_model, tokens)
    save_file({"logits": logits}, os.path.join(out_dir, "logits.safetensors"))
    checks = check_fixture(name, spec, out_dir, model_cls, weights_dtype, tokens, memory_logits, logits)

    if "greedy_prompt_len" in spec:
        prompt = tokens[: spec["greedy_prompt_len"]]
        with torch.no_grad():
            out = saved_model.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=GREEDY_NEW_TOKENS,
                                       eos_token_id=None, pad_token_id=0)
        generated = [int(i) for i in out[0, len(prompt):]]
        assert len(generated) == GREEDY_NEW_TOKENS, f"{name}: generate stopped after {len(generated)} tokens"
        by_full_forward, smallest_gap = greedy_by_full_forward(saved_model, prompt, GREEDY_NEW_TOKENS)
        assert generated == by_full_forward, f"{name}: generate (KV cache) and full-forward greedy disagree"
        # An fp32 engine differs from torch by ~1e-5 relative; a near-tie would make the fixture flaky.
        assert smallest_gap > GREEDY_MIN_GAP, f"{name}: greedy top-2 gap only {smallest_gap}"
        with open(os.path.join(out_dir, "greedy.json"), "w") as f:
            json.dump({"prompt": prompt, "generated": generated}, f)
            f.write("\n")
        checks.append("greedy.json: model.generate(do_sample=False) equals argmax of repeated full forwards, "
                      f"smallest top-1/top-2 logit gap {smallest_gap:.3f}")

    reference = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "notes": spec["notes"] + " Logits: CPU, float32, attn_implementation=eager, from the saved files. "
                 f"Random weights (seed {spec['seed']}): linear N(0, {LINEAR_STD}), biases N(0, {BIAS_STD}), "
                 f"RMSNorm 1 + N(0, {NORM_STD}), embeddings N(0, {EMBED_STD}). Checks: " + "; ".join(checks) + ".",
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference, f, indent=2)
        f.write("\n")
    return logits.shape


def check_fixture(name, spec, out_dir, model_cls, weights_dtype, tokens, memory_logits, logits):
    checks = []
    saved_vs_memory = float((memory_logits - logits).abs().max())
    assert saved_vs_memory <= SAVED_VS_MEMORY_TOL, f"{name}: reloaded logits differ by {saved_vs_memory}"
    checks.append(f"reloaded vs in-memory max|d| {saved_vs_memory:.1e}")

    # A second, fresh reload must reproduce the stored file (also catches state left in dynamic RoPE).
    stored = load_file(os.path.join(out_dir, "logits.safetensors"))["logits"]
    again = logits_of(load_saved(model_cls, out_dir, weights_dtype), tokens)
    assert float((stored - again).abs().max()) <= SAVED_VS_MEMORY_TOL, f"{name}: reload is not reproducible"

    std_over_vocab = float(logits.std(dim=-1).min())
    assert std_over_vocab > 1.0, f"{name}: logits too flat (min std over vocab {std_over_vocab})"
    checks.append(f"min over positions of logits std over vocab {std_over_vocab:.2f}")

    config, weights = numpy_forward.load_checkpoint(out_dir)
    independent = numpy_forward.forward(config, weights, tokens)
    rel = relative_error(logits.double().numpy(), independent)
    assert rel <= NUMPY_REL_TOL, f"{name}: transformers vs independent fp64 forward: {rel}"
    checks.append(f"independent fp64 numpy forward agrees to max|d|/max|ref| {rel:.1e}")

    if spec.get("sliding_window_check"):
        window = config["sliding_window"]
        unwindowed = dict(config, sliding_window=None)
        full = numpy_forward.forward(unwindowed, weights, tokens)
        inside = float(np.max(np.abs(full[:window] - independent[:window])))
        outside = float(np.max(np.abs(full[window:] - independent[window:])))
        assert inside < 1e-9 and outside > 0.1, f"{name}: window does not matter ({inside}, {outside})"
        checks.append(f"without the window, positions < {window} are unchanged and later ones move by up to "
                      f"{outside:.2f}, so the window matters")
    if spec.get("rope_check"):
        plain = dict(config, rope_parameters={"rope_type": "default",
                                              "rope_theta": config["rope_parameters"]["rope_theta"]})
        moved = float(np.max(np.abs(numpy_forward.forward(plain, weights, tokens) - independent)))
        assert moved > 0.1, f"{name}: rope scaling hardly matters ({moved})"
        checks.append(f"unscaled RoPE would move logits by up to {moved:.2f}, so the scaling matters")
    return checks


def main(argv):
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # reduction order fixed: same bytes on every run
    transformers.logging.set_verbosity_error()
    specs = fixture_specs()
    names = argv or list(specs)
    os.makedirs(FIXTURES_DIR, exist_ok=True)
    for name in names:
        target = os.path.join(FIXTURES_DIR, name)
        staging = tempfile.mkdtemp(prefix=f".{name}.", dir=FIXTURES_DIR)
        try:
            shape = build(name, specs[name], staging)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.chmod(staging, 0o755)
            os.rename(staging, target)
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging)
        size = sum(os.path.getsize(os.path.join(target, f)) for f in os.listdir(target))
        print(f"{name}: logits {list(shape)}, {size} bytes: {sorted(os.listdir(target))}")


if __name__ == "__main__":
    main(sys.argv[1:])
