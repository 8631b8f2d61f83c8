"""Stage finetune@rNN: train on the labeled pool of state rNN -> model, pool outputs, test accuracy.

Pool outputs (runs/outputs/rNN.npz) are what the next acquire reads: `probs` (K + 1 softmax) for
the baselines, `features` (clustering features of the representation model) for the CL strategies.

The learner family follows from the strategy (src/active/learners.py): baselines train a three-conv
net from scratch; the CL strategies continue the representation model of round prev (of
`pretrain` for r00, which has no --prev) on both pools, then finetune its encoder + a linear
K + 1 head as the classifier.

Accuracy is measured on the test set (reported) and on the validation split (for tuning only).
A round after the stopping point (state rNN is its prev state unchanged) trains nothing: the model
file is prev's, the outputs and metrics say `finished`. State rNN must continue state prev
(check_successor) and cost what its new labels cost (check_cost); the four outputs, the DVCLive
folder included, appear together or not at all (stage_outputs).

Under torchrun (`torchrun --nproc_per_node N -m stages.finetune --round rNN --prev rMM`) every rank
runs the CL learners' contrastive continuation (data-parallel, src/contrastive/train.py) and the
ranks other than 0 stop after it; rank 0 alone finetunes the classifier, scores the pool and the
test and validation sets, and writes the outputs. A learner without a data-parallel part (the
baselines, DDU) and a finished round leave everything to rank 0.
"""
import time

import numpy as np

from src.active.loop import (check_cost, check_labels_source, check_round_args, check_successor, finished_metrics,
                             load_state, reached_target)
from src.core import config, distributed, live, paths, precision
from src.core.io import copy_file, load_npz, save_json, save_npz, stage_outputs
from src.core.log import log
from src.data.pool import load_pool, pool_fingerprint


def main(params_path: str = "params.yaml", round_name: str = "r00", prev: str | None = None) -> None:
    p = config.load(params_path)
    check_round_args("finetune", round_name, prev, p.rounds, params_path)
    state = load_state(round_name, p, pool_fingerprint(paths.POOL_NPZ))
    # live/rounds/rNN is an output like the others: all four appear when the stage succeeds
    outs = (paths.model(round_name), paths.outputs(round_name), paths.round_metrics(round_name, "finetune"),
            live.live_dir(f"rounds/{round_name}"))
    prev_state = None
    if prev is not None:
        prev_state = load_state(prev, p, state.pool_fingerprint)
        check_successor(prev_state, state, prev, round_name, p.active)
        if state.round == prev_state.round and reached_target(state, p.active):
            if not distributed.is_main():
                return  # torchrun: nothing to train; rank 0 writes
            with stage_outputs(*outs):
                copy_file(paths.model(prev), paths.model(round_name))  # the model stays prev's
                save_npz(paths.outputs(round_name), finished=np.bool_(True), reached_in_round=np.int64(state.round),
                         pool_fingerprint=np.array(state.pool_fingerprint), state_digest=np.array(state.digest()))
                save_json(paths.round_metrics(round_name, "finetune"), finished_metrics(state, p.active))
                live.empty(f"rounds/{round_name}")  # nothing trained
            log(f"{round_name}: finished - the state is {prev}'s (target reached in round {state.round}); "
                f"nothing trained")
            return
    from src.active.learners import learner_for
    from src.active.training_set import round_rng, training_set
    from src.models.supervised import accuracy

    pool = load_pool(paths.POOL_NPZ, ("images",), p.active.num_classes)  # + category, label (the K check)
    test, val = load_npz(paths.TEST_NPZ, keys=("images", "labels")), load_npz(paths.VAL_NPZ, keys=("images", "labels"))
    state.check_pool_size(len(pool["images"]), paths.state(round_name))
    check_labels_source(state, pool, p, paths.state(round_name))
    check_cost(prev_state, state, pool["category"], p.active, paths.state(round_name))
    k = p.active.num_classes
    train_idx = training_set(state, k, p.active.non_id_ratio, round_rng(p.seed, round_name, "undersample"))
    learner = learner_for(p)
    used = precision.use(p.precision)  # src/core/precision.py
    if not distributed.is_main() and not learner.data_parallel:
        return  # torchrun: nothing of this learner is data-parallel; rank 0 trains and writes
    with stage_outputs(*outs, enabled=distributed.is_main()):
        t0 = time.perf_counter()
        with live.tracking(f"rounds/{round_name}"):  # the losses per epoch (src/core/live.py)
            extra = learner.fit(state, pool["images"], train_idx, round_name, prev)
        if not distributed.is_main():
            return  # torchrun: this rank's part (the contrastive training) is done; rank 0 writes
        t1 = time.perf_counter()
        outputs = learner.pool_outputs(pool["images"])  # what the next acquire reads
        t2 = time.perf_counter()
        acc = accuracy(learner.predict_probs(test["images"]), test["labels"]) if len(test["labels"]) else None
        t3 = time.perf_counter()
        val_acc = accuracy(learner.predict_probs(val["images"]), val["labels"]) if len(val["labels"]) else None
        y = state.labels[train_idx]
        seconds = dict(extra["seconds"])
        seconds.update(train=round(t1 - t0 - seconds.get("representation", 0.0), 2), score_pool=round(t2 - t1, 2),
                       test=round(t3 - t2, 2))
        metrics = {"round": state.round, "accuracy": acc, "val_accuracy": val_acc, "cost": state.cost,
                   "train_size": int(len(train_idx)), "train_id": int((y != k).sum()),
                   "train_non_id": int((y == k).sum()), "precision": used, "seconds": seconds}
        metrics.update({key: value for key, value in extra.items() if key != "seconds"})
        learner.save(paths.model(round_name))
        save_npz(paths.outputs(round_name), **outputs, pool_fingerprint=np.array(pool["fingerprint"]),
                 state_digest=np.array(state.digest()))
        save_json(paths.round_metrics(round_name, "finetune"), metrics)
    log(f"{round_name}: {learner.name} learner trained on {len(train_idx)} ({metrics['train_non_id']} non-iD) in "
        f"{t1 - t0:.1f}s, pool {'/'.join(outputs)} in {t2 - t1:.1f}s; test accuracy "
        f"{'- (no test set)' if acc is None else f'{acc:.4f}'} at cost {state.cost:g}")

if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
