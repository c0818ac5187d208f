"""Reading a CTranslate2 `model.bin` without CTranslate2: the format is a flat list of named arrays.

Layout (little-endian): u32 version, string spec name, u32 revision, u32 count; per variable: string name,
u8 rank, rank x u32 shape, u8 dtype, u32 byte count, raw bytes; then u32 alias count and (alias, target)
string pairs. A string is a u16 length (counting a trailing NUL) and its bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def _u32(handle: BinaryIO) -> int:
    return struct.unpack("<I", handle.read(4))[0]


def _string(handle: BinaryIO) -> str:
    length = struct.unpack("<H", handle.read(2))[0]
    return handle.read(length)[:-1].decode("utf-8")


def read_variables(path: Path) -> dict[str, np.ndarray]:
    """Every variable as a numpy array (aliases resolved to their targets)."""
    variables: dict[str, np.ndarray] = {}
    with open(path, "rb") as handle:
        _u32(handle)
        _string(handle)
        _u32(handle)
        for _ in range(_u32(handle)):
            name = _string(handle)
            rank = handle.read(1)[0]
            shape = [_u32(handle) for _ in range(rank)]
            dtype_code = handle.read(1)[0]
            size = _u32(handle)
            raw = handle.read(size)
            if dtype_code == 5:  # bfloat16: widen through the upper half of float32
                array = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                array = np.frombuffer(raw, dtype=_DTYPES[dtype_code])
            variables[name] = array.reshape(shape) if shape else array
        for _ in range(_u32(handle)):
            alias, target = _string(handle), _string(handle)
            variables[alias] = variables[target]
    return variables
