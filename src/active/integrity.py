"""The chain of states a round stage reads, checked before anything is used: the stage's round
arguments, each state's file and its place in the chain (`load_state`), the state a round's
annotation starts from (`state_before`), a state that continues its predecessor (`check_successor`)
at the cost its new labels cost (`check_cost`). A state that does not fit is refused with the file
named and the fix (usually: rerun the rounds with `dvc repro`), never used.
"""
from __future__ import annotations

import math

import numpy as np

from src.active.oracle import RoundOracle, charge, stage0_state
from src.active.state import RERUN, ActiveState
from src.active.stopping import reached_target
from src.core import paths
from src.core.config import INITIAL_STATE, ActiveConfig
from src.core.errors import DataError, UserError


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


def state_before(round_name: str, prev: str | None, p, pool: dict, oracle: RoundOracle) -> tuple[ActiveState, int]:
    """The state a round's annotation starts from and the round's iD quota: for stage 0 nothing
    labeled and active.init_id, else state prev and active.per_round_id; checked against the pool
    and the oracle (a state is the oracle's own: oracle.check_state)."""
    if round_name == INITIAL_STATE:
        state, quota, where = stage0_state(pool, p), p.active.init_id, "nothing labeled"
    else:
        state = load_state(prev, p, pool["fingerprint"])
        state.check_pool_size(len(pool["category"]), paths.state(prev))
        quota, where = p.active.per_round_id, paths.state(prev)
    oracle.check_state(state, where)
    return state, quota


def load_prev_state(prev: str | None, round_name: str, state: ActiveState, p) -> ActiveState | None:
    """State prev of a round whose state rNN is `state`, checked: rNN continues it. None for stage 0."""
    if prev is None:
        return None
    prev_state = load_state(prev, p, state.pool_fingerprint)
    check_successor(prev_state, state, prev, round_name, p.active)
    return prev_state


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
