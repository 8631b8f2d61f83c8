"""Stage make_ambiguous: 7:3 latent mixes of MNIST pairs kept iff the ensemble gives 2-3 classes."""
from src.core import config, paths, precision
from src.core.config import not_applicable_reason
from src.core.io import load_npz, load_torch, save_json, save_npz, stage_outputs, write_not_applicable


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    if p.benchmark != "mixmnist":  # MixMNIST only: a marker in under a second, torch never imported
        write_not_applicable("make_ambiguous", p.benchmark, not_applicable_reason(p.benchmark),
                             paths.AMBIGUOUS_NPZ, paths.AMBIGUOUS_PNG, paths.AMBIGUOUS_METRICS)
        return
    cfg = p.ambiguous
    import torch

    used = precision.use(p.precision)  # src/core/precision.py

    from src.core.device import get_device
    from src.generate.ambiguous import generate, vote_caption
    from src.generate.classifiers import load_ensemble
    from src.generate.vae import HierarchicalVAE
    from src.report.image_grids import image_grid

    vae_state = load_torch(paths.VAE_PT)
    vc = vae_state["config"]
    vae = HierarchicalVAE(vc["channels"], vc["z_top"], vc["z_bottom"])
    vae.load_state_dict(vae_state["state_dict"])
    vae.to(get_device())
    ensemble = load_ensemble(load_torch(paths.ENSEMBLE_PT))
    mnist = load_npz(paths.SOURCE_NPZ)
    arrays, stats = generate(vae, ensemble, mnist["train_images"], cfg)
    shown = slice(0, cfg.grid_images)
    with stage_outputs(paths.AMBIGUOUS_NPZ, paths.AMBIGUOUS_PNG, paths.AMBIGUOUS_METRICS):
        image_grid(paths.AMBIGUOUS_PNG, arrays["images"][shown],
                   captions=[vote_caption(v) for v in arrays["votes"][shown]],
                   title=f"Generated ambiguous images ({cfg.mix:g}:{1 - cfg.mix:g} latent mix); "
                         f"caption = class:votes of the {stats['members']} classifiers")
        save_npz(paths.AMBIGUOUS_NPZ, **arrays)
        save_json(paths.AMBIGUOUS_METRICS, {**stats, "precision": used})


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
