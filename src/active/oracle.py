"""Who answers a round (params `oracle`), behind one interface: the annotate stage asks
`oracle_for(p, pool)` and never branches on the oracle.

- simulated: the pool's ground truth answers (`SimulatedOracle`: the class for iD samples, K - the
  auxiliary non-iD class, `active.num_classes` - for ambiguous and OoD ones);
- file: a person answers in annotations/rNN/labels.csv or labels.json (src/active/labels.py), the
  round's queries as its ranking stage listed them (src/active/annotations.py).

Either examines the candidates pass by pass until the round's iD quota and charges every sample
examined, by category (`active.costs`; the pool's categories, or as the person answered; the paper
charges 1 for every sample). After the stopping point a round examines nothing (stopping.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from src.active.annotations import all_queries, labels_file
from src.active.labels import examined_by_answers, read_labels
from src.active.state import RERUN, ActiveState
from src.active.stopping import finished, finished_annotation
from src.active.strategies import Candidates
from src.core import paths
from src.core.config import INITIAL_STATE, ActiveConfig, class_names
from src.core.errors import DataError
from src.core.log import log
from src.data.pool import AMBIGUOUS, CATEGORY_NAMES, ID, OOD, UNKNOWN

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


def check_oracle_labels(state: ActiveState, pool: dict, num_classes: int, path) -> None:
    """With the simulated oracle every label of a state is the pool's answer (the class for iD, K for
    the rest): a state whose labels differ was edited or made for another pool."""
    idx = state.labeled
    expected = SimulatedOracle.from_pool(pool, {}, num_classes).annotate(idx)
    bad = np.flatnonzero(state.labels[idx] != expected)
    if len(bad):
        i = int(idx[bad[0]])
        raise DataError(f"{path}: {len(bad)} label(s) differ from the simulated oracle's answers, e.g. pool index "
                        f"{i} has label {int(state.labels[i])} but the oracle says {int(expected[bad[0]])}: the "
                        f"state was edited. {RERUN}")


# ---------------------------------------------------------------- a round's oracle
class RoundOracle:
    """A round's annotator as the annotate stage sees it: whether its states record the answered
    categories, the check that a state is its own, and the round's annotation (`annotate`)."""

    records_answers = False  # its states record the category answered for each label
    knows_categories = True  # it can answer from the pool's categories (stage 0 may then draw iD samples)

    def __init__(self, pool: dict, p):
        self.pool, self.p = pool, p

    def check_state(self, state: ActiveState, where) -> None:
        raise NotImplementedError

    def answer(self, round_name: str, state: ActiveState, candidates: Candidates, quota: int,
               index: int) -> tuple[ActiveState, dict]:
        raise NotImplementedError

    def annotate(self, round_name: str, state: ActiveState, candidates: Candidates, quota: int,
                 index: int) -> tuple[ActiveState, dict]:
        """Round `round_name` (position `index` in the chain) from `state`, its prev (nothing labeled
        for stage 0): after the stopping point nothing is examined (stopping.py); else the candidates
        are examined until `quota` iD -> (state rNN, metrics)."""
        if round_name != INITIAL_STATE and finished(state, self.p.active):
            return finished_annotation(round_name, state, self.p.active)
        t0 = time.perf_counter()
        new, metrics = self.answer(round_name, state, candidates, quota, index)
        metrics["seconds"] = round(time.perf_counter() - t0, 3)
        if not metrics["quota_met"]:
            log(f"WARNING {round_name}: candidates ran out after {metrics['id_found']} iD samples")
        log(f"{round_name}: examined {metrics['examined']} ({metrics['examined_id']} iD), "
            f"cumulative cost {new.cost:g}, labeled iD {metrics['labeled_id']}")
        return new, metrics


class SimulatedRoundOracle(RoundOracle):
    """oracle: simulated - the pool's ground truth."""

    def check_state(self, state: ActiveState, where) -> None:
        if state.answers is not None:
            raise DataError(f"{where}: holds a person's answers (the file oracle), but params say oracle: simulated. "
                            f"{RERUN}")
        if (self.pool["category"] == UNKNOWN).any():
            raise DataError(f"{paths.POOL_NPZ}: the pool's categories are unknown (benchmark folder), so the "
                            f"simulated oracle cannot answer: set oracle: file in params.yaml.")
        check_oracle_labels(state, self.pool, self.p.active.num_classes, where)

    def answer(self, round_name, state, candidates, quota, index):
        return annotate_round(state, candidates, self.pool, self.p.active, index, quota)


class FileOracle(RoundOracle):
    """oracle: file - a person's labels file, over the queries the round's ranking stage listed."""

    records_answers = True
    knows_categories = False

    def check_state(self, state: ActiveState, where) -> None:
        """A person's answers cannot be checked against the pool: only that the state records them."""
        if state.answers is None and len(state.labeled):
            raise DataError(f"{where}: made by the simulated oracle, but params say oracle: file. {RERUN}")

    def answer(self, round_name, state, candidates, quota, index):
        cfg, names = self.p.annotation, class_names(self.p)
        queries = all_queries(candidates, cfg.max_queries, cfg.sheet_size)
        answers = read_labels(round_name, queries, state.acquired_round, names)
        examined, _, extra = examined_by_answers(round_name, queries, answers, quota, names)
        new, metrics = annotate_from_answers(state, examined, answers, self.p.active, index, quota)
        metrics["beyond_quota"] = extra
        metrics["labels_file"] = str(labels_file(round_name))
        return new, metrics


ROUND_ORACLES = {"simulated": SimulatedRoundOracle, "file": FileOracle}


def oracle_for(p, pool: dict) -> RoundOracle:
    """The oracle params name; `pool` holds category and label (the simulated oracle's answers)."""
    return ROUND_ORACLES[p.oracle](pool, p)


def stage0_state(pool: dict, p) -> ActiveState:
    """The empty state stage 0 starts from; with the file oracle it records answers (init ranks
    from it and annotate_r00 checks the candidates' digest against it: both must build the same)."""
    return ActiveState.empty(len(pool["category"]), pool["fingerprint"],
                             answers=ROUND_ORACLES[p.oracle].records_answers)


# ---------------------------------------------------------------- the round's labels and metrics
def annotate_round(state: ActiveState, candidates: Candidates, pool: dict, cfg: ActiveConfig,
                   round_index: int, quota: int | None = None) -> tuple[ActiveState, dict]:
    """The simulated oracle examines candidates in order until `quota` (default: per_round_id) iD
    samples are found; label them all."""
    quota = cfg.per_round_id if quota is None else quota
    oracle = SimulatedOracle.from_pool(pool, cfg.costs, cfg.num_classes)
    examined, labels, cost = examine(candidates.batches(), oracle, quota)
    new = state.with_labels(examined, labels, cost, round_index)
    return new, _with_quota(round_metrics(new, pool["category"], examined, round_index), labels, cfg, quota)


def _with_quota(metrics: dict, labels: np.ndarray, cfg: ActiveConfig, quota: int) -> dict:
    """A round's metrics plus the iD it found and whether that met its quota (either oracle)."""
    metrics["id_found"] = int((labels != cfg.num_classes).sum())
    metrics["quota_met"] = metrics["id_found"] >= quota
    return metrics


def annotate_from_answers(state: ActiveState, examined: np.ndarray, answers: dict, cfg: ActiveConfig,
                          round_index: int, quota: int) -> tuple[ActiveState, dict]:
    """The file oracle's round: `examined` (pool indices in query order) labeled as the person
    answered (`answers`: pool index -> labels.Answer), each charged by its answered category.
    The round's category counts are the answers (the pool's own categories may be unknown)."""
    labels = np.asarray([answers[int(i)].label for i in examined], np.int16)
    categories = np.asarray([answers[int(i)].category for i in examined], np.int8)
    new = state.with_labels(examined, labels, charge(categories, cfg.costs), round_index, categories)
    metrics = _with_quota(round_metrics(new, new.answers, examined, round_index), labels, cfg, quota)
    metrics["categories"] = "answered"
    return new, metrics


def round_metrics(state: ActiveState, category: np.ndarray, examined: np.ndarray, round_index: int) -> dict:
    """Labeled counts per category, cumulative cost, and the iD precision of this round's queries."""
    lab_cat = category[state.labeled]
    ex_cat = category[examined]
    out = {"round": round_index, "cost": state.cost, "examined": int(len(examined))}
    for c, name in CATEGORY_NAMES.items():
        out[f"labeled_{name}"] = int((lab_cat == c).sum())
        out[f"examined_{name}"] = int((ex_cat == c).sum())
    out["id_precision"] = out["examined_id"] / len(examined) if len(examined) else None
    return out

