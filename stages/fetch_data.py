"""Stage fetch_data: raw MNIST + notMNIST (local copy or download) -> validated packed arrays."""
from pathlib import Path

from src.core import config, paths
from src.core.io import save_json, save_npz, stage_outputs
from src.core.log import log
from src.data.raw import load_mnist, load_notmnist


def main(params_path: str = "params.yaml") -> None:
    cfg = config.load(params_path).data
    raw = Path(cfg.raw_dir)
    mnist, mnist_manifest = load_mnist(raw, cfg.source, cfg.check_counts)
    notmnist, notmnist_manifest = load_notmnist(raw, cfg.source)
    log(f"MNIST {mnist_manifest['counts']} ({mnist_manifest['origin']}); notMNIST "
        f"{notmnist_manifest['counts']['available']} images ({notmnist_manifest['origin']})")
    with stage_outputs(paths.MNIST_NPZ, paths.NOTMNIST_NPZ, paths.RAW_MANIFEST):
        save_npz(paths.MNIST_NPZ, **mnist)
        save_npz(paths.NOTMNIST_NPZ, **notmnist)
        save_json(paths.RAW_MANIFEST, {"raw_dir": str(raw), "mnist": mnist_manifest, "notmnist": notmnist_manifest})


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
