"""Every on-disk path the pipeline reads or writes, relative to the repository root.

dvc.yaml declares the same paths; tests/test_dag.py checks the two agree.
"""
from pathlib import Path

INTERIM = Path("data/interim")
PREPARED = Path("data/prepared")
MODELS = Path("models")
METRICS = Path("metrics")
PLOTS = Path("plots")

# fetch_data
MNIST_NPZ = INTERIM / "mnist.npz"
NOTMNIST_NPZ = INTERIM / "notmnist.npz"
RAW_MANIFEST = INTERIM / "raw_manifest.json"

# train_vae
VAE_PT = MODELS / "vae.pt"
VAE_METRICS = METRICS / "vae.json"
VAE_RECON_PNG = PLOTS / "vae_reconstructions.png"

# train_ensemble
ENSEMBLE_PT = MODELS / "ensemble.pt"
ENSEMBLE_METRICS = METRICS / "ensemble.json"

# make_ambiguous
AMBIGUOUS_NPZ = INTERIM / "ambiguous.npz"
AMBIGUOUS_METRICS = METRICS / "ambiguous.json"
AMBIGUOUS_PNG = PLOTS / "ambiguous_grid.png"

# build_pool
POOL_NPZ = PREPARED / "pool.npz"
TEST_NPZ = PREPARED / "test.npz"
STATS_JSON = PREPARED / "stats.json"


def pool_grid_png(category: str) -> Path:
    return PLOTS / f"pool_{category}.png"
