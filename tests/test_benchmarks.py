"""The benchmark switch end to end on tiny fixtures in the exact on-disk formats: the stand-in
(CIFAR-10 JPEG tar + Tiny-ImageNet val tar) through every stage of a round, MixCIFAR60
(CIFAR-100 pickles, SVHN .mat, LSUN-FIX .npy) through the data stages."""
import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy.io import savemat

from src.core import paths
from src.core.io import load_npz
from src.data.pool import AMBIGUOUS, ID, OOD, check_pool
from src.data.standin import CIFAR10_CLASSES
from stages import (acquire, annotate, build_pool, fetch_data, finetune, init_state, make_ambiguous, pretrain,
                    train_ensemble, train_vae)
from tests.conftest import ROOT
from tests.test_natural import write_cifar100
from tests.test_stages import run_stage

DATA = [fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool]


def _jpeg(g, size=32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(g.integers(0, 256, (size, size, 3)).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_standin_raw(raw, n_train=8, n_test=2, n_tiny=12):
    raw.mkdir(parents=True)
    g = np.random.default_rng(0)
    with tarfile.open(raw / "cifar10-jpg.tar.gz", "w:gz") as tar:
        for split, n in (("train", n_train), ("test", n_test)):
            for name in CIFAR10_CLASSES:
                for i in range(n):
                    _add(tar, f"{split}/{name}/{i:04d}.jpg", _jpeg(g))
    rows = [(f"val_{i}.JPEG", "n02124075" if i == 0 else "n07749582") for i in range(n_tiny)]
    with tarfile.open(raw / "tiny-imagenet-200-val.tar.gz", "w:gz") as tar:
        _add(tar, "tiny-imagenet-200/words.txt", b"n02124075\tEgyptian cat\nn07749582\tlemon\n")
        _add(tar, "tiny-imagenet-200/val/val_annotations.txt",
             "".join(f"{f}\t{w}\t0\t0\t63\t63\n" for f, w in rows).encode())
        for f, _ in rows:
            _add(tar, f"tiny-imagenet-200/val/images/{f}", _jpeg(g, 64))


def tiny_natural_params(profile: str) -> dict:
    p = yaml.safe_load((ROOT / "configs" / profile).read_text())
    p["data"].update(raw_dir="data/raw", source="local", check_counts=False)  # fixtures, not the official files
    p["pool"].update(n_id=None, n_ambiguous=None, n_ood=None, n_val=4, grid_images=4)
    p["active"].update(init_id=6, per_round_id=3, target_id=1000)
    p["classifier"].update(width=4, blocks=[1, 1], epochs=2, milestones=[1], batch_size=16, eval_batch_size=64)
    p["contrastive"].update(width=4, blocks=[1, 1], proj_dim=8, batch_size=32, labeled_batch_size=8,
                            pretrain_epochs=1, round_epochs=0.5, eval_batch_size=64)
    p["cl_classifier"].update(epochs=2, milestones=[1], batch_size=16)
    p["rounds"] = {"r01": {"prev": "r00"}, "r02": {"prev": "r01"}}
    return p


@pytest.fixture
def standin_dir(tmp_path, monkeypatch):
    make_standin_raw(tmp_path / "data" / "raw")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_natural_params("quick-standin.yaml")))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _set(root, **changes):
    p = yaml.safe_load((root / "params.yaml").read_text())
    p.update(changes)
    (root / "params.yaml").write_text(yaml.safe_dump(p))


def test_standin_data_stages_and_a_cl_round(standin_dir):
    for module in DATA:
        assert run_stage(module) == 0, module.__name__
    for marker in (paths.VAE_METRICS, paths.ENSEMBLE_METRICS, paths.AMBIGUOUS_METRICS):
        assert json.loads(marker.read_text())["applicable"] is False
    assert paths.VAE_RECON_PNG.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pool = load_npz(paths.POOL_NPZ)
    check_pool(pool, 6)
    assert pool["images"].shape[1:] == (32, 32, 3) and int(pool["num_classes"]) == 6
    stats = json.loads(paths.STATS_JSON.read_text())
    # 6 iD classes x 8 train images - 4 validation; the 4 near-neighbour classes; the lemons (the cat is dropped)
    assert stats["by_category"] == {"id": 44, "ambiguous": 32, "ood": 11}
    assert stats["benchmark"] == "standin" and stats["ood_dropped_wnids"] == {"n02124075": 1}
    assert stats["near_neighbours"] == {"truck": "automobile", "dog": "cat", "horse": "deer", "ship": "airplane"}
    assert stats["test_size"] == 12 and stats["val_size"] == 4
    assert set(pool["source"][pool["category"] == OOD]) == {"tinyimagenet"}
    from src.data.verify import verify

    assert verify() == {"pool": stats["by_category"], "val": 4, "id_classes": 6, "ambiguous_classes": 4}
    manifest = json.loads(paths.RAW_MANIFEST.read_text())
    assert manifest["benchmark"] == "standin" and len(manifest["files"]["cifar10"]["sha256"]) == 64
    for module, argv in ((pretrain, ()), (init_state, ()), (annotate, ("--round", "r00")), (finetune, ("--round", "r00")),
                         (acquire, ("--round", "r01", "--prev", "r00")), (annotate, ("--round", "r01", "--prev", "r00")),
                         (finetune, ("--round", "r01", "--prev", "r00"))):
        assert run_stage(module, *argv) == 0, (module.__name__, argv)
    m = json.loads(paths.round_metrics("r01", "finetune").read_text())
    ann = json.loads(paths.round_metrics("r01", "annotate").read_text())
    stage0 = json.loads(paths.round_metrics("r00", "annotate").read_text())
    assert ann["quota_met"] and ann["id_found"] >= 3 and ann["examined"] == ann["cost"] - stage0["cost"]
    assert 0 <= m["accuracy"] <= 1 and m["train_id"] == ann["labeled_id"] and m["cost"] == ann["cost"]
    feats = load_npz(paths.outputs("r01"))["features"]
    assert feats.shape == (len(pool["images"]), 8) and np.isfinite(feats.astype(np.float32)).all()


def test_standin_baseline_round_uses_the_resnet_with_crop_flip(standin_dir):
    _set(standin_dir, strategy="entropy")
    for module in DATA:
        assert run_stage(module) == 0, module.__name__
    for module, argv in ((init_state, ()), (annotate, ("--round", "r00")), (finetune, ("--round", "r00")),
                         (acquire, ("--round", "r01", "--prev", "r00")), (annotate, ("--round", "r01", "--prev", "r00"))):
        assert run_stage(module, *argv) == 0, (module.__name__, argv)
    probs = load_npz(paths.outputs("r00"))["probs"]
    assert probs.shape[1] == 7 and np.allclose(probs.sum(1), 1, atol=1e-4)  # K + 1 = 7 outputs
    import torch

    ckpt = torch.load(paths.model("r00"), weights_only=True)
    assert ckpt["config"]["arch"] == "resnet" and ckpt["config"]["augment"] == "crop_flip"
    assert any("shortcut" in k for k in ckpt["state_dict"])  # a residual network, not the three-conv net


def test_not_applicable_stages_write_markers_without_torch(standin_dir):
    assert run_stage(fetch_data) == 0
    code = ("import sys\nfrom stages import train_vae, train_ensemble, make_ambiguous\n"
            "for s in (train_vae, train_ensemble, make_ambiguous): s.main()\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=standin_dir,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert "NOT APPLICABLE: train_vae does not apply to benchmark standin" in paths.VAE_PT.read_text()
    assert str(load_npz(paths.AMBIGUOUS_NPZ)["not_applicable"]).startswith("make_ambiguous does not apply")


def test_config_refuses_a_network_that_does_not_fit_the_benchmark(standin_dir):
    from src.core.config import load
    from src.core.errors import ConfigError

    p = yaml.safe_load((standin_dir / "params.yaml").read_text())
    p["classifier"]["arch"] = "convnet"
    (standin_dir / "params.yaml").write_text(yaml.safe_dump(p))
    with pytest.raises(ConfigError, match="classifier.arch = 'convnet' does not fit benchmark 'standin'"):
        load("params.yaml")
    p["classifier"]["arch"], p["active"]["num_classes"] = "resnet", 10
    (standin_dir / "params.yaml").write_text(yaml.safe_dump(p))
    with pytest.raises(ConfigError, match="num_classes = 10 but pool.id_classes names 6 classes"):
        load("params.yaml")


# ---------------------------------------------------------------- MixCIFAR60
def make_mixcifar60_raw(raw, n_lsun=9, n_svhn=7):
    from src.data.natural import superclass_split
    from tests.test_natural import FINE_NAMES

    ids, amb = superclass_split()
    # two train images of every class, one test image of every class
    fine = {"train": [FINE_NAMES.index(f) for f in ids + amb] * 2, "test": [FINE_NAMES.index(f) for f in ids + amb]}
    write_cifar100(raw, n_train=200, n_test=100, fine=fine)
    g = np.random.default_rng(1)
    (raw / "SVHN").mkdir()
    savemat(raw / "SVHN/train_32x32.mat", {"X": g.integers(0, 256, (32, 32, 3, n_svhn)).astype(np.uint8),
                                           "y": g.integers(1, 11, (n_svhn, 1))})
    np.save(raw / "LSUN_fix.npy", g.integers(0, 256, (n_lsun, 32, 32, 3)).astype(np.uint8))


@pytest.fixture
def mixcifar_dir(tmp_path, monkeypatch):
    make_mixcifar60_raw(tmp_path / "data" / "raw")
    p = tiny_natural_params("paper-mixcifar60.yaml")
    p["pool"].update(n_ambiguous=50, n_ood=10, n_val=6)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_mixcifar60_data_stages_follow_the_superclass_split(mixcifar_dir):
    for module in DATA:
        assert run_stage(module) == 0, module.__name__
    pool, test = load_npz(paths.POOL_NPZ), load_npz(paths.TEST_NPZ)
    check_pool(pool, 60)
    stats = json.loads(paths.STATS_JSON.read_text())
    assert stats["by_category"] == {"id": 120 - 6, "ambiguous": 50, "ood": 10}
    assert stats["by_source"] == {"cifar100": 164, "lsun_fix": 5, "svhn": 5}  # equal OoD shares
    src = load_npz(paths.SOURCE_NPZ)
    names = [str(n) for n in src["class_names"]]
    p = yaml.safe_load(open("params.yaml"))
    id_rows, amb_rows = pool["category"] == ID, pool["category"] == AMBIGUOUS
    got = [names[c] for c in src["train_labels"][pool["source_index"][id_rows]]]
    assert got == [p["pool"]["id_classes"][k] for k in pool["label"][id_rows]]  # label = position in the list
    assert {names[c] for c in src["train_labels"][pool["source_index"][amb_rows]]} <= set(p["pool"]["ambiguous_classes"])
    assert len(test["labels"]) == 60 and sorted(test["labels"].tolist()) == list(range(60))
    from src.data.verify import verify

    assert verify()["pool"] == stats["by_category"]


def test_mixcifar60_offline_names_every_missing_file(mixcifar_dir, capsys):
    (mixcifar_dir / "data/raw/SVHN/train_32x32.mat").unlink()
    (mixcifar_dir / "data/raw/LSUN_fix.npy").unlink()
    assert run_stage(fetch_data) == 2
    err = capsys.readouterr().err
    assert "SVHN/train_32x32.mat" in err and "LSUN_fix.npy" in err and "github.com/alinlab/CSI" in err
    assert not paths.SOURCE_NPZ.exists()  # nothing half-written


@pytest.mark.parametrize("strategy, keys", [("lfosa", {"probs", "logits"}),
                                            ("eaoa", {"probs", "logits", "penultimate"})])
def test_standin_open_set_strategy_through_two_rounds(standin_dir, strategy, keys):
    """`dvc exp run -S strategy=lfosa|eaoa` on a natural-image benchmark, stage by stage: the ResNet
    classifier writes what the strategy reads, and acquire ranks every unlabeled sample twice (the
    second time with labeled non-iD, EAOA's k1 adapted from r01's precision)."""
    _set(standin_dir, strategy=strategy)
    for module in DATA:
        assert run_stage(module) == 0, module.__name__
    steps = [(init_state, ()), (annotate, ("--round", "r00")), (finetune, ("--round", "r00"))]
    for r, prev in (("r01", "r00"), ("r02", "r01")):
        steps += [(acquire, ("--round", r, "--prev", prev)), (annotate, ("--round", r, "--prev", prev)),
                  (finetune, ("--round", r, "--prev", prev))]
    for module, argv in steps:
        assert run_stage(module, *argv) == 0, (module.__name__, argv)
    n = len(load_npz(paths.POOL_NPZ)["category"])
    out = load_npz(paths.outputs("r01"))
    assert keys <= set(out) and out["logits"].shape == (n, 7)  # K + 1 = 7 logits of the baselines' ResNet
    if "penultimate" in keys:
        assert out["penultimate"].shape[0] == n and out["penultimate"].dtype == np.float16
    for r in ("r01", "r02"):
        acq = json.loads(paths.round_metrics(r, "acquire").read_text())
        ann = json.loads(paths.round_metrics(r, "annotate").read_text())
        assert acq["strategy"] == strategy and ann["quota_met"] and ann["id_found"] == 3, (acq, ann)
    if strategy == "eaoa":
        info = json.loads(paths.round_metrics("r02", "acquire").read_text())["eaoa"]
        assert info["k1"] >= 1 and info["rknn_seconds"] >= 0, info
