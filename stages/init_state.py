"""Stage init: stage 0's examination order -> runs/candidates/r00.npz and the queries a person would
answer (annotations/r00/); annotate_r00 then annotates it (quota active.init_id) into state r00.

Baselines (and `cluster.stage0: random`): with the simulated oracle, init_id random iD samples in
one pass (cost init_id, as the paper); with the file oracle, which cannot see categories, the
whole pool in random order. Strategies whose learner is pretrained (the CL methods) with
`cluster.stage0: strategy` (the paper): the strategy ranks the pool on the pretrained features
and every sample examined until init_id iD are found is charged.
"""
import numpy as np

from src.active.annotations import publish_queries, queries_csv, sheets_dir
from src.active.loop import save_candidates, stage0_candidates, stage0_state
from src.active.strategies import from_params, reads_representation
from src.core import config, paths
from src.core.config import INITIAL_STATE
from src.core.io import stage_outputs
from src.core.log import log
from src.core.seeding import rng
from src.data.pool import load_pool


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    pool = load_pool(paths.POOL_NPZ, ("category", "label", "images"), p.active.num_classes, files=True)
    gen = rng(p.seed, "init")
    if reads_representation(p.strategy) and p.cluster.stage0 == "strategy":
        from src.active.learners import learner_for  # torch: only here, where a network runs
        from src.core import precision

        precision.use(p.precision)  # the pretrained features: src/core/precision.py

        strategy = from_params(p, quota=p.active.init_id)
        outputs = learner_for(p).stage0_outputs(pool["images"])
        cands = stage0_candidates(pool, p.active, gen, p.oracle, strategy, outputs)
    else:
        cands = stage0_candidates(pool, p.active, gen, p.oracle)
    empty = stage0_state(pool, p)
    with stage_outputs(paths.candidates(INITIAL_STATE), queries_csv(INITIAL_STATE), sheets_dir(INITIAL_STATE)):
        save_candidates(INITIAL_STATE, "", empty, cands)
        queries = publish_queries(INITIAL_STATE, cands, pool, None, config.class_names(p), p.annotation)
    log(f"stage 0 ({p.strategy}): {len(cands.order)} candidates in {int(np.unique(cands.batch).size)} passes; "
        f"{len(queries.order)} listed in {queries_csv(INITIAL_STATE)} ({sheets_dir(INITIAL_STATE)})")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
