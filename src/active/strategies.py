"""Acquisition strategies behind one interface and a name -> class registry.

A strategy has a `name` (the value of `strategy` in params.yaml), `needs` (model outputs it
reads: "probs", "features", "embeddings", "logits", "penultimate") and
`rank(state, outputs, rng) -> Candidates`: the unlabeled pool indices in the order the oracle should
examine them, grouped into batches that are annotated whole. The round loop never special-cases a
strategy. The open-set baselines (lfosa, eaoa) live in src/active/open_set.py, registered here.
"""
from __future__ import annotations

import time

import numpy as np

from src.active.state import ActiveState
from src.active.strategy_base import REGISTRY, Candidates, Strategy, register  # noqa: F401 - the API
from src.core.errors import ConfigError


def get(name: str, **options) -> Strategy:
    if name not in REGISTRY:
        raise ConfigError(f"params.yaml: strategy '{name}' is unknown. Valid strategies: "
                          f"{', '.join(sorted(REGISTRY))}.")
    return REGISTRY[name](**options)


def reads_representation(name: str) -> bool:
    """Whether the strategy ranks on the representation model's features, so its learner is
    pretrained and stage 0 can rank with it (src/active/learners.py: FAMILIES). Answered without
    the learners, which import torch: init imports torch only when it runs that network."""
    if name not in REGISTRY:
        get(name)  # raises the error that lists the valid names
    return "features" in REGISTRY[name].needs


def from_params(p, quota: int | None = None) -> Strategy:
    """The strategy named by `strategy` in params, with its options: the iD quota (default
    active.per_round_id), K, and for the cluster strategies the `cluster` section."""
    cls = REGISTRY.get(p.strategy)
    if cls is None:
        get(p.strategy)  # raises the error that lists the valid names
    opts = {"quota": p.active.per_round_id if quota is None else quota, "num_classes": p.active.num_classes}
    if issubclass(cls, ClusterStrategy):
        opts["n_init"] = p.cluster.n_init
    if issubclass(cls, DistanceCL):
        opts.update(no_non_id_radius=p.cluster.no_non_id_radius, exclude=p.cluster.exclude)
    if issubclass(cls, DDU):
        opts.update(covariance=p.ddu.covariance, density_classes=p.ddu.density_classes)
    if getattr(cls, "params_section", ""):  # lfosa, eaoa: their own section
        opts["settings"] = getattr(p, cls.params_section)
    return cls(**opts)


class AuxFilteredScore(Strategy):
    """Rank unlabeled samples by a score (higher first), after the auxiliary-class filter.

    Samples whose argmax is the auxiliary non-iD class (the last output) are filtered out:
    they go after every other candidate, so they are examined only if the rest of the pool
    cannot supply the round's iD quota. Ties are broken at random with `rng`.
    """

    needs = frozenset({"probs"})

    def score(self, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def candidate_scores(self, state: ActiveState, outputs: dict, cand: np.ndarray, probs: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
        """Scores of the unlabeled rows `cand` (their softmax is `probs`); by default from `probs` alone."""
        return self.score(probs, rng)

    def rank(self, state, outputs, rng):
        cand = state.unlabeled
        probs = np.asarray(outputs["probs"], dtype=np.float64)[cand]
        score = self.candidate_scores(state, outputs, cand, probs, rng)
        tiebreak = rng.random(len(cand))
        aux = probs.argmax(1) == probs.shape[1] - 1
        order = np.lexsort((tiebreak, -score, aux))  # last key sorts first: non-aux first
        return Candidates.one_by_one(cand[order])


@register
class RandomSampling(AuxFilteredScore):
    name = "random"

    def score(self, probs, rng):
        return rng.random(len(probs))


@register
class LeastConfidence(AuxFilteredScore):
    """Low max-softmax first."""

    name = "least_confidence"

    def score(self, probs, rng):
        return 1.0 - probs.max(1)


@register
class Entropy(AuxFilteredScore):
    """High predictive entropy first."""

    name = "entropy"

    def score(self, probs, rng):
        p = np.clip(probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(1)


@register
class DDU(AuxFilteredScore):
    """DDU (Mukhoti et al. 2021): high epistemic uncertainty first - the negative log density of a
    sample's `embeddings` (penultimate features of the spectrally normalised classifier) under
    Gaussian discriminant analysis fitted on the labeled samples' embeddings (src/active/density.py)
    - after the auxiliary-class filter. `density_classes`: `all` fits one Gaussian per label the
    classifier trains on, the K classes and the non-iD class K (DDU fits its classifier's
    training classes); `id` fits the K iD classes only, so the density measures familiarity with
    the iD data alone."""

    name = "ddu"
    needs = frozenset({"probs", "embeddings"})

    def __init__(self, quota: int = 10, num_classes: int = 10, covariance: str = "ledoit_wolf",
                 density_classes: str = "all"):
        super().__init__(quota, num_classes)
        self.covariance, self.density_classes = covariance, density_classes  # checked with params

    def candidate_scores(self, state, outputs, cand, probs, rng):
        from src.active.density import epistemic_uncertainty, fit_gda

        emb = np.asarray(outputs["embeddings"])
        lab = state.labeled
        y = state.labels[lab]
        if self.density_classes == "id":
            lab, y = lab[y != self.num_classes], y[y != self.num_classes]
        t0 = time.perf_counter()
        try:
            gda = fit_gda(emb[lab], y, self.covariance)
        except ValueError as exc:
            raise ConfigError(f"ddu: cannot fit the density on the {len(lab)} labeled samples ({exc}); raise "
                              f"active.init_id.") from None
        score = epistemic_uncertainty(gda, emb[cand])
        self.info = {"density": {"seconds": round(time.perf_counter() - t0, 2), "classes": len(gda.classes),
                                 "borrowed": gda.borrowed, "covariance": self.covariance,
                                 "jitter": gda.jitter, "feature_scale": gda.scale,
                                 "uncertainty_range": [float(score.min()), float(score.max())] if len(score) else []}}
        return score


class ClusterStrategy(Strategy):
    """k-means with K + 1 clusters over the features of the whole pool (P^L and P^U); quotas
    N_k proportional to |C_k| summing to `quota`; candidates come in whole passes."""

    needs = frozenset({"features"})

    def __init__(self, quota: int = 10, num_classes: int = 10, n_init: int = 3):
        super().__init__(quota, num_classes)
        self.n_init = n_init

    def _clusters(self, state, outputs, rng):
        from src.active.clusters import kmeans

        feats = np.asarray(outputs["features"], dtype=np.float32)
        t0 = time.perf_counter()
        assign, centroids = kmeans(feats, self.num_classes + 1, rng, self.n_init)
        self.seconds = {"kmeans": round(time.perf_counter() - t0, 2)}
        return feats, assign, centroids


@register
class RandomCL(ClusterStrategy):
    """Random(CL): random unlabeled samples from each cluster, N_k proportional to |C_k|."""

    name = "random_cl"

    def rank(self, state, outputs, rng):
        from src.active.clusters import passes, quotas

        _, assign, centroids = self._clusters(state, outputs, rng)
        unl = state.unlabeled
        sizes = np.bincount(assign, minlength=len(centroids))
        per_cluster = [rng.permutation(unl[assign[unl] == k]) for k in range(len(centroids))]
        order, batch = passes(per_cluster, quotas(sizes, self.quota))
        return Candidates(order, batch)


@register
class DistanceCL(ClusterStrategy):
    """Distance(CL), Algorithm 1. The cluster with the most labeled non-iD samples is excluded
    (`exclude` "most"; "majority", ours: every cluster whose labeled members are mostly non-iD,
    clusters.excluded_clusters). In every other cluster the radius is the distance from the centroid to its closest labeled
    non-iD feature; samples inside are examined farthest first (nearest the boundary), then
    samples outside nearest first. A cluster without labeled non-iD has no such radius; it uses
    the `no_non_id_radius` quantile of its own members' centroid distances instead: 0 = nearest
    the centroid first (the paper's first assumption at its safest: typical, surely iD, but
    uninformative samples), 1 = farthest first (informative, but the edge is where non-iD sit),
    in between = around that ring, inward first. Ties break at random."""

    name = "distance_cl"

    def __init__(self, quota: int = 10, num_classes: int = 10, n_init: int = 3, no_non_id_radius: float = 0.0,
                 exclude: str = "most"):
        super().__init__(quota, num_classes, n_init)
        self.no_non_id_radius = no_non_id_radius  # a quantile in [0, 1], checked with params
        self.exclude = exclude  # "most" (the paper) | "majority", checked with params

    def rank(self, state, outputs, rng):
        from src.active.clusters import distance_order, excluded_clusters, passes, quotas

        feats, assign, centroids = self._clusters(state, outputs, rng)
        k_all = len(centroids)
        labeled = state.labeled
        non_id = state.labels[labeled] == self.num_classes
        excluded = excluded_clusters(assign, labeled, non_id, k_all, self.exclude)
        self.info = {"excluded_clusters": excluded}
        unl = state.unlabeled
        dist = np.linalg.norm(feats - centroids[assign], axis=1)
        sizes = np.bincount(assign, minlength=k_all).astype(np.float64)
        per_cluster = []
        for k in range(k_all):
            members = unl[assign[unl] == k]
            if k in excluded:
                sizes[k] = 0.0
                per_cluster.append(members[:0])
                continue
            ref = labeled[non_id & (assign[labeled] == k)]
            if len(ref):
                radius = float(dist[ref].min())
            else:
                d = dist[np.flatnonzero(assign == k)]
                radius = float(np.quantile(d, self.no_non_id_radius)) if len(d) else 0.0
            pos = distance_order(dist[members], radius, rng.random(len(members)))
            per_cluster.append(members[pos])
        order, batch = passes(per_cluster, quotas(sizes, self.quota))
        return Candidates(order, batch)


from src.active import open_set  # noqa: E402,F401 - registers lfosa and eaoa
