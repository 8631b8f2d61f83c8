"""Acquisition on a contrastively learned feature space (paper: "Acquisition strategy on the
feature space", Algorithm 1): k-means clusters, per-cluster quotas, and the distance order of
Distance(CL). Pure NumPy + scikit-learn; the strategies in strategies.py wrap these.
"""
from __future__ import annotations

import numpy as np


def kmeans(features: np.ndarray, n_clusters: int, gen: np.random.Generator, n_init: int = 3):
    """k-means++ over all pool features (P^L and P^U). Returns (assignment (N,), centroids (k, D))."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n_clusters, init="k-means++", n_init=n_init,
                random_state=int(gen.integers(0, 2**31 - 1)))
    feats = np.asarray(features)
    feats = feats if feats.dtype in (np.float32, np.float64) else feats.astype(np.float64)
    assign = km.fit_predict(feats)
    return assign.astype(np.int64), km.cluster_centers_.astype(feats.dtype)


def quotas(sizes: np.ndarray, total: int) -> np.ndarray:
    """Split `total` over clusters in proportion to `sizes` (largest remainder; sums to total)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    if total <= 0 or sizes.sum() == 0:
        return np.zeros(len(sizes), dtype=np.int64)
    exact = total * sizes / sizes.sum()
    q = np.floor(exact).astype(np.int64)
    rest = total - q.sum()
    order = np.lexsort((np.arange(len(sizes)), -(exact - q)))  # largest remainder, then lowest index
    q[order[:rest]] += 1
    return q


def non_id_cluster(assign: np.ndarray, labeled: np.ndarray, non_id: np.ndarray, n_clusters: int) -> int | None:
    """The cluster holding the most labeled non-iD samples (ties: lowest index); None if none."""
    counts = np.bincount(assign[labeled[non_id]], minlength=n_clusters)
    return int(np.argmax(counts)) if counts.max() > 0 else None


EXCLUDE_RULES = ("most", "majority")


def excluded_clusters(assign: np.ndarray, labeled: np.ndarray, non_id: np.ndarray, n_clusters: int,
                      rule: str = "most") -> list[int]:
    """The clusters Distance(CL) leaves out (`cluster.exclude`). `most`: the paper's Algorithm 1,
    the one cluster holding the most labeled non-iD samples (none while nothing non-iD is labeled).
    `majority` (ours, beyond the paper): every cluster whose labeled members are mostly non-iD
    (more labeled non-iD than labeled iD); if that would leave no cluster, the paper's rule."""
    if rule not in EXCLUDE_RULES:
        raise ValueError(f"cluster.exclude: {rule!r} is not one of {', '.join(EXCLUDE_RULES)}")
    most = non_id_cluster(assign, labeled, non_id, n_clusters)
    if rule == "most" or most is None:
        return [] if most is None else [most]
    n_non = np.bincount(assign[labeled[non_id]], minlength=n_clusters)
    n_id = np.bincount(assign[labeled[~non_id]], minlength=n_clusters)
    mostly = np.flatnonzero(n_non > n_id)
    return [most] if len(mostly) in (0, n_clusters) else mostly.tolist()


def distance_order(dist: np.ndarray, radius: float, tiebreak: np.ndarray) -> np.ndarray:
    """Algorithm 1's order within a cluster: inside the radius (dist <= radius) farthest first,
    i.e. nearest the boundary; then outside, nearest first. Returns positions into `dist`."""
    inside = dist <= radius
    key = np.where(inside, -dist, dist)
    return np.lexsort((tiebreak, key, ~inside))  # last key first: inside before outside


def passes(per_cluster: list[np.ndarray], quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interleave per-cluster orders into passes: pass p takes the next quota[k] of cluster k.
    Returns (order, pass id) - a pass is annotated whole, as in Algorithm 1. Once the clusters
    with a quota are used up, the members of clusters whose quota rounded to 0 follow, one
    sample per pass in cluster order, so no unlabeled sample is out of reach."""
    order, batch = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    n_pass = max([int(np.ceil(len(c) / q)) for c, q in zip(per_cluster, quota) if q > 0] or [0])
    for p in range(n_pass):
        for c, q in zip(per_cluster, quota):
            take = c[p * q:(p + 1) * q]
            order.append(take)
            batch.append(np.full(len(take), p))
    tail = [c for c, q in zip(per_cluster, quota) if q == 0 and len(c)]
    if tail:
        rest = np.concatenate(tail)
        order.append(rest)
        batch.append(n_pass + np.arange(len(rest)))
    return np.concatenate(order).astype(np.int64), np.concatenate(batch).astype(np.int64)
