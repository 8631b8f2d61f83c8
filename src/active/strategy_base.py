"""The strategy interface, shared by src/active/strategies.py (the registry's lookups and most
strategies) and src/active/open_set.py (LfOSA, EAOA): `Candidates`, `Strategy`, `REGISTRY` and
`register`. Kept apart so that both modules import it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from src.active.state import ActiveState


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
    """`quota` is the round's iD target (active.per_round_id) and `num_classes` K; strategies that
    do not plan passes over clusters ignore both."""

    name: str = ""
    needs: frozenset = frozenset()
    seconds: dict = {}  # timings of the last rank() call by part (the cluster strategies: "kmeans")
    info: dict = {}  # what the last rank() call fitted, for the acquire metrics (DDU: the density)

    def __init__(self, quota: int = 10, num_classes: int = 10):
        self.quota, self.num_classes = quota, num_classes

    def rank(self, state: ActiveState, outputs: dict, rng: np.random.Generator) -> Candidates:
        raise NotImplementedError

    def detector_loss(self, has_non_id: bool) -> dict:
        """Terms the baselines' classifier adds to its cross-entropy for this strategy
        (src/models/open_set_loss.py), given whether its training set holds labeled non-iD; {} = none."""
        return {}


REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    REGISTRY[cls.name] = cls
    return cls
