"""Time a slice of each paper profile and extrapolate the wall of a full run (bench/gpu_slice.sh).

    bash bench/gpu_slice.sh                         # one CUDA GPU: the paper sizes, <= 8 minutes
    python -m bench.gpu_slice --out /tmp/slice.json   # CPU: 1 % of the pool, batches / 32, same code path

For configs/paper-mixmnist.yaml (93,724-image pool, convnet width 32, batch 1024) and
configs/paper-mixcifar60.yaml (60,000-image pool, ResNet-18, batch 1024) it times, through the
project's own code and in the profile's precision (`auto`: bf16 on CUDA):
- contrastive steps on the unlabeled pool alone (pretraining) and with a labeled batch (a round's
  continuation): seconds per pass over the pool;
- the CL classifier's and the baselines' classifier training (one epoch on a labeled set of the
  size a middle round trains on): images/s;
- feature extraction and class probabilities over the whole pool, and k-means (K + 1 clusters,
  scikit-learn on the CPU, as the acquire stage) on the pool's features.
The pool is random uint8 images of the benchmark's shape: the timings depend on sizes, not pixels.
From the rates it extrapolates the wall of a full run of each strategy: stage 0 + pretraining (CL)
and every round (continuation + classifier + features + k-means for the CL strategies; classifier
from scratch + class probabilities for the baselines; DDU as a baseline, its spectral norm not
counted). Goals it reports against: MixMNIST Distance(CL) <= 1 h, MixCIFAR60 Distance(CL) <= 6 h on
one H100. Writes one JSON (--out) with the measured rates, the sizes and the extrapolations.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from src.core import compiled, config, precision
from src.core.device import get_device
from src.core.log import log

PROFILES = {  # profile -> (pool size of the paper's benchmark, image shape of the pool's uint8 arrays)
    "configs/paper-mixmnist.yaml": (93_724, (28, 28)),
    "configs/paper-mixcifar60.yaml": (60_000, (32, 32, 3)),
}
GOALS_H = {"configs/paper-mixmnist.yaml": 1.0, "configs/paper-mixcifar60.yaml": 6.0}  # Distance(CL), one H100
CL, BASELINES = ("distance_cl", "random_cl"), ("random", "least_confidence", "entropy", "ddu")


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t


def round_sizes(active, rounds: int) -> dict:
    """Labeled iD and the classifier's training set of a middle round (iD + non-iD capped at
    non_id_ratio * iD / K, as src/active/training_set.py)."""
    mid_id = active.init_id + active.per_round_id * rounds / 2
    return {"rounds": rounds, "labeled_id_middle": int(mid_id),
            "train_middle": int(mid_id * (1 + active.non_id_ratio / active.num_classes))}


def scaled(p, factor: float):
    """The profile with every batch size times `factor` (CPU: the same code path on smaller sizes)."""
    if factor == 1:
        return p
    b = lambda n: max(8, int(n * factor))  # noqa: E731
    c = p.contrastive
    return replace(p, contrastive=replace(c, batch_size=b(c.batch_size), labeled_batch_size=b(c.labeled_batch_size),
                                          eval_batch_size=b(c.eval_batch_size)),
                   classifier=replace(p.classifier, batch_size=b(p.classifier.batch_size),
                                      eval_batch_size=b(p.classifier.eval_batch_size)),
                   cl_classifier=replace(p.cl_classifier, batch_size=b(p.cl_classifier.batch_size)))


def measure_profile(profile: str, scale: float, steps: int, batch_scale: float = 1.0,
                    compile_: bool | None = None) -> dict:
    from sklearn.cluster import KMeans

    from src.contrastive.train import train_contrastive
    from src.models.representation import extract_features, new_representation
    from src.models.supervised import predict_probs, train_classifier

    p = scaled(config.load(profile), batch_scale)
    device = get_device()
    used = precision.use(p.precision)
    kernels = compiled.use(p.compile if compile_ is None else compile_, device.type)  # --compile: torch.compile
    full_pool, shape = PROFILES[profile]
    n_pool = max(2 * p.contrastive.batch_size, int(full_pool * scale))
    g = np.random.default_rng(0)
    pool = g.integers(0, 256, (n_pool, *shape), dtype=np.uint8)
    k1 = p.active.num_classes + 1
    rounds = math.ceil((p.active.target_id - p.active.init_id) / p.active.per_round_id)
    sizes = round_sizes(p.active, rounds)
    n_train = max(p.cl_classifier.batch_size, int(sizes["train_middle"] * scale))
    labels = np.arange(n_train) % k1
    cfg = p.contrastive
    labeled = pool[: max(cfg.labeled_batch_size, 2)]
    rep = new_representation(cfg, "bench")
    log(f"{profile}: pool {n_pool:,} ({scale:g} of {full_pool:,}), {precision.current()} on {device}")
    one = steps * cfg.batch_size / n_pool  # epochs that make `steps` steps
    train_contrastive(rep, pool, None, None, cfg, cfg.batch_size / n_pool, 0, "bench")  # warm-up
    pre = train_contrastive(rep, pool, None, None, cfg, one, 0, "bench")
    cont = train_contrastive(rep, pool, labeled, np.arange(len(labeled)) % k1, cfg, one, 0, "bench")
    per_pass = {"pretrain": pre["seconds"] / pre["steps"] * math.ceil(full_pool / cfg.batch_size),
                "continuation": cont["seconds"] / cont["steps"] * math.ceil(full_pool / cfg.batch_size)}

    from src.models.representation import classifier_from

    def clf_rate(kcfg, make=None) -> float:
        one_epoch = replace(kcfg, epochs=1, milestones=[])
        train_classifier(pool[: kcfg.batch_size], labels[: kcfg.batch_size], one_epoch, k1, 0, "bench", make)
        secs = timed(lambda: train_classifier(pool[:n_train], labels, one_epoch, k1, 0, "bench", make), device)
        return n_train / secs

    cl_rate = clf_rate(p.cl_classifier, lambda: classifier_from(rep, k1))
    base_rate = clf_rate(p.classifier)
    feats = extract_features(rep, pool[: cfg.eval_batch_size], cfg.eval_batch_size)  # warm-up
    t_feat = timed(lambda: extract_features(rep, pool, cfg.eval_batch_size), device) * full_pool / n_pool
    feats = extract_features(rep, pool, cfg.eval_batch_size)
    net = train_classifier(pool[:n_train], labels, replace(p.classifier, epochs=1, milestones=[]), k1, 0, "bench")
    t_probs = timed(lambda: predict_probs(net, pool, p.classifier.eval_batch_size), device) * full_pool / n_pool
    t0 = time.perf_counter()
    KMeans(k1, n_init=p.cluster.n_init, random_state=0).fit(feats)
    t_kmeans = (time.perf_counter() - t0) * full_pool / n_pool  # ~linear in the points (Lloyd iterations)

    train_full = sizes["train_middle"]
    per_round_cl = (p.contrastive.round_epochs * per_pass["continuation"]
                    + p.cl_classifier.epochs * train_full / cl_rate + t_feat + t_kmeans)
    per_round_base = p.classifier.epochs * train_full / base_rate + t_probs
    pretrain = p.contrastive.pretrain_epochs * per_pass["pretrain"]
    walls = {s: (pretrain + t_feat + t_kmeans + rounds * per_round_cl) / 3600 for s in CL}
    walls.update({s: (rounds + 1) * per_round_base / 3600 for s in BASELINES})
    return {"profile": profile, "precision": used, "compile": kernels, "device": str(device), "pool_full": full_pool, "pool_timed": n_pool,
            "scale": scale, "batch_scale": batch_scale, "contrastive": {"width": cfg.width, "arch": cfg.arch, "batch_size": cfg.batch_size,
                                            "views_per_s_pretrain": pre["views_per_s"],
                                            "views_per_s_continuation": cont["views_per_s"]},
            "seconds_per_pass": {k: round(v, 2) for k, v in per_pass.items()},
            "classifier_images_per_s": {"cl_classifier": round(cl_rate, 1), "classifier": round(base_rate, 1)},
            "seconds_full_pool": {"features": round(t_feat, 2), "probs": round(t_probs, 2), "kmeans": round(t_kmeans, 2)},
            "sizes": sizes, "extrapolated_hours": {k: round(v, 2) for k, v in walls.items()},
            "goal_hours_distance_cl": GOALS_H[profile],
            "meets_goal": walls["distance_cl"] <= GOALS_H[profile] if device.type == "cuda" else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/gpu-slice/slice.json")
    parser.add_argument("--scale", type=float, default=None,
                        help="fraction of the paper's pool timed (default: 1 on CUDA, 0.02 on CPU)")
    parser.add_argument("--steps", type=int, default=None, help="contrastive steps timed (default: 20 CUDA, 1 CPU)")
    parser.add_argument("--batch-scale", type=float, default=None,
                        help="batch sizes times this (default: 1 on CUDA, 1/32 on CPU)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the training steps (default: the profile's `compile`)")
    args = parser.parse_args(argv)
    cuda = get_device().type == "cuda"
    scale = args.scale if args.scale is not None else (1.0 if cuda else 0.01)
    steps = args.steps if args.steps is not None else (20 if cuda else 1)
    batch_scale = args.batch_scale if args.batch_scale is not None else (1.0 if cuda else 1 / 32)
    t0 = time.perf_counter()
    rows = [measure_profile(profile, scale, steps, batch_scale, args.compile) for profile in PROFILES]
    result = {"device": torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine(),
              "torch": torch.__version__, "seconds": round(time.perf_counter() - t0, 1), "profiles": rows,
              "note": None if cuda else "CPU run at reduced sizes (pool and batches): it shows the code path works; "
                                        "its hours are this CPU's at small batches, not a GPU's, and not evidence"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        log(f"{r['profile']} ({r['precision']}{', compiled' if r['compile'] else ''}, {r['device']}): Distance(CL) ~ {r['extrapolated_hours']['distance_cl']} h "
            f"(goal {r['goal_hours_distance_cl']} h), Random ~ {r['extrapolated_hours']['random']} h")
    log(f"{out}: written in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
