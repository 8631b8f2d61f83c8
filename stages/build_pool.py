"""Stage build_pool: the benchmark's iD + ambiguous + OoD images -> pool.npz, test.npz, val.npz,
stats.json (Table 1) and a sample grid per category."""
import numpy as np

from src.core import config, paths
from src.core.io import load_npz, save_json, save_npz, stage_outputs
from src.core.log import log
from src.data.benchmarks import make_pool
from src.data.pool import CATEGORY_NAMES, ID
from src.report.image_grids import image_grid


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    cfg = p.pool
    ambiguous = load_npz(paths.AMBIGUOUS_NPZ) if p.benchmark == "mixmnist" else None
    pool, test, val, stats = make_pool(p.benchmark, load_npz(paths.SOURCE_NPZ), load_npz(paths.OOD_NPZ),
                                       ambiguous, cfg)
    grids = {name: paths.pool_grid_png(name) for name in CATEGORY_NAMES.values()}
    with stage_outputs(paths.POOL_NPZ, paths.TEST_NPZ, paths.VAL_NPZ, paths.STATS_JSON, *grids.values()):
        for cat, name in CATEGORY_NAMES.items():
            if p.benchmark == "folder":  # no categories: the first grid shows the pool, the others say why not
                rows = np.arange(min(cfg.grid_images, len(pool["images"]))) if cat == ID else []
                title = (f"folder pool sample ({stats['pool_size']} images; categories unknown)" if cat == ID else
                         f"folder pool: no {name} sample (categories unknown until a person answers)")
            else:
                rows = np.flatnonzero(pool["category"] == cat)[: cfg.grid_images]
                title = f"{p.benchmark} pool sample: {name} ({stats['by_category'][name]} images)"
            image_grid(grids[name], pool["images"][rows], title=title)
        save_npz(paths.TEST_NPZ, **test)
        save_npz(paths.VAL_NPZ, **val)
        save_npz(paths.POOL_NPZ, **pool)
        save_json(paths.STATS_JSON, stats)
    log(f"pool: {stats['pool_size']} images {stats['by_category']}; test {stats['test_size']}; "
        f"validation {stats['val_size']} (iD train images, not in the pool)")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
