"""CIFAR-100 / SVHN / LSUN-FIX readers on small fixtures written in the exact on-disk formats."""
import pickle

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from src.core.errors import DataError
from src.data.natural import (CIFAR100_SUPERCLASSES, load_cifar100, load_svhn, read_cifar100, read_lsun_fix,
                               read_svhn, superclass_split)

# CIFAR-100's label names are alphabetical (fine and coarse), as in the official meta file
FINE_NAMES = sorted(f for fines in CIFAR100_SUPERCLASSES.values() for f in fines)
COARSE_NAMES = sorted(CIFAR100_SUPERCLASSES)
COARSE_OF = [COARSE_NAMES.index(next(c for c, fs in CIFAR100_SUPERCLASSES.items() if f in fs)) for f in FINE_NAMES]


def write_cifar100(raw, n_train=12, n_test=5, bytes_keys=True, fine=None):
    """cifar-100-python/{train,test,meta} as in the official archive: pickled dicts (the archive's
    were written by Python 2, so their keys arrive as bytes or, with encoding='latin1', as str)."""
    g = np.random.default_rng(0)
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    folder = raw / "cifar-100-python"
    folder.mkdir(parents=True)
    made = {}
    for split, n in (("train", n_train), ("test", n_test)):
        hwc = g.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8)
        labels = g.integers(0, 100, n).tolist() if fine is None else list(fine[split])
        d = {key("data"): hwc.transpose(0, 3, 1, 2).reshape(n, 3072), key("fine_labels"): labels,
             key("coarse_labels"): [COARSE_OF[f] for f in labels], key("filenames"): [key(f"img{i}.png") for i in range(n)]}
        with open(folder / split, "wb") as fh:
            pickle.dump(d, fh, protocol=2)
        made[split] = (hwc, labels)
    meta = {key("fine_label_names"): [key(f) for f in FINE_NAMES],
            key("coarse_label_names"): [key(c) for c in COARSE_NAMES]}
    with open(folder / "meta", "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return made


@pytest.mark.parametrize("bytes_keys", [True, False])
def test_cifar100_pickles(tmp_path, bytes_keys):
    made = write_cifar100(tmp_path, bytes_keys=bytes_keys)
    d = load_cifar100(tmp_path, "local", check_md5=False)
    assert d["train_images"].shape == (12, 32, 32, 3) and d["train_images"].dtype == np.uint8
    np.testing.assert_array_equal(d["train_images"], made["train"][0])  # CHW rows -> HWC images
    np.testing.assert_array_equal(d["test_fine"], made["test"][1])
    np.testing.assert_array_equal(d["train_coarse"], [COARSE_OF[f] for f in made["train"][1]])
    assert d["fine_names"][3] == "bear" and d["coarse_names"][19] == "vehicles_2"


def test_cifar100_missing_files_are_all_named(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python/test").unlink()
    (tmp_path / "cifar-100-python/meta").unlink()
    with pytest.raises(DataError, match=r"CIFAR-100: missing .*cifar-100-python/test, .*cifar-100-python/meta.*ln -sfn"):
        read_cifar100(tmp_path)


def test_cifar100_corrupt_pickle(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python/train").write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(DataError, match="train: not a readable CIFAR-100 pickle"):
        read_cifar100(tmp_path, check_md5=False)


def write_svhn(raw, split="train", n=7):
    g = np.random.default_rng(1)
    x = g.integers(0, 256, (32, 32, 3, n)).astype(np.uint8)
    y = np.array([[1], [10], [5], [10], [2], [9], [3]][:n], dtype=np.uint8)
    (raw / "SVHN").mkdir(parents=True, exist_ok=True)
    savemat(raw / "SVHN" / f"{split}_32x32.mat", {"X": x, "y": y})
    return x, y


def test_svhn_mat(tmp_path):
    x, y = write_svhn(tmp_path, "test")
    images, digits = load_svhn(tmp_path, "local", "test", check_md5=False)
    assert images.shape == (7, 32, 32, 3)
    np.testing.assert_array_equal(images[2], x[:, :, :, 2])
    assert digits.tolist() == [1, 0, 5, 0, 2, 9, 3]  # label 10 is the digit 0


def test_svhn_bad_labels_and_missing(tmp_path):
    with pytest.raises(DataError, match=r"SVHN: missing .*SVHN/train_32x32.mat"):
        read_svhn(tmp_path, "train")
    (tmp_path / "SVHN").mkdir()
    savemat(tmp_path / "SVHN/train_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [11]])})
    with pytest.raises(DataError, match="labels must be 1..10"):
        read_svhn(tmp_path, "train", check_md5=False)


def test_lsun_fix_folder_and_npy(tmp_path):
    g = np.random.default_rng(2)
    imgs = g.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    (tmp_path / "LSUN_fix" / "sub").mkdir(parents=True)
    Image.fromarray(imgs[0]).save(tmp_path / "LSUN_fix" / "a.png")
    Image.fromarray(imgs[1]).save(tmp_path / "LSUN_fix" / "sub" / "b.png")
    Image.fromarray(imgs[2]).convert("L").save(tmp_path / "LSUN_fix" / "c.png")  # greyscale -> RGB
    got = read_lsun_fix(tmp_path)
    assert got.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(got[0], imgs[0])
    np.testing.assert_array_equal(got[2], imgs[1])  # sorted paths: a.png, c.png, sub/b.png
    assert (got[1][..., 0] == got[1][..., 1]).all()  # the greyscale one, as RGB
    np.save(tmp_path / "LSUN_fix.npy", imgs.transpose(0, 3, 1, 2))  # NCHW is accepted too
    np.testing.assert_array_equal(read_lsun_fix(tmp_path), imgs)  # the .npy wins when both exist


def test_lsun_fix_wrong_size_and_missing(tmp_path):
    with pytest.raises(DataError, match=r"LSUN-FIX \(either\): missing .*LSUN_fix, .*LSUN_fix.npy"):
        read_lsun_fix(tmp_path)
    (tmp_path / "LSUN_fix").mkdir()
    Image.fromarray(np.zeros((36, 36, 3), np.uint8)).save(tmp_path / "LSUN_fix" / "big.jpg")
    with pytest.raises(DataError, match="big.jpg: LSUN-FIX images are 32x32, this one is 36x36"):
        read_lsun_fix(tmp_path)


def test_empty_or_foreign_files_are_named(tmp_path):
    (tmp_path / "SVHN").mkdir()
    (tmp_path / "SVHN/train_32x32.mat").write_bytes(b"")
    with pytest.raises(DataError, match="train_32x32.mat: not a readable MATLAB file"):
        read_svhn(tmp_path, "train", check_md5=False)
    (tmp_path / "LSUN_fix.npy").write_bytes(b"")
    with pytest.raises(DataError, match="LSUN_fix.npy: not a readable .npy array"):
        read_lsun_fix(tmp_path)


def test_superclass_split_rule_and_the_paper_profile():
    from pathlib import Path

    import yaml

    id_classes, ambiguous = superclass_split()
    assert len(id_classes) == 60 and len(ambiguous) == 40 and not set(id_classes) & set(ambiguous)
    for fines in CIFAR100_SUPERCLASSES.values():
        assert sum(f in id_classes for f in fines) == 3 and sum(f in ambiguous for f in fines) == 2
    assert id_classes[:3] == ["beaver", "dolphin", "otter"] and ambiguous[:2] == ["seal", "whale"]
    paper = yaml.safe_load((Path(__file__).parents[1] / "configs/paper-mixcifar60.yaml").read_text())
    assert paper["pool"]["id_classes"] == id_classes and paper["pool"]["ambiguous_classes"] == ambiguous
    assert paper["active"]["num_classes"] == 60


def test_cifar100_with_a_foreign_superclass_mapping_is_refused(tmp_path):
    write_cifar100(tmp_path, n_train=40, bytes_keys=False)
    path = tmp_path / "cifar-100-python/train"
    d = pickle.load(open(path, "rb"), encoding="latin1")
    d["coarse_labels"] = [(c + 1) % 20 for c in d["coarse_labels"]]
    pickle.dump(d, open(path, "wb"), protocol=2)
    with pytest.raises(DataError, match="superclass .* holds .*; CIFAR-100's holds"):
        read_cifar100(tmp_path, check_md5=False)
