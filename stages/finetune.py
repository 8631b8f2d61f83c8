"""Stage finetune@rNN: train on the labeled pool of state rNN -> model, pool outputs, test accuracy."""
import time

from src import config, paths
from src.active.state import ActiveState
from src.io import load_npz, save_json, save_npz, save_torch
from src.log import log


def main(params_path: str = "params.yaml", round_name: str = "r00") -> None:
    p = config.load(params_path)
    from src.active.train import accuracy, predict_probs, round_rng, train_classifier, training_set
    from src.device import cpu_state

    pool, test = load_npz(paths.POOL_NPZ, keys=("images",)), load_npz(paths.TEST_NPZ)
    state = ActiveState.load(paths.state(round_name), len(pool["images"]))
    k = p.active.num_classes
    train_idx = training_set(state, k, p.active.non_id_ratio, round_rng(p.seed, round_name, "undersample"))
    t0 = time.perf_counter()
    model = train_classifier(pool["images"][train_idx], state.labels[train_idx], p.classifier, k + 1,
                             p.seed, f"{round_name}-train")
    t1 = time.perf_counter()
    probs = predict_probs(model, pool["images"], p.classifier.eval_batch_size)
    t2 = time.perf_counter()
    acc = accuracy(predict_probs(model, test["images"], p.classifier.eval_batch_size), test["labels"])
    t3 = time.perf_counter()
    y = state.labels[train_idx]
    metrics = {"round": state.round, "accuracy": acc, "cost": state.cost,
               "train_size": int(len(train_idx)), "train_id": int((y != k).sum()),
               "train_non_id": int((y == k).sum()),
               "seconds": {"train": round(t1 - t0, 2), "score_pool": round(t2 - t1, 2),
                           "test": round(t3 - t2, 2)}}
    save_torch(paths.model(round_name), {"config": config.to_dict(p.classifier), "state_dict": cpu_state(model)})
    save_npz(paths.outputs(round_name), probs=probs)
    save_json(paths.round_metrics(round_name, "finetune"), metrics)
    log(f"{round_name}: trained on {len(train_idx)} ({metrics['train_non_id']} non-iD) in {t1 - t0:.1f}s, "
        f"scored pool in {t2 - t1:.1f}s; test accuracy {acc:.4f} at cost {state.cost:g}")


if __name__ == "__main__":
    from stages._cli import run

    run(main, __doc__)
