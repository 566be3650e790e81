#!/usr/bin/env python3
"""Writes the GGUF test fixtures under cli/src/test/resources/gguf/ (run by hand, never at test time).

Uses the `gguf` Python package (llama.cpp's reference reader/writer/quantiser; fixtures made with gguf 0.19.0 and
numpy 2.4.6):
    /work/refvenv/bin/python scripts/reference/make_gguf_fixtures.py

Files written, for each fixture NAME:
  NAME.gguf            the GGUF file, written by gguf.GGUFWriter
  NAME.expected.f32    the dequantised values of every tensor, float32 little-endian, tensors concatenated in file
                       order, each tensor's values row-major (ne[0] fastest), computed by gguf.quants.dequantize
  NAME.expected.json   what a reader must find: version, alignment, every metadata entry (key, spec type name, value;
                       arrays as {"element_type", "values"}; uint64/int64 values as decimal strings so JSON keeps
                       them exact; float32 values as the double nearest the stored float32), the tensor table
                       (name, type name, type id, dims in GGUF order, data offset as read back by gguf.GGUFReader,
                       index of its first value in NAME.expected.f32, value count), and the package's type table
                       (name -> [id, block size, block bytes]).

Fixtures:
  all_types_v3   tensors of every type moice dequantises (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) plus a
                 Q5_0 tensor (named "unsupported" from before moice read Q5_0; make_q5_fixture.py writes the Q5_0/Q5_1
                 fixture and an unsupported Q2_K tensor), metadata of every value type incl. nested arrays, a unicode
                 string, uint64 max, and the llama/tokenizer keys the model loader reads.
  small_v2       a GGUF version 2 file with alignment 64. The writer only emits v3; for little-endian files v2 and v3
                 are byte-identical except for the version field, so the script patches that field to 2.

Q4_0/Q4_1/Q8_0/BF16 tensors are made with gguf.quants.quantize from random data with edge-case blocks (all zeros,
large magnitudes, a single outlier). The package has no quantiser for Q4_K/Q5_K/Q6_K, so those tensors are random
block bytes with their f16 scale fields set to chosen finite values (zero, tiny, typical, large); every bit of
the packed scales and quants is thus exercised. Each file is read back with gguf.GGUFReader as a check.
"""
import json
import struct
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from gguf.constants import GGML_QUANT_SIZES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "cli" / "src" / "test" / "resources" / "gguf"
rng = np.random.default_rng(20250101)


def with_edge_blocks(x: np.ndarray, block: int) -> np.ndarray:
    """Overwrites a few blocks of x with edge cases: zeros, large magnitudes, one outlier, all-equal values."""
    flat = x.reshape(-1)
    n_blocks = flat.size // block
    flat[0:block] = 0.0
    if n_blocks > 1:
        flat[block:2 * block] = rng.standard_normal(block).astype(np.float32) * 3.0e4
    if n_blocks > 2:
        flat[2 * block:3 * block] = rng.standard_normal(block).astype(np.float32) * 1e-3
        flat[2 * block + 5] = 40.0
    if n_blocks > 3:
        flat[3 * block:4 * block] = -1.25
    return x


def k_quant_blocks(qtype: Q, rows: int, cols: int) -> np.ndarray:
    """Random K-quant blocks whose f16 d/dmin fields are finite chosen values (bytes ggml could produce)."""
    block, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scale_choices = np.array([0.0, 1e-6, 6.1e-5, 0.0123, 0.5, 3.0, 1024.0, 60000.0], dtype=np.float16)
    d = scale_choices[rng.integers(0, len(scale_choices), size=n_blocks)]
    dmin = scale_choices[rng.integers(0, len(scale_choices), size=n_blocks)]
    d[0] = 0.0                                   # first block: everything zero-scaled
    dmin[0] = 0.0
    d[1 % n_blocks] = np.float16(60000.0)        # large magnitudes
    if qtype in (Q.Q4_K, Q.Q5_K):                # layout: d, dmin, scales, ...
        raw[:, 0:2] = d.view(np.uint8).reshape(n_blocks, 2)
        raw[:, 2:4] = dmin.view(np.uint8).reshape(n_blocks, 2)
    elif qtype == Q.Q6_K:                        # layout: ql, qh, scales, d (last)
        raw[:, type_size - 2:] = d.view(np.uint8).reshape(n_blocks, 2)
    else:
        raise ValueError(qtype)
    return raw.reshape(rows, cols // block * type_size)


def quantized(qtype: Q, rows: int, cols: int, scale: float = 1.0) -> np.ndarray:
    x = (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
    with_edge_blocks(x, GGML_QUANT_SIZES[qtype][0] if qtype != Q.BF16 else 32)
    if qtype == Q.BF16:
        x.reshape(-1)[40:46] = [3.0e38, -3.0e38, 1e-40, -0.0, 65504.0, 1.0 + 2 ** -9]
    return gguf.quants.quantize(x, qtype)


def f32_tensor(shape) -> np.ndarray:
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[0:8] = [0.0, -0.0, 3.4e38, -3.4e38, 1e-45, 1.17549435e-38, 1e30, -7.5]
    return x


def f16_tensor(shape) -> np.ndarray:
    x = (rng.standard_normal(shape) * 100).astype(np.float16)
    x.reshape(-1)[0:6] = [0.0, -0.0, 65504.0, -65504.0, 6e-8, 6.1e-5]
    return x


class Fixture:
    def __init__(self, name: str, alignment: int | None = None):
        self.name = name
        self.writer = gguf.GGUFWriter(OUT / f"{name}.gguf", arch="llama")
        self.metadata = []   # (key, spec type, JSON value), in file order
        self.tensors = []    # (name, qtype, numpy data)
        self.alignment = alignment or 32
        self.key("general.architecture", V.STRING, "llama")
        if alignment is not None:
            self.writer.add_custom_alignment(alignment)
            self.metadata.append(("general.alignment", "uint32", alignment))

    def key(self, key: str, vtype: V, value, sub_type: V | None = None):
        if vtype == V.ARRAY:
            self.writer.add_key_value(key, value, vtype, sub_type=sub_type)
        elif key != "general.architecture":     # the writer adds the architecture itself
            self.writer.add_key_value(key, value, vtype)
        self.metadata.append((key, vtype.name.lower(), json_value(vtype, value, sub_type)))

    def tensor(self, name: str, qtype: Q, data: np.ndarray):
        if qtype in (Q.F32, Q.F16):
            self.writer.add_tensor(name, data)
        else:
            self.writer.add_tensor(name, data, raw_dtype=qtype)   # byte shape; the writer derives the value shape
        self.tensors.append((name, qtype, data))

    def write(self, version: int = 3):
        w = self.writer
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        path = OUT / f"{self.name}.gguf"
        if version != 3:
            raw = bytearray(path.read_bytes())
            struct.pack_into("<I", raw, 4, version)
            path.write_bytes(bytes(raw))
        self.check_and_write_expected(path, version)

    def check_and_write_expected(self, path: Path, version: int):
        reader = gguf.GGUFReader(path)
        read_tensors = {t.name: t for t in reader.tensors}
        expected = []
        table = []
        index = 0
        for name, qtype, data in self.tensors:
            t = read_tensors[name]
            assert t.tensor_type == qtype, (name, t.tensor_type, qtype)
            if qtype in (Q.F32, Q.F16):
                values = gguf.quants.dequantize(data.view(np.uint8) if qtype == Q.F32 else data, qtype)
            else:
                values = gguf.quants.dequantize(data, qtype)
            values = np.asarray(values, dtype=np.float32).reshape(-1)
            # What the file holds must dequantise to the same values as the bytes we handed the writer.
            from_file = gguf.quants.dequantize(np.asarray(t.data), qtype).astype(np.float32).reshape(-1)
            assert np.array_equal(values.view(np.uint32), from_file.view(np.uint32)), name
            dims = [int(d) for d in t.shape]   # GGUFReader reports ne[0] first
            table.append({"name": name, "type": qtype.name, "type_id": int(qtype), "dims": dims,
                          "data_offset": int(t.data_offset) - int(reader.data_offset), "file_offset": int(t.data_offset),
                          "first_value": index, "count": int(values.size)})
            expected.append(values)
            index += values.size
        for key, type_name, _ in self.metadata:
            field = reader.fields[key]
            assert V(field.types[0]).name.lower() == type_name, (key, field.types, type_name)
        np.concatenate(expected).astype("<f4").tofile(OUT / f"{self.name}.expected.f32")
        doc = {
            "version": version,
            "alignment": self.alignment,
            "data_start": int(reader.data_offset),
            "metadata": [{"key": k, "type": t, "value": v} for k, t, v in self.metadata],
            "tensors": table,
            "type_table": {q.name: [int(q), *GGML_QUANT_SIZES[q]] for q in Q},
        }
        (OUT / f"{self.name}.expected.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                                                       encoding="utf-8")


def json_value(vtype: V, value, sub_type: V | None):
    """The JSON form the Java test expects (64-bit integers as strings, float32 rounded to float32)."""
    if vtype == V.ARRAY:
        element = sub_type if sub_type is not None else V.get_type(value[0])
        return {"element_type": element.name.lower(), "values": [json_value(element, v, None) for v in value]}
    if vtype in (V.UINT64, V.INT64):
        return str(int(value))
    if vtype == V.FLOAT32:
        return float(np.float32(value))
    return value


def all_types_v3():
    f = Fixture("all_types_v3")
    # Scalars of every value type, at their extremes.
    f.key("test.uint8", V.UINT8, 255)
    f.key("test.int8", V.INT8, -128)
    f.key("test.uint16", V.UINT16, 65535)
    f.key("test.int16", V.INT16, -32768)
    f.key("test.uint32", V.UINT32, 4294967295)
    f.key("test.int32", V.INT32, -2147483648)
    f.key("test.float32", V.FLOAT32, 3.14159265)
    f.key("test.bool_true", V.BOOL, True)
    f.key("test.bool_false", V.BOOL, False)
    f.key("test.string", V.STRING, "héllo wörld ✓ 日本語 🦙 \n\ttab")
    f.key("test.empty_string", V.STRING, "")
    f.key("test.uint64", V.UINT64, 2 ** 64 - 1)
    f.key("test.int64", V.INT64, -2 ** 63)
    f.key("test.float64", V.FLOAT64, 2.718281828459045)
    # Arrays of every element type.
    f.key("test.array.uint8", V.ARRAY, [0, 1, 127, 128, 255], V.UINT8)
    f.key("test.array.int8", V.ARRAY, [-128, -1, 0, 127], V.INT8)
    f.key("test.array.uint16", V.ARRAY, [0, 65535, 12345], V.UINT16)
    f.key("test.array.int16", V.ARRAY, [-32768, 32767, -2], V.INT16)
    f.key("test.array.uint32", V.ARRAY, [0, 4294967295, 7], V.UINT32)
    f.key("test.array.int32", V.ARRAY, [-2147483648, 2147483647, 0], V.INT32)
    f.key("test.array.float32", V.ARRAY, [0.0, -1.5, 1e-30, 3.0e38, 0.1], V.FLOAT32)
    f.key("test.array.bool", V.ARRAY, [True, False, True], V.BOOL)
    f.key("test.array.string", V.ARRAY, ["a", "", "ünïcödé", "🦙🦙", "Ġthe"], V.STRING)
    f.key("test.array.uint64", V.ARRAY, [0, 2 ** 64 - 1, 2 ** 40], V.UINT64)
    f.key("test.array.int64", V.ARRAY, [-2 ** 63, 2 ** 63 - 1, -5], V.INT64)
    f.key("test.array.float64", V.ARRAY, [0.1, -2.5e300, 5e-324], V.FLOAT64)
    f.key("test.array.nested_int", V.ARRAY, [[1, 2, 3], [4], [5, 6]], V.ARRAY)
    f.key("test.array.nested_string", V.ARRAY, [["a", "b"], ["ü"]], V.ARRAY)
    f.key("test.array.nested_twice", V.ARRAY, [[[1], [2, 3]], [[4]]], V.ARRAY)
    # The llama-architecture and tokenizer keys the model loader reads (values of SmolLM2-135M's kinds).
    f.key("llama.context_length", V.UINT32, 8192)
    f.key("llama.embedding_length", V.UINT32, 576)
    f.key("llama.block_count", V.UINT32, 30)
    f.key("llama.feed_forward_length", V.UINT32, 1536)
    f.key("llama.attention.head_count", V.UINT32, 9)
    f.key("llama.attention.head_count_kv", V.UINT32, 3)
    f.key("llama.rope.freq_base", V.FLOAT32, 100000.0)
    f.key("llama.attention.layer_norm_rms_epsilon", V.FLOAT32, 1e-5)
    f.key("llama.rope.dimension_count", V.UINT32, 64)
    f.key("llama.vocab_size", V.UINT32, 300)
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [chr(0x100 + i) if i % 7 else f"tok{i}" for i in range(297)]
    f.key("tokenizer.ggml.model", V.STRING, "gpt2")
    f.key("tokenizer.ggml.pre", V.STRING, "smollm")
    f.key("tokenizer.ggml.tokens", V.ARRAY, tokens, V.STRING)
    f.key("tokenizer.ggml.scores", V.ARRAY, [float(-i) * 0.5 for i in range(300)], V.FLOAT32)
    f.key("tokenizer.ggml.token_type", V.ARRAY, [3, 3, 3] + [1] * 297, V.INT32)
    f.key("tokenizer.ggml.merges", V.ARRAY, ["Ġ t", "Ġ a", "h e", "i n", "Ġt he"], V.STRING)
    f.key("tokenizer.ggml.bos_token_id", V.UINT32, 1)
    f.key("tokenizer.ggml.eos_token_id", V.UINT32, 2)
    f.key("tokenizer.ggml.add_bos_token", V.BOOL, False)
    f.key("tokenizer.ggml.add_eos_token", V.BOOL, False)
    f.key("tokenizer.chat_template", V.STRING,
          "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}")

    f.tensor("f32.matrix", Q.F32, f32_tensor((3, 256)))
    f.tensor("f32.cube", Q.F32, f32_tensor((2, 3, 32)))
    f.tensor("f32.vector", Q.F32, f32_tensor((64,)))
    f.tensor("f16.matrix", Q.F16, f16_tensor((2, 256)))
    f.tensor("bf16.matrix", Q.BF16, quantized(Q.BF16, 2, 256, 10.0))
    f.tensor("q8_0.matrix", Q.Q8_0, quantized(Q.Q8_0, 4, 256))
    f.tensor("q4_0.matrix", Q.Q4_0, quantized(Q.Q4_0, 3, 512))
    f.tensor("q4_1.matrix", Q.Q4_1, quantized(Q.Q4_1, 3, 256, 0.05))
    f.tensor("q4_k.matrix", Q.Q4_K, k_quant_blocks(Q.Q4_K, 4, 512))
    f.tensor("q5_k.matrix", Q.Q5_K, k_quant_blocks(Q.Q5_K, 3, 512))
    f.tensor("q6_k.matrix", Q.Q6_K, k_quant_blocks(Q.Q6_K, 4, 256))
    f.tensor("q6_k.cube", Q.Q6_K, k_quant_blocks(Q.Q6_K, 2 * 2, 256).reshape(2, 2, 210))
    f.tensor("q5_0.unsupported", Q.Q5_0, quantized(Q.Q5_0, 2, 64))
    f.write()


def small_v2():
    f = Fixture("small_v2", alignment=64)
    f.key("llama.block_count", V.UINT32, 2)
    f.key("test.string", V.STRING, "version two")
    f.tensor("token_embd.weight", Q.Q8_0, quantized(Q.Q8_0, 2, 64))
    f.tensor("output_norm.weight", Q.F32, f32_tensor((64,)))
    f.write(version=2)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    all_types_v3()
    small_v2()
    for p in sorted(OUT.iterdir()):
        print(f"{p.stat().st_size:8d}  {p.relative_to(ROOT)}")
