"""ActiveState: who is labeled, since when, as what, and what it cost (docs/design.md, section 5).

One file per round, written atomically, never edited in place: a round reads the previous
state and writes a new one. Indices are absolute pool indices.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.errors import DataError
from src.io import load_npz, save_npz

UNLABELED = -1


@dataclass(frozen=True)
class ActiveState:
    acquired_round: np.ndarray  # (N,) int32: round the sample was labeled in, -1 = unlabeled
    labels: np.ndarray  # (N,) int16: class 0..K-1, NON_ID = K, or -1 unknown
    cost: float  # cumulative annotation cost
    round: int  # the round that produced this state (0 = initial acquisition)

    @classmethod
    def empty(cls, n: int) -> "ActiveState":
        return cls(np.full(n, UNLABELED, np.int32), np.full(n, UNLABELED, np.int16), 0.0, 0)

    @property
    def labeled(self) -> np.ndarray:
        return np.flatnonzero(self.acquired_round != UNLABELED)

    @property
    def unlabeled(self) -> np.ndarray:
        return np.flatnonzero(self.acquired_round == UNLABELED)

    def labeled_id(self, num_classes: int) -> int:
        """Labeled iD samples: labels 0..K-1 (the auxiliary class K is non-iD, -1 unlabeled)."""
        return int(((self.labels >= 0) & (self.labels < num_classes)).sum())

    def with_labels(self, indices: np.ndarray, labels: np.ndarray, cost: float, round_: int) -> "ActiveState":
        """A new state with `indices` labeled in `round_`; refuses to relabel a sample."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(np.unique(indices)) != len(indices):
            raise ValueError("with_labels: duplicate indices")
        if (self.acquired_round[indices] != UNLABELED).any():
            raise ValueError("with_labels: some indices are already labeled")
        acquired, lab = self.acquired_round.copy(), self.labels.copy()
        acquired[indices] = round_
        lab[indices] = labels
        return ActiveState(acquired, lab, float(self.cost + cost), int(round_))

    def save(self, path) -> Path:
        return save_npz(path, acquired_round=self.acquired_round, labels=self.labels,
                        cost=np.float64(self.cost), round=np.int64(self.round))

    @classmethod
    def load(cls, path, pool_size: int | None = None) -> "ActiveState":
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: state file missing. Run the earlier rounds first (`dvc repro`), "
                            f"and check the `prev` entries of `rounds` in params.yaml.")
        d = load_npz(path)
        state = cls(d["acquired_round"].astype(np.int32), d["labels"].astype(np.int16),
                    float(d["cost"]), int(d["round"]))
        if pool_size is not None:
            state.check_pool_size(pool_size, path)
        return state

    def check_pool_size(self, pool_size: int, path) -> None:
        """A state read from `path` must cover the pool it is used with."""
        if len(self.labels) != pool_size:
            raise DataError(f"{path}: state covers {len(self.labels)} samples but the pool has "
                            f"{pool_size}; the pool was rebuilt - rerun from the init stage.")
