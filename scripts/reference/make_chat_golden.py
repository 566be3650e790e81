#!/usr/bin/env python3
"""Writes src/test/resources/chat/<family>/golden.json: what HF transformers renders for a fixed set of conversations.

For every family directory holding a tokenizer_config.json (the real chat template and special tokens, see its
_provenance field), this script builds a tokenizer the way transformers loads one from disk -- a temporary directory
with that tokenizer_config.json and a tiny word-level tokenizer.json -- and calls
    tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=..., tools=...)
so the template goes through transformers' own loading (AddedToken objects, named template lists) and its sandboxed
jinja2 environment. Errors raised by the template (raise_exception) or by transformers are recorded as
`error` (the exception's str()).

Run by hand from the repository root:  /work/refvenv/bin/python scripts/reference/make_chat_golden.py
Java tests never run this script; they read the JSON it writes.
"""
import json
import os
import pathlib
import sys
import tempfile
import traceback

import jinja2
import tokenizers
import transformers
from tokenizers.models import WordLevel
from transformers import AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2] / "src" / "test" / "resources" / "chat"


def msg(role, content):
    return {"role": role, "content": content}


# Content that stresses whitespace handling, quoting and Unicode. Kept as data so every family sees the same text.
TRICKY_USER = "  Line one\nLine two\n\n\tindented 'single' and \"double\" quotes, a backslash \\ and {{ not_a_tag }} {% nor this %}  "
TRICKY_ASSISTANT = " \u00dcn\u00efc\u00f6d\u00e9 \u2713 \u65e5\u672c\u8a9e \U0001F600 caf\u00e9\r\nCRLF kept "
UNICODE_SPACES = "\u00a0\u3000 wide and no-break spaces around \u2003"

COMMON = [
    ("single_user", [msg("user", "Hello")], True),
    ("single_user_no_generation_prompt", [msg("user", "Hello")], False),
    ("system_user", [msg("system", "You are a helpful assistant."), msg("user", "What is 2+2?")], True),
    ("multi_turn", [msg("user", "Hi"), msg("assistant", "Hello! How can I help?"), msg("user", "Tell me a joke.")], True),
    ("system_multi_turn", [msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello."),
                           msg("user", "Bye"), msg("assistant", "Goodbye."), msg("user", "Wait, one more.")], True),
    ("multi_turn_ends_with_assistant", [msg("user", "Hi"), msg("assistant", "Hello.")], False),
    ("tricky_content", [msg("user", TRICKY_USER), msg("assistant", TRICKY_ASSISTANT), msg("user", UNICODE_SPACES)], True),
    ("empty_content", [msg("user", ""), msg("assistant", ""), msg("user", "")], True),
    ("system_only", [msg("system", "Only a system prompt.")], True),
    ("empty_conversation", [], True),
]

NOT_ALTERNATING = ("roles_not_alternating", [msg("user", "one"), msg("user", "two")], True)
STARTS_WITH_ASSISTANT = ("starts_with_assistant", [msg("assistant", "I speak first"), msg("user", "ok")], True)
OTHER_ROLE = ("other_role", [msg("user", "What is the weather?"), msg("tool", "sunny")], True)
IPYTHON_ROLE = ("custom_role", [msg("user", "Run it"), msg("ipython", "{\"result\": 42}")], True)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given city, e.g. Z\u00fcrich",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 14.5},
            },
            "required": ["location"],
        },
    },
}

EXTRA = {
    "llama2-chat": [NOT_ALTERNATING, STARTS_WITH_ASSISTANT],
    "llama3-instruct": [IPYTHON_ROLE],
    "mistral-v0.1": [NOT_ALTERNATING, OTHER_ROLE],
    "mistral-v0.2": [NOT_ALTERNATING, OTHER_ROLE, STARTS_WITH_ASSISTANT],
    "mistral-v0.3": [NOT_ALTERNATING, OTHER_ROLE, ("unknown_role", [msg("user", "Judge this"), msg("critic", "meh")], True)],
    "qwen2-instruct": [IPYTHON_ROLE],
    "smollm2-instruct": [IPYTHON_ROLE],
}

# (name, messages, add_generation_prompt, extra template variables)
TOOL_CASES = {
    "mistral-v0.3": [
        ("tools_single_user", [msg("user", "What's the weather in Paris?")], True, {"tools": [WEATHER_TOOL]}),
        ("tools_multi_turn_with_system", [msg("system", "Use tools when useful."), msg("user", "Hi"),
                                          msg("assistant", "  Hello!  "), msg("user", "Weather in Oslo?")],
         True, {"tools": [WEATHER_TOOL]}),
        # Structured messages (tool calls, tool results) go through ChatTemplate.renderMessages.
        ("tool_call_round_trip", [
            msg("user", "What's the weather in Paris?"),
            {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {
                "name": "get_current_weather", "arguments": {"location": "Paris", "unit": "celsius", "days": 1}}}]},
            {"role": "tool", "tool_call_id": "abcDEF123", "content": "22.5"},
            msg("assistant", "It is 22.5 \u00b0C in Paris."),
            msg("user", "Thanks!")], True, {"tools": [WEATHER_TOOL]}),
        ("tool_call_bad_id", [
            msg("user", "Weather?"),
            {"role": "assistant", "tool_calls": [{"id": "short", "type": "function", "function": {
                "name": "get_current_weather", "arguments": {"location": "Paris"}}}]}], True, {}),
    ],
}


def build_tokenizer(family_dir: pathlib.Path, workdir: pathlib.Path):
    config = json.loads((family_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("_provenance", None)
    # The real tokenizer class needs real vocabulary files; rendering only needs the config, so load it as a plain
    # fast tokenizer over a tiny vocabulary that holds the special tokens.
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    specials = []
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(key)
        if isinstance(value, dict):
            value = value["content"]
        if value is not None and value not in specials:
            specials.append(value)
    unk = specials[0] if specials else "[UNK]"
    vocab = {token: i for i, token in enumerate(dict.fromkeys([unk, *specials]))}
    tokenizers.Tokenizer(WordLevel(vocab=vocab, unk_token=unk)).save(str(workdir / "tokenizer.json"))
    (workdir / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return AutoTokenizer.from_pretrained(str(workdir))


def render(tokenizer, messages, add_generation_prompt, extra):
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                             **extra)
        return {"expected": text}
    except Exception as e:  # the template's raise_exception, jinja2 errors and transformers' own checks
        result = {"error": str(e), "error_type": type(e).__name__}
        # jinja2 rewrites tracebacks so template code shows as frames of file "<template>" at the template's line.
        template_lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == "<template>"]
        if template_lines:
            result["error_line"] = template_lines[-1]
        return result


def main():
    families = sorted(p for p in ROOT.iterdir() if (p / "tokenizer_config.json").is_file())
    if not families:
        sys.exit(f"no fixtures under {ROOT}")
    for family_dir in families:
        family = family_dir.name
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer = build_tokenizer(family_dir, pathlib.Path(tmp))
        cases = []
        plain = [(n, m, g, {}) for n, m, g in COMMON + EXTRA.get(family, [])]
        for name, messages, add_generation_prompt, extra in plain + TOOL_CASES.get(family, []):
            case = {"name": name, "messages": messages, "add_generation_prompt": add_generation_prompt}
            if extra:
                case["variables"] = extra
            case.update(render(tokenizer, messages, add_generation_prompt, extra))
            cases.append(case)
        golden = {
            "family": family,
            "generator": "scripts/reference/make_chat_golden.py",
            "transformers": transformers.__version__,
            "jinja2": jinja2.__version__,
            "special_tokens": tokenizer.special_tokens_map,
            "cases": cases,
        }
        out = family_dir / "golden.json"
        tmp_out = out.with_suffix(".json.tmp")
        tmp_out.write_text(json.dumps(golden, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp_out, out)
        errors = sum(1 for c in cases if "error" in c)
        print(f"{family}: {len(cases)} cases ({errors} errors) -> {out}")


if __name__ == "__main__":
    main()
