#!/usr/bin/env python3
"""Time to first token of a follow-up chat turn on `bin/moice serve`, with prefix reuse and without.

For each of N conversations: turn 1 is a long user message (a made-up document of about --doc-words words and a
question), answered with --turn1-tokens tokens; turn 2 sends the whole conversation plus a short follow-up, streamed,
and the time from sending it to its first content piece is taken. The same conversations run against a server with
prefix reuse (the default) and one started with --no-prefix-reuse. Prints one Markdown row per mode: median and
min/max TTFT, prompt tokens, cached tokens. Standard library only.

  scripts/bench/serve_ttft.py --model smollm2-135m-instruct --conversations 5
"""
import argparse, json, random, re, statistics, subprocess, sys, time, urllib.request, os

WORDS = ("river stone lantern copper harbour meadow signal archive winter orchard ledger compass violet engine "
         "quarry falcon thread beacon marble cellar").split()


def document(seed, words):
    r = random.Random(seed)
    sentences = []
    n = 0
    while n < words:
        s = [r.choice(WORDS) for _ in range(r.randint(6, 14))]
        sentences.append(" ".join(s).capitalize() + ".")
        n += len(s)
    return " ".join(sentences)


def start(model, extra, threads):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    env = dict(os.environ)
    cmd = [os.path.join(root, "bin", "moice"), "serve", "--model", model, "--port", "0"] + extra
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    for line in p.stderr:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return p, m.group(1)
    raise SystemExit("server did not start")


def post(url, body, stream=False):
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=600)


def ask(url, messages, max_tokens):
    with post(url, {"messages": messages, "max_tokens": max_tokens}) as r:
        return json.load(r)


def first_token(url, messages):
    body = {"messages": messages, "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    ttft, usage = None, None
    with post(url, body) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices", []):
                if ttft is None and c.get("delta", {}).get("content"):
                    ttft = time.perf_counter() - t0
    return ttft, usage


def run(model, extra, conversations, doc_words, turn1_tokens):
    p, url = start(model, extra, None)
    try:
        warm = [{"role": "user", "content": document(999, doc_words)}]
        for _ in range(2):
            ask(url, warm, 4)
        rows = []
        for c in range(conversations):
            conv = [{"role": "user", "content": document(c, doc_words) + "\n\nWhich word comes up most often?"}]
            a = ask(url, conv, turn1_tokens)["choices"][0]["message"]["content"]
            conv += [{"role": "assistant", "content": a}, {"role": "user", "content": "Say that again in one line."}]
            rows.append(first_token(url, conv))
        return rows
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--conversations", type=int, default=5)
    ap.add_argument("--doc-words", type=int, default=1000)
    ap.add_argument("--turn1-tokens", type=int, default=32)
    a = ap.parse_args()
    print("| mode | TTFT median (s) | min | max | prompt tokens (median) | cached tokens (median) |")
    print("|---|---|---|---|---|---|")
    for name, extra in (("prefix reuse", []), ("--no-prefix-reuse", ["--no-prefix-reuse"])):
        rows = run(a.model, extra, a.conversations, a.doc_words, a.turn1_tokens)
        t = [r[0] for r in rows]
        prompt = statistics.median(r[1]["prompt_tokens"] for r in rows)
        cached = statistics.median(r[1]["prompt_tokens_details"]["cached_tokens"] for r in rows)
        print(f"| {name} | {statistics.median(t):.3f} | {min(t):.3f} | {max(t):.3f} | {prompt:.0f} | {cached:.0f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
