"""Raw data of the offline natural-image stand-in for MixCIFAR60 (not the paper's benchmark).

CIFAR-100, SVHN and LSUN-FIX cannot be reached from an offline machine; CIFAR-10 and the
Tiny-ImageNet validation split can. The stand-in keeps MixCIFAR60's structure with them:
iD = 6 CIFAR-10 classes; ambiguous = the 4 others, each a semantic near-neighbour of an iD class
(`NEAR_NEIGHBOURS`); OoD = Tiny-ImageNet validation images, resized to 32x32, of the classes that
are no CIFAR-10 class (`OVERLAPS_CIFAR10` lists the wnids dropped and why).

Files, read straight from the archives (nothing is extracted):
    cifar10-jpg.tar.gz            train/<class>/NNNN.jpg, test/<class>/NNNN.jpg (an ImageFolder)
    tiny-imagenet-200-val.tar.gz  tiny-imagenet-200/val/images/val_N.JPEG,
                                  tiny-imagenet-200/val/val_annotations.txt (file -> wnid),
                                  tiny-imagenet-200/words.txt (wnid -> words)
"""
from __future__ import annotations

import io
import tarfile
import zlib
from pathlib import Path

import numpy as np

from src.core.errors import DataError
from src.data.images import decode

CIFAR10_TAR = "cifar10-jpg.tar.gz"
TINY_VAL_TAR = "tiny-imagenet-200-val.tar.gz"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# ambiguous class -> the iD class it is easily taken for (same kind of object, similar scenes)
NEAR_NEIGHBOURS = {"truck": "automobile", "dog": "cat", "horse": "deer", "ship": "airplane"}
# Tiny-ImageNet classes that are instances of a CIFAR-10 class, so not out-of-distribution
OVERLAPS_CIFAR10 = {
    "n02124075": "cat (Egyptian cat)", "n02123045": "cat (tabby)", "n02123394": "cat (Persian cat)",
    "n02106662": "dog (German shepherd)", "n02099712": "dog (Labrador retriever)",
    "n02099601": "dog (golden retriever)", "n02094433": "dog (Yorkshire terrier)", "n02085620": "dog (Chihuahua)",
    "n02113799": "dog (standard poodle)",
    "n02058221": "bird (albatross)", "n02056570": "bird (king penguin)", "n01855672": "bird (goose)",
    "n02002724": "bird (black stork)",
    "n01641577": "frog (bullfrog)", "n01644900": "frog (tailed frog)",
    "n04285008": "automobile (sports car)", "n03100240": "automobile (convertible)",
    "n03670208": "automobile (limousine)", "n02814533": "automobile (beach wagon)",
    "n03796401": "truck (moving van)", "n03977966": "truck (police van)",
    "n03662601": "ship (lifeboat)", "n03447447": "ship (gondola)",
}


def open_archive(path: Path) -> tarfile.TarFile:
    """The tar archive at `path`, open for reading (a DataError that says what to do when it is
    missing or unreadable)."""
    if not path.is_file():
        raise DataError(f"{path}: missing. Put the archive there (offline mirror: "
                        f"`ln -sfn /path/to/mirror {path.parent}`).")
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable tar archive ({exc}). Replace it.") from None


def _decode(data: bytes, name: str, size: int | None = None) -> np.ndarray:
    from PIL import Image

    im = decode(io.BytesIO(data), name, "RGB", "unreadable image", "Replace the archive.")
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BOX)  # area average: no aliasing at 64 -> 32
    return np.asarray(im, dtype=np.uint8)


def read_cifar10_jpg(path: Path) -> dict:
    """{train,test}_images uint8 (N, 32, 32, 3) and {train,test}_labels (index in CIFAR10_CLASSES),
    in sorted member order."""
    path = Path(path)
    out = {f"{s}_{k}": [] for s in ("train", "test") for k in ("images", "labels")}
    try:
        with open_archive(path) as tar:
            members = sorted((m for m in tar.getmembers()
                              if m.isfile() and m.name.lower().endswith((".jpg", ".jpeg", ".png"))), key=lambda m: m.name)
            for m in members:
                parts = Path(m.name).parts
                if len(parts) < 3 or parts[-3] not in ("train", "test") or parts[-2] not in CIFAR10_CLASSES:
                    continue
                img = _decode(tar.extractfile(m).read(), f"{path}:{m.name}")
                if img.shape != (32, 32, 3):
                    raise DataError(f"{path}:{m.name}: CIFAR-10 images are 32x32, this one is "
                                    f"{img.shape[1]}x{img.shape[0]}.")
                out[f"{parts[-3]}_images"].append(img)
                out[f"{parts[-3]}_labels"].append(CIFAR10_CLASSES.index(parts[-2]))
    except (tarfile.TarError, EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: truncated or corrupt archive ({exc}). Replace it.") from None
    for split in ("train", "test"):
        if not out[f"{split}_images"]:
            raise DataError(f"{path}: no {split}/<class>/*.jpg images (classes: {', '.join(CIFAR10_CLASSES)}).")
    return {k: (np.stack(v) if k.endswith("images") else np.asarray(v, np.int64)) for k, v in out.items()}


def read_tiny_imagenet_val(path: Path, drop: dict = OVERLAPS_CIFAR10) -> dict:
    """Validation images whose wnid is not in `drop`, resized to 32x32: {images uint8 (N, 32, 32, 3),
    wnids (N,) str, words {wnid: words}, dropped {wnid: count}} in sorted file order."""
    path = Path(path)
    files, images, wnids, dropped = {}, [], [], {}
    try:
        with open_archive(path) as tar:
            for m in tar.getmembers():
                if m.isfile():
                    files[m.name] = m
            ann = next((n for n in files if n.endswith("val/val_annotations.txt")), None)
            words_name = next((n for n in files if n.endswith("words.txt")), None)
            if ann is None or words_name is None:
                raise DataError(f"{path}: needs tiny-imagenet-200/val/val_annotations.txt and words.txt.")
            words = dict(line.split("\t", 1) for line in tar.extractfile(files[words_name]).read().decode().splitlines()
                         if "\t" in line)
            label = {}
            for line in tar.extractfile(files[ann]).read().decode().splitlines():
                cols = line.split("\t")
                if len(cols) >= 2:
                    label[cols[0]] = cols[1]
            folder = ann.rsplit("/", 1)[0] + "/images/"
            for name in sorted(label):
                wnid = label[name]
                if wnid in drop:
                    dropped[wnid] = dropped.get(wnid, 0) + 1
                    continue
                member = files.get(folder + name)
                if member is None:
                    raise DataError(f"{path}: val_annotations.txt lists {name}, which is not under {folder}.")
                images.append(_decode(tar.extractfile(member).read(), f"{path}:{member.name}", size=32))
                wnids.append(wnid)
    except (tarfile.TarError, EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: truncated or corrupt archive ({exc}). Replace it.") from None
    if not images:
        raise DataError(f"{path}: no validation image is left after dropping the CIFAR-10 classes.")
    return {"images": np.stack(images), "wnids": np.asarray(wnids), "words": {w: words.get(w, "") for w in set(wnids)},
            "dropped": dropped}


DEFAULT_ID_CLASSES = tuple(c for c in CIFAR10_CLASSES if c not in NEAR_NEIGHBOURS)  # the 6 iD classes
DEFAULT_AMBIGUOUS_CLASSES = tuple(NEAR_NEIGHBOURS)


def standin_source(cifar10: dict) -> dict:
    """CIFAR-10 as the labelled source of src/data/natural_pool.py (labels index CIFAR10_CLASSES)."""
    return {**{k: cifar10[k] for k in ("train_images", "train_labels", "test_images", "test_labels")},
            "class_names": np.asarray(CIFAR10_CLASSES)}


def build_standin_pool(cifar10: dict, tiny: dict, cfg) -> tuple[dict, dict, dict, dict]:
    """The stand-in's (pool, test, val, stats): iD = CIFAR-10 train images of cfg.id_classes
    (labels 0..len-1 in that order), ambiguous = those of cfg.ambiguous_classes, OoD = the
    Tiny-ImageNet images of `read_tiny_imagenet_val`; test = CIFAR-10 test images of the iD classes."""
    from src.data.natural_pool import build_natural_pool

    pool, test, val, stats = build_natural_pool(standin_source(cifar10), [("tinyimagenet", tiny["images"], cfg.n_ood)],
                                                cfg, "cifar10")
    stats["ood_dropped_wnids"] = {w: int(n) for w, n in tiny.get("dropped", {}).items()}
    stats["near_neighbours"] = {a: NEAR_NEIGHBOURS.get(a) for a in cfg.ambiguous_classes}
    return pool, test, val, stats


def default_pool_config(seed: int = 0, n_val: int = 3000):
    """The stand-in's pool section with every image used (what `main` prints)."""
    from src.core.config import PoolConfig

    return PoolConfig(seed=seed, n_id=None, n_ambiguous=None, n_ood=None, n_val=n_val, grid_images=64,
                      id_classes=list(DEFAULT_ID_CLASSES), ambiguous_classes=list(DEFAULT_AMBIGUOUS_CLASSES))


def main(argv=None) -> int:
    """`python -m src.data.standin [raw_dir] [--n-val N]`: build the stand-in pool from the mirror's
    archives in memory and print its Table 1 (nothing is written)."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m src.data.standin", description=main.__doc__.splitlines()[0])
    parser.add_argument("raw_dir", nargs="?", default="data/raw")
    parser.add_argument("--n-val", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    raw = Path(args.raw_dir)
    try:
        cifar10, tiny = read_cifar10_jpg(raw / CIFAR10_TAR), read_tiny_imagenet_val(raw / TINY_VAL_TAR)
        _, _, _, stats = build_standin_pool(cifar10, tiny, default_pool_config(args.seed, args.n_val))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
