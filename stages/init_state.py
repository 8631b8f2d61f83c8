"""Stage init: stage-0 acquisition -> runs/state/r00.npz (100 random iD samples for the baselines)."""
from src import config, paths
from src.active.loop import initial_state
from src.config import INITIAL_STATE
from src.io import load_npz, save_json
from src.log import log
from src.seeding import rng


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    pool = load_npz(paths.POOL_NPZ, keys=("category", "label"))
    state, metrics = initial_state(pool, p.active, rng(p.seed, "init"))
    state.save(paths.state(INITIAL_STATE))
    save_json(paths.round_metrics(INITIAL_STATE, "annotate"), metrics)
    log(f"stage 0: {metrics['labeled_id']} iD labeled at cost {metrics['cost']:g}")


if __name__ == "__main__":
    from stages._cli import run

    run(main, __doc__)
