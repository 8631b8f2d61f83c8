"""A round's candidates: the strategy's examination order of the unlabeled pool (acquire's work,
`rank_round`), saved with the round it is for and the digest of the state it ranked, and loaded
only for that round and that very state (`load_candidates`). Stage 0's order: src/active/stage0.py.
"""
from __future__ import annotations

import time

import numpy as np

from src.active.annotations import ranking_stage
from src.active.state import ActiveState
from src.active.stopping import finished, finished_ranking
from src.active.strategies import Candidates, Strategy
from src.core import paths
from src.core.errors import DataError, UserError
from src.core.io import load_npz, save_npz
from src.core.log import log
from src.core.seeding import rng


def rank_round(round_name: str, prev: str, state: ActiveState, strategy: Strategy,
               p) -> tuple[Candidates, np.ndarray | None, dict]:
    """acquire@rNN: the strategy ranks the unlabeled pool of state prev (`state`) with model prev's
    pool outputs -> (candidates, the outputs' class probabilities - the queries' guesses - or None,
    metrics). After the stopping point nothing is ranked (stopping.py)."""
    if finished(state, p.active):
        return finished_ranking(round_name, prev, state, p.active, strategy.name)
    outputs = load_npz(paths.outputs(prev))
    check_outputs(outputs, state, strategy.needs, prev, p)
    t1 = time.perf_counter()
    cands = strategy.rank(state, outputs, rng(p.seed, f"{round_name}-acquire"))
    t2 = time.perf_counter()
    if len(cands.order) == 0 and len(state.unlabeled):
        raise DataError(f"{paths.outputs(prev)}: strategy '{p.strategy}' ranked none of the {len(state.unlabeled)} "
                        f"unlabeled samples with these outputs, so round {round_name} could examine nothing. The "
                        f"outputs cannot rank (degenerate model outputs?): delete the file and rerun `dvc repro` "
                        f"(finetune@{prev} writes it); if it comes back so, report it.")
    seconds = dict(strategy.seconds)
    seconds["select"] = round(t2 - t1 - seconds.get("kmeans", 0.0), 2)
    log(f"{round_name}: {strategy.name} ranked {len(cands.order)} candidates; seconds {seconds}")
    return cands, outputs.get("probs"), {"strategy": strategy.name, "candidates": int(len(cands.order)),
                                         "batches": int(cands.batch[-1] + 1) if len(cands.batch) else 0,
                                         "seconds": seconds, **strategy.info}


def check_outputs(outputs: dict, state, needs: set, name: str, p) -> None:
    """Model outputs of round prev must come from a model of this strategy family, this pool and this K."""
    path = paths.outputs(name)
    missing = sorted(needs - set(outputs))
    if missing:
        raise UserError(f"strategy '{p.strategy}' needs model outputs {missing}, but {path} holds only "
                        f"{sorted(outputs)}: it was written for another strategy. Rerun the rounds with "
                        f"`dvc repro` (the finetune stages depend on `strategy`).")
    if str(outputs.get("pool_fingerprint", "")) != state.pool_fingerprint:
        raise DataError(f"{path}: these outputs were computed on another pool than state {name}'s. Rerun `dvc repro`.")
    if str(outputs.get("state_digest", "")) != state.digest():
        raise DataError(f"{path}: these outputs come from a model trained on another version of state {name} (it "
                        f"changed since). Rerun `dvc repro` (finetune@{name} writes them).")
    for key in needs:
        arr = outputs[key]
        if arr.dtype.kind not in "fiu" or arr.ndim != 2 or len(arr) != len(state.labels) or arr.shape[1] == 0:
            raise DataError(f"{path}: '{key}' must be a numeric (pool rows, columns) array for the "
                            f"{len(state.labels)} pool rows, is {arr.dtype} {arr.shape}. Rerun `dvc repro`.")
        bad = np.flatnonzero(~np.isfinite(arr).all(1))
        if len(bad):
            raise DataError(f"{path}: '{key}' holds NaN or infinite values ({len(bad)} rows, e.g. pool index "
                            f"{int(bad[0])}): the model diverged or the file was edited. Delete it and rerun "
                            f"`dvc repro` (finetune@{name} writes it); if it comes back, lower the learning rate.")
        if len(arr) > 1 and not np.ptp(arr, axis=0).any():
            raise DataError(f"{path}: '{key}' is the same for every pool row, so no order can be drawn from it (a "
                            f"collapsed model, or an edited file). Delete it and rerun `dvc repro` (finetune@{name} "
                            f"writes it); if it comes back, the training collapsed: check the learning rate.")
    k = p.active.num_classes
    for key, what in (("probs", "probabilities"), ("logits", "logits")):
        if key in needs and outputs[key].shape[1] != k + 1:
            raise DataError(f"{path}: {what} over {outputs[key].shape[1]} classes, but active.num_classes = {k} "
                            f"needs {k + 1} (K + the non-iD class). Rerun `dvc repro` (finetune depends on it).")


def save_candidates(round_name: str, prev: str, prev_state: ActiveState, candidates: Candidates) -> None:
    """Candidates of a round, with the round they are for and the digest of the state they ranked."""
    save_npz(paths.candidates(round_name), order=candidates.order, batch=candidates.batch,
             round=np.array(round_name), prev=np.array(prev), state_digest=np.array(prev_state.digest()))


def load_candidates(round_name: str, prev: str, prev_state: ActiveState) -> Candidates:
    """Candidates of `round_name`, refused unless they were ranked for this round from this very state."""
    path = paths.candidates(round_name)
    maker = ranking_stage(round_name)
    c = load_npz(path, keys=("order", "batch", "round", "prev", "state_digest"))
    made_for = (str(c["round"]), str(c["prev"]))
    if made_for != (round_name, prev):
        raise DataError(f"{path}: these candidates were ranked for round {made_for[0]} (from {made_for[1]}), not "
                        f"{round_name} (from {prev}). Rerun `dvc repro` ({maker} writes them).")
    if str(c["state_digest"]) != prev_state.digest():
        raise DataError(f"{path}: these candidates were ranked from another version of state {prev} (it changed "
                        f"since). Rerun `dvc repro` ({maker} writes them).")
    order, batch = c["order"], c["batch"]
    n = len(prev_state.labels)
    problems = []
    if order.ndim != 1 or batch.shape != order.shape or order.dtype.kind not in "iu" or batch.dtype.kind not in "iu":
        problems.append(f"order {order.dtype} {order.shape} and batch {batch.dtype} {batch.shape} must be equal-length "
                        f"integer arrays")
    elif len(order):
        if order.min() < 0 or order.max() >= n:
            problems.append(f"pool indices must be in 0..{n - 1}, found {int(order.min())}..{int(order.max())}")
        elif len(np.unique(order)) != len(order):
            problems.append("a pool index is listed twice")
        elif (prev_state.acquired_round[order] != -1).any():
            problems.append(f"some candidates are already labeled in {prev}")
        if (np.diff(batch) < 0).any() or batch[0] < 0:
            problems.append("batch numbers must start at >= 0 and never decrease")
    if problems:
        raise DataError(f"{path}: invalid candidates: {'; '.join(problems)}. Rerun `dvc repro`.")
    return Candidates(order, batch)
