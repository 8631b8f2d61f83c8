"""Check the built MixMNIST pool against its contract: `python -m src.data.verify`.

Counts in stats.json equal the arrays; every ambiguous image carries one vote per ensemble
member with 2-3 distinct classes; pool rows point at the right source images; the
validation split shares no MNIST train image with the pool.
"""
import json
import sys

import numpy as np

from src.core import config, paths
from src.core.errors import DataError, UserError
from src.core.io import load_json, load_npz
from src.data.pool import AMBIGUOUS, CATEGORY_NAMES, check_pool, fingerprint
from src.generate.ambiguous import distinct_votes


def verify(params_path: str = "params.yaml") -> dict:
    cfg = config.load(params_path).ambiguous
    min_distinct, max_distinct = cfg.min_distinct, cfg.max_distinct
    pool, amb = load_npz(paths.POOL_NPZ), load_npz(paths.AMBIGUOUS_NPZ)
    stats = load_json(paths.STATS_JSON, "pool statistics")
    check_pool(pool)
    if "fingerprint" not in pool or str(pool["fingerprint"]) != fingerprint(pool):
        raise DataError(f"{paths.POOL_NPZ}: its fingerprint does not match its arrays (edited, or built by an "
                        f"older version): rerun `dvc repro build_pool`.")
    counts = {name: int((pool["category"] == c).sum()) for c, name in CATEGORY_NAMES.items()}
    if counts != stats["by_category"] or len(pool["images"]) != stats["pool_size"]:
        raise DataError(f"{paths.STATS_JSON}: {stats['by_category']} disagrees with the pool arrays {counts}.")
    d = distinct_votes(amb["votes"].T)
    if len(amb["votes"]) != len(amb["images"]) or not ((d >= min_distinct) & (d <= max_distinct)).all():
        raise DataError(f"{paths.AMBIGUOUS_NPZ}: some images lack {min_distinct}-{max_distinct} distinct votes.")
    rows = np.flatnonzero(pool["category"] == AMBIGUOUS)
    if not np.array_equal(pool["images"][rows], amb["images"][pool["source_index"][rows]]):
        raise DataError(f"{paths.POOL_NPZ}: ambiguous rows do not match {paths.AMBIGUOUS_NPZ}.")
    val = load_npz(paths.VAL_NPZ)
    mnist_rows = pool["source_index"][pool["source"] == "mnist"]
    if np.intersect1d(val["source_index"], mnist_rows).size:
        raise DataError(f"{paths.VAL_NPZ}: the validation split shares MNIST train images with the pool.")
    return {"pool": counts, "val": int(len(val["labels"])), "ambiguous_votes_per_image": int(amb["votes"].shape[1]),
            "distinct_votes": {str(k): int((d == k).sum()) for k in np.unique(d)}}


if __name__ == "__main__":
    try:
        print(json.dumps(verify(), indent=2))
    except (UserError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
