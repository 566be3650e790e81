#!/usr/bin/env bash
# One-shot start-up time and peak resident memory of `bin/moice generate` beside llama.cpp's llama-simple on the same
# GGUF, interleaved round after round (docs/benchmarks.md, "Start-up and memory"). Prints the 1-minute load average
# before every round: take numbers from a quiet machine only.
#
#   LLAMA_CPP_DIR=/work/ext/llama.cpp scripts/startup_vs_llamacpp.sh [ROUNDS] [LONG_TEXT]
#
# ROUNDS (default 5): rounds of the start-up comparison (16 tokens after "The history of the printing press begins").
# LONG_TEXT: a text file; when given, the memory comparison also runs (ROUNDS rounds): its first 8,800 characters as the
# prompt (2,022 tokens of docs' held-out text), 16 new tokens, `/usr/bin/time -f "%e s %M KB"` (peak RSS); moice runs
# with its exact float32 KV cache and with `--kv-cache f16` (what llama.cpp's cache stores).
# Environment: BASE, another moice checkout to run in the same rounds (e.g. a worktree of main, for before/after);
# MODEL (default smollm2-135m-instruct, pulled); GGUF (default: the pulled file of MODEL). moice runs with
# MOICE_THREADS=2; llama-simple takes no thread option (llama.cpp's default 4 threads).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-5}"
LONG_TEXT="${2:-}"
MODEL="${MODEL:-smollm2-135m-instruct}"
[ -n "${LLAMA_CPP_DIR:-}" ] \
  || { echo "startup_vs_llamacpp: set LLAMA_CPP_DIR to a built llama.cpp (see docs/benchmarks.md)" >&2; exit 2; }
SIMPLE=""
for c in "$LLAMA_CPP_DIR/build/bin/llama-simple" "$LLAMA_CPP_DIR/bin/llama-simple" "$LLAMA_CPP_DIR/llama-simple"; do
  [ -x "$c" ] && { SIMPLE="$c"; break; }
done
[ -n "$SIMPLE" ] || { echo "startup_vs_llamacpp: no llama-simple under $LLAMA_CPP_DIR" >&2; exit 2; }
GGUF="${GGUF:-$("$ROOT/bin/moice" pull "$MODEL" 2>/dev/null | tail -1)}"
[ -f "$GGUF" ] || { echo "startup_vs_llamacpp: no GGUF file ($GGUF); pull $MODEL or set GGUF" >&2; exit 2; }
PROMPT="The history of the printing press begins"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

timed() { # LABEL COMMAND... : runs it, prints "LABEL: SECONDS s PEAK KB"
  local label="$1"; shift
  /usr/bin/time -o "$TMP/time" -f "%e s %M KB" "$@" > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err" >&2; return 1; }
  echo "  $label: $(cat "$TMP/time")  $(grep -h 'prefill:' "$TMP/err" || true)"
}

moices=("$ROOT")
[ -n "${BASE:-}" ] && moices+=("$BASE")
# first use builds moice and records its start-up cache: not a measurement
for m in "${moices[@]}"; do
  "$m/bin/moice" generate --model "$MODEL" --prompt "$PROMPT" --max-tokens 2 > /dev/null 2>&1
done

echo "== start-up: generate 16 tokens after \"$PROMPT\" ($GGUF)"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r, load average $(cut -d' ' -f1 /proc/loadavg)"
  timed llama-simple "$SIMPLE" -m "$GGUF" -n 16 "$PROMPT"
  for m in "${moices[@]}"; do
    timed "moice ($m)" env MOICE_THREADS=2 "$m/bin/moice" generate --model "$MODEL" --prompt "$PROMPT" --max-tokens 16
  done
done

if [ -n "$LONG_TEXT" ]; then
  head -c 8800 "$LONG_TEXT" > "$TMP/prompt.txt"
  echo "== memory: first 8,800 characters of $LONG_TEXT as the prompt, 16 new tokens"
  for r in $(seq 1 "$ROUNDS"); do
    echo "round $r, load average $(cut -d' ' -f1 /proc/loadavg)"
    timed llama-simple "$SIMPLE" -m "$GGUF" -n 16 "$(cat "$TMP/prompt.txt")"
    for m in "${moices[@]}"; do
      timed "moice ($m)" env MOICE_THREADS=2 "$m/bin/moice" generate --model "$MODEL" --prompt-file "$TMP/prompt.txt" \
        --max-tokens 16
      timed "moice --kv-cache f16 ($m)" env MOICE_THREADS=2 "$m/bin/moice" generate --model "$MODEL" \
        --prompt-file "$TMP/prompt.txt" --max-tokens 16 --kv-cache f16
    done
  done
fi
