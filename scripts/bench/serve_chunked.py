#!/usr/bin/env python3
"""Does a long prompt stall the other streams? `bin/moice serve --parallel 2` with --prefill-chunk N and with 0.

Per round: a short chat request streams --short-tokens tokens (greedy, ignoring end of text is not possible, so
the prompt asks for a long list); once its first piece has arrived, a long prompt (a made-up document of about
--doc-words words, a different one each round so nothing is reused) is sent, streamed, max_tokens 4. Measured: the
long request's time to first piece, how many pieces the short stream got meanwhile, and the short stream's longest
gap between two pieces while the long prompt was being prefilled. Prints one Markdown row per --prefill-chunk value
(medians over --rounds). Standard library only.

  scripts/bench/serve_chunked.py --model smollm2-135m-instruct --chunks 256,0 --rounds 3
"""
import argparse, json, statistics, threading, time, sys, os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_ttft import document, start, post  # noqa: E402


def stream(url, messages, max_tokens, times, started):
    with post(url, {"messages": messages, "max_tokens": max_tokens, "stream": True,
                    "stream_options": {"include_usage": True}}) as r:
        usage = None
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices", []):
                if c.get("delta", {}).get("content"):
                    times.append(time.perf_counter())
                    started.set()
        return usage


def round_trip(url, r, doc_words, short_tokens):
    short_times, long_times = [], []
    short_started, long_started = threading.Event(), threading.Event()
    short = [{"role": "user", "content": "List two hundred colours, one per line, numbered."}]
    t = threading.Thread(target=stream, args=(url, short, short_tokens, short_times, short_started))
    t.start()
    short_started.wait(120)
    doc = [{"role": "user", "content": document(1000 + r, doc_words) + "\n\nWhich word comes up most often?"}]
    sent = time.perf_counter()
    usage = stream(url, doc, 4, long_times, long_started)
    t.join()
    first = long_times[0]
    during = [x for x in short_times if sent < x < first]
    window = [sent] + during + [first]
    gap = max(b - a for a, b in zip(window, window[1:]))
    return first - sent, len(during), gap, usage["prompt_tokens"], short_times[-1] > first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--chunks", default="256,0")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--doc-words", type=int, default=1500)
    ap.add_argument("--short-tokens", type=int, default=400)
    a = ap.parse_args()
    print("| --prefill-chunk | long prompt tokens | long TTFT (s) | short pieces during it | short's longest gap (s) |")
    print("|---|---|---|---|---|")
    for chunk in [int(c) for c in a.chunks.split(",")]:
        p, url = start(a.model, ["--parallel", "2", "--prefill-chunk", str(chunk)], None)
        try:
            rows = [round_trip(url, r, a.doc_words, a.short_tokens) for r in range(a.rounds)]
        finally:
            p.terminate()
            p.wait()
        if not all(x[4] for x in rows):
            print(f"(chunk {chunk}: the short stream ended before the long prompt's first token in some round; "
                  "raise --short-tokens)", file=sys.stderr)
        med = lambda i: statistics.median(x[i] for x in rows)
        print(f"| {chunk} | {rows[0][3]} | {med(0):.2f} | {med(1):.0f} | {med(2):.2f} |", flush=True)


if __name__ == "__main__":
    main()
