"""Stage build_pool: MNIST iD + generated ambiguous + notMNIST OoD -> pool.npz, test.npz, val.npz, stats.json."""
import numpy as np

from src.core import config, paths
from src.core.io import load_npz, save_json, save_npz, stage_outputs
from src.core.log import log
from src.data.pool import CATEGORY_NAMES, build_pool
from src.report.grids import image_grid


def main(params_path: str = "params.yaml") -> None:
    cfg = config.load(params_path).pool
    pool, test, val, stats = build_pool(load_npz(paths.MNIST_NPZ), load_npz(paths.AMBIGUOUS_NPZ),
                                   load_npz(paths.NOTMNIST_NPZ), cfg)
    grids = {name: paths.pool_grid_png(name) for name in CATEGORY_NAMES.values()}
    with stage_outputs(paths.POOL_NPZ, paths.TEST_NPZ, paths.VAL_NPZ, paths.STATS_JSON, *grids.values()):
        for cat, name in CATEGORY_NAMES.items():
            rows = np.flatnonzero(pool["category"] == cat)[: cfg.grid_images]
            image_grid(grids[name], pool["images"][rows],
                       title=f"pool sample: {name} ({stats['by_category'][name]} images)")
        save_npz(paths.TEST_NPZ, **test)
        save_npz(paths.VAL_NPZ, **val)
        save_npz(paths.POOL_NPZ, **pool)
        save_json(paths.STATS_JSON, stats)
    log(f"pool: {stats['pool_size']} images {stats['by_category']}; test {stats['test_size']}; "
        f"validation {stats['val_size']} (MNIST train, not in the pool)")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
