"""The parts of a round that are not training: stage-0 acquisition, annotation, round metrics."""
from __future__ import annotations

import math

import numpy as np

from src.active.annotations import ranking_stage
from src.active.oracle import SimulatedOracle, charge, examine
from src.active.state import RERUN, ActiveState
from src.active.strategies import Candidates
from src.core import paths
from src.core.config import INITIAL_STATE, ActiveConfig
from src.core.errors import DataError, UserError
from src.core.io import load_npz, save_npz
from src.data.pool import CATEGORY_NAMES, ID, UNKNOWN, check_num_classes


def reached_target(state: ActiveState, cfg: ActiveConfig) -> bool:
    """The paper's stopping rule: active learning ends at the first state with target_id labeled iD."""
    return state.labeled_id(cfg.num_classes) >= cfg.target_id


def round_index(round_name: str, rounds: dict) -> int:
    """Position of a round in the chain: r00 (stage 0) is 0, the first entry of `rounds` 1, ..."""
    names = list(rounds)
    return names.index(round_name) + 1 if round_name in names else 0


def check_round_args(stage: str, round_name: str, prev: str | None, rounds: dict, params_path: str) -> None:
    """`--round`/`--prev` must be a pair of the params' round table (finetune also takes r00, stage 0,
    with no --prev), so a stage never reads or writes a round other than the one it is run for."""
    if stage in ("finetune", "annotate") and round_name == INITIAL_STATE:
        expected = None
    elif round_name in rounds:
        expected = rounds[round_name]["prev"]
    else:
        valid = ", ".join(list(rounds)[:3]) + (", ..." if len(rounds) > 3 else "")
        first = f"{INITIAL_STATE} (without --prev) or " if stage in ("finetune", "annotate") else ""
        raise UserError(f"{stage} --round {round_name}: not a round of {params_path} (rounds: {valid}); "
                        f"use {first}a round listed under `rounds`.")
    if prev != expected:
        given = "without --prev" if prev is None else f"--prev {prev}"
        fix = "without --prev" if expected is None else f"with --prev {expected}"
        says = "is stage 0 (it starts from nothing labeled)" if expected is None else \
            f"continues from {expected}"
        raise UserError(f"{stage} --round {round_name} {given}: {params_path} says {round_name} {says}; run it "
                        f"{fix} (as dvc.yaml does).")


def load_state(round_name: str, p, pool_fingerprint: str | None = None) -> ActiveState:
    """State `round_name` validated (ActiveState.load), and its `round` field the round's position in
    the chain - or earlier, for a round after the stopping point (the state is then its prev's)."""
    path = paths.state(round_name)
    state = ActiveState.load(path, p.active.num_classes, pool_fingerprint)
    expected = round_index(round_name, p.rounds)
    if not (state.round == expected or (state.round < expected and reached_target(state, p.active))):
        raise DataError(f"{path}: the state says round {state.round} but {round_name} is round {expected} of the "
                        f"chain (and the stopping point was not reached before it): the file belongs to another "
                        f"round or an older round table. {RERUN}")
    return state


def check_successor(prev_state: ActiveState, state: ActiveState, prev: str, round_name: str, cfg: ActiveConfig) -> None:
    """State `round_name` continues state `prev`: every label of prev kept, cost not lower, round + 1 -
    or, after the stopping point, the same state."""
    where = paths.state(round_name)
    kept = prev_state.labeled
    problems = []
    if len(state.labels) != len(prev_state.labels):
        problems.append(f"it covers {len(state.labels)} samples, {prev} {len(prev_state.labels)}")
    elif not (np.array_equal(state.labels[kept], prev_state.labels[kept])
              and np.array_equal(state.acquired_round[kept], prev_state.acquired_round[kept])):
        problems.append(f"it does not keep the labels of {prev}")
    if state.cost < prev_state.cost:
        problems.append(f"its cost {state.cost:g} is below {prev}'s {prev_state.cost:g}")
    if problems:
        raise DataError(f"{where}: not a continuation of {paths.state(prev)}: {'; '.join(problems)}. {RERUN}")
    same = state.digest() == prev_state.digest()
    if not (state.round == prev_state.round + 1 or (same and reached_target(prev_state, cfg))):
        raise DataError(f"{where}: round {state.round} does not follow {prev}'s round {prev_state.round}. {RERUN}")


def check_cost(prev_state: ActiveState | None, state: ActiveState, category: np.ndarray, cfg: ActiveConfig,
               path) -> None:
    """A state's cost is its predecessor's (0 for stage 0) plus the charge of the samples it newly
    labeled, by their categories: the pool's with the simulated oracle, the person's answers with the
    file oracle. The annotate stages write it so; a state whose cost was edited is refused here,
    before it reaches a model, the metrics or Table 2."""
    if prev_state is None:
        before, new = 0.0, state.labeled
    else:
        before = prev_state.cost
        new = np.flatnonzero((state.acquired_round != -1) & (prev_state.acquired_round == -1))
    answered = state.answers if state.answers is not None else category
    expected = before + charge(answered[new], cfg.costs)
    if not math.isclose(state.cost, expected, rel_tol=1e-9, abs_tol=1e-9):
        what = "stage 0" if prev_state is None else "the state it continues"
        raise DataError(f"{path}: cost {state.cost:g}, but {what} ({before:g}) plus the {len(new)} samples it newly "
                        f"labeled, charged by active.costs, make {expected:g}: the state was edited, or written with "
                        f"other costs. {RERUN}")


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


def check_labels_source(state: ActiveState, pool: dict, p, path) -> None:
    """A state fits the oracle params name: the simulated oracle's states hold the pool's answers;
    the file oracle's record the person's (`answers`), which nothing can check against the pool."""
    if p.oracle == "file":
        if state.answers is None and len(state.labeled):
            raise DataError(f"{path}: made by the simulated oracle, but params say oracle: file. {RERUN}")
        return
    if state.answers is not None:
        raise DataError(f"{path}: holds a person's answers (the file oracle), but params say oracle: simulated. "
                        f"{RERUN}")
    if (pool["category"] == UNKNOWN).any():
        raise DataError(f"{paths.POOL_NPZ}: the pool's categories are unknown (benchmark folder), so the simulated "
                        f"oracle cannot answer: set oracle: file in params.yaml.")
    check_oracle_labels(state, pool, p.active.num_classes, path)


def finished_metrics(state: ActiveState, cfg: ActiveConfig) -> dict:
    """What a round after the stopping point records: nothing examined, nothing trained."""
    return {"round": state.round, "finished": True, "cost": state.cost,
            "labeled_id": state.labeled_id(cfg.num_classes), "target_id": cfg.target_id, "examined": 0}


def _check_labels(pool: dict, cfg: ActiveConfig) -> np.ndarray:
    check_num_classes(pool, cfg.num_classes, paths.POOL_NPZ)
    return np.flatnonzero(pool["category"] == ID)


def stage0_state(pool: dict, p) -> ActiveState:
    """The empty state stage 0 starts from; with the file oracle it records answers (init ranks
    from it and annotate_r00 checks the candidates' digest against it: both must build the same)."""
    return ActiveState.empty(len(pool["category"]), pool["fingerprint"], answers=p.oracle == "file")


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


def stage0_candidates(pool: dict, cfg: ActiveConfig, gen: np.random.Generator, oracle: str = "simulated",
                      strategy=None, outputs: dict | None = None) -> Candidates:
    """Stage 0's examination order (annotated like a round, with quota init_id).

    With a strategy (the CL methods, `cluster.stage0: strategy`, as the paper): its ranking of the
    whole pool on the pretrained features. Otherwise, with the simulated oracle, `init_id` random
    iD samples in one pass (the paper's baselines: cost init_id); the file oracle cannot pick iD
    samples it has not seen answered, so it shows the whole pool in random order, one by one."""
    n = len(pool["category"])
    if strategy is not None:
        return strategy.rank(ActiveState.empty(n, pool.get("fingerprint", "")), outputs, gen)
    if oracle == "file":
        return Candidates.one_by_one(gen.permutation(n))
    id_rows = _check_labels(pool, cfg)
    if len(id_rows) < cfg.init_id:
        raise DataError(f"pool has {len(id_rows)} iD samples, fewer than active.init_id={cfg.init_id}.")
    chosen = np.sort(gen.choice(id_rows, cfg.init_id, replace=False))
    return Candidates(chosen, np.zeros(len(chosen), np.int64))


def initial_state(pool: dict, cfg: ActiveConfig, gen: np.random.Generator) -> tuple[ActiveState, dict]:
    """Stage 0 for the baselines with the simulated oracle: `init_id` random iD samples, cost init_id."""
    empty = ActiveState.empty(len(pool["category"]), pool.get("fingerprint", ""))
    return annotate_round(empty, stage0_candidates(pool, cfg, gen), pool, cfg, 0, cfg.init_id)


def initial_state_by_strategy(pool: dict, cfg: ActiveConfig, strategy, outputs: dict,
                              gen: np.random.Generator) -> tuple[ActiveState, dict]:
    """Stage 0 for the CL methods (as the paper): the strategy ranks the whole pool (nothing is
    labeled yet) and samples are examined, whole passes at a time, until `init_id` iD are found;
    every sample examined is charged. `strategy.quota` should be init_id."""
    _check_labels(pool, cfg)
    empty = ActiveState.empty(len(pool["category"]), pool.get("fingerprint", ""))
    cands = stage0_candidates(pool, cfg, gen, strategy=strategy, outputs=outputs)
    return annotate_round(empty, cands, pool, cfg, 0, cfg.init_id)


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
    answered (`answers`: pool index -> annotations.Answer), each charged by its answered category.
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

