"""Acquisition strategies behind one interface and a name -> class registry.

A strategy has a `name` (the value of `strategy` in params.yaml), `needs` (model outputs it
reads: "probs", "features", "embeddings") and `rank(state, outputs, rng) -> Candidates`: the
unlabeled pool indices in the order the oracle should examine them, grouped into batches that
are annotated whole. The round loop never special-cases a strategy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from src.active.state import ActiveState
from src.errors import ConfigError


@dataclass(frozen=True)
class Candidates:
    order: np.ndarray  # (M,) int64 absolute pool indices, examined first to last
    batch: np.ndarray  # (M,) int64 non-decreasing batch id; a batch is annotated whole

    def batches(self) -> list[np.ndarray]:
        if len(self.order) == 0:
            return []
        cuts = np.flatnonzero(np.diff(self.batch)) + 1
        return np.split(self.order, cuts)

    @classmethod
    def one_by_one(cls, order: np.ndarray) -> "Candidates":
        order = np.asarray(order, dtype=np.int64)
        return cls(order, np.arange(len(order), dtype=np.int64))


class Strategy:
    name: str = ""
    needs: frozenset = frozenset()

    def rank(self, state: ActiveState, outputs: dict, rng: np.random.Generator) -> Candidates:
        raise NotImplementedError


REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> Strategy:
    if name not in REGISTRY:
        raise ConfigError(f"params.yaml: strategy '{name}' is unknown. Valid strategies: "
                          f"{', '.join(sorted(REGISTRY))}.")
    return REGISTRY[name]()


class AuxFilteredScore(Strategy):
    """Rank unlabeled samples by a score (higher first), after the auxiliary-class filter.

    Samples whose argmax is the auxiliary non-iD class (the last output) are filtered out:
    they go after every other candidate, so they are examined only if the rest of the pool
    cannot supply the round's iD quota. Ties are broken at random with `rng`.
    """

    needs = frozenset({"probs"})

    def score(self, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def rank(self, state, outputs, rng):
        cand = state.unlabeled
        probs = np.asarray(outputs["probs"], dtype=np.float64)[cand]
        score = self.score(probs, rng)
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
