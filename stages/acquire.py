"""Stage acquire@rNN: the strategy ranks the unlabeled pool of state prev with model prev's pool
outputs (class probabilities; for the CL strategies, features of the representation model).

When state prev already holds `active.target_id` labeled iD (the stopping rule), nothing is
ranked: the candidates file is empty and the metrics say `finished`."""
import time

import numpy as np

from src import config, paths
from src.active.loop import finished_metrics, reached_target
from src.active.state import ActiveState
from src.active.strategies import from_params
from src.errors import UserError
from src.io import load_npz, save_json, save_npz
from src.log import log
from src.seeding import rng


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str = "r00") -> None:
    p = config.load(params_path)
    strategy = from_params(p)
    state = ActiveState.load(paths.state(prev))
    if reached_target(state, p.active):
        empty = np.zeros(0, np.int64)
        save_npz(paths.candidates(round_name), order=empty, batch=empty)
        save_json(paths.round_metrics(round_name, "acquire"),
                  {"strategy": strategy.name, **finished_metrics(state, p.active), "candidates": 0,
                   "batches": 0, "seconds": {}})
        log(f"{round_name}: finished - state {prev} already has {state.labeled_id(p.active.num_classes)} "
            f"labeled iD (active.target_id = {p.active.target_id}); nothing to rank")
        return
    outputs = load_npz(paths.outputs(prev))
    missing = sorted(strategy.needs - set(outputs))
    if missing:
        raise UserError(f"strategy '{strategy.name}' needs model outputs {missing}, but "
                        f"{paths.outputs(prev)} holds only {sorted(outputs)}: it was written for another "
                        f"strategy. Rerun the rounds with `dvc repro` (the finetune stages depend on "
                        f"`strategy`).")
    t1 = time.perf_counter()
    cands = strategy.rank(state, outputs, rng(p.seed, f"{round_name}-acquire"))
    t2 = time.perf_counter()
    seconds = dict(strategy.seconds)
    seconds["select"] = round(t2 - t1 - seconds.get("kmeans", 0.0), 2)
    save_npz(paths.candidates(round_name), order=cands.order, batch=cands.batch)
    save_json(paths.round_metrics(round_name, "acquire"),
              {"strategy": strategy.name, "candidates": int(len(cands.order)),
               "batches": int(cands.batch[-1] + 1) if len(cands.batch) else 0, "seconds": seconds})
    log(f"{round_name}: {strategy.name} ranked {len(cands.order)} candidates; seconds {seconds}")


if __name__ == "__main__":
    from stages._cli import run

    run(main, __doc__)
