"""Stage train_ensemble: ten differing MNIST classifiers -> weights and each one's test accuracy."""
from src.core import config, live, paths, precision
from src.core.config import not_applicable_reason
from src.core.io import load_npz, save_json, save_torch, stage_outputs, write_not_applicable


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    outs = (paths.ENSEMBLE_PT, paths.ENSEMBLE_METRICS)
    if p.benchmark != "mixmnist":  # MixMNIST only: a marker in under a second, torch never imported
        with stage_outputs(*outs, live.live_dir("ensemble")):
            write_not_applicable("train_ensemble", p.benchmark, not_applicable_reason(p.benchmark), *outs)
            live.empty("ensemble")  # no training
        return
    cfg = p.ensemble
    used = precision.use(p.precision)  # src/core/precision.py
    from src.generate.classifiers import member_archs, state_of, train_ensemble

    member_archs(cfg)  # unknown architecture names fail before the data is read
    mnist = load_npz(paths.SOURCE_NPZ)
    with stage_outputs(*outs, live.live_dir("ensemble")):  # live/ensemble too: all appear on success
        with live.tracking("ensemble"):  # live/ensemble: each member's loss per epoch (src/core/live.py)
            models, archs, metrics = train_ensemble(mnist, cfg)
        save_torch(paths.ENSEMBLE_PT, {"config": config.to_dict(cfg), **state_of(models, archs)})
        save_json(paths.ENSEMBLE_METRICS, {**metrics, "precision": used})

if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
