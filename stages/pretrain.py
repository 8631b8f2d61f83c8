"""Stage pretrain: the CL methods' representation model learns from the whole unlabeled pool
(SimCLR, no labels) -> models/pretrain.pt, metrics/pretrain.json.

`torchrun --nproc_per_node N -m stages.pretrain` trains with N data-parallel processes
(src/contrastive/train.py); every rank ends with the same weights and only rank 0 writes."""
from src.core import compiled, config, distributed, live, paths, precision
from src.core.device import get_device
from src.core.io import load_npz, save_json, stage_outputs
from src.core.log import log


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    from src.models.representation import new_representation, save_representation
    from src.contrastive.train import train_contrastive

    cfg = p.contrastive
    used = precision.use(p.precision)  # src/core/precision.py
    kernels = {"compile": True} if compiled.use(p.compile, get_device().type) else {}  # src/core/compiled.py
    images = load_npz(paths.POOL_NPZ, keys=("images",))["images"]
    rep = new_representation(cfg, "pretrain")
    log(f"pretrain: {cfg.pretrain_epochs:g} epochs over {len(images)} pool images, width {cfg.width}, "
        f"batch {cfg.batch_size}, {used}")
    # every output, live/pretrain included, appears when the stage succeeds (src/core/io.py); rank 0 writes
    with stage_outputs(paths.PRETRAIN_PT, paths.PRETRAIN_METRICS, live.live_dir("pretrain"),
                       enabled=distributed.is_main()):
        with live.tracking("pretrain"):  # live/pretrain: the loss per epoch (src/core/live.py; rank 0)
            summary = train_contrastive(rep, images, None, None, cfg, cfg.pretrain_epochs, cfg.seed, "pretrain",
                                        label="pretrain")
        if not distributed.is_main():
            return  # torchrun: rank 0 holds the same weights and writes them
        save_representation(paths.PRETRAIN_PT, rep)
        save_json(paths.PRETRAIN_METRICS, {"epochs": cfg.pretrain_epochs, "precision": used, **kernels, **summary})
    log(f"pretrain: loss {summary['loss_first']} -> {summary['loss_last']} in {summary['seconds']}s "
        f"({summary['views_per_s']} views/s)")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
