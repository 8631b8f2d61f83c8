"""Raw MNIST and notMNIST: find them locally, or download them, then validate.

Local layout under `raw_dir` (exactly that of the offline mirror and of torchvision):
    MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    notMNIST/<prefix>-images-idx3-ubyte.gz + <prefix>-labels-idx1-ubyte.gz
Downloads land in the same layout, so a second run reads them locally.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.core.errors import DataError
from src.core.log import log
from src.data.idx import read_idx, write_idx

MNIST_FILES = {  # key -> (file name, official count)
    "train_images": ("train-images-idx3-ubyte", 60000),
    "train_labels": ("train-labels-idx1-ubyte", 60000),
    "test_images": ("t10k-images-idx3-ubyte", 10000),
    "test_labels": ("t10k-labels-idx1-ubyte", 10000),
}
NOTMNIST_SMALL_URL = "http://yaroslavvb.com/upload/notMNIST/notMNIST_small.tar.gz"
NOTMNIST_SMALL_COUNT = 18724  # readable images in notMNIST_small (two PNGs are broken)
NOTMNIST_LETTERS = "ABCDEFGHIJ"

HOW_TO_PROVIDE = (
    "Provide the raw files in one of two ways: (1) online: set data.source to 'auto' or "
    "'download' in params.yaml and rerun (MNIST comes through torchvision's downloader, "
    "notMNIST_small from {url}); (2) offline: put a folder with MNIST/raw/*-ubyte and "
    "notMNIST/*-images-idx3-ubyte.gz + *-labels-idx1-ubyte.gz at {raw} "
    "(e.g. `ln -sfn /path/to/mirror {raw}`)."
)


@dataclass
class RawFile:
    path: Path
    array: np.ndarray

    def manifest(self, raw_dir: Path) -> dict:
        return {"file": str(self.path.relative_to(raw_dir)), "sha256": sha256(self.path),
                "bytes": self.path.stat().st_size, "shape": list(self.array.shape)}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _missing(raw_dir: Path, what: str, reason: str = "") -> DataError:
    msg = f"{what} not found under {raw_dir}."
    if reason:
        msg += f" {reason}"
    msg += " " + HOW_TO_PROVIDE.format(url=NOTMNIST_SMALL_URL, raw=raw_dir)
    if raw_dir.is_dir() and not raw_dir.is_symlink():  # `ln -sfn` would link *inside* a real folder
        msg += (f" Note: {raw_dir} is a folder, not a link; for the link, remove it first "
                f"(`rm -r {raw_dir}`) or copy the files into it.")
    return DataError(msg)


@contextlib.contextmanager
def _cleanup_on_failure(raw_dir: Path):
    """A failed download removes the folders it created, so it leaves no empty `raw_dir` folder
    behind that would turn the suggested `ln -sfn <mirror> raw_dir` into a link inside it."""
    candidates = [raw_dir, raw_dir / "MNIST", raw_dir / "MNIST" / "raw", raw_dir / "notMNIST"]
    existed = {d for d in candidates if d.exists() or d.is_symlink()}
    try:
        yield
    except BaseException:
        if raw_dir not in existed and raw_dir.is_dir() and not raw_dir.is_symlink():
            shutil.rmtree(raw_dir, ignore_errors=True)  # all of it is the failed attempt's
        else:
            for d in reversed(candidates):
                if d not in existed and d.is_dir() and not any(d.iterdir()):
                    d.rmdir()
        raise


# ---------------------------------------------------------------- MNIST
def mnist_local_paths(raw_dir: Path) -> dict[str, Path | None]:
    folder = raw_dir / "MNIST" / "raw"
    return {key: _find(folder, name) for key, (name, _) in MNIST_FILES.items()}


def download_mnist(raw_dir: Path) -> None:
    """torchvision's downloader (mirrors + md5 checks) into raw_dir/MNIST/raw."""
    from torchvision.datasets import MNIST

    log(f"downloading MNIST into {raw_dir}/MNIST/raw with torchvision")
    for train in (True, False):
        MNIST(root=str(raw_dir), train=train, download=True)


def validate_mnist(files: dict[str, RawFile], check_counts: bool) -> None:
    for split in ("train", "test"):
        images, labels = files[f"{split}_images"], files[f"{split}_labels"]
        if images.array.ndim != 3 or images.array.shape[1:] != (28, 28):
            raise DataError(f"{images.path}: expected (N, 28, 28) images, got {images.array.shape}.")
        if labels.array.ndim != 1 or len(labels.array) != len(images.array):
            raise DataError(f"{labels.path}: {labels.array.shape} labels do not match "
                            f"{len(images.array)} images in {images.path.name}.")
        if labels.array.size and labels.array.max() > 9:
            raise DataError(f"{labels.path}: labels must be digits 0-9, found {labels.array.max()}.")
        official = MNIST_FILES[f"{split}_images"][1]
        if check_counts and len(images.array) != official:
            raise DataError(f"{images.path}: {len(images.array)} images, official MNIST has {official}. "
                            f"Replace the file, or set data.check_counts: false for a custom subset.")


def load_mnist(raw_dir: Path, source: str, check_counts: bool) -> tuple[dict, dict]:
    """Returns (arrays, manifest). Arrays: train/test images uint8 (N,28,28), labels int64."""
    paths = mnist_local_paths(raw_dir)
    origin = "local"
    if source == "download" or (source == "auto" and not all(paths.values())):
        try:
            with _cleanup_on_failure(raw_dir):
                download_mnist(raw_dir)
        except Exception as exc:  # noqa: BLE001 - any network/permission failure
            missing = [MNIST_FILES[k][0] for k, p in paths.items() if p is None]
            raise _missing(raw_dir, f"MNIST ({', '.join(missing) or 'download'})",
                           f"Download failed: {exc!s:.200}.") from None
        paths, origin = mnist_local_paths(raw_dir), "download"
    missing = [raw_dir / "MNIST/raw" / MNIST_FILES[k][0] for k, p in paths.items() if p is None]
    if missing:
        raise _missing(raw_dir, f"MNIST file {missing[0]}", "(data.source is 'local').")
    files = {k: RawFile(p, read_idx(p, 3 if k.endswith("images") else 1)) for k, p in paths.items()}
    validate_mnist(files, check_counts)
    arrays = {k: (f.array.astype(np.uint8) if k.endswith("images") else f.array.astype(np.int64))
              for k, f in files.items()}
    manifest = {"origin": origin, "files": {k: f.manifest(raw_dir) for k, f in files.items()},
                "counts": {"train": len(arrays["train_images"]), "test": len(arrays["test_images"])}}
    return arrays, manifest


# ---------------------------------------------------------------- notMNIST
def notmnist_local_pairs(raw_dir: Path) -> list[tuple[Path, Path]]:
    folder = raw_dir / "notMNIST"
    pairs = []
    for images in sorted(folder.glob("*-images-idx3-ubyte*")):
        prefix = images.name.split("-images-idx3-ubyte")[0]
        labels = _find(folder, f"{prefix}-labels-idx1-ubyte")
        if labels is not None:
            pairs.append((images, labels))
    return pairs


def notmnist_from_tar(tar_bytes: bytes) -> tuple[np.ndarray, np.ndarray, int]:
    """Decode notMNIST_small.tar.gz (folders A..J of 28x28 PNGs) -> images, labels, #unreadable."""
    from src.data.images import decode

    images, labels, broken = [], [], 0
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:*") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".png")),
                         key=lambda m: m.name)
        for m in members:
            letter = Path(m.name).parent.name
            if letter not in NOTMNIST_LETTERS or len(letter) != 1:
                continue
            try:  # an unreadable PNG, or one over Pillow's pixel limit (a decompression bomb), is skipped
                img = np.asarray(decode(io.BytesIO(tar.extractfile(m).read()), m.name, "L"))
            except DataError:
                broken += 1
                continue
            if img.shape != (28, 28):
                broken += 1
                continue
            images.append(img)
            labels.append(NOTMNIST_LETTERS.index(letter))
    if not images:
        raise DataError("notMNIST_small archive holds no readable A-J PNGs.")
    return np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.uint8), broken


def download_notmnist(raw_dir: Path, url: str = NOTMNIST_SMALL_URL) -> Path:
    """Fetch notMNIST_small, convert it to IDX (small-*-ubyte.gz) under raw_dir/notMNIST."""
    folder = raw_dir / "notMNIST"
    folder.mkdir(parents=True, exist_ok=True)
    log(f"downloading {url}")
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - fixed public URL
        tar_bytes = resp.read()
    (folder / "notMNIST_small.tar.gz").write_bytes(tar_bytes)
    images, labels, broken = notmnist_from_tar(tar_bytes)
    log(f"notMNIST_small: {len(images)} images decoded, {broken} unreadable skipped")
    write_idx(folder / "small-labels-idx1-ubyte.gz", labels)
    return write_idx(folder / "small-images-idx3-ubyte.gz", images)


def load_notmnist(raw_dir: Path, source: str) -> tuple[dict, dict]:
    """Returns ({images uint8 (N,28,28), labels int64 0..9 = A..J}, manifest).

    Several local pairs (say the 10k mirror sample and a full download): the largest is used.
    """
    pairs = notmnist_local_pairs(raw_dir)
    origin = "local"
    if source == "download" or (source == "auto" and not pairs):
        try:
            with _cleanup_on_failure(raw_dir):
                download_notmnist(raw_dir)
        except Exception as exc:  # noqa: BLE001 - any network/permission failure
            raise _missing(raw_dir, "notMNIST (notMNIST/*-images-idx3-ubyte.gz)",
                           f"Download failed: {exc!s:.200}.") from None
        pairs, origin = notmnist_local_pairs(raw_dir), "download"
    if not pairs:
        raise _missing(raw_dir, "notMNIST (notMNIST/*-images-idx3-ubyte.gz with its "
                                "*-labels-idx1-ubyte.gz)", "(data.source is 'local').")
    loaded = [(RawFile(i, read_idx(i, 3)), RawFile(l, read_idx(l, 1))) for i, l in pairs]
    images, labels = max(loaded, key=lambda p: len(p[0].array))
    if images.array.shape[1:] != (28, 28) or len(labels.array) != len(images.array):
        raise DataError(f"{images.path}: expected (N, 28, 28) images with N matching "
                        f"{labels.path.name}; got {images.array.shape} and {labels.array.shape}.")
    if labels.array.size and labels.array.max() > 9:
        raise DataError(f"{labels.path}: labels must be 0-9 (letters A-J), found {labels.array.max()}.")
    arr = images.array.astype(np.uint8)
    distinct = len(np.unique(arr.reshape(len(arr), -1), axis=0)) if len(arr) else 0
    manifest = {"origin": origin,
                "files": {"images": images.manifest(raw_dir), "labels": labels.manifest(raw_dir)},
                "counts": {"available": len(arr), "distinct": int(distinct),
                           "notmnist_small_full": NOTMNIST_SMALL_COUNT}}
    return {"images": arr, "labels": labels.array.astype(np.int64)}, manifest
