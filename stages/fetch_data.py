"""Stage fetch_data: the benchmark's raw files (local copy or download) -> validated packed arrays
(data/interim/source.npz, ood.npz; src/data/benchmarks.py says what each benchmark reads)."""
from pathlib import Path

from src.core import config, paths
from src.core.io import save_json, save_npz, stage_outputs
from src.core.log import log
from src.data.benchmarks import fetch


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    raw = Path(p.data.raw_dir)
    source, ood, manifest = fetch(p.benchmark, raw, p.data, p.folder)
    log(f"{p.benchmark}: source {len(source['train_images'])} train / {len(source['test_images'])} test images; "
        f"OoD {len(ood['images'])} images")
    with stage_outputs(paths.SOURCE_NPZ, paths.OOD_NPZ, paths.RAW_MANIFEST):
        save_npz(paths.SOURCE_NPZ, **source)
        save_npz(paths.OOD_NPZ, **ood)
        save_json(paths.RAW_MANIFEST, {"benchmark": p.benchmark, "raw_dir": str(raw), **manifest})


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
