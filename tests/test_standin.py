"""Stand-in readers on tiny archives in the mirror's exact layout, then on the real mirror if present."""
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.core.errors import DataError
from src.data.standin import CIFAR10_CLASSES, OVERLAPS_CIFAR10, read_cifar10_jpg, read_tiny_imagenet_val


def _add(tar, name, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _jpeg(color, size=32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), color, np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def make_cifar10_tar(path: Path):
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", 2), ("test", 1)):
            for c, name in enumerate(CIFAR10_CLASSES):
                for i in range(n):
                    _add(tar, f"{split}/{name}/{i:04d}.jpg", _jpeg(20 * c + i))


def make_tiny_tar(path: Path):
    rows = [("val_0.JPEG", "n02124075"), ("val_1.JPEG", "n04067472"), ("val_2.JPEG", "n07749582"),
            ("val_3.JPEG", "n02099712")]
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "tiny-imagenet-200/words.txt",
             b"n02124075\tEgyptian cat\nn04067472\treel\nn07749582\tlemon\nn02099712\tLabrador retriever\n")
        _add(tar, "tiny-imagenet-200/val/val_annotations.txt",
             "".join(f"{f}\t{w}\t0\t0\t63\t63\n" for f, w in rows).encode())
        for i, (f, _) in enumerate(rows):
            _add(tar, f"tiny-imagenet-200/val/images/{f}", _jpeg(50 * i, size=64))


def test_cifar10_jpeg_imagefolder_from_the_tar(tmp_path):
    make_cifar10_tar(tmp_path / "c.tar.gz")
    d = read_cifar10_jpg(tmp_path / "c.tar.gz")
    assert d["train_images"].shape == (20, 32, 32, 3) and d["test_images"].shape == (10, 32, 32, 3)
    assert d["train_labels"].tolist() == [c for c in range(10) for _ in range(2)]
    assert abs(int(d["train_images"][5].mean()) - 20 * 2 - 1) <= 2  # deer 0001.jpg, JPEG within 2 levels


def test_tiny_imagenet_drops_cifar10_classes_and_resizes(tmp_path):
    make_tiny_tar(tmp_path / "t.tar.gz")
    d = read_tiny_imagenet_val(tmp_path / "t.tar.gz")
    assert d["images"].shape == (2, 32, 32, 3)
    assert d["wnids"].tolist() == ["n04067472", "n07749582"] and d["dropped"] == {"n02124075": 1, "n02099712": 1}
    assert d["words"]["n07749582"] == "lemon"


def test_missing_and_corrupt_archives(tmp_path):
    with pytest.raises(DataError, match="c.tar.gz: missing"):
        read_cifar10_jpg(tmp_path / "c.tar.gz")
    make_cifar10_tar(tmp_path / "c.tar.gz")
    data = (tmp_path / "c.tar.gz").read_bytes()
    (tmp_path / "c.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="c.tar.gz: "):
        read_cifar10_jpg(tmp_path / "c.tar.gz")


MIRROR = Path(os.environ.get("DAL_RAW_MIRROR", Path(__file__).resolve().parents[1] / "data" / "raw"))


@pytest.mark.skipif(not (MIRROR / "tiny-imagenet-200-val.tar.gz").exists(), reason="no offline mirror linked")
def test_real_tiny_imagenet_drop_list_matches_its_words():
    """Every wnid of the drop list is in the real archive, with the words the list gives."""
    d = read_tiny_imagenet_val(MIRROR / "tiny-imagenet-200-val.tar.gz", drop={})
    for wnid, why in OVERLAPS_CIFAR10.items():
        assert wnid in d["words"], wnid
        assert why.split("(")[1].rstrip(")").split()[0].lower() in d["words"][wnid].lower(), (wnid, d["words"][wnid])
    assert len(d["images"]) == 10_000 and d["images"].shape[1:] == (32, 32, 3)
