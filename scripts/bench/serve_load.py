#!/usr/bin/env python3
"""Load benchmark of `bin/moice serve`: C concurrent clients, each sending R greedy chat requests of --max-tokens
tokens one after another; generated tokens/s over the whole run (completion tokens / wall time) and p50/p99 request
latency. One server per row, started with --parallel C (plus any --extra flags), e.g. --no-batching to compare.
With --llama-server BIN, each client count also runs against llama.cpp's llama-server on the same GGUF (--parallel C,
-t 2, a context of C × --slot-context tokens so that every slot has that many), right after moice's row: the two
servers alternate, in one time window. Requests are greedy (temperature 0) for both. Standard library only.

  scripts/bench/serve_load.py --model smollm2-135m-instruct --clients 1,4,16 --requests 2 --max-tokens 64
  scripts/bench/serve_load.py --clients 4,16 --extra=--no-batching
  scripts/bench/serve_load.py --clients 1,4,16 --rounds 2 --llama-server /work/ext/llama.cpp/build/bin/llama-server
"""
import argparse, glob, json, os, re, socket, statistics, subprocess, threading, time, urllib.request


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gguf_of(model):
    """The GGUF file behind a moice model name (a pulled model's folder), or the path itself."""
    if os.path.isfile(model):
        return model
    home = os.environ.get("MOICE_HOME", os.path.join(os.path.expanduser("~"), ".cache", "moice"))
    folder = model if os.path.isdir(model) else os.path.join(home, "models", model)
    files = sorted(glob.glob(os.path.join(folder, "*.gguf")))
    if not files:
        raise SystemExit(f"no .gguf file in {folder}")
    return files[0]


def start_llama(binary, model, parallel, slot_context):
    port = free_port()
    cmd = [binary, "-m", gguf_of(model), "-t", "2", "--parallel", str(parallel), "-c", str(parallel * slot_context),
           "--host", "127.0.0.1", "--port", str(port)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if p.poll() is not None:
            raise SystemExit(f"llama-server exited with {p.returncode}: {' '.join(cmd)}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return p, url
        except OSError:
            pass
        time.sleep(0.2)
    p.kill()
    raise SystemExit("llama-server did not become healthy")


def chat(url, content, max_tokens):
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, "temperature": 0}
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
    ap.add_argument("--llama-server", default=None, help="llama-server binary: alternate a llama.cpp row with each")
    ap.add_argument("--slot-context", type=int, default=2048, help="llama-server context per parallel slot")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole table (alternating servers) this often")
    a = ap.parse_args()
    extra = a.extra.split()
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[0:3]}")
    print(f"| round | clients | server | generated tokens/s | p50 latency (s) | p99 latency (s) | tokens |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for rnd in range(1, a.rounds + 1):
        for c in [int(x) for x in a.clients.split(",")]:
            servers = [("moice " + (" ".join(extra) or "(defaults)"), lambda: start(a.model, c, extra))]
            if a.llama_server:
                servers.append(("llama-server", lambda: start_llama(a.llama_server, a.model, c, a.slot_context)))
            for name, launch in servers:
                p, url = launch()
                try:
                    chat(url, "Warm up.", 8)
                    tps, p50, p99, n = run(url, c, a.requests, a.max_tokens)
                    print(f"| {rnd} | {c} | {name} | {tps:.1f} | {p50:.2f} | {p99:.2f} | {n} |", flush=True)
                finally:
                    p.terminate()
                    p.wait()


if __name__ == "__main__":
    main()
