"""Check the built pool against its contract: `python -m src.data.verify`.

Every benchmark: the contract (with the pool's K), the fingerprint, counts in stats.json equal
the arrays, and the validation split shares no train image with the pool. MixMNIST: every
ambiguous image carries one vote per ensemble member with 2-3 distinct classes and pool rows
point at the right generated images. Natural-image benchmarks: iD and ambiguous rows are the
source's train images, of the classes `pool.id_classes` (label = position) and
`pool.ambiguous_classes` name. A folder pool: every image of the folder once, with its path, and
the test labels within pool.id_classes.
"""
import json
import sys

import numpy as np

from src.core import config, paths
from src.core.errors import DataError, UserError
from src.core.config import NATURAL
from src.core.io import load_json, load_npz
from src.data.pool import AMBIGUOUS, CATEGORY_NAMES, ID, UNKNOWN, check_pool, fingerprint
from src.data.votes import distinct_votes


def verify(params_path: str = "params.yaml") -> dict:
    p = config.load(params_path)
    pool = load_npz(paths.POOL_NPZ)
    stats = load_json(paths.STATS_JSON, "pool statistics")
    check_pool(pool, int(pool["num_classes"]) if "num_classes" in pool else 10)
    if "fingerprint" not in pool or str(pool["fingerprint"]) != fingerprint(pool):
        raise DataError(f"{paths.POOL_NPZ}: its fingerprint does not match its arrays (edited, or built by an "
                        f"older version): rerun `dvc repro build_pool`.")
    counts = {name: int((pool["category"] == c).sum()) for c, name in CATEGORY_NAMES.items()}
    if p.benchmark == "folder":
        counts = {"unknown": int((pool["category"] == UNKNOWN).sum())}
    if counts != stats["by_category"] or len(pool["images"]) != stats["pool_size"]:
        raise DataError(f"{paths.STATS_JSON}: {stats['by_category']} disagrees with the pool arrays {counts}.")
    val = load_npz(paths.VAL_NPZ)
    if p.benchmark == "folder":
        extra = _folder(pool, p.pool)
    else:
        extra = _natural(pool, val, p.pool) if p.benchmark in NATURAL else _mixmnist(pool, val, p.ambiguous)
    return {"pool": counts, "val": int(len(val["labels"])), **extra}


def _natural(pool: dict, val: dict, cfg) -> dict:
    src = load_npz(paths.SOURCE_NPZ)
    names = [str(n) for n in src["class_names"]]
    rows = np.flatnonzero(np.isin(pool["category"], [ID, AMBIGUOUS]))
    if not np.array_equal(pool["images"][rows], src["train_images"][pool["source_index"][rows]]):
        raise DataError(f"{paths.POOL_NPZ}: iD/ambiguous rows do not match {paths.SOURCE_NPZ}'s train images.")
    classes = np.asarray(names)[src["train_labels"][pool["source_index"][rows]]]
    is_id = pool["category"][rows] == ID
    expected = np.asarray(cfg.id_classes)[pool["label"][rows][is_id]]
    if not np.array_equal(classes[is_id], expected) or not np.isin(classes[~is_id], cfg.ambiguous_classes).all():
        raise DataError(f"{paths.POOL_NPZ}: rows whose class is not what pool.id_classes / ambiguous_classes say.")
    if np.intersect1d(val["source_index"], pool["source_index"][rows]).size:
        raise DataError(f"{paths.VAL_NPZ}: the validation split shares train images with the pool.")
    return {"id_classes": len(cfg.id_classes), "ambiguous_classes": len(cfg.ambiguous_classes)}


def _folder(pool: dict, cfg) -> dict:
    src = load_npz(paths.SOURCE_NPZ)
    if not np.array_equal(pool["images"], src["train_images"][pool["source_index"]]) or \
            not np.array_equal(pool["files"], src["files"][pool["source_index"]]):
        raise DataError(f"{paths.POOL_NPZ}: rows do not match {paths.SOURCE_NPZ}'s images and files.")
    if len(np.unique(pool["source_index"])) != len(src["files"]):
        raise DataError(f"{paths.POOL_NPZ}: not every image of the folder is in the pool exactly once.")
    test = load_npz(paths.TEST_NPZ)
    if len(test["labels"]) and not ((test["labels"] >= 0) & (test["labels"] < len(cfg.id_classes))).all():
        raise DataError(f"{paths.TEST_NPZ}: labels outside 0..{len(cfg.id_classes) - 1} (pool.id_classes).")
    return {"files": int(len(pool["files"])), "test": int(len(test["labels"]))}


def _mixmnist(pool: dict, val: dict, cfg) -> dict:
    min_distinct, max_distinct = cfg.min_distinct, cfg.max_distinct
    amb = load_npz(paths.AMBIGUOUS_NPZ)
    d = distinct_votes(amb["votes"].T)
    if len(amb["votes"]) != len(amb["images"]) or not ((d >= min_distinct) & (d <= max_distinct)).all():
        raise DataError(f"{paths.AMBIGUOUS_NPZ}: some images lack {min_distinct}-{max_distinct} distinct votes.")
    rows = np.flatnonzero(pool["category"] == AMBIGUOUS)
    if not np.array_equal(pool["images"][rows], amb["images"][pool["source_index"][rows]]):
        raise DataError(f"{paths.POOL_NPZ}: ambiguous rows do not match {paths.AMBIGUOUS_NPZ}.")
    mnist_rows = pool["source_index"][pool["source"] == "mnist"]
    if np.intersect1d(val["source_index"], mnist_rows).size:
        raise DataError(f"{paths.VAL_NPZ}: the validation split shares MNIST train images with the pool.")
    return {"ambiguous_votes_per_image": int(amb["votes"].shape[1]),
            "distinct_votes": {str(k): int((d == k).sum()) for k in np.unique(d)}}


if __name__ == "__main__":
    try:
        print(json.dumps(verify(), indent=2))
    except (UserError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
