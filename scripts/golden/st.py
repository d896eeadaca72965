"""Minimal safetensors writer/reader (float32 only) for golden fixtures.

Format (the public safetensors layout, so any safetensors reader also works):
  bytes 0..8   : u64 little-endian N = length of the JSON header
  bytes 8..8+N : UTF-8 JSON, padded with spaces to a multiple of 8 bytes:
                 {"__metadata__": {str: str, ...},
                  name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}
  then         : raw little-endian float32 data; offsets are relative to the end of
                 the header. Tensors are C-contiguous (row-major), in sorted-name order.
Only F32 is written, so the Swift reader needs exactly one dtype.
"""
import json
import struct

import numpy as np


def _as_f32(value):
    if hasattr(value, "detach"):  # torch tensor, without importing torch here
        value = value.detach().cpu().double().numpy()
    return np.ascontiguousarray(np.asarray(value, dtype=np.float64).astype("<f4"))


def save(path, tensors, metadata=None):
    """Writes {name: array-like} as F32 safetensors; metadata values must be strings."""
    arrays = {name: _as_f32(t) for name, t in tensors.items()}
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    offset = 0
    for name in sorted(arrays):
        a = arrays[name]
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in sorted(arrays):
            f.write(arrays[name].tobytes())


def load(path):
    """Reads a file written by `save` -> ({name: np.ndarray}, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype="<f4").reshape(info["shape"])
    return out, meta
