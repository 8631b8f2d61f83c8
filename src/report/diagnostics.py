"""What the representation looks like, from a run's outputs: `python -m src.report.diagnostics
[--round r00] [--nearest 1000] [--out file.json]`.

Reads the clustering features the CL strategies wrote (runs/outputs/<round>.npz) and the pool's
ground truth, runs the same k-means (K + 1 clusters) and reports:
- id_majority_share: share of the pool's iD samples whose digit is their cluster's majority digit;
- nearest_id_share: iD share among the `--nearest` samples closest to their centroid;
- per cluster: size, iD / ambiguous / OoD shares, majority digit and its share among the iD.
It reads ground truth, so it is a diagnostic for README, never a tuning score (tuning scores
on the validation split: src/report/tune.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from src.core import config, paths
from src.core.errors import UserError
from src.core.io import load_npz, save_json
from src.core.seeding import rng
from src.data.pool import AMBIGUOUS, ID, OOD


def diagnose(features: np.ndarray, category: np.ndarray, label: np.ndarray, k: int, seed: int,
             n_init: int = 1, nearest: int = 1000) -> dict:
    from src.active.clusters import kmeans

    feats = np.asarray(features, dtype=np.float32)
    assign, centroids = kmeans(feats, k + 1, rng(seed, "diagnostics"), n_init)
    dist = np.linalg.norm(feats - centroids[assign], axis=1)
    clusters, in_majority = [], 0
    for c in range(k + 1):
        rows = np.flatnonzero(assign == c)
        cat, lab = category[rows], label[rows]
        digits = np.bincount(lab[cat == ID], minlength=k) if (cat == ID).any() else np.zeros(k, int)
        in_majority += int(digits.max())
        clusters.append({"cluster": c, "size": int(len(rows)),
                         "id": round(float((cat == ID).mean()), 4) if len(rows) else None,
                         "ambiguous": round(float((cat == AMBIGUOUS).mean()), 4) if len(rows) else None,
                         "ood": round(float((cat == OOD).mean()), 4) if len(rows) else None,
                         "majority_digit": int(digits.argmax()) if digits.sum() else None,
                         "majority_share_of_id": round(float(digits.max() / digits.sum()), 4) if digits.sum() else None})
    near = np.argsort(dist, kind="stable")[:nearest]
    return {"id_majority_share": round(in_majority / max(int((category == ID).sum()), 1), 4),
            "nearest": int(len(near)), "nearest_id_share": round(float((category[near] == ID).mean()), 4),
            "clusters": clusters}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round", default="r00", help="whose outputs (default r00: after stage-0 training)")
    parser.add_argument("--nearest", type=int, default=1000)
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        p = config.load(args.params)
        out = load_npz(paths.outputs(args.round)) if paths.outputs(args.round).exists() else {}
        if "features" not in out:
            raise UserError(f"{paths.outputs(args.round)} has no clustering features: run a CL strategy "
                            f"(`dvc exp run -S strategy=distance_cl`) up to round {args.round} first.")
        pool = load_npz(paths.POOL_NPZ, keys=("category", "label"))
        result = {"round": args.round, "features": p.cluster.features,
                  **diagnose(out["features"], pool["category"], pool["label"], p.active.num_classes, p.seed,
                             p.cluster.n_init, args.nearest)}
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        save_json(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader stopped early (the recipe of Python's signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
