"""ActiveState: who is labeled, since when, as what, and what it cost (docs/design.md, section 5).

One file per round, written atomically, never edited in place: a round reads the previous
state and writes a new one. Indices are absolute pool indices. A state records the fingerprint
of the pool it indexes, and is validated whenever it is loaded (`load`): a state that does not
fit its pool, its K or itself is refused with the file named, never used.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.core.errors import DataError
from src.core.io import load_npz, npz_keys, save_npz

UNLABELED = -1
KEYS = ("acquired_round", "labels", "cost", "round", "pool_fingerprint")
RERUN = "Rerun the rounds with `dvc repro` (a state is only written by the init and annotate stages)."


@dataclass(frozen=True)
class ActiveState:
    acquired_round: np.ndarray  # (N,) int32: round the sample was labeled in, -1 = unlabeled
    labels: np.ndarray  # (N,) int16: class 0..K-1, NON_ID = K, or -1 unknown
    cost: float  # cumulative annotation cost
    round: int  # the round that produced this state (0 = initial acquisition)
    pool_fingerprint: str = ""  # src.data.pool.fingerprint of the pool the indices refer to
    answers: np.ndarray | None = None  # (N,) int8 with the file oracle: the category the person answered
    #                                     (0 iD, 1 ambiguous, 2 OoD; -1 unlabeled); None with the simulated one

    @classmethod
    def empty(cls, n: int, pool_fingerprint: str = "", answers: bool = False) -> "ActiveState":
        """No sample labeled; `answers`: record the annotator's categories (the file oracle)."""
        return cls(np.full(n, UNLABELED, np.int32), np.full(n, UNLABELED, np.int16), 0.0, 0, pool_fingerprint,
                   np.full(n, UNLABELED, np.int8) if answers else None)

    @property
    def labeled(self) -> np.ndarray:
        return np.flatnonzero(self.acquired_round != UNLABELED)

    @property
    def unlabeled(self) -> np.ndarray:
        return np.flatnonzero(self.acquired_round == UNLABELED)

    def labeled_id(self, num_classes: int) -> int:
        """Labeled iD samples: labels 0..K-1 (the auxiliary class K is non-iD, -1 unlabeled)."""
        return int(((self.labels >= 0) & (self.labels < num_classes)).sum())

    def with_labels(self, indices: np.ndarray, labels: np.ndarray, cost: float, round_: int,
                    answers: np.ndarray | None = None) -> "ActiveState":
        """A new state with `indices` labeled in `round_`; refuses to relabel a sample. A state that
        records answers needs the categories answered for `indices`, and only such a state takes them."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(np.unique(indices)) != len(indices):
            raise ValueError("with_labels: duplicate indices")
        if (self.acquired_round[indices] != UNLABELED).any():
            raise ValueError("with_labels: some indices are already labeled")
        if not (math.isfinite(cost) and cost >= 0):
            raise ValueError(f"with_labels: cost {cost} must be finite and >= 0")
        acquired, lab = self.acquired_round.copy(), self.labels.copy()
        acquired[indices] = round_
        lab[indices] = labels
        if (answers is None) != (self.answers is None):
            raise ValueError("with_labels: answers are given exactly when the state records them")
        ans = None
        if answers is not None:
            ans = self.answers.copy()
            ans[indices] = answers
        return ActiveState(acquired, lab, float(self.cost + cost), int(round_), self.pool_fingerprint, ans)

    def digest(self) -> str:
        """Short hash of the whole state: a candidates file records the digest of the state it ranked."""
        h = hashlib.sha256()
        for arr in (self.acquired_round, self.labels) + (() if self.answers is None else (self.answers,)):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(f"{self.cost!r}:{self.round}:{self.pool_fingerprint}".encode())
        return h.hexdigest()[:16]

    def save(self, path) -> Path:
        extra = {} if self.answers is None else {"answers": self.answers}
        return save_npz(path, acquired_round=self.acquired_round, labels=self.labels,
                        cost=np.float64(self.cost), round=np.int64(self.round),
                        pool_fingerprint=np.array(self.pool_fingerprint), **extra)

    @classmethod
    def load(cls, path, num_classes: int, pool_fingerprint: str | None = None) -> "ActiveState":
        """Read and validate a state: its own consistency, labels within 0..K (K = num_classes,
        the non-iD class) or -1, and - given the pool's fingerprint - that it indexes that pool."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: state file missing. Run the earlier rounds first (`dvc repro`), "
                            f"and check the `prev` entries of `rounds` in params.yaml "
                            f"(`python -m src.check`).")
        absent = [k for k in KEYS if k not in npz_keys(path)]
        if absent:
            raise DataError(f"{path}: not a state of this version (no {', '.join(absent)}). {RERUN}")
        has_answers = "answers" in npz_keys(path)
        d = load_npz(path, keys=KEYS + (("answers",) if has_answers else ()))
        for key in ("acquired_round", "labels"):
            if d[key].ndim != 1 or d[key].dtype.kind not in "iu":
                raise DataError(f"{path}: '{key}' must be a 1-D integer array, is {d[key].dtype} {d[key].shape}. "
                                f"{RERUN}")
        try:
            cost, round_, fingerprint = float(d["cost"]), int(d["round"]), str(d["pool_fingerprint"])
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: 'cost', 'round' and 'pool_fingerprint' must be single values ({exc}). "
                            f"{RERUN}") from None
        answers = None
        if has_answers:
            if d["answers"].shape != d["labels"].shape or d["answers"].dtype.kind not in "iu":
                raise DataError(f"{path}: 'answers' must be an integer array like 'labels', is {d['answers'].dtype} "
                                f"{d['answers'].shape}. {RERUN}")
            answers = d["answers"].astype(np.int8)
        state = cls(d["acquired_round"].astype(np.int32), d["labels"].astype(np.int16), cost, round_, fingerprint,
                    answers)
        state.validate(path, num_classes, len(d["labels"]), d["acquired_round"], d["labels"])
        if pool_fingerprint is not None and state.pool_fingerprint != pool_fingerprint:
            raise DataError(f"{path}: this state indexes another pool (fingerprint {state.pool_fingerprint}, "
                            f"the pool's is {pool_fingerprint}): the pool was rebuilt after it. Rerun from the "
                            f"init stage (`dvc repro`).")
        return state

    def validate(self, path, num_classes: int, n: int, raw_acquired=None, raw_labels=None) -> None:
        """Labels in -1..K, acquired_round in -1..round and set exactly where a label is, cost finite."""
        labels = self.labels if raw_labels is None else raw_labels
        acquired = self.acquired_round if raw_acquired is None else raw_acquired
        problems = []
        if len(acquired) != n:
            problems.append(f"acquired_round has {len(acquired)} rows but labels {n}")
        else:
            bad = np.flatnonzero((labels < UNLABELED) | (labels > num_classes))
            if len(bad):
                problems.append(f"label {int(labels[bad[0]])} at pool index {int(bad[0])} is outside -1..{num_classes} "
                                f"(K = active.num_classes = {num_classes} is the non-iD class; was K changed?)")
            bad = np.flatnonzero((acquired < UNLABELED) | (acquired > self.round))
            if len(bad):
                problems.append(f"acquired_round {int(acquired[bad[0]])} at pool index {int(bad[0])} is outside "
                                f"-1..{self.round} (the state's round)")
            bad = np.flatnonzero((acquired == UNLABELED) != (labels == UNLABELED))
            if len(bad):
                problems.append(f"pool index {int(bad[0])} has acquired_round {int(acquired[bad[0]])} but label "
                                f"{int(labels[bad[0]])} (a sample is labeled exactly when it was acquired)")
        if self.answers is not None and not problems:
            labeled = acquired != UNLABELED
            bad = np.flatnonzero((self.answers != UNLABELED) != labeled)
            if len(bad):
                problems.append(f"pool index {int(bad[0])} has an answer exactly when it is not labeled")
            else:
                bad = np.flatnonzero(labeled & ((self.answers == 0) != (labels < num_classes)))
                bad = bad if len(bad) else np.flatnonzero(labeled & ~np.isin(self.answers, (0, 1, 2)))
                if len(bad):
                    problems.append(f"pool index {int(bad[0])}: answer {int(self.answers[bad[0]])} does not fit label "
                                    f"{int(labels[bad[0]])} (answer 0 = iD exactly when the label is a class < K; "
                                    f"1 ambiguous, 2 OoD)")
        if not (math.isfinite(self.cost) and self.cost >= 0):
            problems.append(f"cost {self.cost} is not a finite number >= 0")
        if self.round < 0:
            problems.append(f"round {self.round} is negative")
        if problems:
            raise DataError(f"{path}: invalid state: {'; '.join(problems)}. {RERUN}")

    def check_pool_size(self, pool_size: int, path) -> None:
        """A state read from `path` must cover the pool it is used with."""
        if len(self.labels) != pool_size:
            raise DataError(f"{path}: state covers {len(self.labels)} samples but the pool has "
                            f"{pool_size}; the pool was rebuilt - rerun from the init stage.")
