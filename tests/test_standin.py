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


def _fake_sources(n_per_class=6, n_tiny=9):
    g = np.random.default_rng(0)
    train_y = np.repeat(np.arange(10), n_per_class)
    test_y = np.repeat(np.arange(10), 2)
    return ({"train_images": g.integers(0, 256, (len(train_y), 32, 32, 3)).astype(np.uint8), "train_labels": train_y,
             "test_images": g.integers(0, 256, (len(test_y), 32, 32, 3)).astype(np.uint8), "test_labels": test_y},
            {"images": g.integers(0, 256, (n_tiny, 32, 32, 3)).astype(np.uint8), "dropped": {"n02124075": 50}})


def _cfg(**kw):
    import dataclasses

    from src.data.standin import default_pool_config

    return dataclasses.replace(default_pool_config(n_val=0), **kw)


def test_standin_pool_contract_and_split():
    from src.data.pool import AMBIGUOUS, ID, OOD, check_pool, fingerprint
    from src.data.standin import DEFAULT_ID_CLASSES, build_standin_pool

    cifar, tiny = _fake_sources()
    pool, test, val, stats = build_standin_pool(cifar, tiny, _cfg(n_ambiguous=10, n_val=6))
    check_pool(pool, 6)
    assert DEFAULT_ID_CLASSES == ("airplane", "automobile", "bird", "cat", "deer", "frog")
    assert pool["images"].shape[1:] == (32, 32, 3) and int(pool["num_classes"]) == 6
    assert stats["by_category"] == {"id": 36 - 6, "ambiguous": 10, "ood": 9} and stats["val_size"] == 6
    assert str(pool["fingerprint"]) == fingerprint(pool)
    # iD rows are CIFAR-10 images of the iD classes, relabelled 0..5 in DEFAULT_ID_CLASSES order
    id_rows = pool["category"] == ID
    src_labels = cifar["train_labels"][pool["source_index"][id_rows]]
    mapping = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 6: 5}
    assert [mapping[int(s)] for s in src_labels] == pool["label"][id_rows].tolist()
    np.testing.assert_array_equal(pool["images"][id_rows], cifar["train_images"][pool["source_index"][id_rows]])
    amb = pool["category"] == AMBIGUOUS
    assert set(cifar["train_labels"][pool["source_index"][amb]].tolist()) <= {5, 7, 8, 9}  # dog, horse, ship, truck
    assert (pool["source"][pool["category"] == OOD] == "tinyimagenet").all()
    # the validation split never enters the pool; the test set holds only iD classes
    assert not np.intersect1d(val["source_index"], pool["source_index"][id_rows]).size
    assert set(test["labels"].tolist()) == set(range(6)) and len(test["labels"]) == 12
    again = build_standin_pool(cifar, tiny, _cfg(n_ambiguous=10, n_val=6))[0]
    assert str(again["fingerprint"]) == str(pool["fingerprint"])  # same seed, same pool


def test_standin_refuses_bad_class_lists():
    from src.data.standin import build_standin_pool

    cifar, tiny = _fake_sources()
    with pytest.raises(DataError, match="'kangaroo', which is not a class"):
        build_standin_pool(cifar, tiny, _cfg(id_classes=["cat", "kangaroo"]))
    with pytest.raises(DataError, match="Did you mean 'truck'"):
        build_standin_pool(cifar, tiny, _cfg(ambiguous_classes=["trucks"]))
    with pytest.raises(DataError, match="n_val = 99"):
        build_standin_pool(cifar, tiny, _cfg(n_val=99))


def test_standin_command_prints_table1_or_names_the_missing_archive(tmp_path, capsys):
    import json

    from src.data.standin import main

    assert main([str(tmp_path)]) == 2
    assert "cifar10-jpg.tar.gz: missing" in capsys.readouterr().err
    make_cifar10_tar(tmp_path / "cifar10-jpg.tar.gz")
    make_tiny_tar(tmp_path / "tiny-imagenet-200-val.tar.gz")
    assert main([str(tmp_path), "--n-val", "2"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["by_category"] == {"id": 6 * 2 - 2, "ambiguous": 4 * 2, "ood": 2} and stats["val_size"] == 2
