"""Stage init: stage-0 acquisition -> runs/state/r00.npz.

Baselines (and `cluster.stage0: random`): init_id random iD samples at cost init_id. Strategies
whose learner is pretrained (the CL methods) with `cluster.stage0: strategy` (the paper): the
strategy ranks the pool on the pretrained features and every sample examined until init_id iD
are found is charged.
"""
from src.active.learners import learner_for
from src.active.loop import initial_state, initial_state_by_strategy
from src.active.strategies import from_params
from src.core import config, paths
from src.core.config import INITIAL_STATE
from src.core.io import save_json, stage_outputs
from src.core.log import log
from src.core.seeding import rng
from src.data.pool import load_pool


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    learner = learner_for(p)
    if learner.pretrained and p.cluster.stage0 == "strategy":
        pool = load_pool(paths.POOL_NPZ, ("category", "label", "images"), p.active.num_classes)
        strategy = from_params(p, quota=p.active.init_id)
        state, metrics = initial_state_by_strategy(pool, p.active, strategy, learner.stage0_outputs(pool["images"]),
                                                   rng(p.seed, "init"))
    else:
        pool = load_pool(paths.POOL_NPZ, ("category", "label"), p.active.num_classes)
        state, metrics = initial_state(pool, p.active, rng(p.seed, "init"))
    with stage_outputs(paths.state(INITIAL_STATE), paths.round_metrics(INITIAL_STATE, "annotate")):
        state.save(paths.state(INITIAL_STATE))
        save_json(paths.round_metrics(INITIAL_STATE, "annotate"), metrics)
    log(f"stage 0 ({p.strategy}): {metrics['labeled_id']} iD labeled, {metrics['examined']} examined, "
        f"cost {metrics['cost']:g}")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
