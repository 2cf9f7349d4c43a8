"""Reading IDX files (the format of the published MNIST / Fashion-MNIST files), gzipped or not."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from nlbound.data.errors import DataError

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes_maybe_gzip(path: str | os.PathLike) -> bytes:
    """The content of `path`, decompressed when it is a gzip file (detected by its magic bytes)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc}); replace the file") from None
    return raw


def parse_idx(data: bytes, where: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file into a native-endian array of the shape its header declares.

    Format: two zero bytes, a type code, the number of dimensions n, then n big-endian uint32
    sizes, then the values big-endian in C order. The data length must match exactly.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{where}: not an IDX file (bad magic number); replace the file")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{where}: unknown IDX type code 0x{code:02x}; replace the file")
    if ndim == 0:
        raise DataError(f"{where}: IDX header declares 0 dimensions; replace the file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{where}: truncated IDX header; replace the file")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[code]
    count = int(np.prod(dims, dtype=np.int64))
    expected = header + count * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{where}: IDX header declares shape {dims} ({expected} bytes) but the file has "
            f"{len(data)} bytes (truncated or corrupt); replace the file"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed) into a numpy array."""
    return parse_idx(read_bytes_maybe_gzip(path), where=str(path))


__all__ = ["read_idx", "parse_idx", "read_bytes_maybe_gzip"]
