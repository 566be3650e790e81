#!/usr/bin/env python3
"""Writes cli/src/test/resources/chat/<family>/golden.json: what HF transformers renders for a fixed set of conversations.

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

ROOT = pathlib.Path(__file__).resolve().parents[2] / "cli" / "src" / "test" / "resources" / "chat"


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


# ---------------------------------------------------------------------------------------------------------------
# Interpreter semantics: small templates rendered by the jinja2 environment transformers builds for chat templates
# (transformers.utils.chat_template_utils._compile_jinja_template), written to chat/jinja_semantics.json.
# Each entry: (name, template, variables).
SEMANTICS = [
    # whitespace control, trim_blocks, lstrip_blocks
    ("ws_minus_both_sides", "a  \n {%- if true %} b {% endif -%}  \n c", {}),
    ("ws_print_minus", "x  {{- ' y ' -}}  z", {}),
    ("ws_lstrip_block_line", "line1\n    {% if x %}\n    yes\n    {% endif %}\nend", {"x": True}),
    ("ws_lstrip_tabs_and_false_branch", "a\n\t\t{% if x %}\n\tyes\n\t\t{% else %}\n\tno\n\t\t{% endif %}\nb", {"x": False}),
    ("ws_lstrip_not_for_print", "a\n    {{ 'v' }}\n    {% set y = 1 %}\nb", {}),
    ("ws_lstrip_needs_line_start", "a  {% if true %}b{% endif %}  c", {}),
    ("ws_plus_disables_lstrip", "a\n    {%+ if true %}b{% endif %}", {}),
    ("ws_plus_disables_trim", "{% if true +%}\nkept newline{% endif %}", {}),
    ("ws_trim_only_one_newline", "{% if true %}\n\nx{% endif %}", {}),
    ("ws_print_keeps_newline", "{{ 'a' }}\nb", {}),
    ("ws_comments", "a\n    {# note #}\nb {#- tight -#}   c\n{# trailing #}\nd", {}),
    ("ws_raw_block", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}!", {}),
    ("ws_crlf_source_and_trailing_newline", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("ws_only_trailing_newline_dropped", "x\n\n", {}),
    ("ws_minus_strips_unicode_space", "a\u00a0\u3000 {{- 'b' }}", {}),
    ("ws_nested_loop_layout", "{% for r in rows %}\n  {% for c in r %}\n    {{ c }}\n  {% endfor %}\n{% endfor %}", {"rows": [[1, 2], [3]]}),
    # literals and printing
    ("print_values", "{{ none }}|{{ true }}|{{ False }}|{{ 42 }}|{{ -0.0 }}|{{ 1.5 }}|{{ 'x' }}|{{ [1, 'a', none, true] }}|{{ {'k': [1, 2.0], 'q': 'it\\'s'} }}|{{ (1,) }}|{{ () }}", {}),
    ("print_floats", "{{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2.5e-7 }} {{ 123456789.125 }}", {}),
    ("print_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\there', '\u00e9\U0001F600', '\\x07'] }}", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\x41\\u00e9\\U0001F600\\101\\q' }}|{{ \"dq \\\" \" }}|{{ 'adj' 'acent' }}", {}),
    ("integer_literals", "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1e3 }} {{ 2.5 }}", {}),
    # operators and precedence
    ("arith", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ 10 / 4 }} {{ 4 / 2 }} {{ -7.5 % 2 }}", {}),
    ("arith_mixed", "{{ true + 1 }} {{ 3 * 'ab' }} {{ 'ab' * 2 }} {{ [1] * 3 }} {{ [1] + [2] }} {{ 1 + 2.5 }} {{ 2 ** -1 }} {{ 10 - 2.5 }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ 1.0 ~ missing ~ [1] }}", {}),
    ("filter_binds_tighter", "{{ 'a' + '  b  ' | trim + 'c' }}|{{ -3 | abs }}|{{ not 'x' | length }}", {}),
    ("compare_chain", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 2 }} {{ 'é' > 'z' }} {{ none == none }}", {}),
    ("membership", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ not 'a' in 'abc' }} {{ 1 in [1.0] }} {{ [1] in [[1]] }} {{ 'x' in missing }}", {}),
    ("and_or_values", "{{ none or 'dflt' }}|{{ '' and 'x' }}|{{ 'a' and 'b' }}|{{ 0 or [] or 'last' }}|{{ missing or 'm' }}|{{ not none }}", {}),
    ("cond_expr", "{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 else 'n' }}|[{{ 'y' if 0 }}]|{{ 'a' if false else 'b' if true else 'c' }}", {}),
    # attribute / item access, slicing
    ("access", "{{ d.k }} {{ d['k'] }} {{ l[0] }} {{ l[-1] }} {{ l.1 }} [{{ d.missing }}] [{{ l[10] }}] {{ s[1] }} {{ s[-1] }} {{ d.get('k') }} {{ d.get('no', 'fallback') }} {{ d.get('no') }}", {"d": {"k": "v"}, "l": [10, 20, 30], "s": "h\u00e9\U0001F600"}),
    ("slicing", "{{ s[1:3] }} {{ s[::-1] }} {{ s[-2:] }} {{ s[:-1] }} {{ l[1:] }} {{ l[::2] }} {{ l[5:] }} {{ l[-100:1] }} {{ s[::-2] }} {{ l[2:0:-1] }}", {"s": "h\u00e9llo\U0001F600", "l": [1, 2, 3, 4]}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys() | list }} {{ d.values() | list }} {{ d | length }}", {"d": {"b": 1, "a": [2]}}),
    ("dict_attr_vs_key", "{{ d.items is defined }} {{ d['items'] }} {{ d.other }}", {"d": {"items": "key wins for []", "other": 1}}),
    # string methods
    ("str_methods", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}][{{ s.upper() }}][{{ s.lower() }}][{{ 'hello wORLD 3rd'.title() }}][{{ 'hELLO'.capitalize() }}]", {"s": "  Mixed Case\u00a0\n"}),
    ("str_split", "{{ ' a  b c '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a b c'.split(none, 1) }} {{ ''.split() }} {{ ''.split(',') }}", {}),
    ("str_misc", "{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'ab'.replace('', '-') }} {{ 'hello'.find('l') }} {{ 'hello'.find('z') }} {{ 'banana'.count('an') }} {{ '-'.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ '  '.isspace() }}", {}),
    # filters
    ("filters_text", "[{{ '  x y \\n' | trim }}][{{ 'xxyxx' | trim('x') }}][{{ 'abc' | upper }}][{{ 'ABC' | lower }}][{{ 'hello world' | title }}][{{ 'hELLO' | capitalize }}][{{ 'a-b-c' | replace('-', '+') }}][{{ 'a-b-c' | replace('-', '+', 1) }}][{{ 12 | string }}][{{ 'abc' | reverse }}]", {}),
    ("filters_length_count", "{{ 'h\u00e9\U0001F600' | length }} {{ [1, 2] | count }} {{ {'a': 1} | length }} {{ missing | length }}", {}),
    ("filters_default", "[{{ missing | default('d') }}][{{ '' | default('d') }}][{{ '' | default('d', true) }}][{{ none | default('d') }}][{{ none | d('d', boolean=true) }}][{{ missing | default }}]", {}),
    ("filters_join_first_last", "{{ [1, 'a', none] | join }}|{{ ['a', 'b'] | join(', ') }}|{{ users | join(', ', attribute='name') }}|{{ [3, 4] | first }}|{{ [3, 4] | last }}|{{ 'xyz' | first }}|[{{ [] | first }}]", {"users": [{"name": "Ann"}, {"name": "Bo"}]}),
    ("filters_list_items", "{{ 'ab' | list }} {{ {'x': 1, 'y': 2} | items | list }} {{ {'x': 1} | list }} {{ missing | items | list }}", {}),
    ("filters_select", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}|{{ msgs | rejectattr('role', 'eq', 'user') | list | length }}|{{ msgs | selectattr('tool_calls') | list | length }}|{{ msgs | selectattr('tool_calls', 'undefined') | list | length }}|{{ [0, 1, 2, 3] | select('odd') | list }}|{{ [0, 1, '', 'x'] | select | list }}|{{ [1, 2, 3] | reject('in', [2]) | list }}", {"msgs": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1", "tool_calls": [1]}, {"role": "user", "content": "u2"}]}),
    ("filters_map", "{{ ['a', 'b'] | map('upper') | list }} {{ [{'n': 1}, {}] | map(attribute='n', default=0) | list }} {{ [' x '] | map('trim') | join }}", {}),
    ("filters_numbers", "{{ '42' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '3.5' | float }} {{ 'bad' | float }} {{ -4 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ [1, 2.5, 3] | sum }} {{ '0x1A' | int(0, 16) }}", {}),
    ("filters_sort_unique", "{{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [3, 1, 2] | sort(reverse=true) }} {{ users | sort(attribute='age') | map(attribute='name') | list }} {{ ['a', 'A', 'b'] | unique | list }}", {"users": [{"name": "x", "age": 30}, {"name": "y", "age": 20}]}),
    ("filters_tojson", "{{ v | tojson }}|{{ v | tojson(indent=2) }}|{{ v | tojson(sort_keys=true) }}|{{ v | tojson(separators=(',', ':')) }}|{{ 'caf\u00e9 \U0001F600 \"q\" \\\\ \\n \\x01' | tojson }}|{{ 'caf\u00e9' | tojson(ensure_ascii=true) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}", {"v": {"z": 1, "a": [1.5, None, True, "x"], "m": {"k": 1e20}}}),
    ("filters_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}", {}),
    ("printf_formatting", "{{ '%s and %d' % ('a', 3) }}|{{ '%5.2f|%-4d|%04d|%x|%#o|%e|%g|%10.3e|%r|%+d|% d' % (3.14159, 7, 42, 255, 8, 12345.678, 0.0001, -1.5, 'q', 5, 5) }}|{{ '%(name)s is %(age)d' % {'name': 'Ann', 'age': 3} }}|{{ '%s' % none }}|{{ '%%' % () }}|{{ '%c%c' % (72, 'i') }}|{{ '%g %g %g %.3g' % (123456789, 1e-5, 100000.0, 2.675) }}|{{ '%.2f %.0f %.1f' % (2.675, 0.5, 0.25) }}|{{ '%s' % {'k': 1} }}|{{ '%5s|%-5s|%.2s' % ('ab', 'cd', 'xyz') }}", {}),
    ("format_filter", "{{ '%s-%s' | format(1, 2) }}|{{ '%s' | format('x') }}|{{ '%(a)s' | format(a='kw') }}|{{ '%.1f' | format(2.25) }}", {}),
    ("err_printf_too_few", "{{ '%s %s' % ('only one',) }}", {}),
    # tests
    ("tests", "{{ missing is defined }} {{ missing is undefined }} {{ none is none }} {{ 'x' is string }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ {} is mapping }} {{ [] is sequence }} {{ 'x' is iterable }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is in 'abc' }} {{ 2 is eq 2 }} {{ 2 is ne 2 }} {{ 1 is lt 2 }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is not none }} {{ 1 is sameas 1 }} {{ true is true }} {{ false is false }} {{ true is boolean }}", {}),
    ("test_binds_before_not", "{{ not missing is defined }} {{ not 1 is odd }}", {}),
    # loops
    ("loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}]{{ loop.cycle('o', 'e') }};{% endfor %}", {}),
    ("loop_filter_and_else", "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}|{% for x in [] %}no{% else %}empty{% endfor %}|{% for x in missing %}no{% else %}undefined iterates as empty{% endfor %}", {}),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_dict_and_unpack", "{% for k in d %}{{ k }}{% endfor %} {% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %} {% for (a, b) in d | items %}{{ a }}{{ b }}{% endfor %}", {"d": {"x": 1, "y": 2}}),
    ("loop_nested_loop_var", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("range_forms", "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }}", {}),
    # scoping
    ("scope_set_in_loop_is_local", "{% set c = 'outer' %}{% for x in [1, 2, 3] %}[{{ c }}]{% if x == 2 %}{% set c = x %}{% endif %}({{ c }}){% endfor %}|{{ c }}", {}),
    ("scope_set_before_loop_read_inside", "{% for x in [1, 2] %}[{{ c }}]{% set c = x %}({{ c }}){% endfor %}[{{ c }}]", {}),
    ("scope_if_shares_scope", "{% if true %}{% set v = 'from if' %}{% endif %}{{ v }}", {}),
    ("scope_loop_var_restored", "{% set x = 'outer' %}{% for x in [1] %}{{ x }}{% endfor %}{{ x }}", {}),
    ("namespace_counter", "{% set ns = namespace(n=0, found=false) %}{% for m in msgs %}{% if m.role == 'user' %}{% set ns.n = ns.n + 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.found }} {{ ns.missing }}", {"msgs": [{"role": "user"}, {"role": "x"}, {"role": "user"}]}),
    ("namespace_empty_then_set", "{% set ns = namespace() %}{% set ns.index = 0 %}{% for i in range(3) %}{% set ns.index = ns.index + i %}{% endfor %}{{ ns.index }}", {}),
    ("set_forms", "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = 1, 2 %}{{ t }} {% set block %}  inner {{ a }}  {% endset %}[{{ block }}] {% set d = dict(x=1, y='z') %}{{ d }}", {}),
    ("macro_basics", "{% macro greet(name, punct='!') %}\n  Hello {{ name }}{{ punct }}\n{% endmacro %}[{{ greet('Ann') }}][{{ greet('Bo', punct='?') }}][{{ greet() }}][{{ greet(punct='.', name='Cy') }}]", {}),
    ("macro_recursion_and_closure", "{% set prefix = 'T:' %}{% macro py_type(spec) -%}{%- if spec.type == 'array' -%}list[{{ py_type(spec['items']) }}]{%- elif spec.type == 'object' -%}dict{%- else -%}{{ prefix }}{{ spec.type }}{%- endif -%}{%- endmacro %}{{ py_type({'type': 'array', 'items': {'type': 'array', 'items': {'type': 'string'}}}) }} {% set prefix = 'U:' %}{{ py_type({'type': 'int'}) }}", {}),
    ("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }} {{ m(*[5, 6], **{'y': 7}) }}", {}),
    ("macro_scope_is_local", "{% set v = 'outer' %}{% macro m() %}{% set v = 'inner' %}{{ v }}{% endmacro %}{{ m() }} {{ v }} {{ m() | length }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %} {% macro each(xs) %}{% for x in xs %}{{ caller(x, loop.index) }}{% endfor %}{% endmacro %}{% call(item, i) each(['p', 'q']) %}{{ i }}={{ item }};{% endcall %}", {}),
    ("err_macro_too_many_args", "{% macro m(a) %}{% endmacro %}\n{{ m(1, 2) }}", {}),
    ("err_macro_unknown_kwarg", "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}", {}),
    ("generation_tag", "{% for m in msgs %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %};{% endfor %}", {"msgs": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
    ("strings_with_braces", "{{- \"}}\" }}{{ '{%' }}{{ {'a': {'b': 1}} }}", {}),
    # errors (runtime and syntax), with the template line they are reported at
    ("err_raise_exception", "line one\n{% if true %}\n  {{ raise_exception('custom: ' ~ 42) }}\n{% endif %}", {}),
    ("err_undefined_attribute", "{{ 'ok' }}\n\n{{ missing.attr }}", {}),
    ("err_undefined_member_arith", "{% set d = {} %}\n{{ d.k + 1 }}", {}),
    ("err_undefined_element", "{% set l = [] %}\n{{ l[3] + 1 }}", {}),
    ("err_str_plus_int", "x\n{{ 'a' + 1 }}", {}),
    ("err_int_plus_str", "{{ 1 + 'a' }}", {}),
    ("err_list_plus_str", "{{ [1] + 'a' }}", {}),
    ("err_none_not_iterable", "{% for x in none %}{% endfor %}", {}),
    ("err_call_undefined", "\n\n{{ nofunc(1) }}", {}),
    ("err_compare_types", "{{ 1 < 'a' }}", {}),
    ("err_tojson_undefined", "{{ missing | tojson }}", {}),
    ("err_division_by_zero", "{{ 1 / 0 }}", {}),
    ("err_namespace_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}", {}),
    ("err_syntax_unclosed_if", "a\n{% if true %}\nb\n", {}),
    ("err_syntax_unknown_tag", "ok\n{% frobnicate %}", {}),
    ("err_syntax_bad_expression", "\n{{ 1 + }}", {}),
    ("err_syntax_unclosed_print", "x {{ 'a' ", {}),
    ("err_syntax_unexpected_endfor", "{% if true %}{% endfor %}", {}),
]


def float_repr_samples():
    """[IEEE-754 bits as 16 hex digits, Python repr] for doubles of every magnitude, subnormals included."""
    import random
    import struct
    rng = random.Random(20240726)
    values = [0.1, 0.5, 1 / 3, 2 / 3, 1e22, 1e23, 5e-324, 1e-310, 2.2250738585072014e-308, 9007199254740993.0]
    values += [rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30) for _ in range(400)]
    values += [float(rng.randint(-10**17, 10**17)) for _ in range(100)]
    values += [round(rng.uniform(0, 100), rng.randint(0, 4)) for _ in range(200)]
    values += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(400)]
    values += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(20)))[0] for _ in range(100)]
    out = []
    for v in values:
        if v != v or v in (float("inf"), float("-inf")):
            continue
        out.append([struct.pack(">d", v).hex(), repr(v)])
    return out


def fuzz_cases(count_layout=300, count_expr=200):
    """Random templates: layouts mixing text, whitespace and tags with -/+ modifiers (the lexer's hardest part), and
    random arithmetic/logic expressions (precedence and Python number semantics). Fixed seed, so reproducible."""
    import random
    rng = random.Random(7)
    texts = ["", " ", "  ", "\n", " \n ", "\t", "x", "a b", "\n\n", "  \n\t", "\r\n", "y\n  ", "\u00a0"]

    def text():
        return "".join(rng.choice(texts) for _ in range(rng.randint(0, 3)))

    def mod():
        return rng.choice(["", "", "-", "+"])

    def tag(body):
        return "{%" + mod() + " " + body + " " + rng.choice(["", "", "-", "+"]) + "%}"

    def block(depth):
        out = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.randint(0, 6 if depth < 3 else 3)
            out.append(text())
            if kind == 0:
                out.append("{{" + rng.choice(["", "-"]) + " " + rng.choice(["'p'", "v", "1 + 1", "' s '"]) + " "
                           + rng.choice(["", "-"]) + "}}")
            elif kind == 1:
                out.append("{#" + rng.choice(["", "-", "+"]) + " note " + rng.choice(["", "-", "+"]) + "#}")
            elif kind == 2:
                out.append(tag("set v = " + rng.choice(["'q'", "v ~ 'r'", "2"])))
            elif kind == 3:
                out.append(text())
            elif kind == 4:
                out.append(tag("if " + rng.choice(["true", "false", "v", "not v"])))
                out.append(block(depth + 1))
                if rng.random() < 0.5:
                    out.append(tag("else"))
                    out.append(block(depth + 1))
                out.append(tag("endif"))
            elif kind == 5:
                out.append(tag("for i in " + rng.choice(["[1, 2]", "'ab'", "[]"])))
                out.append(block(depth + 1))
                out.append("{{ i }}" if rng.random() < 0.5 else "")
                out.append(tag("endfor"))
            else:
                out.append(tag("raw") + rng.choice(["{{ x }}", " {% y %} ", "\n"]) + tag("endraw"))
        out.append(text())
        return "".join(out)

    def expr(depth):
        if depth > 3 or rng.random() < 0.3:
            return rng.choice(["0", "1", "2", "3", "7", "-4", "2.5", "0.5", "true", "false", "none", "'s'", "''"])
        op = rng.choice(["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">=", "and", "or", "~"])
        left, right = expr(depth + 1), expr(depth + 1)
        if op == "**":
            right = rng.choice(["0", "1", "2", "3"])
        e = left + " " + op + " " + right
        r = rng.random()
        if r < 0.15:
            e = "not " + e
        elif r < 0.35:
            e = "(" + e + ")"
        elif r < 0.45:
            e = "-(" + e + ")"
        elif r < 0.5:
            e = "(" + e + ") if " + expr(depth + 1) + " else " + expr(depth + 1)
        return e

    cases = [("fuzz_layout_%03d" % i, block(0), {"v": rng.choice([True, False, "t"])}) for i in range(count_layout)]
    cases += [("fuzz_expr_%03d" % i, "{{ " + expr(0) + " }}", {}) for i in range(count_expr)]
    return cases


def write_jinja_semantics():
    from transformers.utils.chat_template_utils import _compile_jinja_template

    cases = []
    for name, template, variables in SEMANTICS + fuzz_cases():
        case = {"name": name, "template": template, "variables": variables}
        try:
            compiled = _compile_jinja_template(template)
            case["expected"] = compiled.render(**variables)
        except jinja2.TemplateSyntaxError as e:
            case.update({"error": str(e.message), "error_type": type(e).__name__, "error_line": e.lineno})
        except Exception as e:
            case.update({"error": str(e), "error_type": type(e).__name__})
            lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == "<template>"]
            if lines:
                case["error_line"] = lines[-1]
        cases.append(case)
    out = ROOT / "jinja_semantics.json"
    doc = {"generator": "scripts/reference/make_chat_golden.py", "transformers": transformers.__version__,
           "jinja2": jinja2.__version__, "cases": cases, "float_repr": float_repr_samples()}
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp_out, out)
    print(f"jinja semantics: {len(cases)} cases ({sum(1 for c in cases if 'error' in c)} errors) -> {out}")


if __name__ == "__main__":
    main()
    write_jinja_semantics()
