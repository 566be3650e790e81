#!/usr/bin/env python3
"""Load benchmark of `bin/moice serve`: C concurrent clients, each sending R greedy chat requests of --max-tokens
tokens one after another; generated tokens/s over the whole run (completion tokens / wall time) and p50/p99 request
latency. One server per row, started with --parallel C (plus any --extra flags), e.g. --no-batching to compare.
Standard library only.

  scripts/bench/serve_load.py --model smollm2-135m-instruct --clients 1,4,16 --requests 2 --max-tokens 64
  scripts/bench/serve_load.py --clients 4,16 --extra=--no-batching
"""
import argparse, json, os, re, statistics, subprocess, threading, time, urllib.request


def start(model, parallel, extra):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    cmd = [os.path.join(root, "bin", "moice"), "serve", "--model", model, "--port", "0", "--parallel", str(parallel),
           "--max-queue", str(4 * parallel)] + extra
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, m.group(1)
    raise SystemExit("server did not start")


def chat(url, content, max_tokens):
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=900) as r:
        out = json.load(r)
    return time.perf_counter() - t0, out["usage"]["completion_tokens"]


def run(url, clients, requests, max_tokens):
    latencies, tokens, lock = [], [0], threading.Lock()

    def client(c):
        for k in range(requests):
            # prompts that keep the model talking, different per client and request
            dt, n = chat(url, f"Write a long story about a lighthouse keeper number {c * 100 + k}.", max_tokens)
            with lock:
                latencies.append(dt)
                tokens[0] += n

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
    return tokens[0] / wall, statistics.median(latencies), p99, tokens[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--extra", default="", help="more serve flags, space separated (e.g. --no-batching)")
    a = ap.parse_args()
    extra = a.extra.split()
    print(f"| clients | flags | generated tokens/s | p50 latency (s) | p99 latency (s) | tokens |")
    print("|---:|---|---:|---:|---:|---:|")
    for c in [int(x) for x in a.clients.split(",")]:
        p, url = start(a.model, c, extra)
        try:
            chat(url, "Warm up.", 8)
            tps, p50, p99, n = run(url, c, a.requests, a.max_tokens)
            print(f"| {c} | {' '.join(extra) or '(defaults)'} | {tps:.1f} | {p50:.2f} | {p99:.2f} | {n} |", flush=True)
        finally:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
