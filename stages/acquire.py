"""Stage acquire@rNN: the strategy ranks the unlabeled pool of state prev with model prev's pool
outputs (class probabilities; for the CL strategies, features of the representation model).

When state prev already holds `active.target_id` labeled iD (the stopping rule), nothing is
ranked: the candidates file is empty and the metrics say `finished`. The candidates file records
the round it is for and the digest of state prev, which annotate checks. The first candidates
(`annotation.max_queries`, whole passes) are listed for a person in annotations/rNN/ (queries.csv,
contact sheets), whichever the oracle: the file oracle's annotator answers them."""
import time

import numpy as np

from src.active.annotations import publish_queries, queries_csv, sheets_dir
from src.active.loop import check_round_args, finished_metrics, load_state, reached_target, save_candidates
from src.active.strategies import Candidates, from_params
from src.core import config, paths
from src.core.errors import DataError, UserError
from src.core.io import load_npz, save_json, stage_outputs
from src.core.log import log
from src.core.seeding import rng
from src.data.pool import load_pool


def check_outputs(outputs: dict, state, needs: set, name: str, p) -> None:
    """Model outputs of round prev must come from a model of this strategy family, this pool and this K."""
    path = paths.outputs(name)
    missing = sorted(needs - set(outputs))
    if missing:
        raise UserError(f"strategy '{p.strategy}' needs model outputs {missing}, but {path} holds only "
                        f"{sorted(outputs)}: it was written for another strategy. Rerun the rounds with "
                        f"`dvc repro` (the finetune stages depend on `strategy`).")
    if str(outputs.get("pool_fingerprint", "")) != state.pool_fingerprint:
        raise DataError(f"{path}: these outputs were computed on another pool than state {name}'s. Rerun `dvc repro`.")
    if str(outputs.get("state_digest", "")) != state.digest():
        raise DataError(f"{path}: these outputs come from a model trained on another version of state {name} (it "
                        f"changed since). Rerun `dvc repro` (finetune@{name} writes them).")
    for key in needs:
        arr = outputs[key]
        if arr.dtype.kind not in "fiu" or arr.ndim != 2 or len(arr) != len(state.labels) or arr.shape[1] == 0:
            raise DataError(f"{path}: '{key}' must be a numeric (pool rows, columns) array for the "
                            f"{len(state.labels)} pool rows, is {arr.dtype} {arr.shape}. Rerun `dvc repro`.")
        bad = np.flatnonzero(~np.isfinite(arr).all(1))
        if len(bad):
            raise DataError(f"{path}: '{key}' holds NaN or infinite values ({len(bad)} rows, e.g. pool index "
                            f"{int(bad[0])}): the model diverged or the file was edited. Delete it and rerun "
                            f"`dvc repro` (finetune@{name} writes it); if it comes back, lower the learning rate.")
        if len(arr) > 1 and not np.ptp(arr, axis=0).any():
            raise DataError(f"{path}: '{key}' is the same for every pool row, so no order can be drawn from it (a "
                            f"collapsed model, or an edited file). Delete it and rerun `dvc repro` (finetune@{name} "
                            f"writes it); if it comes back, the training collapsed: check the learning rate.")
    k = p.active.num_classes
    if "probs" in needs and outputs["probs"].shape[1] != k + 1:
        raise DataError(f"{path}: probabilities over {outputs['probs'].shape[1]} classes, but active.num_classes = "
                        f"{k} needs {k + 1} (K + the non-iD class). Rerun `dvc repro` (finetune depends on it).")


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str = "r00") -> None:
    p = config.load(params_path)
    check_round_args("acquire", round_name, prev, p.rounds, params_path)
    strategy = from_params(p)
    state = load_state(prev, p)
    names = config.class_names(p)
    with stage_outputs(paths.candidates(round_name), paths.round_metrics(round_name, "acquire"),
                       queries_csv(round_name), sheets_dir(round_name)):
        if reached_target(state, p.active):
            empty = np.zeros(0, np.int64)
            save_candidates(round_name, prev, state, Candidates(empty, empty))
            publish_queries(round_name, Candidates(empty, empty), {"images": np.zeros((0, 1, 1), np.uint8)}, None,
                            names, p.annotation)
            save_json(paths.round_metrics(round_name, "acquire"),
                      {"strategy": strategy.name, **finished_metrics(state, p.active), "candidates": 0,
                       "batches": 0, "seconds": {}})
            log(f"{round_name}: finished - state {prev} already has {state.labeled_id(p.active.num_classes)} "
                f"labeled iD (active.target_id = {p.active.target_id}); nothing to rank")
            return
        outputs = load_npz(paths.outputs(prev))
        check_outputs(outputs, state, strategy.needs, prev, p)
        t1 = time.perf_counter()
        cands = strategy.rank(state, outputs, rng(p.seed, f"{round_name}-acquire"))
        t2 = time.perf_counter()
        if len(cands.order) == 0 and len(state.unlabeled):
            raise DataError(f"{paths.outputs(prev)}: strategy '{p.strategy}' ranked none of the {len(state.unlabeled)} "
                            f"unlabeled samples with these outputs, so round {round_name} could examine nothing. The "
                            f"outputs cannot rank (degenerate model outputs?): delete the file and rerun `dvc repro` "
                            f"(finetune@{prev} writes it); if it comes back so, report it.")
        seconds = dict(strategy.seconds)
        seconds["select"] = round(t2 - t1 - seconds.get("kmeans", 0.0), 2)
        save_candidates(round_name, prev, state, cands)
        pool = load_pool(paths.POOL_NPZ, ("images",), files=True)
        publish_queries(round_name, cands, pool, outputs.get("probs"), names, p.annotation)
        save_json(paths.round_metrics(round_name, "acquire"),
                  {"strategy": strategy.name, "candidates": int(len(cands.order)),
                   "batches": int(cands.batch[-1] + 1) if len(cands.batch) else 0, "seconds": seconds,
                   **strategy.info})
    log(f"{round_name}: {strategy.name} ranked {len(cands.order)} candidates; seconds {seconds}")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
