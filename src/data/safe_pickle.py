"""Read a data pickle without letting it run code.

`pickle.load` calls whatever callable the file names (`os.system`, `builtins.eval`, ...): a crafted
data file runs code in the stage that reads it. This module's Unpickler resolves a global only from
a fixed table - nothing is imported on the file's say-so - and refuses every other global with a
DataError that names the file and the global. The table holds what NumPy arrays pickled by Python 2
or 3 (protocols 0-5) need, around the plain containers (dict, list, tuple, str, bytes, int, float,
bool, None) that pickle builds without a global:

    numpy.core.multiarray._reconstruct, numpy._core.multiarray._reconstruct   an array's shell
    numpy.ndarray, numpy.dtype                                                its class and dtype
    numpy.core.multiarray.scalar, numpy._core.multiarray.scalar               a NumPy scalar
    numpy.core.numeric._frombuffer, numpy._core.numeric._frombuffer           an array at protocol 5
    _codecs.encode (latin-1 only)                                             Python 3 bytes at protocol <= 2

Arrays of Python objects (dtype object, or a structured dtype holding one) are refused anywhere in
the result: a numeric data file never needs one.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from src.core.errors import DataError, excerpt

try:  # NumPy >= 2 (NumPy 1.x pickles name numpy.core, which the table maps too)
    from numpy._core import multiarray as _multiarray, numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray, numeric as _numeric


def _latin1_encode(text, encoding="latin1"):
    """`_codecs.encode` as Python 3 uses it to pickle bytes at protocol <= 2, and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode is allowed only as (str, 'latin1'), got encoding "
                                     f"{excerpt(encoding)}")
    return text.encode("latin1")


ALLOWED = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _multiarray._reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): _multiarray.scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _numeric._frombuffer for core in ("core", "_core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose globals come only from ALLOWED; `path` and `what` name the file in errors."""

    def __init__(self, fh, path: Path, what: str):
        super().__init__(fh, encoding="latin1")  # Python 2 str (the official files) -> str
        self.path, self.what = path, what

    def find_class(self, module: str, name: str):
        found = ALLOWED.get((module, name))
        if found is None:
            raise DataError(f"{self.path}: the pickle asks for the global {excerpt(f'{module}.{name}')}, which a "
                            f"{self.what} file never needs; refused without running it (only NumPy arrays and "
                            f"plain containers are allowed). Replace it with the official {self.what} file.")
        return found

    def persistent_load(self, pid):
        raise DataError(f"{self.path}: the pickle holds a persistent reference {excerpt(pid)}; a {self.what} "
                        f"file never does. Replace it with the official {self.what} file.")


def _object_dtype(obj) -> np.dtype | None:
    """The dtype of the first array or dtype holding Python objects in `obj` (containers walked
    without recursion, so a deep or cyclic structure cannot overflow the stack), else None."""
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, (np.ndarray, np.generic)) and item.dtype.hasobject:
            return item.dtype
        elif isinstance(item, np.dtype) and item.hasobject:
            return item
    return None


def load(path: Path, what: str):
    """The object pickled in `path` (a `what` data file, e.g. 'CIFAR-100'), read by RestrictedUnpickler.
    A forbidden global, an object array or any unreadable content is a DataError naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = RestrictedUnpickler(fh, path, what).load()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure on untrusted bytes means an unreadable file
        raise DataError(f"{path}: not a readable {what} pickle ({type(exc).__name__}: {excerpt(exc, 80)}). "
                        f"Replace it with the official {what} file.") from None
    dtype = _object_dtype(obj)
    if dtype is not None:
        raise DataError(f"{path}: holds an array of dtype {excerpt(dtype)} (Python objects); a {what} file "
                        f"holds only numeric arrays, so it is refused. Replace it with the official {what} file.")
    return obj
