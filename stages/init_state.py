"""Stage init: stage-0 acquisition -> runs/state/r00.npz.

Baselines (and `cluster.stage0: random`): init_id random iD samples at cost init_id. CL methods
with `cluster.stage0: strategy` (the paper): the strategy ranks the pool on the pretrained
features and every sample examined until init_id iD are found is charged.
"""
from src import config, paths
from src.active.loop import initial_state, initial_state_by_strategy
from src.active.strategies import from_params, uses_representation
from src.config import INITIAL_STATE
from src.data.pool import load_pool
from src.io import save_json, stage_outputs
from src.log import log
from src.seeding import rng


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    if uses_representation(p.strategy) and p.cluster.stage0 == "strategy":
        from src.contrastive.method import pool_features

        pool = load_pool(paths.POOL_NPZ, ("category", "label", "images"), p.active.num_classes)
        features = pool_features(paths.PRETRAIN_PT, pool["images"], p)
        strategy = from_params(p, quota=p.active.init_id)
        state, metrics = initial_state_by_strategy(pool, p.active, strategy, {"features": features},
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
    from stages._cli import run

    run(main, __doc__)
