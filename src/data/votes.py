"""The ambiguity rule on ensemble votes (paper, "MixMNIST"): a generated image is kept as ambiguous
iff the classifiers' votes on it name between min_distinct and max_distinct (2 and 3) distinct
classes. src/generate/ambiguous.py applies it while generating; src/data/verify.py checks the
built pool against it.
"""
from __future__ import annotations

import numpy as np


def distinct_votes(votes: np.ndarray) -> np.ndarray:
    """votes (members, N) -> number of distinct classes per column, (N,)."""
    votes = np.asarray(votes)
    s = np.sort(votes, axis=0)
    return 1 + (np.diff(s, axis=0) != 0).sum(axis=0)


def keep_mask(votes: np.ndarray, min_distinct: int = 2, max_distinct: int = 3) -> np.ndarray:
    d = distinct_votes(votes)
    return (d >= min_distinct) & (d <= max_distinct)
