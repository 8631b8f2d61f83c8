import gzip
import struct

import numpy as np
import pytest

from src.core.errors import DataError
from src.data.idx import parse_idx, read_idx, write_idx


def test_parse_hand_written_bytes():
    pixels = bytes(range(2 * 3 * 4))
    data = b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 3, 4) + pixels
    arr = parse_idx(data)
    assert arr.shape == (2, 3, 4) and arr.dtype == np.uint8
    assert arr[1, 2, 3] == 23 and arr[0, 0, 1] == 1


def test_labels_file_magic_2049():
    data = struct.pack(">I", 2049) + struct.pack(">I", 3) + bytes([7, 0, 9])
    assert parse_idx(data).tolist() == [7, 0, 9]


@pytest.mark.parametrize("name", ["x-images-idx3-ubyte", "x-images-idx3-ubyte.gz"])
def test_round_trip_plain_and_gzip(tmp_path, name):
    arr = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    path = write_idx(tmp_path / name, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    np.testing.assert_array_equal(read_idx(path, 3), arr)


def test_int32_big_endian_values(tmp_path):
    arr = np.array([1, -2, 70000], dtype=np.int32)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", arr)), arr)


@pytest.mark.parametrize("data, match", [
    (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    (b"\x00\x00\x42\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 28, 28) + b"\x00" * 10, "truncated or corrupt"),
    (b"", "not an IDX file"),
])
def test_corrupt_headers_raise(data, match):
    with pytest.raises(DataError, match=match):
        parse_idx(data, "bad-file")


def test_corrupt_gzip_names_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(DataError, match=str(path.name)):
        read_idx(path)


def test_wrong_ndim(tmp_path):
    path = write_idx(tmp_path / "l", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="expected a 3-D"):
        read_idx(path, 3)
