"""Stage annotate@rNN (annotate_r00 for stage 0): the oracle examines candidates until the round's
iD quota -> state rNN.

oracle simulated: the pool's ground truth answers. oracle file: the person's answers in
annotations/rNN/labels.csv (src/active/annotations.py); while they do not reach the quota the stage
stops with a message naming the next pass to label, and writes nothing.

After the stopping point (state prev holds `active.target_id` labeled iD) nothing is examined or
charged: state rNN is state prev unchanged and the metrics say `finished`. The candidates must
have been ranked for this round from this very state prev (load_candidates checks)."""
import time

from src.active.annotations import examined_by_answers, labels_file, listed_queries, read_labels
from src.active.loop import (annotate_from_answers, annotate_round, check_labels_source, check_round_args,
                             finished_metrics, load_candidates, load_state, reached_target, round_index,
                             stage0_state)
from src.core import config, paths
from src.core.config import INITIAL_STATE
from src.core.io import save_json, stage_outputs
from src.core.log import log
from src.data.pool import load_pool


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str | None = None) -> None:
    p = config.load(params_path)
    check_round_args("annotate", round_name, prev, p.rounds, params_path)
    pool = load_pool(paths.POOL_NPZ, ("category", "label"), p.active.num_classes)
    if round_name == INITIAL_STATE:
        state = stage0_state(pool, p)
        quota, where = p.active.init_id, "nothing labeled"
    else:
        state = load_state(prev, p, pool["fingerprint"])
        state.check_pool_size(len(pool["category"]), paths.state(prev))
        quota, where = p.active.per_round_id, paths.state(prev)
    check_labels_source(state, pool, p, where)
    cands = load_candidates(round_name, prev or "", state)
    outs = (paths.state(round_name), paths.round_metrics(round_name, "annotate"))
    if round_name != INITIAL_STATE and reached_target(state, p.active):
        with stage_outputs(*outs):
            state.save(paths.state(round_name))
            save_json(paths.round_metrics(round_name, "annotate"), finished_metrics(state, p.active))
        log(f"{round_name}: finished - nothing examined (target of {p.active.target_id} labeled iD reached)")
        return
    t0 = time.perf_counter()
    index = round_index(round_name, p.rounds)
    if p.oracle == "file":
        queries = listed_queries(cands, p.annotation.max_queries, p.annotation.sheet_size)
        names = config.class_names(p)
        answers = read_labels(round_name, queries, state.acquired_round, names)
        examined, _, extra = examined_by_answers(round_name, queries, answers, quota, names)
        new, metrics = annotate_from_answers(state, examined, answers, p.active, index, quota)
        metrics["beyond_quota"] = extra
        metrics["labels_file"] = str(labels_file(round_name))
    else:
        new, metrics = annotate_round(state, cands, pool, p.active, index, quota)
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    if not metrics["quota_met"]:
        log(f"WARNING {round_name}: candidates ran out after {metrics['id_found']} iD samples")
    with stage_outputs(*outs):
        new.save(paths.state(round_name))
        save_json(paths.round_metrics(round_name, "annotate"), metrics)
    log(f"{round_name}: examined {metrics['examined']} ({metrics['examined_id']} iD), "
        f"cumulative cost {new.cost:g}, labeled iD {metrics['labeled_id']}")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
