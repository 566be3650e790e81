"""By-hand check of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, `bin/moice pull qwen2.5-coder-1.5b-instruct`) against
HF transformers loading the same GGUF; writes nothing under src/ (the 0.5B model is the committed fixture, see
make_qwen_reference.py). Needs about 10 GB of RAM and a few minutes on 2 cores:

    .venv/bin/python scripts/reference/check_qwen15.py [--gguf PATH]

Steps: transformers' logits for the passage of make_qwen_reference.py and its 32-token greedy chat reply; then
`bin/moice forward` on the same ids and `bin/moice generate --chat` on the same message (greedy); prints
max|Δ|/max|ref| per position (worst), argmax agreement, and whether the generated texts are equal.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_qwen_reference as ref  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_GGUF = os.path.join(os.environ.get("MOICE_HOME", os.path.expanduser("~/.cache/moice")), "models",
                            "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-1.5b-instruct.gguf")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", default=DEFAULT_GGUF)
    args = parser.parse_args()
    torch.set_num_threads(2)
    from safetensors.numpy import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_dir, gguf_file = os.path.split(os.path.abspath(args.gguf))
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    ids = tokenizer(ref.PASSAGE).input_ids
    with torch.no_grad():
        theirs = model(torch.tensor([ids])).logits[0].float().numpy()
        messages = [{"role": "user", "content": ref.GREEDY_USER_MESSAGE}]
        prompt = ref.smol.chat_ids(tokenizer, messages)
        out = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                             do_sample=False, max_new_tokens=ref.GREEDY_NEW_TOKENS)
        their_text = tokenizer.decode(out[0, len(prompt):], skip_special_tokens=True)
    del model

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "ids.json"), "w") as f:
            json.dump(ids, f)
        moice = os.path.join(REPO_ROOT, "bin", "moice")
        subprocess.run([moice, "forward", "--model", args.gguf, "--tokens", os.path.join(tmp, "ids.json"),
                        "--out", os.path.join(tmp, "logits.safetensors")], check=True)
        ours = load_file(os.path.join(tmp, "logits.safetensors"))["logits"]
        our_text = subprocess.run([moice, "generate", "--model", args.gguf, "--chat", "--prompt",
                                   ref.GREEDY_USER_MESSAGE, "--max-tokens", str(ref.GREEDY_NEW_TOKENS)],
                                  check=True, capture_output=True, text=True).stdout
    rel = max(float(np.max(np.abs(ours[t] - theirs[t])) / np.max(np.abs(theirs[t]))) for t in range(len(ids)))
    agree = int((ours.argmax(-1) == theirs.argmax(-1)).sum())
    print(f"positions {len(ids)}: worst max|Δ|/max|ref| {rel:.2e}; argmax {agree}/{len(ids)}")
    print(f"greedy {ref.GREEDY_NEW_TOKENS} tokens equal: {our_text.strip() == their_text.strip()}")
    print("transformers:", repr(their_text))
    print("moice:       ", repr(our_text))


if __name__ == "__main__":
    main()
