"""Stage annotate@rNN: the oracle examines candidates until the round's iD quota -> state rNN.

After the stopping point (state prev holds `active.target_id` labeled iD) nothing is examined or
charged: state rNN is state prev unchanged and the metrics say `finished`. The candidates must
have been ranked for this round from this very state prev (load_candidates checks)."""
import time

from src.active.loop import (annotate_round, check_oracle_labels, check_round_args, finished_metrics,
                             load_candidates, load_state, reached_target, round_index)
from src.core import config, paths
from src.core.io import save_json, stage_outputs
from src.core.log import log
from src.data.pool import load_pool


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str = "r00") -> None:
    p = config.load(params_path)
    check_round_args("annotate", round_name, prev, p.rounds, params_path)
    pool = load_pool(paths.POOL_NPZ, ("category", "label"), p.active.num_classes)
    state = load_state(prev, p, pool["fingerprint"])
    state.check_pool_size(len(pool["category"]), paths.state(prev))
    check_oracle_labels(state, pool, p.active.num_classes, paths.state(prev))
    cands = load_candidates(round_name, prev, state)
    with stage_outputs(paths.state(round_name), paths.round_metrics(round_name, "annotate")):
        if reached_target(state, p.active):
            state.save(paths.state(round_name))
            save_json(paths.round_metrics(round_name, "annotate"), finished_metrics(state, p.active))
            log(f"{round_name}: finished - nothing examined (target of {p.active.target_id} labeled iD reached)")
            return
        t0 = time.perf_counter()
        new, metrics = annotate_round(state, cands, pool, p.active, round_index(round_name, p.rounds))
        metrics["seconds"] = round(time.perf_counter() - t0, 3)
        if not metrics["quota_met"]:
            log(f"WARNING {round_name}: candidates ran out after {metrics['id_found']} iD samples")
        new.save(paths.state(round_name))
        save_json(paths.round_metrics(round_name, "annotate"), metrics)
    log(f"{round_name}: examined {metrics['examined']} ({metrics['examined_id']} iD), "
        f"cumulative cost {new.cost:g}, labeled iD {metrics['labeled_id']}")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
