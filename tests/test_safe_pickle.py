"""No code from data: CIFAR-100 pickles go through the restricted unpickler (a pickle that names any
global outside NumPy's array machinery is refused before anything runs), and with data.check_counts
the CIFAR-100 and SVHN files must match their published MD5s before they are parsed."""
from __future__ import annotations

import os
import pickle
import re
import struct
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from src.core.errors import DataError
from src.data import safe_pickle
from src.data.natural import OFFICIAL_MD5, read_cifar100, read_svhn
from tests.test_natural import COARSE_OF, write_cifar100, write_svhn


class OpenFile:
    """Unpickled by plain pickle, this calls builtins.open(marker, 'w'): a file appears."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class System:
    """Unpickled by plain pickle, this runs a shell command that creates the marker."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def eval_pickle(marker, stack_global: bool) -> bytes:
    """builtins.eval of an expression that creates the marker, written opcode by opcode: GLOBAL
    (protocol 2, as Python 2 names it: __builtin__) or STACK_GLOBAL (protocol 4)."""
    code = f"open({str(marker)!r}, 'w')".encode()
    arg = b"X" + struct.pack("<I", len(code)) + code + b"\x85"  # BINUNICODE, TUPLE1
    if stack_global:
        return b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93" + arg + b"R."
    return b"\x80\x02c__builtin__\neval\n" + arg + b"R."


def _path(raw, name="train"):
    return raw / "cifar-100-python" / name


def _plant(raw, payload: bytes):
    """The fixture CIFAR-100 files, with `payload` as cifar-100-python/train."""
    write_cifar100(raw)
    _path(raw).write_bytes(payload)
    return _path(raw)


# ---------------------------------------------------------------- (a) malicious pickles run nothing
@pytest.mark.parametrize("make, forbidden", [
    (lambda m: pickle.dumps({"data": OpenFile(m)}, protocol=2), "io.open"),  # open is io.open
    (lambda m: pickle.dumps([OpenFile(m)], protocol=4), "io.open"),
    (lambda m: pickle.dumps(System(m), protocol=2), f"{os.system.__module__}.system"),
    (lambda m: eval_pickle(m, stack_global=False), "__builtin__.eval"),
    (lambda m: eval_pickle(m, stack_global=True), "builtins.eval"),
])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, make, forbidden):
    marker = tmp_path / "pwned"
    path = _plant(tmp_path / "raw", make(marker))
    with pytest.raises(DataError) as err:
        read_cifar100(tmp_path / "raw", check_md5=False)
    msg = str(err.value)
    assert msg.startswith(f"{path}: the pickle asks for the global '{forbidden}'"), msg
    assert "refused without running it" in msg and "Replace it with the official CIFAR-100 file" in msg
    assert not marker.exists()  # nothing ran


def test_the_payload_is_real(tmp_path):
    """The control: plain pickle does run these payloads (the open() ones; the shell one is left alone)."""
    for payload in (pickle.dumps(OpenFile(tmp_path / "a"), protocol=2), eval_pickle(tmp_path / "b", True)):
        pickle.loads(payload).close()
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()


def test_other_globals_and_import_side_effects_are_refused(tmp_path):
    """A global is looked up in a fixed table: a module the pickle names is never imported, and
    NumPy's own non-array callables (np.load, ...) are refused like any other."""
    for module, name in (("numpy", "load"), ("numpy.lib.format", "read_array"), ("subprocess", "Popen"),
                         ("builtins", "getattr"), ("a_module_that_does_not_exist", "x"), ("copyreg", "_reconstructor")):
        path = tmp_path / name
        path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R.")
        with pytest.raises(DataError, match=re.escape(f"{path}: the pickle asks for the global '{module}.{name}'")):
            safe_pickle.load(path, "CIFAR-100")
    assert "a_module_that_does_not_exist" not in sys.modules


def test_persistent_ids_and_garbage_are_data_errors(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\x80\x02X\x03\x00\x00\x00abcQ.")  # BINPERSID
    with pytest.raises(DataError, match=re.escape(f"{path}: the pickle holds a persistent reference 'abc'")):
        safe_pickle.load(path, "CIFAR-100")
    for junk in (b"", b"\x80\x02}q\x00(X", b"not a pickle at all", b"\x80\x02\x82\x01."):  # ... EXT1 code 1
        path.write_bytes(junk)
        with pytest.raises(DataError, match=re.escape(f"{path}: not a readable CIFAR-100 pickle (")):
            safe_pickle.load(path, "CIFAR-100")


# ---------------------------------------------------------------- (b) the real formats still load
def py2_pickle(obj) -> bytes:
    """obj pickled as Python 2's cPickle wrote CIFAR-100 (protocol 2): str as BINSTRING (bytes here),
    ints as BININT, arrays through numpy.core.multiarray._reconstruct with their raw bytes as a str."""
    def put(o) -> bytes:
        if o is None:
            return b"N"
        if isinstance(o, bytes):
            return (b"U" + bytes([len(o)]) if len(o) < 256 else b"T" + struct.pack("<I", len(o))) + o
        if isinstance(o, bool):
            return b"\x88" if o else b"\x89"
        if isinstance(o, int):
            return b"J" + struct.pack("<i", o)
        if isinstance(o, list):
            return b"](" + b"".join(put(v) for v in o) + b"e"
        if isinstance(o, dict):
            return b"}(" + b"".join(put(k) + put(v) for k, v in o.items()) + b"u"
        if isinstance(o, tuple):
            return b"(" + b"".join(put(v) for v in o) + b"t"
        assert isinstance(o, np.ndarray) and o.dtype == np.uint8
        dtype = b"cnumpy\ndtype\n" + put((b"u1", 0, 1)) + b"R" + put((3, b"|", None, None, None, -1, -1, 0)) + b"b"
        shell = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + put((0,)) + put(b"b") + b"\x87R"
        return shell + b"(" + put(1) + put(o.shape) + dtype + put(False) + put(o.tobytes()) + b"tb"

    return b"\x80\x02" + put(obj) + b"."


def test_fixture_pickles_load_with_bytes_or_str_keys(tmp_path):
    for bytes_keys in (True, False):  # protocol 2 from Python 3: bytes through _codecs.encode
        raw = tmp_path / str(bytes_keys)
        made = write_cifar100(raw, bytes_keys=bytes_keys)
        d = read_cifar100(raw, check_md5=False)
        np.testing.assert_array_equal(d["train_images"], made["train"][0])
        assert d["fine_names"][3] == "bear"


def test_a_python2_style_pickle_loads(tmp_path):
    made = write_cifar100(tmp_path)
    hwc, labels = made["train"]
    d = {b"batch_label": b"training batch 1 of 1", b"data": hwc.transpose(0, 3, 1, 2).reshape(len(hwc), 3072),
         b"fine_labels": labels, b"coarse_labels": [COARSE_OF[f] for f in labels],
         b"filenames": [b"img%d.png" % i for i in range(len(hwc))]}
    payload = py2_pickle(d)
    assert b"numpy.core.multiarray\n_reconstruct" in payload and b"_codecs" not in payload
    _path(tmp_path).write_bytes(payload)
    got = safe_pickle.load(_path(tmp_path), "CIFAR-100")
    assert set(got) == {"batch_label", "data", "fine_labels", "coarse_labels", "filenames"}  # str keys
    np.testing.assert_array_equal(read_cifar100(tmp_path, check_md5=False)["train_images"], hwc)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_arrays_and_scalars_at_every_protocol(tmp_path, protocol):
    obj = {"a": np.arange(12, dtype=np.uint8).reshape(3, 4), "f": np.float32(1.5), "t": (1, None, [2.0, "x"]),
           "s": np.zeros((2, 2), np.dtype([("x", "<i4"), ("y", "<f8")]))}
    (tmp_path / "f").write_bytes(pickle.dumps(obj, protocol=protocol))
    got = safe_pickle.load(tmp_path / "f", "test")
    np.testing.assert_array_equal(got["a"], obj["a"])
    assert got["f"] == np.float32(1.5) and got["t"] == (1, None, [2.0, "x"]) and got["s"].dtype == obj["s"].dtype


# ---------------------------------------------------------------- (c) object arrays
@pytest.mark.parametrize("array", [np.array([1, "x"], dtype=object),
                                   np.zeros(2, np.dtype([("x", "<i4"), ("o", "O")]))])
def test_object_arrays_are_refused_anywhere(tmp_path, array):
    path = tmp_path / "f"
    path.write_bytes(pickle.dumps({"data": [1, {"deep": (array,)}]}, protocol=2))
    with pytest.raises(DataError, match=re.escape(f"{path}: holds an array of dtype ") + ".*Python objects"):
        safe_pickle.load(path, "CIFAR-100")


def test_a_deep_or_cyclic_structure_does_not_crash_the_walk(tmp_path):
    cyclic = []
    cyclic.append(cyclic)
    for payload in (pickle.dumps(cyclic, protocol=2), _nested(100_000)):
        (tmp_path / "f").write_bytes(payload)
        assert isinstance(safe_pickle.load(tmp_path / "f", "test"), list)


def _nested(depth: int) -> bytes:
    """[[[...]]] `depth` deep without recursing in the pickler: EMPTY_LIST, then APPEND depth times."""
    return b"\x80\x02" + b"]" * (depth + 1) + b"a" * depth + b"."


# ---------------------------------------------------------------- (d), (e) official checksums
def test_checksums_are_torchvisions():
    from torchvision.datasets import CIFAR100, SVHN

    for name, md5 in CIFAR100.train_list + CIFAR100.test_list + [[CIFAR100.meta["filename"], CIFAR100.meta["md5"]]]:
        assert OFFICIAL_MD5[f"cifar-100-python/{name}"] == md5
    for _, filename, md5 in SVHN.split_list.values():
        assert OFFICIAL_MD5[f"SVHN/{filename}"] == md5


def test_cifar100_checksum_is_verified_before_parsing(tmp_path):
    marker = tmp_path / "pwned"
    path = _plant(tmp_path / "raw", pickle.dumps(System(marker), protocol=2))
    with pytest.raises(DataError) as err:
        read_cifar100(tmp_path / "raw")  # check_md5 defaults to on
    msg = str(err.value)
    assert re.match(re.escape(f"{path}: md5 ") + r"[0-9a-f]{32}, but the official cifar-100-python/train has md5 "
                    r"16019d7e3df5f24257cddd939b257f8d", msg), msg
    assert "data.check_counts: false" in msg and "Replace it with the official file" in msg
    assert not marker.exists()  # refused on the checksum: never unpickled


def test_check_counts_is_threaded_from_the_benchmark(tmp_path):
    from src.data.benchmarks import fetch
    from tests.test_benchmarks import make_mixcifar60_raw

    make_mixcifar60_raw(tmp_path)
    with pytest.raises(DataError) as err:
        fetch("mixcifar60", tmp_path, SimpleNamespace(source="local", check_counts=True))
    msg = str(err.value)
    assert "cifar-100-python/train: md5" in msg and "SVHN/train_32x32.mat: md5" in msg
    src, ood, _ = fetch("mixcifar60", tmp_path, SimpleNamespace(source="local", check_counts=False))
    assert len(src["train_images"]) == 200 and set(ood["sets"]) == {"lsun_fix", "svhn"}


@pytest.mark.parametrize("split", ["train", "test"])
def test_svhn_checksum(tmp_path, split):
    x, _ = write_svhn(tmp_path, split)
    path = tmp_path / "SVHN" / f"{split}_32x32.mat"
    with pytest.raises(DataError, match=re.escape(f"{path}: md5 ") + r"[0-9a-f]{32}, but the official "
                       + re.escape(f"SVHN/{split}_32x32.mat has md5 {OFFICIAL_MD5[f'SVHN/{split}_32x32.mat']}")):
        read_svhn(tmp_path, split)
    images, _ = read_svhn(tmp_path, split, check_md5=False)
    np.testing.assert_array_equal(images[0], x[:, :, :, 0])
