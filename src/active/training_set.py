"""Which labeled samples a round trains on: every labeled iD sample plus an undersampled share of the
labeled non-iD ones (the same rule for every learner)."""
from __future__ import annotations

import math

import numpy as np

from src.active.state import ActiveState
from src.core.seeding import rng


def training_set(state: ActiveState, num_classes: int, non_id_ratio: float,
                 gen: np.random.Generator) -> np.ndarray:
    """Labeled indices used for training: every labeled iD sample, plus at most
    ceil(non_id_ratio * n_iD / K) labeled non-iD samples drawn at random - about one
    average class's worth at ratio 1, so the auxiliary class never dominates the loss."""
    lab = state.labeled
    y = state.labels[lab]
    id_rows, non_id = lab[y != num_classes], lab[y == num_classes]
    keep = min(len(non_id), math.ceil(non_id_ratio * len(id_rows) / num_classes))
    chosen = gen.choice(non_id, keep, replace=False) if keep else np.zeros(0, np.int64)
    return np.sort(np.concatenate([id_rows, chosen]).astype(np.int64))


def round_rng(seed: int, round_name: str, part: str) -> np.random.Generator:
    return rng(seed, f"{round_name}-{part}")
