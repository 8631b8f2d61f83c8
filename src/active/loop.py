"""The parts of a round that are not training: stage-0 acquisition, annotation, round metrics."""
from __future__ import annotations

import numpy as np

from src.active.oracle import SimulatedOracle, examine
from src.active.state import ActiveState
from src.active.strategies import Candidates
from src.config import ActiveConfig
from src.data.pool import CATEGORY_NAMES, ID
from src.errors import DataError


def reached_target(state: ActiveState, cfg: ActiveConfig) -> bool:
    """The paper's stopping rule: active learning ends at the first state with target_id labeled iD."""
    return state.labeled_id(cfg.num_classes) >= cfg.target_id


def round_index(round_name: str, rounds: dict) -> int:
    """Position of a round in the chain: r00 (stage 0) is 0, the first entry of `rounds` 1, ..."""
    names = list(rounds)
    return names.index(round_name) + 1 if round_name in names else 0


def finished_metrics(state: ActiveState, cfg: ActiveConfig) -> dict:
    """What a round after the stopping point records: nothing examined, nothing trained."""
    return {"round": state.round, "finished": True, "cost": state.cost,
            "labeled_id": state.labeled_id(cfg.num_classes), "target_id": cfg.target_id, "examined": 0}


def _check_labels(pool: dict, cfg: ActiveConfig) -> np.ndarray:
    id_rows = np.flatnonzero(pool["category"] == ID)
    if len(id_rows) and int(pool["label"][id_rows].max()) >= cfg.num_classes:
        raise DataError(f"pool iD labels go up to {int(pool['label'][id_rows].max())} but "
                        f"active.num_classes is {cfg.num_classes}; set it to the number of iD classes.")
    return id_rows


def initial_state(pool: dict, cfg: ActiveConfig, gen: np.random.Generator) -> tuple[ActiveState, dict]:
    """Stage 0 for the baselines (as the paper): `init_id` random iD samples, cost = init_id."""
    id_rows = _check_labels(pool, cfg)
    if len(id_rows) < cfg.init_id:
        raise DataError(f"pool has {len(id_rows)} iD samples, fewer than active.init_id={cfg.init_id}.")
    oracle = SimulatedOracle.from_pool(pool, cfg.costs, cfg.num_classes)
    chosen = np.sort(gen.choice(id_rows, cfg.init_id, replace=False))
    labels = oracle.annotate(chosen)
    state = ActiveState.empty(len(pool["category"])).with_labels(chosen, labels, oracle.cost(chosen), 0)
    return state, round_metrics(state, pool["category"], chosen, 0)


def initial_state_by_strategy(pool: dict, cfg: ActiveConfig, strategy, outputs: dict,
                              gen: np.random.Generator) -> tuple[ActiveState, dict]:
    """Stage 0 for the CL methods (as the paper): the strategy ranks the whole pool (nothing is
    labeled yet) and samples are examined, whole passes at a time, until `init_id` iD are found;
    every sample examined is charged. `strategy.quota` should be init_id."""
    _check_labels(pool, cfg)
    empty = ActiveState.empty(len(pool["category"]))
    candidates = strategy.rank(empty, outputs, gen)
    oracle = SimulatedOracle.from_pool(pool, cfg.costs, cfg.num_classes)
    examined, labels, cost = examine(candidates.batches(), oracle, cfg.init_id)
    state = empty.with_labels(examined, labels, cost, 0)
    metrics = round_metrics(state, pool["category"], examined, 0)
    metrics["id_found"] = int((labels != cfg.num_classes).sum())
    metrics["quota_met"] = metrics["id_found"] >= cfg.init_id
    return state, metrics


def annotate_round(state: ActiveState, candidates: Candidates, pool: dict, cfg: ActiveConfig,
                   round_index: int) -> tuple[ActiveState, dict]:
    """Examine candidates in order until `per_round_id` iD samples are found; label them all."""
    oracle = SimulatedOracle.from_pool(pool, cfg.costs, cfg.num_classes)
    examined, labels, cost = examine(candidates.batches(), oracle, cfg.per_round_id)
    new = state.with_labels(examined, labels, cost, round_index)
    metrics = round_metrics(new, pool["category"], examined, round_index)
    metrics["id_found"] = int((labels != cfg.num_classes).sum())
    metrics["quota_met"] = metrics["id_found"] >= cfg.per_round_id
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

