"""Stage init: stage 0's examination order -> runs/candidates/r00.npz and the queries a person would
answer (annotations/r00/); annotate_r00 then annotates it (quota active.init_id) into state r00.

Baselines (and `cluster.stage0: random`): with the simulated oracle, init_id random iD samples in
one pass (cost init_id, as the paper); with the file oracle, which cannot see categories, the
whole pool in random order. Strategies whose learner is pretrained (the CL methods) with
`cluster.stage0: strategy` (the paper): the strategy ranks the pool on the pretrained features
and every sample examined until init_id iD are found is charged (src/active/stage0.py).
"""
import numpy as np

from src.active.annotations import publish_queries, queries_csv, sheets_dir
from src.active.candidates import save_candidates
from src.active.oracle import stage0_state
from src.active.stage0 import stage0_order
from src.core import config, paths
from src.core.config import INITIAL_STATE
from src.core.io import stage_outputs
from src.core.log import log
from src.data.pool import load_pool


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    pool = load_pool(paths.POOL_NPZ, ("category", "label", "images"), p.active.num_classes, files=True)
    cands = stage0_order(pool, p)
    empty = stage0_state(pool, p)
    with stage_outputs(paths.candidates(INITIAL_STATE), queries_csv(INITIAL_STATE), sheets_dir(INITIAL_STATE)):
        save_candidates(INITIAL_STATE, "", empty, cands)
        queries = publish_queries(INITIAL_STATE, cands, pool, None, config.class_names(p), p.annotation)
    log(f"stage 0 ({p.strategy}): {len(cands.order)} candidates in {int(np.unique(cands.batch).size)} passes, listed "
        f"in {queries_csv(INITIAL_STATE)}; the first {queries.drawn} on the sheets in {sheets_dir(INITIAL_STATE)}")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
