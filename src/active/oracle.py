"""The annotator: labels what it is shown and charges for every sample it looks at.

`SimulatedOracle` reads ground truth from the pool: the class for iD samples, K (the auxiliary
non-iD class, `active.num_classes`) for ambiguous and OoD ones. Cost per examined sample is configurable
per category (the paper charges 1 for every sample).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from src.data.pool import AMBIGUOUS, ID, OOD

NON_ID = 10  # K for MixMNIST; the oracle and the round loop take K from active.num_classes


@dataclass(frozen=True)
class SimulatedOracle:
    category: np.ndarray  # (N,) int8 pool categories
    label: np.ndarray  # (N,) int16 digit for iD rows, -1 otherwise
    costs: dict  # {"id": c, "ambiguous": c, "ood": c}
    non_id: int = NON_ID  # K

    @classmethod
    def from_pool(cls, pool: dict, costs: dict, num_classes: int = NON_ID) -> "SimulatedOracle":
        return cls(pool["category"], pool["label"], dict(costs), num_classes)

    def annotate(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        return np.where(self.category[idx] == ID, self.label[idx], self.non_id).astype(np.int16)

    def cost(self, indices) -> float:
        return charge(self.category[np.asarray(indices, dtype=np.int64)], self.costs)


def charge(categories: np.ndarray, costs: dict) -> float:
    """Cost of examining samples of these categories (`active.costs` per category); the simulated
    and the file oracle charge through this one sum."""
    cat = np.asarray(categories)
    return float(sum(costs[name] * int((cat == c).sum())
                     for c, name in ((ID, "id"), (AMBIGUOUS, "ambiguous"), (OOD, "ood"))))


def examine(batches: list[np.ndarray], oracle: SimulatedOracle, need_id: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Annotate batch after batch until at least `need_id` iD labels are found.

    Returns (examined indices, their labels, cost). Every examined sample is paid for,
    whatever its category; a batch is annotated whole (Algorithm 1 annotates whole passes).
    """
    examined, labels, found = [], [], 0
    for batch in batches:
        if found >= need_id:
            break
        lab = oracle.annotate(batch)
        examined.append(np.asarray(batch, dtype=np.int64))
        labels.append(lab)
        found += int((lab != oracle.non_id).sum())
    if not examined:
        return np.zeros(0, np.int64), np.zeros(0, np.int16), 0.0
    idx = np.concatenate(examined)
    return idx, np.concatenate(labels), oracle.cost(idx)
