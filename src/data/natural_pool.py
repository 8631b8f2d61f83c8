"""The pool of a natural-image benchmark (MixCIFAR60, or the offline stand-in) from a labelled
source dataset and OoD image sets, in the pool contract of src/data/pool.py with RGB images
(N, 32, 32, 3) uint8.

iD = source train images of `pool.id_classes` (label = the class's position in that list);
ambiguous = source train images of `pool.ambiguous_classes`; OoD = the OoD sets, each asked for its
share of `pool.n_ood`; test = the source's test images of the iD classes. The validation split
(`pool.n_val` iD train images, never in the pool) is drawn first from its own stream; null counts
mean every available image.
"""
from __future__ import annotations

import difflib

import numpy as np

from src.core.config import PoolConfig
from src.core.errors import DataError
from src.core.seeding import rng
from src.data.pool import AMBIGUOUS, ID, OOD, assemble, part, pool_stats, random_subset


def class_codes(names: list[str], known: list[str], key: str) -> list[int]:
    """Positions of `names` in the source's class names; an unknown name is an error that suggests
    the nearest known one."""
    codes = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise DataError(f"params.yaml: pool.{key} names '{name}', which is not a class of the source "
                            f"dataset.{hint} Its classes: {', '.join(known)}.")
        codes.append(known.index(name))
    return codes


def build_natural_pool(source: dict, ood_sets: list[tuple[str, np.ndarray, int | None]], cfg: PoolConfig,
                       source_name: str) -> tuple[dict, dict, dict, dict]:
    """(pool, test, val, stats). `source`: train_images, train_labels, test_images, test_labels
    (class codes) and class_names; `ood_sets`: (source name, images, requested count or None)."""
    names = [str(n) for n in source["class_names"]]
    id_codes = class_codes(cfg.id_classes, names, "id_classes")
    amb_codes = class_codes(cfg.ambiguous_classes, names, "ambiguous_classes")
    remap = np.full(len(names), -1, np.int16)
    remap[id_codes] = np.arange(len(id_codes))
    train_y = np.asarray(source["train_labels"])
    id_rows = np.flatnonzero(np.isin(train_y, id_codes))
    amb_rows = np.flatnonzero(np.isin(train_y, amb_codes))
    if cfg.n_val < 0 or cfg.n_val >= len(id_rows):
        raise DataError(f"params.yaml: pool.n_val = {cfg.n_val} must be >= 0 and leave iD train images for "
                        f"the pool ({len(id_rows)} available); lower it.")
    val_rows = np.sort(id_rows[rng(cfg.seed, "val").choice(len(id_rows), cfg.n_val, replace=False)])
    id_rows = np.setdiff1d(id_rows, val_rows)
    gen = rng(cfg.seed, "pool")
    requested = {"id": cfg.n_id, "ambiguous": cfg.n_ambiguous, "ood": cfg.n_ood}
    available = {"id": len(id_rows), "ambiguous": len(amb_rows), "ood": int(sum(len(s[1]) for s in ood_sets))}
    parts = []
    for cat, rows, what in ((ID, id_rows, "n_id"), (AMBIGUOUS, amb_rows, "n_ambiguous")):
        idx = rows[random_subset(len(rows), requested["id" if cat == ID else "ambiguous"], gen, what)]
        label = remap[train_y[idx]] if cat == ID else np.full(len(idx), -1, np.int16)
        parts.append(part(source["train_images"][idx], cat, label, source_name, idx))
    for name, images, n in ood_sets:
        idx = random_subset(len(images), n, gen, "n_ood")
        parts.append(part(images[idx], OOD, np.full(len(idx), -1, np.int16), name, idx))
    pool = assemble(parts, gen, len(id_codes))
    test_y = np.asarray(source["test_labels"])
    test_rows = np.flatnonzero(np.isin(test_y, id_codes))
    test = {"images": source["test_images"][test_rows], "labels": remap[test_y[test_rows]]}
    val = {"images": source["train_images"][val_rows], "labels": remap[train_y[val_rows]],
           "source_index": val_rows.astype(np.int32)}
    stats = pool_stats(pool, test, requested, available)
    stats.update(val_size=int(cfg.n_val), id_classes=list(cfg.id_classes),
                 ambiguous_classes=list(cfg.ambiguous_classes))
    return pool, test, val, stats


def split_ood(n_ood: int | None, names: list[str]) -> list[int | None]:
    """`pool.n_ood` shared equally between OoD sets (the first ones take the remainder); None = all."""
    if n_ood is None:
        return [None] * len(names)
    base, extra = divmod(n_ood, len(names))
    return [base + (i < extra) for i in range(len(names))]
