import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from src.core.errors import DataError
from src.data import raw
from src.data.idx import write_idx
from tests.conftest import make_raw


def test_local_mnist_and_notmnist(tmp_path):
    root = make_raw(tmp_path / "raw", n_train=30, n_test=10, n_notmnist=12)
    arrays, manifest = raw.load_mnist(root, "local", check_counts=False)
    assert arrays["train_images"].shape == (30, 28, 28) and arrays["test_labels"].shape == (10,)
    assert manifest["origin"] == "local" and manifest["counts"] == {"train": 30, "test": 10}
    assert len(manifest["files"]["train_images"]["sha256"]) == 64
    nm, nm_manifest = raw.load_notmnist(root, "local")
    assert nm["images"].shape == (12, 28, 28) and nm_manifest["counts"]["available"] == 12


def test_official_counts_are_checked(tmp_path):
    root = make_raw(tmp_path / "raw", n_train=30, n_test=10)
    with pytest.raises(DataError, match="official MNIST has 60000.*check_counts"):
        raw.load_mnist(root, "local", check_counts=True)


def test_missing_file_names_it_and_both_ways(tmp_path):
    root = make_raw(tmp_path / "raw")
    (root / "MNIST/raw/t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as err:
        raw.load_mnist(root, "local", check_counts=False)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and "online" in msg and "offline" in msg and "ln -sfn" in msg


def test_auto_tries_download_then_explains(tmp_path, monkeypatch):
    root = make_raw(tmp_path / "raw")
    (root / "MNIST/raw/train-images-idx3-ubyte").unlink()

    def offline(_):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(raw, "download_mnist", offline)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*Download failed: Network is unreachable"):
        raw.load_mnist(root, "auto", check_counts=False)


def test_mismatched_labels_rejected(tmp_path):
    root = make_raw(tmp_path / "raw", n_train=30)
    write_idx(root / "MNIST/raw/train-labels-idx1-ubyte", np.zeros(29, np.uint8))
    with pytest.raises(DataError, match="do not match 30 images"):
        raw.load_mnist(root, "local", check_counts=False)


def _notmnist_tar() -> bytes:
    """A notMNIST_small-style archive: folders A..J of 28x28 PNGs, plus one broken PNG."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, payload):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for k, letter in enumerate("ABCDEFGHIJ"):
            for j in range(2):
                png = io.BytesIO()
                Image.fromarray(np.full((28, 28), 10 * k + j, np.uint8)).save(png, format="PNG")
                add(f"notMNIST_small/{letter}/img{j}.png", png.getvalue())
        add("notMNIST_small/A/broken.png", b"not a png")
    return buf.getvalue()


def test_notmnist_download_converts_archive(tmp_path, monkeypatch):
    root = make_raw(tmp_path / "raw", n_notmnist=5)
    tar_bytes = _notmnist_tar()
    monkeypatch.setattr(raw.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(tar_bytes))
    arrays, manifest = raw.load_notmnist(root, "download")
    # the downloaded set (20 images) is larger than the 5-image local sample, so it is used
    assert arrays["images"].shape == (20, 28, 28) and manifest["origin"] == "download"
    assert manifest["files"]["images"]["file"] == "notMNIST/small-images-idx3-ubyte.gz"
    assert sorted(set(arrays["labels"].tolist())) == list(range(10))
    c_rows = arrays["labels"] == 2
    assert set(arrays["images"][c_rows, 0, 0].tolist()) == {20, 21}


def test_notmnist_missing_everywhere(tmp_path, monkeypatch):
    root = tmp_path / "raw"
    root.mkdir()

    def offline(*a, **k):
        raise OSError("no route")
    monkeypatch.setattr(raw.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="notMNIST.*not found.*no route.*offline"):
        raw.load_notmnist(root, "auto")
