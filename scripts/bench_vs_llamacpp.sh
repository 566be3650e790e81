#!/usr/bin/env bash
# Side-by-side speed comparison of moice and llama.cpp on SmolLM2-135M-Instruct, interleaved (A B A B) so that both
# engines see the same machine state. Run it on a QUIET machine: the script prints `uptime` before every run so a
# disturbed run can be spotted and discarded.
#
#   LLAMA_CPP_DIR=/work/ext/llama.cpp scripts/bench_vs_llamacpp.sh [ROUNDS]
#
# LLAMA_CPP_DIR: a llama.cpp checkout built as docs/benchmarks.md says (binaries in build/bin), or the bin folder.
# ROUNDS (default 2): how many times the whole A B sequence is repeated.
# Environment: BENCH_DIR (default /tmp/moice-bench) holds the Q8_0/F32 files made from the shipped Q4_1 with
# `bin/moice convert` (made once, reused), and Q4_K made from that F32 file with llama.cpp's `llama-quantize
# F32 Q4_K_M` (moice's convert writes no k-quants; SmolLM2's 576-column rows are not a multiple of Q4_K's 256, so
# llama-quantize stores those in its fallback Q5_0 and only ffn_down and the 1536-column tensors in Q4_K/Q6_K — both
# engines read the same file); TYPES (default "Q4_1 Q8_0 F32"); THREADS (default 2); PREFILL (512,2048),
# DECODE (128), REPEATS (3) only to shrink a smoke run (the documented comparison uses the defaults).
# Both engines: prefill 512 and 2048 tokens, decode 128 tokens from an empty cache, 3 repeats.
# llama.cpp: llama-bench -m FILE -t 2 -p 512,2048 -n 128 -r 3 (mean ± sd of 3);
# moice:     bin/moice bench --model FILE --prefill 512,2048 --decode 128 --repeats 3 (median of 3 after a warm-up),
#            MOICE_THREADS=2.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-2}"
THREADS="${THREADS:-2}"
TYPES="${TYPES:-Q4_1 Q8_0 F32}"
BENCH_DIR="${BENCH_DIR:-/tmp/moice-bench}"
PREFILL="${PREFILL:-512,2048}"
DECODE="${DECODE:-128}"
REPEATS="${REPEATS:-3}"

[ -n "${LLAMA_CPP_DIR:-}" ] || { echo "bench_vs_llamacpp: set LLAMA_CPP_DIR to a built llama.cpp (see docs/benchmarks.md)" >&2; exit 2; }
LLAMA_BENCH=""
for c in "$LLAMA_CPP_DIR/build/bin/llama-bench" "$LLAMA_CPP_DIR/bin/llama-bench" "$LLAMA_CPP_DIR/llama-bench"; do
  [ -x "$c" ] && { LLAMA_BENCH="$c"; break; }
done
[ -n "$LLAMA_BENCH" ] || { echo "bench_vs_llamacpp: no llama-bench under $LLAMA_CPP_DIR (build/bin, bin or the folder itself)" >&2; exit 2; }

MOICE="$ROOT/bin/moice"
Q41="$(ls "$HOME"/.cache/moice/models/smollm2-135m-instruct/*Q4_1.gguf 2>/dev/null | head -1 || true)"
if [ -z "$Q41" ]; then
  "$MOICE" pull smollm2-135m-instruct
  Q41="$(ls "$HOME"/.cache/moice/models/smollm2-135m-instruct/*Q4_1.gguf | head -1)"
fi
mkdir -p "$BENCH_DIR"
file_for() { # the model file of a weight type; Q8_0/F16/F32 are converted from the shipped Q4_1 once
  case "$1" in
    Q4_1) echo "$Q41" ;;
    Q8_0|F16|F32)
      local f="$BENCH_DIR/smollm2-135m-instruct.$1.gguf"
      if [ ! -f "$f" ]; then
        local t; t="$(echo "$1" | tr 'A-Z' 'a-z')"
        "$MOICE" convert --model smollm2-135m-instruct --type "$t" --out "$f" >&2
      fi
      echo "$f" ;;
    Q4_K)
      local f="$BENCH_DIR/smollm2-135m-instruct.Q4_K_M.gguf"
      if [ ! -f "$f" ]; then
        local q="$LLAMA_CPP_DIR/build/bin/llama-quantize"
        [ -x "$q" ] || q="$(dirname "$LLAMA_BENCH")/llama-quantize"
        [ -x "$q" ] || { echo "bench_vs_llamacpp: Q4_K needs llama-quantize beside llama-bench" >&2; exit 2; }
        "$q" "$(file_for F32)" "$f.tmp" Q4_K_M >&2 && mv "$f.tmp" "$f"
      fi
      echo "$f" ;;
    *) echo "bench_vs_llamacpp: unknown type $1 (Q4_1, Q8_0, Q4_K, F16, F32)" >&2; exit 2 ;;
  esac
}

echo "== machine"
date -u +"%Y-%m-%dT%H:%M:%SZ"
grep -m1 'model name' /proc/cpuinfo || true
echo "cpus: $(nproc)"
echo "cpu flags (SIMD): $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|fma|f16c|avx512[a-z_]*|avx_vnni|amx[a-z_]*)$' | sort -u | tr '\n' ' ')"
free -g | head -2
echo "llama.cpp: $LLAMA_BENCH ($(git -C "$LLAMA_CPP_DIR" rev-parse --short HEAD 2>/dev/null || echo 'commit unknown'))"
echo "moice: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | grep -q . && echo 'with uncommitted changes' || echo clean))"
"$MOICE" --version 2>/dev/null || true

# moice builds on first use; do it now, outside the timed runs
"$MOICE" --help > /dev/null

for round in $(seq 1 "$ROUNDS"); do
  for type in $TYPES; do
    f="$(file_for "$type")"
    echo
    echo "== round $round, $type, llama.cpp   load: $(uptime)"
    "$LLAMA_BENCH" -m "$f" -t "$THREADS" -p "$PREFILL" -n "$DECODE" -r "$REPEATS"
    echo
    echo "== round $round, $type, moice       load: $(uptime)"
    MOICE_THREADS="$THREADS" "$MOICE" bench --model "$f" --prefill "$PREFILL" --decode "$DECODE" --repeats "$REPEATS"
  done
done
echo
echo "== done   load: $(uptime)"
