"""Two open-set active-learning baselines on the baselines' classifier (its K + 1 head is the
detector: unknowns are class K), registered as `lfosa` and `eaoa` (docs/open-set-strategies.md).

- LfOSA (Ning et al., CVPR 2022; ningkp/LfOSA, Sampling.py `AV_sampling_temperature`): each
  unlabeled sample's maximum activation value (largest of the K + 1 logits) and predicted class;
  per predicted class a two-component 1-D Gaussian mixture over those values; the score is the
  posterior of the higher-mean component, 0 for samples predicted as class K. Highest first.
- EAOA (Zong & Huang, CVPR 2025; chenchenzong/EAOA, query_strategies.py `eaoa_sampling`):
  epistemic "clean" probability = (mixture posterior of the low-energy component of the
  detector's energy: K known logits against the unknown logit) x (the same of a feature-space
  energy whose logits are reverse-k-nearest-neighbour counts of the labeled samples' classes);
  aleatoric "informative" probability = mixture posterior of the high component of the energy
  margin of the target classifier's top prediction. Per predicted class the k1 x n cleanest are
  kept and the n most informative of them taken (n = ceil(quota / K)); k1 adapts to the iD
  precision of the earlier rounds (EAOA's main.py).

Examination order: the method's batch rule repeated over the remaining pool (the model does not
change within a round). LfOSA's rule is "the highest scores", so its repetition is the sort by
score. EAOA's rule, repeated, is a sliding window per predicted class: pass p takes the n most
informative of the k1 x n cleanest samples not taken in passes 0..p-1; a pass's picks (one group
per class) are examined in random order, as the official code permutes its batch, and passes
follow one another. Samples are examined one by one until the round's iD quota, like the other
baselines.
"""
from __future__ import annotations

import heapq
import math
import time

import numpy as np

from src.active.mixture import fit_two_gaussians, min_max
from src.active.strategy_base import Candidates, Strategy, register

BLOCK_ELEMENTS = 1 << 24  # similarities held at once by the reverse-kNN count (64 MiB of float32)


def log_sum_exp(z: np.ndarray) -> np.ndarray:
    """(n, c) -> (n,) log sum exp over columns, float64."""
    z = np.asarray(z, dtype=np.float64)
    top = z.max(1)
    return top + np.log(np.exp(z - top[:, None]).sum(1))


def energy(logits: np.ndarray, num_classes: int, with_unknown: bool = True) -> np.ndarray:
    """EAOA's energy of K known logits against the unknown (last) one:
    -logsumexp(z[:K]) + log(1 + exp(z[K])); without the unknown term when `with_unknown` is False.
    Higher = less like a known class."""
    e = -log_sum_exp(logits[:, :num_classes])
    if with_unknown:
        e = e + np.logaddexp(0.0, np.asarray(logits[:, num_classes], dtype=np.float64))
    return e


def energy_margin(known_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EAOA's aleatoric uncertainty of a K-class classifier: logsumexp of the logits other than the
    top one minus logsumexp of all (= log(1 - p_top)); -> (margin, predicted class)."""
    z = np.asarray(known_logits, dtype=np.float64)
    pred = z.argmax(1)
    rest = z.copy()
    rest[np.arange(len(z)), pred] = -np.inf
    return log_sum_exp(rest) - log_sum_exp(z), pred


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def top_k_columns(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the k largest values of every row of `sims` (b, n), k <= n; ties at the
    k-th value are broken by column order.

    A full selection per row costs most of the reverse-kNN count, so most rows are served by a
    threshold: the value at rank ~2k of the whole row, estimated from s evenly spaced columns
    (s = 16 n / k: the estimate's rank is 32 within the sample). Whenever at least k values reach
    the threshold, the k-th largest does too, so the k largest are among those candidates, and only
    they are sorted. A row with fewer candidates gets the full selection (np.argpartition)."""
    b, n = sims.shape
    if k >= n:
        return np.repeat(np.arange(b), n), np.tile(np.arange(n), b)
    s = min(n, math.ceil(16 * n / k))
    short = np.ones(b, bool)
    rows, cols = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if s < n:
        r = max(1, min(s, round(2 * k * s / n)))
        sample = np.linspace(0, n - 1, s).astype(np.int64)  # evenly spaced, distinct (s <= n)
        thr = np.partition(sims[:, sample], s - r, axis=1)[:, s - r]
        mask = sims >= thr[:, None]
        short = mask.sum(1) < k
        mask[short] = False
        rows, cols = np.nonzero(mask)
        order = np.lexsort((cols, -sims[rows, cols], rows))  # per row: largest first, then by column
        rows, cols = rows[order], cols[order]
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
        rows, cols = rows[rank < k], cols[rank < k]
    if short.any():
        exact = np.flatnonzero(short)
        top = np.argpartition(sims[exact], n - k, axis=1)[:, n - k:]
        rows, cols = np.concatenate([rows, np.repeat(exact, k)]), np.concatenate([cols, top.ravel()])
    return rows, cols


def reverse_knn_counts(ref: np.ndarray, ref_labels: np.ndarray, pool: np.ndarray, k: int, columns: int,
                       block_elements: int = BLOCK_ELEMENTS) -> np.ndarray:
    """(N, columns) int64: for every pool row, how many reference rows of each label (0..columns-1)
    count it among their k most cosine-similar pool rows. Blocks of reference rows: at most
    `block_elements` similarities exist at once, never the whole (M, N) matrix."""
    ref_labels = np.asarray(ref_labels, dtype=np.int64)
    n = len(pool)
    if ref.ndim != 2 or pool.ndim != 2 or ref.shape[1] != pool.shape[1] or len(ref) != len(ref_labels):
        raise ValueError(f"reverse_knn_counts: reference {ref.shape}, labels {ref_labels.shape} and pool "
                         f"{pool.shape} must be (M, D), (M,) and (N, D)")
    if len(ref_labels) and (ref_labels.min() < 0 or ref_labels.max() >= columns):
        raise ValueError(f"reverse_knn_counts: labels must be in 0..{columns - 1}")
    if n == 0 or len(ref) == 0:
        return np.zeros((n, columns), np.int64)
    k = min(int(k), n)
    ref, pool = unit_rows(ref), unit_rows(pool)
    rows = max(1, block_elements // n)
    hits = []
    for s in range(0, len(ref), rows):
        sims = ref[s:s + rows] @ pool.T  # (b, N) cosine similarities
        r, c = top_k_columns(sims, k)
        hits.append(c * columns + ref_labels[s:s + rows][r])
    return np.bincount(np.concatenate(hits), minlength=n * columns).reshape(n, columns)


def adaptive_k1(state, num_classes: int, k1: int, step: int, tolerance: float, target: float) -> tuple[int, list]:
    """EAOA's k1 after the rounds recorded in `state` (main.py): after each round r >= 1, its iD
    precision (iD share of the samples labeled in r) beyond `tolerance` of `target` raises k1 by
    `step` (precision too high: take less clean, more informative samples) or lowers it (never
    below 1). Stage 0 (round 0) is not a query of the method. -> (k1, the precisions)."""
    history = []
    rounds = np.unique(state.acquired_round[state.acquired_round >= 1])
    for r in rounds:
        precision = float((state.labels[state.acquired_round == r] < num_classes).mean())
        history.append(round(precision, 4))
        if abs(precision - target) > tolerance:
            if precision > target:
                k1 += step
            elif k1 - step >= 1:
                k1 -= step
    return k1, history


def window_passes(members: np.ndarray, clean: np.ndarray, info: np.ndarray, tiebreak: np.ndarray,
                  per_class: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """One class's members (positions into clean/info/tiebreak) as EAOA's batch rule repeated: pass p
    takes the `per_class` most informative of the `window` cleanest members not yet taken.
    -> (members in the order taken, pass of each)."""
    by_clean = members[np.lexsort((tiebreak[members], -clean[members]))]
    # heap entries (-info, tiebreak, member) as Python numbers, converted once
    stream = list(zip((-info[by_clean]).tolist(), tiebreak[by_clean].tolist(), by_clean.tolist()))
    heap, taken, passes, pos, p = [], [], [], 0, 0
    while pos < len(stream) or heap:
        while len(heap) < window and pos < len(stream):
            heapq.heappush(heap, stream[pos])
            pos += 1
        for _ in range(min(per_class, len(heap))):
            taken.append(heapq.heappop(heap)[2])
            passes.append(p)
        p += 1
    return np.asarray(taken, dtype=np.int64), np.asarray(passes, dtype=np.int64)


class OpenSetStrategy(Strategy):
    """A strategy with its own params section (`settings`, checked with params)."""

    params_section = ""

    def __init__(self, quota: int = 10, num_classes: int = 10, settings=None):
        super().__init__(quota, num_classes)
        self.settings = settings if settings is not None else self.defaults()

    @staticmethod
    def defaults():
        raise NotImplementedError

    def mixture(self, values: np.ndarray, component: str) -> np.ndarray:
        s = self.settings
        mix = fit_two_gaussians(values, s.mixture_iterations, s.mixture_tol, s.mixture_reg)
        return mix.posterior(values, component)

    def logits(self, outputs: dict, rows: np.ndarray) -> np.ndarray:
        z = np.asarray(outputs["logits"], dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.num_classes + 1:
            raise ValueError(f"{self.name}: logits must be (pool rows, K + 1 = {self.num_classes + 1}), are {z.shape}")
        return z[rows]


@register
class LfOSA(OpenSetStrategy):
    """Highest posterior of the higher-activation mixture component of the predicted class first;
    samples predicted as class K score 0 and come last."""

    name = "lfosa"
    needs = frozenset({"logits"})
    params_section = "lfosa"

    @staticmethod
    def defaults():
        from src.core.params_schema import LfOSAConfig

        return LfOSAConfig(temperature=0.5, mixture_iterations=10, mixture_tol=0.01, mixture_reg=0.0005)

    def detector_loss(self, has_non_id: bool) -> dict:
        return {"temperature": self.settings.temperature}

    def scores(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, K + 1) logits -> (score, predicted class). A class with fewer than two samples fits no
        mixture: its samples score 0 (the official code leaves them out of the query)."""
        value, pred = logits.max(1), logits.argmax(1)
        score = np.zeros(len(logits))
        fitted = []
        for c in range(self.num_classes):  # class K keeps 0
            rows = pred == c
            if rows.sum() >= 2:
                score[rows] = self.mixture(value[rows], "high")
                fitted.append(c)
        self.info = {"lfosa": {"classes_fitted": len(fitted),
                               "predicted_unknown": int((pred == self.num_classes).sum())}}
        return score, pred

    def rank(self, state, outputs, rng):
        cand = state.unlabeled
        score, pred = self.scores(self.logits(outputs, cand))
        tiebreak = rng.random(len(cand))
        order = np.lexsort((tiebreak, -score, pred == self.num_classes))  # last key first: class K last
        return Candidates.one_by_one(cand[order])


@register
class EAOA(OpenSetStrategy):
    """Per predicted class, the most informative of the cleanest (docstring of the module)."""

    name = "eaoa"
    needs = frozenset({"logits", "penultimate"})
    params_section = "eaoa"

    @staticmethod
    def defaults():
        from src.core.params_schema import EAOAConfig

        return EAOAConfig(energy_weight=0.01, m_in=-25.0, m_out=-7.0, k=250, k1=5, k1_step=1,
                          precision_tolerance=0.05, target_precision=0.6, mixture_iterations=10,
                          mixture_tol=0.01, mixture_reg=0.0005)

    def detector_loss(self, has_non_id: bool) -> dict:
        """EAOA's energy regulariser, from the first training set with labeled non-iD (before it the
        official detector trains on cross-entropy alone)."""
        s = self.settings
        return {"energy_weight": s.energy_weight, "m_in": s.m_in, "m_out": s.m_out} if has_non_id else {}

    def probabilities(self, state, outputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """-> (clean, informative, predicted class, facts) for the unlabeled rows."""
        k, cand, lab = self.num_classes, state.unlabeled, state.labeled
        z = self.logits(outputs, cand)
        margin, pred = energy_margin(z[:, :k])
        info = self.mixture(min_max(margin), "high")
        clean = self.mixture(min_max(energy(z, k)), "low")
        t0 = time.perf_counter()
        feats = np.asarray(outputs["penultimate"])
        y = state.labels[lab].astype(np.int64)
        counts = reverse_knn_counts(feats[lab], y, feats[cand], self.settings.k, k + 1)
        has_non_id = bool((y == k).any())
        feature_energy = energy(counts.astype(np.float64), k, with_unknown=has_non_id)
        clean = clean * self.mixture(min_max(feature_energy), "low")
        facts = {"rknn_seconds": round(time.perf_counter() - t0, 2), "non_id_column": has_non_id}
        return clean, info, pred, facts

    def rank(self, state, outputs, rng):
        cand = state.unlabeled
        self.info = {}
        if len(cand) < 2:  # no mixture to fit: the one sample left (if any)
            return Candidates.one_by_one(cand)
        s = self.settings
        clean, info, pred, facts = self.probabilities(state, outputs)
        k1, history = adaptive_k1(state, self.num_classes, s.k1, s.k1_step, s.precision_tolerance,
                                  s.target_precision)
        per_class = math.ceil(self.quota / self.num_classes)
        tiebreak = rng.random(len(cand))
        taken, passes = [], []
        for c in range(self.num_classes):
            t, p = window_passes(np.flatnonzero(pred == c), clean, info, tiebreak, per_class, per_class * k1)
            taken.append(t)
            passes.append(p)
        taken, passes = np.concatenate(taken), np.concatenate(passes)
        within = rng.random(len(taken))  # a pass in random order, as the official code permutes its batch
        order = taken[np.lexsort((within, passes))]
        self.info = {"eaoa": {"k1": int(k1), "per_class": per_class, "window": per_class * k1,
                              "precision_history": history, "passes": int(passes.max()) + 1, **facts}}
        return Candidates.one_by_one(cand[order])
