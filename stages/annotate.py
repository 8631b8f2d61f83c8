"""Stage annotate@rNN: the oracle examines candidates until the round's iD quota -> state rNN.

After the stopping point (state prev holds `active.target_id` labeled iD) nothing is examined or
charged: state rNN is state prev unchanged and the metrics say `finished`."""
import time

from src import config, paths
from src.active.loop import annotate_round, finished_metrics, reached_target
from src.active.state import ActiveState
from src.active.strategies import Candidates
from src.io import load_npz, save_json
from src.log import log


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str = "r00") -> None:
    p = config.load(params_path)
    state = ActiveState.load(paths.state(prev))
    if reached_target(state, p.active):
        state.save(paths.state(round_name))
        save_json(paths.round_metrics(round_name, "annotate"), finished_metrics(state, p.active))
        log(f"{round_name}: finished - nothing examined (target of {p.active.target_id} labeled iD reached)")
        return
    pool = load_npz(paths.POOL_NPZ, keys=("category", "label"))
    state.check_pool_size(len(pool["category"]), paths.state(prev))
    c = load_npz(paths.candidates(round_name))
    t0 = time.perf_counter()
    new, metrics = annotate_round(state, Candidates(c["order"], c["batch"]), pool, p.active,
                                  state.round + 1)
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    if not metrics["quota_met"]:
        log(f"WARNING {round_name}: candidates ran out after {metrics['id_found']} iD samples")
    new.save(paths.state(round_name))
    save_json(paths.round_metrics(round_name, "annotate"), metrics)
    log(f"{round_name}: examined {metrics['examined']} ({metrics['examined_id']} iD), "
        f"cumulative cost {new.cost:g}, labeled iD {metrics['labeled_id']}")


if __name__ == "__main__":
    from stages._cli import run

    run(main, __doc__)
