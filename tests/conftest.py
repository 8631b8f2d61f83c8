"""Tiny synthetic raw data in the exact on-disk layout, and a tiny params file."""
import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from src.data.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images whose class k is a bright bar at row band k, plus noise."""
    g = np.random.default_rng(seed)
    labels = g.integers(0, 10, n).astype(np.uint8)
    images = g.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 + 2 * k: 4 + 2 * k, 4:24] = 255
    return images, labels


def make_raw(root: Path, n_train=240, n_test=80, n_notmnist=60) -> Path:
    mnist = root / "MNIST" / "raw"
    tr_x, tr_y = synthetic_digits(n_train, 1)
    te_x, te_y = synthetic_digits(n_test, 2)
    write_idx(mnist / "train-images-idx3-ubyte", tr_x)
    write_idx(mnist / "train-labels-idx1-ubyte", tr_y)
    write_idx(mnist / "t10k-images-idx3-ubyte", te_x)
    write_idx(mnist / "t10k-labels-idx1-ubyte", te_y)
    g = np.random.default_rng(3)
    letters = g.integers(0, 256, (n_notmnist, 28, 28)).astype(np.uint8)
    write_idx(root / "notMNIST" / "t10k-images-idx3-ubyte.gz", letters)
    write_idx(root / "notMNIST" / "t10k-labels-idx1-ubyte.gz", g.integers(0, 10, n_notmnist).astype(np.uint8))
    return root


def tiny_params(raw_dir: str = "data/raw") -> dict:
    """The quick profile, shrunk to seconds; keys come from params.yaml so they cannot drift."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["data"].update(raw_dir=raw_dir, source="local", check_counts=False)
    p["vae"].update(channels=4, z_top=2, z_bottom=2, epochs=4, batch_size=16, train_subset=None,
                    kl_warmup_steps=20, recon_images=8)
    p["ensemble"].update(epochs=1, batch_size=16, train_subset=None, members=10)
    p["ambiguous"].update(count=6, batch_size=200, max_candidates=20000, grid_images=6)
    p["pool"].update(n_id=100, n_ambiguous=None, n_ood=1000, n_val=40, grid_images=8)
    p["active"].update(init_id=5, per_round_id=3, target_id=1000)
    p["classifier"].update(width=4, epochs=2, milestones=[1], batch_size=16)
    p["contrastive"].update(width=4, proj_dim=8, batch_size=64, labeled_batch_size=16, pretrain_epochs=1,
                            round_epochs=0.5, eval_batch_size=256)
    p["cl_classifier"].update(epochs=2, batch_size=16)
    p["rounds"] = {f"r{i:02d}": {"prev": f"r{i - 1:02d}"} for i in range(1, 4)}
    p["precision"] = "fp32"  # width-4 layers are slower in bf16; test_precision.py runs the bf16 paths
    return p


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh project-like working directory with tiny raw data and params.yaml; cwd is set to it."""
    make_raw(tmp_path / "data" / "raw")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@contextlib.contextmanager
def working_in(root: Path):
    """cwd = root for the block (a module fixture builds its workspace there), restored after."""
    old = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(old)


def workspace_copy(built: Path, tmp_path: Path, monkeypatch) -> Path:
    """A copy of a module's built workspace for one test, as its cwd: the test may break anything."""
    root = tmp_path / "ws"
    shutil.copytree(built, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def as_dvc_exp_run(overrides: dict, base_text: str | None) -> None:
    """What `dvc exp run -S key=value ...` does to the workspace's params.yaml (for fakes of
    src.report.grid.run_one): reset to `base_text` when given (run_one does that), then each key set."""
    import yaml as _yaml

    from src.report.grid import set_key

    params_file = Path("params.yaml")
    params = _yaml.safe_load(base_text if base_text is not None else params_file.read_text())
    for key, value in overrides.items():
        params = set_key(params, key, value)
    params_file.write_text(_yaml.safe_dump(params, sort_keys=False))
