#!/usr/bin/env python3
"""Reference dequantization for the engine's tensor tests, with the `gguf` Python package (gguf-py, llama.cpp's own).

Reads jobs, one per line, from the file named by argv[1]; each writes little-endian float32 values:
  raw   TYPE IN OUT            dequantize the raw blocks in file IN as GGML type TYPE (e.g. Q4_K)
  quant TYPE N SEED RAW OUT    quantize N floats ~ N(0,1) (seeded) with gguf.quants.quantize; write blocks to RAW
                               and their dequantization to OUT
  gguf  FILE TENSOR ROWS RAW OUT  take the first ROWS rows of TENSOR from GGUF file FILE; write its raw bytes to
                               RAW and their dequantization to OUT
One process for all jobs keeps the numpy start-up cost to once per test run.
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize


def main() -> None:
    readers = {}  # GGUFReader parses all metadata (about 10 s for a 262k-token vocabulary): once per file
    with open(sys.argv[1]) as jobs:
        for line in jobs:
            job = line.split()
            if not job:
                continue
            if job[0] == "raw":
                qtype = GGMLQuantizationType[job[1]]
                data = np.fromfile(job[2], dtype=np.uint8)
                dequantize(data, qtype).astype("<f4").tofile(job[3])
            elif job[0] == "quant":
                qtype = GGMLQuantizationType[job[1]]
                values = np.random.default_rng(int(job[3])).standard_normal(int(job[2]), dtype=np.float32)
                blocks = quantize(values.reshape(1, -1), qtype)
                blocks.tofile(job[4])
                dequantize(blocks, qtype).astype("<f4").tofile(job[5])
            elif job[0] == "gguf":
                reader = readers.setdefault(job[1], None) or readers.setdefault(job[1], GGUFReader(job[1]))
                tensor = next(t for t in reader.tensors if t.name == job[2])
                rows = int(job[3])
                block_size, type_size = GGML_QUANT_SIZES[tensor.tensor_type]
                row_bytes = int(tensor.shape[0]) // block_size * type_size
                raw = np.asarray(tensor.data).view(np.uint8).reshape(-1)[: rows * row_bytes]
                raw.tofile(job[4])
                dequantize(raw, tensor.tensor_type).astype("<f4").tofile(job[5])
            else:
                raise SystemExit(f"unknown job {job[0]!r}")


if __name__ == "__main__":
    main()
