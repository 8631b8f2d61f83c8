"""IDX files (the MNIST container format), plain or gzip-compressed.

Header: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32; the data follows in C order. MNIST images are (N, 28, 28) uint8
(magic 0x00000803), labels (N,) uint8 (magic 0x00000801).
"""
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from src.core.errors import DataError

_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}


def _raw_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}). Check the file and its permissions.") from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: gzip stream is corrupt ({exc}). Replace the file "
                            f"with a fresh copy.") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes to a native-endian array, checking header and length."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{name}: not an IDX file (header bytes {data[:4].hex() or 'empty'}; "
                        f"expected 0000 + type code + ndim, e.g. 00000803 for images). "
                        f"Replace it with the original file.")
    dtype, ndim = _DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: IDX header truncated ({len(data)} bytes).")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"{name}: IDX header says shape {tuple(shape)} ({expected} bytes) but the "
                        f"file has {len(data)} bytes: truncated or corrupt. Replace it.")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path, expect_ndim: int | None = None) -> np.ndarray:
    path = Path(path)
    arr = parse_idx(_raw_bytes(path), str(path))
    if expect_ndim is not None and arr.ndim != expect_ndim:
        raise DataError(f"{path}: expected a {expect_ndim}-D IDX array, got shape {arr.shape}.")
    return arr


def encode_idx(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"dtype {arr.dtype} has no IDX type code")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(_DTYPES[code]).tobytes()


def write_idx(path, arr: np.ndarray, compress: bool | None = None) -> Path:
    """Write `arr` as IDX; gzip when the name ends in .gz (or compress=True)."""
    path = Path(path)
    data = encode_idx(arr)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
