#!/usr/bin/env python3
"""Writes cli/src/test/resources/gguf/q5_v3.{gguf,expected.f32,expected.json}: Q5_0 and Q5_1 tensors with the values the
`gguf` Python package's gguf.quants.dequantize gives (run by hand, never at test time):

    python3 -m venv .venv && .venv/bin/pip install gguf numpy     # made with gguf 0.19.0, numpy 2.4.6
    .venv/bin/python scripts/reference/make_q5_fixture.py

Same file formats as make_gguf_fixtures.py (whose Fixture class writes and checks it). Tensors:
  q5_0.quantized, q5_1.quantized   gguf.quants.quantize of random data with edge-case blocks (zeros, large
                                   magnitudes, one outlier, all-equal values)
  q5_0.random, q5_1.random         uniformly random block bytes with the f16 d (and m) fields set to chosen finite
                                   values, so every bit of qh and qs is exercised
  q2_k.unsupported                 a type moice does not decode (random bytes; its expected values are the package's
                                   but unused), for the "fails only when used" test
Only this fixture is written; all_types_v3 and small_v2 stay as they are.
"""
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_gguf_fixtures as fx  # noqa: E402

fx.rng = np.random.default_rng(20260512)
rng = fx.rng


def random_blocks(qtype: Q, rows: int, cols: int) -> np.ndarray:
    block, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    choices = np.array([0.0, -1e-6, 6.1e-5, 0.0123, -0.5, 3.0, 1024.0, -60000.0], dtype=np.float16)
    fields = 2 if qtype == Q.Q5_1 else 1
    for f in range(fields):
        v = choices[rng.integers(0, len(choices), size=n_blocks)]
        raw[:, 2 * f:2 * f + 2] = v.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(rows, cols // block * type_size)


def q5_v3():
    f = fx.Fixture("q5_v3")
    f.tensor("q5_0.quantized", Q.Q5_0, fx.quantized(Q.Q5_0, 4, 256))
    f.tensor("q5_1.quantized", Q.Q5_1, fx.quantized(Q.Q5_1, 4, 256, 0.05))
    f.tensor("q5_0.random", Q.Q5_0, random_blocks(Q.Q5_0, 3, 512))
    f.tensor("q5_1.random", Q.Q5_1, random_blocks(Q.Q5_1, 3, 512))
    f.tensor("q2_k.unsupported", Q.Q2_K, rng.integers(0, 256, size=(2, 84), dtype=np.uint8))
    f.write()


if __name__ == "__main__":
    q5_v3()
    for p in sorted(fx.OUT.glob("q5_v3*")):
        print(f"{p.stat().st_size:8d}  {p.relative_to(fx.ROOT)}")
