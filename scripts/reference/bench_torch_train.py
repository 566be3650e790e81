"""PyTorch CPU baseline for MoICE router training: seconds per forward + backward of one sequence, and peak RSS, on
the SmolLM2-135M shape with random frozen float32 weights. The numbers the Java trainer is compared with.

  python scripts/reference/bench_torch_train.py                        # T=1024 timing, peak RSS at T=4096
  python scripts/reference/bench_torch_train.py --tokens 1024 --runs 3 --warmup 1 --rss-tokens 0   # timing only

Variants (both: loss = mean next-token CE over all positions, one sequence, batch 1):
  vanilla  the plain model; nothing but the embedding output requires grad (backward through the whole frozen
           network, no weight gradients): the cost floor of any router training.
  moice    MoICE attention of moice_reference.py, N=7 bases theta*[1, 1.75, ..., 2.5], K=3, routers N(0, 0.02)
           (official init) trainable, everything else frozen; loss CE + 0.3 L_aux (moice_grad_reference.py).
           Like the official code it computes all N experts per layer and zeroes the unselected ones.
Attention: `--attn sdpa` (default) runs each attention (vanilla, and every MoICE expert) through
torch's scaled_dot_product_attention with is_causal (flash kernel on CPU, O(T) memory; the model has no sliding
window); `--attn eager` keeps the [H, T, T] score matrices (MoICE: N of them per layer; about 8 GB at T=1024).
Peak RSS is measured in a fresh child process per variant, so the two do not mask each other: VmHWM of
/proc/self/status, which a new program starts afresh (Linux's ru_maxrss does not: it keeps the parent's peak across
fork and exec, so the child reported the parent's timing runs). ru_maxrss only where /proc is missing.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import transformers
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import repeat_kv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moice_grad_reference as grad_reference  # noqa: E402
import moice_reference as mr  # noqa: E402

SMOLLM2_SHAPE = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                     num_key_value_heads=3, head_dim=64, vocab_size=49152, tie_word_embeddings=True,
                     rope_theta=100000.0, rms_norm_eps=1e-5, max_position_embeddings=8192, hidden_act="silu")
TOP_K = 3
ROUTER_STD = 0.02
AUX_COEF = 0.3


def sdpa_attention(module, query, key, value, attention_mask):
    """Drop-in for moice_reference.softmax_attention: causal SDPA (the additive mask is causal-only here)."""
    return nn.functional.scaled_dot_product_attention(
        query, repeat_kv(key, module.num_key_value_groups), repeat_kv(value, module.num_key_value_groups),
        is_causal=True, scale=module.scaling)


def build(variant, attn, seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(**SMOLLM2_SHAPE)
    # MoICE replaces the attention forward and needs transformers' eager additive mask; vanilla uses the named kernel.
    implementation = "eager" if variant == "moice" or attn == "eager" else "sdpa"
    config._attn_implementation = implementation
    model = LlamaForCausalLM(config).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if variant == "moice":
        theta = SMOLLM2_SHAPE["rope_theta"]
        mr.install_moice(model, mr.moice_bases(theta), TOP_K)
        mr.randomise_routers(model, seed=1, std=ROUTER_STD)
        if attn == "sdpa":
            mr.softmax_attention = sdpa_attention  # used by moice_reference's expert loop
        for parameter in grad_reference.gates(model).values():
            parameter.requires_grad_(True)
    return model


def step(model, variant, tokens):
    """One forward + backward; returns the loss."""
    if variant == "vanilla":
        ids = torch.tensor([tokens])
        embeds = model.model.embed_tokens(ids).detach().requires_grad_(True)
        logits = model(inputs_embeds=embeds, use_cache=False).logits[0]
        loss = nn.functional.cross_entropy(logits[:-1], ids[0, 1:])
    else:
        logits, router_logits = grad_reference.run_forward(model, tokens)
        loss = grad_reference.objective(logits, router_logits, tokens, None, AUX_COEF, TOP_K)["total"]
    loss.backward()
    for parameter in model.parameters():
        parameter.grad = None
    return float(loss.detach())


def random_tokens(length, seed=7):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, SMOLLM2_SHAPE["vocab_size"], (length,), generator=generator).tolist()


def time_variant(variant, attn, length, warmup, runs):
    model = build(variant, attn)
    tokens = random_tokens(length)
    for _ in range(warmup):
        step(model, variant, tokens)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        step(model, variant, tokens)
        seconds.append(time.perf_counter() - start)
        print(f"  {variant} T={length}: {seconds[-1]:.2f} s", flush=True)
    return seconds


def peak_rss_mib():
    """This process's peak resident memory so far, MiB (VmHWM; see the module docstring)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_rss(variant, attn, length, threads):
    """Peak RSS (MiB) of a fresh process that builds the model and runs one step at `length` tokens."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", variant, "--attn", attn,
                          "--tokens", str(length), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--rss-tokens", type=int, default=4096, help="0: skip the peak-RSS measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attn", choices=("sdpa", "eager"), default="sdpa")
    parser.add_argument("--variants", default="vanilla,moice")
    parser.add_argument("--child", choices=("vanilla", "moice"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    if args.child:
        model = build(args.child, args.attn)
        built = peak_rss_mib()
        step(model, args.child, random_tokens(args.tokens))
        peak = peak_rss_mib()
        print(json.dumps(dict(model_mib=built, peak_mib=peak)))
        return

    variants = args.variants.split(",")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} threads, "
          f"attention {args.attn}, SmolLM2-135M shape, float32, batch 1", flush=True)
    rows = []
    for variant in variants:
        seconds = time_variant(variant, args.attn, args.tokens, args.warmup, args.runs)
        rss = child_peak_rss(variant, args.attn, args.rss_tokens, args.threads) if args.rss_tokens else None
        rows.append((variant, seconds, rss))
    print(f"{'variant':8} | s/seq fwd+bwd at T={args.tokens} (median of {args.runs}) | runs | "
          f"peak RSS MiB at T={args.rss_tokens or '-'} (model only)")
    for variant, seconds, rss in rows:
        memory = f"{rss['peak_mib']:.0f} ({rss['model_mib']:.0f})" if rss else "-"
        print(f"{variant:8} | {statistics.median(seconds):10.2f} | {' '.join(f'{s:.2f}' for s in seconds)} | {memory}")


if __name__ == "__main__":
    main()
