"""Assemble the unlabeled pool (docs/design.md, section 5) and its Table-1 statistics.

pool.npz: images uint8 (N, 28, 28) greyscale (MixMNIST) or (N, H, W, 3) RGB (the natural-image
benchmarks, src/data/natural_pool.py); category int8 (0 iD, 1 ambiguous, 2 OoD); label int16
(iD class 0..K-1 for iD, -1 otherwise); source <U16 short dataset name; source_index int32 (row in
that source); fingerprint: a 0-d string, the hash of the arrays (`fingerprint`), which every
active-learning state records so a state is never used with another pool; num_classes: K, the
number of iD classes (active.num_classes must equal it). Rows are shuffled
with pool.seed so no strategy can exploit the order.

val.npz: `pool.n_val` MNIST train images (images, labels, source_index) drawn first, from their
own stream, and never in the pool; the test set is MNIST's separate test file. Knobs the project
chooses are scored on this split, never on the test set.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from src.core.config import PoolConfig
from src.core.errors import DataError
from src.core.io import load_npz, npz_keys
from src.core.seeding import rng

ID, AMBIGUOUS, OOD = 0, 1, 2
CATEGORY_NAMES = {ID: "id", AMBIGUOUS: "ambiguous", OOD: "ood"}
UNKNOWN = -1  # a folder pool's rows: no ground truth; the file oracle's answers say what they are
SOURCES = {ID: "mnist", AMBIGUOUS: "vae-mnist", OOD: "notmnist"}
ID_CLASSES = 10  # MNIST's digits: the iD label space, whichever digits a small pool happens to hold


def random_subset(n_available: int, requested: int | None, gen: np.random.Generator, what: str) -> np.ndarray:
    """Indices of a random subset of size min(requested, available) (all when requested is None)."""
    if requested is not None and requested < 0:
        raise DataError(f"params.yaml: pool.{what} = {requested} must be >= 0 or null.")
    n = n_available if requested is None else min(requested, n_available)
    return np.sort(gen.choice(n_available, n, replace=False))


def validation_rows(n_train: int, cfg: PoolConfig) -> np.ndarray:
    """MNIST train rows of the validation split (sorted); the pool's iD rows come from the rest."""
    if cfg.n_val < 0:
        raise DataError(f"params.yaml: pool.n_val = {cfg.n_val} must be >= 0.")
    if cfg.n_val >= n_train:
        raise DataError(f"params.yaml: pool.n_val = {cfg.n_val} leaves no MNIST train image for the pool "
                        f"({n_train} available); lower it.")
    return np.sort(rng(cfg.seed, "val").choice(n_train, cfg.n_val, replace=False))


def build_pool(mnist: dict, ambiguous: dict, notmnist: dict, cfg: PoolConfig) -> tuple[dict, dict, dict, dict]:
    """Returns (pool arrays, test arrays, validation arrays, stats)."""
    gen = rng(cfg.seed, "pool")
    parts = []
    n_train = len(mnist["train_images"])
    val_rows = validation_rows(n_train, cfg)
    id_rows = np.setdiff1d(np.arange(n_train), val_rows)  # the pool never holds a validation image
    requested = {"id": cfg.n_id, "ambiguous": cfg.n_ambiguous, "ood": cfg.n_ood}
    available = {"id": len(id_rows), "ambiguous": len(ambiguous["images"]), "ood": len(notmnist["images"])}
    for cat, images, labels, rows in ((ID, mnist["train_images"], mnist["train_labels"], id_rows),
                                      (AMBIGUOUS, ambiguous["images"], None, None),
                                      (OOD, notmnist["images"], None, None)):
        name = CATEGORY_NAMES[cat]
        idx = random_subset(len(images) if rows is None else len(rows), requested[name], gen, f"n_{name}")
        idx = idx if rows is None else rows[idx]
        lab = labels[idx].astype(np.int16) if labels is not None else np.full(len(idx), -1, np.int16)
        parts.append(part(images[idx], cat, lab, SOURCES[cat], idx))
    pool = assemble(parts, gen, ID_CLASSES)
    test = {"images": mnist["test_images"].astype(np.uint8),
            "labels": mnist["test_labels"].astype(np.int16)}
    val = {"images": mnist["train_images"][val_rows].astype(np.uint8),
           "labels": mnist["train_labels"][val_rows].astype(np.int16), "source_index": val_rows.astype(np.int32)}
    stats = pool_stats(pool, test, requested, available)
    stats["val_size"] = int(len(val_rows))
    return pool, test, val, stats


def part(images: np.ndarray, category: int, labels: np.ndarray, source: str, source_index: np.ndarray) -> tuple:
    """One category's rows, as `assemble` takes them."""
    n = len(source_index)
    return (images, np.full(n, category, np.int8), np.asarray(labels, np.int16), np.full(n, source, dtype="<U16"),
            np.asarray(source_index).astype(np.int32))


def assemble(parts: list[tuple], gen: np.random.Generator, num_classes: int) -> dict:
    """The pool from its categories' rows: concatenated, shuffled with `gen`, checked against the
    contract, fingerprinted, and K (`num_classes`: the iD classes its labels come from) recorded."""
    images, category, label, source, source_index = (np.concatenate(x) for x in zip(*parts))
    order = gen.permutation(len(images))
    pool = {"images": images[order], "category": category[order], "label": label[order],
            "source": source[order], "source_index": source_index[order]}
    check_pool(pool, num_classes)
    pool["fingerprint"] = np.array(fingerprint(pool))
    pool["num_classes"] = np.int64(num_classes)
    return pool


def check_pool(pool: dict, num_classes: int = ID_CLASSES) -> None:
    """The contract every later stage relies on; raises DataError on a violation."""
    n = len(pool["images"])
    shape = pool["images"].shape
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 3)):
        raise DataError(f"pool: images must be (N, H, W) greyscale or (N, H, W, 3) RGB, are {shape}.")
    for key, dtype in (("images", np.uint8), ("category", np.int8), ("label", np.int16)):
        if pool[key].dtype != dtype:
            raise DataError(f"pool: '{key}' must be {np.dtype(dtype)}, is {pool[key].dtype}.")
    if any(len(pool[k]) != n for k in ("category", "label", "source", "source_index")):
        raise DataError("pool: arrays have different lengths.")
    if not np.isin(pool["category"], list(CATEGORY_NAMES) + [UNKNOWN]).all():
        raise DataError("pool: category must be 0 (iD), 1 (ambiguous), 2 (OoD) or -1 (unknown: a folder pool).")
    is_id = pool["category"] == ID
    if (pool["label"][~is_id] != -1).any() or ((pool["label"][is_id] < 0) |
                                               (pool["label"][is_id] >= num_classes)).any():
        raise DataError(f"pool: label must be an iD class 0..{num_classes - 1} for iD rows and -1 for the others.")


def pool_stats(pool: dict, test: dict, requested: dict, available: dict) -> dict:
    """Table 1 (counts per category and source), computed from the arrays themselves."""
    by_cat = {CATEGORY_NAMES[c]: int((pool["category"] == c).sum()) for c in CATEGORY_NAMES}
    sources, counts = np.unique(pool["source"], return_counts=True)
    return {
        "pool_size": int(len(pool["images"])),
        "by_category": by_cat,
        "by_source": {str(s): int(c) for s, c in zip(sources, counts)},
        "requested": requested,
        "available": available,
        "test_size": int(len(test["images"])),
        "id_label_counts": {str(k): int(v) for k, v in
                            zip(*np.unique(pool["label"][pool["category"] == ID], return_counts=True))},
    }


POOL_ARRAYS = ("images", "category", "label", "source", "source_index")


def fingerprint(pool: dict) -> str:
    """Short hash of the pool's arrays (dtype, shape and bytes of each, in a fixed order)."""
    h = hashlib.sha256()
    for key in POOL_ARRAYS:
        arr = np.ascontiguousarray(pool[key])
        h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def load_pool(path: str | Path, keys: tuple[str, ...], num_classes: int | None = None, files: bool = False) -> dict:
    """`keys` of the pool plus its fingerprint (a str). With `num_classes`, also checks that
    active.num_classes is the pool's number of iD classes (iD labels run 0..K-1). With `files`,
    also a folder pool's `files` (the images' paths), where the pool has them."""
    path = Path(path)
    if files and "files" in npz_keys(path):
        keys = keys + ("files",)
    wanted = tuple(dict.fromkeys(keys + (("category", "label") if num_classes is not None else ())))
    pool_fingerprint(path)  # a pool of an older version is named as such
    pool = load_npz(path, keys=wanted + ("fingerprint", "num_classes"))
    pool["fingerprint"], pool["num_classes"] = str(pool["fingerprint"]), int(pool["num_classes"])
    if num_classes is not None:
        check_num_classes(pool, num_classes, path)
    return pool


def pool_fingerprint(path: str | Path) -> str:
    """The fingerprint of the pool file (one small member is read)."""
    if "fingerprint" not in npz_keys(path):
        raise DataError(f"{path}: has no fingerprint (built by an older version of build_pool). Rerun "
                        f"`dvc repro build_pool` and the stages after it.")
    return str(load_npz(path, keys=("fingerprint",))["fingerprint"])


def check_num_classes(pool: dict, num_classes: int, path) -> None:
    """active.num_classes must be the pool's K (recorded by build_pool; for a hand-made pool without
    it, the largest iD label + 1), and every iD label must lie in 0..K-1."""
    labels = pool["label"][pool["category"] == ID]
    top = int(labels.max()) + 1 if len(labels) else 0
    k = int(pool.get("num_classes", top))
    if k != num_classes or top > k:
        raise DataError(f"active.num_classes = {num_classes} but the pool {path} has {k} iD classes "
                        f"(labels 0..{k - 1}); the auxiliary non-iD class must be {k}. Set active.num_classes "
                        f"to {k} in params.yaml.")
