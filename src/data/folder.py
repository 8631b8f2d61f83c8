"""benchmark folder: a pool from your own folder of unlabeled images (docs/label-your-own-images.md).

fetch_data reads every PNG/JPEG under `folder.images` (nested folders allowed, hidden ones
skipped, sorted by path), centre-crops each to a square, resizes it to `folder.size` and converts
it to `folder.channels` (RGB or greyscale); and, when `folder.test` is set, a labeled test folder
in ImageFolder layout (<class name>/<image>), for the accuracy curve. build_pool makes the pool:
every row's category is UNKNOWN and its label -1 until a person answers (oracle: file); `files`
keeps each row's path under `folder.images`, which the queries list.
"""
from __future__ import annotations

import difflib
import hashlib
import io
import os
from pathlib import Path

import numpy as np

from src.core.errors import DataError
from src.core.io import inside
from src.core.seeding import rng
from src.data.images import decode
from src.data.pool import UNKNOWN, assemble, part

EXTENSIONS = (".png", ".jpg", ".jpeg")


def list_images(root: Path) -> list[Path]:
    """Image files under `root` (any depth), sorted by their path relative to it; hidden entries skipped.
    Each must be a regular file inside `root` (`src.core.io.inside`): a link to a file elsewhere in it
    is read, one that leads out of it is a DataError. Linked subfolders are not walked (no loops, no
    file listed twice): one that leads out of `root` is a DataError, one inside it is skipped, its
    images being listed where they are."""
    found = []
    for folder, dirs, names in os.walk(root, onerror=_unlistable):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _linked_folder(here / d, root))
        found += [inside(here / n, root, "image") for n in names
                  if not n.startswith(".") and Path(n).suffix.lower() in EXTENSIONS]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _unlistable(exc: OSError) -> None:
    raise DataError(f"{exc.filename}: cannot be listed ({exc.strerror}); make it readable, or move it out of "
                    f"the folder.")


def _linked_folder(path: Path, root: Path) -> bool:
    """Whether `path` is a link (skipped); a DataError if it leads out of `root`."""
    if not path.is_symlink():
        return False
    target, top = path.resolve(), root.resolve()
    if target != top and top not in target.parents:
        raise DataError(f"{path}: a link to {target}, outside {root}: the subfolders of {root} must be inside it, "
                        f"not links out of it. Move or copy the images into {root} (`rm {path} && cp -r {target} "
                        f"{path}`) if that is really what you mean.")
    return True


def read_image(data: bytes, name: str, size: int, channels: int) -> np.ndarray:
    """(size, size) greyscale or (size, size, 3) RGB uint8: centre-cropped to a square, then resized."""
    from PIL import Image, ImageOps

    img = decode(io.BytesIO(data), name, "RGB" if channels == 3 else "L")
    return np.asarray(ImageOps.fit(img, (size, size), Image.BILINEAR), dtype=np.uint8)


def read_folder(root: Path, size: int, channels: int, what: str) -> tuple[np.ndarray, list[str], str]:
    """(images, paths relative to root, digest of the paths and bytes) of every image under root."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{what} = {root}: no such folder. Point it at your folder of images (a path relative to "
                        f"the repository root, or absolute).")
    files = list_images(root)
    if not files:
        raise DataError(f"{what} = {root}: no PNG or JPEG images in it (or its subfolders).")
    h = hashlib.sha256()
    images = np.zeros((len(files), size, size) + ((3,) if channels == 3 else ()), np.uint8)
    for i, path in enumerate(files):
        rel, data = path.relative_to(root).as_posix(), path.read_bytes()  # read once: hashed = decoded
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        images[i] = read_image(data, str(path), size, channels)
    return images, [p.relative_to(root).as_posix() for p in files], h.hexdigest()


def fetch_folder(cfg) -> tuple[dict, dict, dict]:
    """(source, OoD, manifest) of benchmark folder: the pool's images and the optional test folder
    (class = the first folder under `folder.test`). No OoD set: the pool's categories are unknown."""
    images, files, digest = read_folder(Path(cfg.images), cfg.size, cfg.channels, "folder.images")
    shape = images.shape[1:]
    test_images, test_classes, test_digest = np.zeros((0,) + shape, np.uint8), [], None
    if cfg.test:
        test_images, test_files, test_digest = read_folder(Path(cfg.test), cfg.size, cfg.channels, "folder.test")
        flat = [f for f in test_files if "/" not in f]
        if flat:
            raise DataError(f"folder.test = {cfg.test}: {flat[0]} is not in a class folder. The test folder is laid "
                            f"out as <class name>/<image> (ImageFolder), the class names those of pool.id_classes.")
        test_classes = [f.split("/", 1)[0] for f in test_files]
    source = {"train_images": images, "files": np.asarray(files), "test_images": test_images,
              "test_classes": np.asarray(test_classes, dtype=str)}  # sized to the longest name
    ood = {"images": np.zeros((0,) + shape, np.uint8)}
    manifest = {"origin": "local", "folder": str(cfg.images), "images": len(files), "sha256": digest,
                "test_folder": cfg.test, "test_images": len(test_classes), "test_sha256": test_digest}
    return source, ood, manifest


def build_folder_pool(source: dict, cfg) -> tuple[dict, dict, dict, dict]:
    """(pool, test, val, stats): every image a pool row of UNKNOWN category, shuffled with pool.seed;
    the test folder's classes mapped to pool.id_classes positions; no validation split (no labels)."""
    names = list(cfg.id_classes)
    images, files = source["train_images"], source["files"]
    rows = np.arange(len(images))
    pool = assemble([part(images, UNKNOWN, np.full(len(rows), -1, np.int16), "folder", rows)],
                    rng(cfg.seed, "pool"), len(names))
    pool["files"] = np.asarray(files)[pool["source_index"]]
    classes = [str(c) for c in source["test_classes"]]
    unknown = sorted(set(classes) - set(names))
    if unknown:
        close = difflib.get_close_matches(unknown[0], names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise DataError(f"the test folder has class folder(s) {', '.join(unknown)}{hint} that pool.id_classes does "
                        f"not name ({', '.join(names)}): rename the folder or add the class.")
    test = {"images": source["test_images"],
            "labels": np.asarray([names.index(c) for c in classes], np.int16)}
    shape = images.shape[1:]
    val = {"images": np.zeros((0,) + shape, np.uint8), "labels": np.zeros(0, np.int16),
           "source_index": np.zeros(0, np.int32)}
    stats = {"pool_size": int(len(images)), "by_category": {"unknown": int(len(images))},
             "by_source": {"folder": int(len(images))},
             "categories": "unknown until a person answers (oracle: file); the rounds' metrics count the answers",
             "test_size": int(len(classes)),
             "test_label_counts": {n: classes.count(n) for n in names}, "val_size": 0}
    return pool, test, val, stats
