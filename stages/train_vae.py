"""Stage train_vae: hierarchical VAE on MNIST train -> weights, test ELBO, reconstruction PNG."""
import numpy as np

from src.core import config, live, paths, precision
from src.core.config import not_applicable_reason
from src.core.device import cpu_state
from src.core.io import load_npz, save_json, save_torch, stage_outputs, write_not_applicable


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    outs = (paths.VAE_PT, paths.VAE_METRICS, paths.VAE_RECON_PNG)
    if p.benchmark != "mixmnist":  # MixMNIST only: a marker in under a second, torch never imported
        with stage_outputs(*outs, live.live_dir("vae")):
            write_not_applicable("train_vae", p.benchmark, not_applicable_reason(p.benchmark), *outs)
            live.empty("vae")  # no training
        return
    cfg = p.vae
    used = precision.use(p.precision)  # src/core/precision.py
    from src.generate.vae_training import evaluate_elbo, reconstruct, train_vae
    from src.report.image_grids import image_grid

    mnist = load_npz(paths.SOURCE_NPZ)
    with stage_outputs(*outs, live.live_dir("vae")):  # live/vae too: all appear when the stage succeeds
        with live.tracking("vae"):  # live/vae: the loss per epoch (src/core/live.py)
            model, train_info = train_vae(mnist["train_images"], cfg)
        metrics = {**evaluate_elbo(model, mnist["test_images"], cfg.seed), **train_info, "precision": used}
        shown = mnist["test_images"][: cfg.recon_images]
        pairs = np.stack([shown, reconstruct(model, shown)], 1).reshape(-1, 28, 28)
        save_torch(paths.VAE_PT, {"config": config.to_dict(cfg), "state_dict": cpu_state(model)})
        save_json(paths.VAE_METRICS, metrics)
        image_grid(paths.VAE_RECON_PNG, pairs, cols=16,
                   title=f"MNIST test (left) / reconstruction (right); test -ELBO "
                         f"{metrics['test_neg_elbo_nats']:.1f} nats = {metrics['test_bits_per_dim']:.3f} bits/dim")

if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
