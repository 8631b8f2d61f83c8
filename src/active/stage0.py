"""Stage 0: its examination order (stage init), annotated like a round with quota
`active.init_id` (annotate_r00); and, for tests and benches, stage 0 annotated by the simulated
oracle in one call (`initial_state`, `initial_state_by_strategy`).
"""
from __future__ import annotations

import numpy as np

from src.active.oracle import ROUND_ORACLES, annotate_round
from src.active.state import ActiveState
from src.active.strategies import Candidates, from_params, reads_representation
from src.core import paths, precision
from src.core.config import ActiveConfig
from src.core.errors import DataError
from src.core.seeding import rng
from src.data.pool import ID, check_num_classes


def stage0_order(pool: dict, p) -> Candidates:
    """init's candidates: the strategy's ranking on the pretrained features for the CL methods with
    `cluster.stage0: strategy` (the paper), else random (see stage0_candidates)."""
    gen = rng(p.seed, "init")
    if reads_representation(p.strategy) and p.cluster.stage0 == "strategy":
        from src.active.learners import learner_for  # torch: only here, where a network runs

        precision.use(p.precision)  # the pretrained features: src/core/precision.py
        strategy = from_params(p, quota=p.active.init_id)
        outputs = learner_for(p).stage0_outputs(pool["images"])
        return stage0_candidates(pool, p.active, gen, p.oracle, strategy, outputs)
    return stage0_candidates(pool, p.active, gen, p.oracle)


def _check_labels(pool: dict, cfg: ActiveConfig) -> np.ndarray:
    check_num_classes(pool, cfg.num_classes, paths.POOL_NPZ)
    return np.flatnonzero(pool["category"] == ID)


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
    if not ROUND_ORACLES[oracle].knows_categories:
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
