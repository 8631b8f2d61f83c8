"""A round's training (stages finetune_r00 and finetune@rNN): the learner trains on the labeled pool
of state rNN -> model rNN, its pool outputs (what the next acquire reads), test and validation
accuracy. After the stopping point nothing is trained (stopping.py).

torch is imported only where a network trains (a finished round, and the stage's checks, run
without it). Under torchrun every rank runs the learner's data-parallel part (the CL learners'
contrastive continuation) and the ranks other than 0 stop after it; rank 0 alone finetunes the
classifier, scores the pool, the test and validation sets, and writes.
"""
from __future__ import annotations

import time

import numpy as np

from src.active.integrity import check_cost
from src.active.oracle import oracle_for
from src.active.state import ActiveState
from src.active.stopping import finish_training, finished
from src.active.training_set import round_rng, training_set
from src.core import compiled, live, paths, precision, ranks
from src.core.device import get_device
from src.core.io import load_npz, save_json, save_npz
from src.core.log import log
from src.data.pool import load_pool


def train_round(round_name: str, prev: str | None, state: ActiveState, prev_state: ActiveState | None, p) -> None:
    """Train on state rNN (`state`; `prev_state`: state prev, None for stage 0) and write model rNN,
    its pool outputs and the round's metrics (inside the stage's stage_outputs; rank 0 writes)."""
    if prev_state is not None and finished(prev_state, p.active, state):
        return finish_training(round_name, prev, state, p.active)
    from src.active.learners import learner_for  # torch: only where a network trains
    from src.models.supervised import accuracy

    pool = load_pool(paths.POOL_NPZ, ("images",), p.active.num_classes)  # + category, label (the K check)
    test, val = load_npz(paths.TEST_NPZ, keys=("images", "labels")), load_npz(paths.VAL_NPZ, keys=("images", "labels"))
    where = paths.state(round_name)
    state.check_pool_size(len(pool["images"]), where)
    oracle_for(p, pool).check_state(state, where)
    check_cost(prev_state, state, pool["category"], p.active, where)
    k = p.active.num_classes
    train_idx = training_set(state, k, p.active.non_id_ratio, round_rng(p.seed, round_name, "undersample"))
    learner = learner_for(p)
    used = precision.use(p.precision)  # src/core/precision.py
    kernels = {"compile": True} if compiled.use(p.compile, get_device().type) else {}  # src/core/compiled.py
    if not ranks.is_main() and not learner.data_parallel:
        return  # torchrun: nothing of this learner is data-parallel; rank 0 trains and writes
    t0 = time.perf_counter()
    with live.tracking(f"rounds/{round_name}"):  # the losses per epoch (src/core/live.py)
        extra = learner.fit(state, pool["images"], train_idx, round_name, prev)
    if not ranks.is_main():
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
               "train_non_id": int((y == k).sum()), "precision": used, **kernels, "seconds": seconds}
    metrics.update({key: value for key, value in extra.items() if key != "seconds"})
    learner.save(paths.model(round_name))
    save_npz(paths.outputs(round_name), **outputs, pool_fingerprint=np.array(pool["fingerprint"]),
             state_digest=np.array(state.digest()))
    save_json(paths.round_metrics(round_name, "finetune"), metrics)
    log(f"{round_name}: {learner.name} learner trained on {len(train_idx)} ({metrics['train_non_id']} non-iD) in "
        f"{t1 - t0:.1f}s, pool {'/'.join(outputs)} in {t2 - t1:.1f}s; test accuracy "
        f"{'- (no test set)' if acc is None else f'{acc:.4f}'} at cost {state.cost:g}")
