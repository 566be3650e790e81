#!/usr/bin/env python3
"""Writes the Q8_0 quantiser fixture under cli/src/test/resources/gguf/ (run by hand, never at test time).

    /work/refvenv/bin/python scripts/reference/make_q8_0_quantize_fixture.py

`gguf.quants.quantize(x, Q8_0)` is the gguf package's port of ggml's `quantize_row_q8_0_ref` ("bit-exact same
results as reference implementation in ggml-quants.c"): per block of 32, d = amax/127, id = 1/d (0 when d = 0),
q = roundf(x*id) (halves away from zero), d stored as f16. Java's Q8_0Format.quantizeRow must reproduce the bytes.

Files written:
  q8_0_quantize.input.f32   float32 little-endian, ROWS x COLS row-major: the values to quantise
  q8_0_quantize.q8_0        the Q8_0 bytes gguf.quants.quantize produced for them, row-major (COLS/32*34 per row)
  q8_0_quantize.json        {"rows", "cols", "gguf", "numpy", "cases"}

Rows mix ordinary and edge-case blocks: all zeros; exact halves with amax 127 (d = 1, so x*id are the halves
themselves: ties must round away from zero, both signs); one outlier; all-equal values; tiny magnitudes whose d
underflows f16 to a subnormal or zero while q stays large; magnitudes whose d is near the f16 maximum; values that
land just below and above .5 after scaling.
"""
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "cli" / "src" / "test" / "resources" / "gguf"
ROWS, COLS = 8, 576
rng = np.random.default_rng(20250202)


def edge_blocks() -> list[np.ndarray]:
    b = []
    b.append(np.zeros(32, np.float32))
    halves = np.arange(-16, 16, dtype=np.float32) + 0.5
    halves[0] = 127.0                                   # amax 127 -> d = 1 exactly
    b.append(halves)
    neg = -halves
    b.append(neg)
    outlier = rng.standard_normal(32).astype(np.float32) * 1e-3
    outlier[7] = 50.0
    b.append(outlier)
    b.append(np.full(32, -1.25, np.float32))
    b.append(rng.standard_normal(32).astype(np.float32) * 1e-9)   # d subnormal/zero in f16
    b.append(rng.standard_normal(32).astype(np.float32) * 1e-6)
    b.append(rng.standard_normal(32).astype(np.float32) * 2.0e6)  # d close to the f16 maximum
    # amax 127 again (d = 1, id = 1): values one float32 ulp either side of a half must round to the nearer integer
    ties = [np.float32(k + 0.5) for k in (0, 1, 2, 62, 125)]
    near = [np.float32(127.0)]
    for t in ties:
        near += [np.nextafter(t, np.float32(0)), np.nextafter(t, np.float32(np.inf)), t]
        near += [-np.nextafter(t, np.float32(0)), -np.nextafter(t, np.float32(np.inf)), -t]
    b.append(np.array(near + [np.float32(0.0)] * (32 - len(near)), dtype=np.float32))
    return b


def main() -> None:
    x = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    x[1] *= 0.02                                                  # weight-like scale
    x[2] *= 30.0
    edges = edge_blocks()
    flat = x.reshape(-1, 32)
    for i, blk in enumerate(edges):                               # rows 3.. start with the edge-case blocks
        flat[3 * (COLS // 32) + i] = blk
    for i in range(len(edges)):                                   # and a second copy scattered in row 6/7
        flat[6 * (COLS // 32) + 2 * i] = edges[i]
    q = gguf.quants.quantize(x, Q.Q8_0)
    assert q.dtype == np.uint8 and q.shape == (ROWS, COLS // 32 * 34), q.shape
    back = gguf.quants.dequantize(q, Q.Q8_0)                      # sanity: the package reads its own output
    assert back.shape == x.shape
    OUT.mkdir(parents=True, exist_ok=True)
    x.astype("<f4").tofile(OUT / "q8_0_quantize.input.f32")
    q.tofile(OUT / "q8_0_quantize.q8_0")
    doc = {"rows": ROWS, "cols": COLS, "gguf": importlib.metadata.version("gguf"), "numpy": np.__version__,
           "cases": "rows 0-2 random normal (scales 1, 0.02, 30); rows 3 and 6 start with edge-case blocks "
                    "(zeros, exact halves with d=1 both signs, outlier, all-equal, tiny, huge, one ulp either side of halves)"}
    (OUT / "q8_0_quantize.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print("wrote", OUT / "q8_0_quantize.*")


if __name__ == "__main__":
    main()
