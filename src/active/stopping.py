"""The stopping rule (the paper's): active learning ends at the first state with `active.target_id`
labeled iD. Every later round of the chain is finished, and its three stages do nothing but say so:

- acquire ranks nothing: its candidates file and queries.csv are empty;
- annotate examines and charges nothing: state rNN is state prev as is;
- finetune trains nothing: model rNN is model prev, and its pool outputs are a `finished` marker.

Each records the finished metrics (`finished`, the stopping state's cost and labeled iD, the target).
A round is finished when the state it continues (state prev) has reached the target: `finished`.
The rule and what a finished round returns or writes are here; the round steps call them first
(candidates.rank_round, oracle.RoundOracle.annotate, finetuning.train_round).
"""
from __future__ import annotations

import numpy as np

from src.active.state import ActiveState
from src.active.strategies import Candidates
from src.core import live, paths, ranks
from src.core.config import ActiveConfig
from src.core.io import copy_file, save_json, save_npz
from src.core.log import log


def reached_target(state: ActiveState, cfg: ActiveConfig) -> bool:
    """The paper's stopping rule: active learning ends at the first state with target_id labeled iD."""
    return state.labeled_id(cfg.num_classes) >= cfg.target_id


def finished(prev_state: ActiveState, cfg: ActiveConfig, state: ActiveState | None = None) -> bool:
    """Whether a round that continues `prev_state` comes after the stopping point; given the round's
    own state (finetune), also that it is prev's unchanged, as annotate writes it then."""
    return reached_target(prev_state, cfg) and (state is None or state.digest() == prev_state.digest())


def finished_metrics(state: ActiveState, cfg: ActiveConfig) -> dict:
    """What a round after the stopping point records: nothing examined, nothing trained."""
    return {"round": state.round, "finished": True, "cost": state.cost,
            "labeled_id": state.labeled_id(cfg.num_classes), "target_id": cfg.target_id, "examined": 0}


def finished_ranking(round_name: str, prev: str, state: ActiveState, cfg: ActiveConfig,
                     strategy: str) -> tuple[Candidates, None, dict]:
    """acquire@rNN after the stopping point: no candidates, no model guesses, the metrics."""
    empty = np.zeros(0, np.int64)
    log(f"{round_name}: finished - state {prev} already has {state.labeled_id(cfg.num_classes)} labeled iD "
        f"(active.target_id = {cfg.target_id}); nothing to rank")
    return Candidates(empty, empty), None, {"strategy": strategy, **finished_metrics(state, cfg), "candidates": 0,
                                            "batches": 0, "seconds": {}}


def finished_annotation(round_name: str, state: ActiveState, cfg: ActiveConfig) -> tuple[ActiveState, dict]:
    """annotate@rNN after the stopping point: state prev as state rNN, the metrics."""
    log(f"{round_name}: finished - nothing examined (target of {cfg.target_id} labeled iD reached)")
    return state, finished_metrics(state, cfg)


def finish_training(round_name: str, prev: str, state: ActiveState, cfg: ActiveConfig) -> None:
    """finetune@rNN after the stopping point writes (rank 0, under torchrun): model prev as model rNN,
    pool outputs that say `finished` (and which state they continue), the metrics, an empty live folder."""
    if not ranks.is_main():
        return  # torchrun: nothing to train; rank 0 writes
    copy_file(paths.model(prev), paths.model(round_name))  # the model stays prev's
    save_npz(paths.outputs(round_name), finished=np.bool_(True), reached_in_round=np.int64(state.round),
             pool_fingerprint=np.array(state.pool_fingerprint), state_digest=np.array(state.digest()))
    save_json(paths.round_metrics(round_name, "finetune"), finished_metrics(state, cfg))
    live.empty(f"rounds/{round_name}")  # nothing trained
    log(f"{round_name}: finished - the state is {prev}'s (target reached in round {state.round}); nothing trained")
