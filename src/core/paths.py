"""Every on-disk path the pipeline reads or writes, relative to the repository root.

dvc.yaml declares the same paths; tests/test_dag.py checks the two agree.
"""
from pathlib import Path

INTERIM = Path("data/interim")
PREPARED = Path("data/prepared")
MODELS = Path("models")
METRICS = Path("metrics")
PLOTS = Path("plots")

# fetch_data (src/data/benchmarks.py: MixMNIST's source is MNIST and its OoD notMNIST)
SOURCE_NPZ = INTERIM / "source.npz"  # the labelled source dataset: iD (and, natural images, ambiguous) classes
OOD_NPZ = INTERIM / "ood.npz"
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
VAL_NPZ = PREPARED / "val.npz"  # validation split: MNIST train images not in the pool
STATS_JSON = PREPARED / "stats.json"


def pool_grid_png(category: str) -> Path:
    return PLOTS / f"pool_{category}.png"

# active-learning rounds (one file per round; r00 is the stage-0 state)
RUNS = Path("runs")
SUMMARY = METRICS / "summary.json"
CURVE_CSV = PLOTS / "curve.csv"
CURVE_PNG = PLOTS / "curve.png"
ROUNDS_CSV = PLOTS / "rounds.csv"


def state(round_name: str) -> Path:
    return RUNS / "state" / f"{round_name}.npz"


def model(round_name: str) -> Path:
    return RUNS / "models" / f"{round_name}.pt"


def outputs(round_name: str) -> Path:
    return RUNS / "outputs" / f"{round_name}.npz"


def candidates(round_name: str) -> Path:
    return RUNS / "candidates" / f"{round_name}.npz"


def round_metrics(round_name: str, part: str) -> Path:
    return RUNS / "metrics" / f"{round_name}_{part}.json"

# pretrain (stage-0 representation of the CL methods, shared by every experiment)
PRETRAIN_PT = MODELS / "pretrain.pt"
FINAL_MODEL = MODELS / "classifier.pt"  # the last round's model (report; dvc.yaml artifact `classifier`)
PRETRAIN_METRICS = METRICS / "pretrain.json"
