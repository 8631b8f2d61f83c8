"""Stage finetune@rNN: train on the labeled pool of state rNN -> model, pool outputs, test accuracy.

Pool outputs (runs/outputs/rNN.npz) are what the next acquire reads: `probs` (K + 1 softmax) for
the baselines, `features` (clustering features of the representation model) for the CL strategies.

Baselines: a three-conv net trained from scratch. CL strategies (random_cl, distance_cl): the
representation model of round prev (or of `pretrain` for r00) continues contrastive training on
both pools, then its encoder + a linear K + 1 head is finetuned as the classifier.

Accuracy is measured on the test set (reported) and on the validation split (for tuning only).
A round after the stopping point (state rNN is its prev state unchanged) trains nothing: the model
file is prev's, the outputs and metrics say `finished`. State rNN must continue state prev
(check_successor); the three outputs appear together or not at all (stage_outputs).
"""
import time

import numpy as np

from src import config, paths
from src.active.loop import (check_oracle_labels, check_round_args, check_successor, finished_metrics, load_state,
                             reached_target)
from src.active.strategies import uses_representation
from src.data.pool import load_pool
from src.io import copy_file, load_npz, save_json, save_npz, save_torch, stage_outputs
from src.log import log


def main(params_path: str = "params.yaml", round_name: str = "r00", prev: str = paths.PRETRAIN) -> None:
    p = config.load(params_path)
    check_round_args("finetune", round_name, prev, p.rounds, params_path)
    state = load_state(round_name, p)
    outs = (paths.model(round_name), paths.outputs(round_name), paths.round_metrics(round_name, "finetune"))
    if prev != paths.PRETRAIN:
        prev_state = load_state(prev, p, state.pool_fingerprint)
        check_successor(prev_state, state, prev, round_name, p.active)
        if state.round == prev_state.round and reached_target(state, p.active):
            with stage_outputs(*outs):
                copy_file(paths.model(prev), paths.model(round_name))  # the model stays prev's
                save_npz(paths.outputs(round_name), finished=np.bool_(True), reached_in_round=np.int64(state.round),
                         pool_fingerprint=np.array(state.pool_fingerprint))
                save_json(paths.round_metrics(round_name, "finetune"), finished_metrics(state, p.active))
            log(f"{round_name}: finished - the state is {prev}'s (target reached in round {state.round}); "
                f"nothing trained")
            return
    from src.active.train import accuracy, predict_probs, round_rng, train_classifier, training_set
    from src.device import cpu_state

    pool = load_pool(paths.POOL_NPZ, ("images",), p.active.num_classes)  # + category, label (the K check)
    test, val = load_npz(paths.TEST_NPZ, keys=("images", "labels")), load_npz(paths.VAL_NPZ, keys=("images", "labels"))
    state = load_state(round_name, p, pool["fingerprint"])
    state.check_pool_size(len(pool["images"]), paths.state(round_name))
    check_oracle_labels(state, pool, p.active.num_classes, paths.state(round_name))
    k = p.active.num_classes
    train_idx = training_set(state, k, p.active.non_id_ratio, round_rng(p.seed, round_name, "undersample"))
    seconds = {}
    t0 = time.perf_counter()
    if uses_representation(p.strategy):
        from src.contrastive.method import (continue_representation, finetune_classifier,
                                            load_representation, save_round_model)
        from src.contrastive.model import extract_features

        rep = load_representation(paths.representation_source(prev))
        rep_summary = continue_representation(rep, pool["images"], state, p, round_name)
        seconds["representation"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        model = finetune_classifier(rep, pool["images"][train_idx], state.labels[train_idx], p, round_name)
        eval_bs = p.contrastive.eval_batch_size
    else:
        rep, rep_summary = None, None
        model = train_classifier(pool["images"][train_idx], state.labels[train_idx], p.classifier, k + 1,
                                 p.seed, f"{round_name}-train")
        eval_bs = p.classifier.eval_batch_size
    t1 = time.perf_counter()
    if rep is None:  # baselines rank by the classifier's probabilities
        outputs = {"probs": predict_probs(model, pool["images"], eval_bs)}
    else:  # CL strategies cluster the representation model's features (float16 keeps the file small)
        outputs = {"features": extract_features(rep, pool["images"], eval_bs, p.cluster.features).astype("float16")}
    t2 = time.perf_counter()
    acc = accuracy(predict_probs(model, test["images"], eval_bs), test["labels"])
    t3 = time.perf_counter()
    val_acc = accuracy(predict_probs(model, val["images"], eval_bs), val["labels"]) if len(val["labels"]) else None
    y = state.labels[train_idx]
    seconds.update(train=round(t1 - t0, 2), score_pool=round(t2 - t1, 2), test=round(t3 - t2, 2))
    # score_pool: class probabilities (baselines) or clustering features (CL) of the whole pool
    metrics = {"round": state.round, "accuracy": acc, "val_accuracy": val_acc, "cost": state.cost,
               "train_size": int(len(train_idx)), "train_id": int((y != k).sum()),
               "train_non_id": int((y == k).sum()), "seconds": seconds}
    with stage_outputs(*outs):
        if rep is not None:
            metrics["representation"] = {key: rep_summary[key] for key in ("steps", "loss_first", "loss_last")}
            save_round_model(paths.model(round_name), rep, model, p)
        else:
            save_torch(paths.model(round_name), {"config": config.to_dict(p.classifier), "state_dict": cpu_state(model)})
        save_npz(paths.outputs(round_name), **outputs, pool_fingerprint=np.array(pool["fingerprint"]))
        save_json(paths.round_metrics(round_name, "finetune"), metrics)
    log(f"{round_name}: trained on {len(train_idx)} ({metrics['train_non_id']} non-iD) in "
        f"{sum(v for key, v in seconds.items() if key in ('representation', 'train')):.1f}s, "
        f"pool {'/'.join(outputs)} in {t2 - t1:.1f}s; test accuracy {acc:.4f} at cost {state.cost:g}")


if __name__ == "__main__":
    from stages._cli import run

    run(main, __doc__)
