"""Every stage run in-process, in order, on tiny synthetic raw data; then bad inputs."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from src.core import paths
from src.core.io import load_npz
from src.data.pool import check_pool
from src.data.verify import verify
from src.data.votes import distinct_votes
from stages import (acquire, annotate, build_pool, fetch_data, finetune, init_state, make_ambiguous, pretrain,
                    report, train_ensemble, train_vae)
from src.core.cli import run

ORDER = [fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool]


def run_stage(module, *argv) -> int:
    try:
        run(module.main, "", argv=list(argv))
    except SystemExit as exc:
        return exc.code
    return 0


def outputs(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not str(p.relative_to(root)).startswith(("data/raw", "params")))


def test_all_stages_in_order(workdir):
    for module in ORDER:
        assert run_stage(module) == 0, module.__name__
    manifest = json.loads(paths.RAW_MANIFEST.read_text())
    assert manifest["mnist"]["counts"] == {"train": 240, "test": 80}
    vae = json.loads(paths.VAE_METRICS.read_text())
    assert np.isfinite(vae["test_neg_elbo_nats"]) and vae["test_bits_per_dim"] > 0 and vae["precision"] == "fp32"
    ens = json.loads(paths.ENSEMBLE_METRICS.read_text())
    assert len(ens["members"]) == 10 and {m["arch"] for m in ens["members"]} == {"cnn", "lenet", "mlp"}
    assert len(torch.load(paths.ENSEMBLE_PT, weights_only=True)["state_dicts"]) == 10
    amb = load_npz(paths.AMBIGUOUS_NPZ)
    assert amb["images"].shape == (6, 28, 28) and amb["votes"].shape == (6, 10)
    assert set(distinct_votes(amb["votes"].T).tolist()) <= {2, 3}
    stats = json.loads(paths.AMBIGUOUS_METRICS.read_text())
    assert stats["kept"] == 6 and 0 < stats["acceptance_rate"] <= 1
    assert sum(stats["vote_patterns_kept"].values()) == 6
    pool = load_npz(paths.POOL_NPZ)
    check_pool(pool)
    table1 = json.loads(paths.STATS_JSON.read_text())
    for code, name in enumerate(["id", "ambiguous", "ood"]):
        assert table1["by_category"][name] == int((pool["category"] == code).sum())
    assert table1["by_category"] == {"id": 100, "ambiguous": 6, "ood": 60}  # ood: min(1000, 60)
    assert verify()["pool"] == table1["by_category"]
    for png in (paths.VAE_RECON_PNG, paths.AMBIGUOUS_PNG, paths.pool_grid_png("ood")):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(Path(".").rglob("*.tmp"))

    # active-learning rounds: the paper's method (default strategy), then a baseline
    assert run_stage(pretrain) == 0
    pre = json.loads(paths.PRETRAIN_METRICS.read_text())
    assert pre["steps"] == 3 and np.isfinite(pre["loss_last"])  # ceil(166 / 64) steps for 1 epoch
    assert pre["precision"] == "fp32"  # params.yaml's (tiny_params sets fp32): recorded in each training stage's metrics
    for strategy in ("distance_cl", "ddu", "random"):
        set_strategy(strategy)
        run_rounds()
        summary = json.loads(paths.SUMMARY.read_text())
        assert set(summary) >= {"accuracy", "cost", "cost_per_acc", "id_precision"}
        assert summary["labeled_id"] >= 5 + 3 * 3 and 0 <= summary["accuracy"] <= 100
        curve = paths.CURVE_CSV.read_text().splitlines()
        assert curve[0].startswith("round,cost,accuracy") and len(curve) == 1 + 4
        assert paths.CURVE_PNG.read_bytes()[:4] == b"\x89PNG"
        ckpt = torch.load(paths.model("r03"), weights_only=True)
        acq = json.loads(paths.round_metrics("r01", "acquire").read_text())
        if strategy == "distance_cl":
            assert {"rep", "rep_config", "state_dict"} <= set(ckpt)  # representation + classifier
            assert acq["seconds"]["kmeans"] >= 0 and acq["batches"] >= 1
            fin = json.loads(paths.round_metrics("r02", "finetune").read_text())
            assert fin["representation"]["steps"] == 2 and fin["precision"] == "fp32"  # ceil(0.5 * unlabeled / 64)
            r00 = json.loads(paths.round_metrics("r00", "annotate").read_text())
            assert r00["labeled_id"] >= 5 and r00["cost"] == r00["examined"]  # charged for all examined
        elif strategy == "ddu":
            assert ckpt["learner"] == "ddu" and "kmeans" not in acq["seconds"]
            assert acq["density"]["classes"] >= 2 and np.isfinite(acq["density"]["uncertainty_range"]).all()
            fin = json.loads(paths.round_metrics("r02", "finetune").read_text())
            assert fin["spectral_norm"]["max_sigma"] <= 1.01 * fin["spectral_norm"]["coeff"]
            assert set(load_npz(paths.outputs("r02"))) >= {"probs", "embeddings"}
        else:
            assert "rep" not in ckpt and "kmeans" not in acq["seconds"]
        assert summary["target_reached"] is False  # tiny params: target_id 1000
    check_stopping_rule()


def set_param(section: str, key: str, value) -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())
    p[section][key] = value
    Path("params.yaml").write_text(yaml.safe_dump(p))


def check_stopping_rule() -> None:
    """Random, target 8 = 5 (stage 0) + 3 (r01): r02 and r03 examine, charge and train nothing."""
    from src.active.state import ActiveState

    set_param("active", "target_id", 8)
    run_rounds()
    r01 = ActiveState.load(paths.state("r01"), 10)
    assert r01.labeled_id(10) == 8
    for r in ("r02", "r03"):
        ann = json.loads(paths.round_metrics(r, "annotate").read_text())
        assert ann["finished"] is True and ann["examined"] == 0 and ann["cost"] == r01.cost
        assert json.loads(paths.round_metrics(r, "acquire").read_text())["candidates"] == 0
        assert json.loads(paths.round_metrics(r, "finetune").read_text())["finished"] is True
        s = ActiveState.load(paths.state(r), 10)
        assert np.array_equal(s.labels, r01.labels) and np.array_equal(s.acquired_round, r01.acquired_round)
        assert s.cost == r01.cost and s.round == r01.round
        assert paths.model(r).read_bytes() == paths.model("r01").read_bytes()  # the model stays r01's
    summary = json.loads(paths.SUMMARY.read_text())
    fin = json.loads(paths.round_metrics("r01", "finetune").read_text())
    assert summary["target_reached"] is True and summary["rounds"] == 1 and summary["labeled_id"] == 8
    assert summary["cost"] == r01.cost and summary["accuracy"] == round(100 * fin["accuracy"], 3)
    assert len(paths.CURVE_CSV.read_text().splitlines()) == 1 + 2  # r00, r01
    # the final classifier (dvc.yaml's artifact) is the stopping point's model
    assert paths.FINAL_MODEL.read_bytes() == paths.model("r01").read_bytes() != paths.model("r00").read_bytes()


def set_strategy(name: str) -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())
    p["strategy"] = name
    Path("params.yaml").write_text(yaml.safe_dump(p))


def run_rounds() -> None:
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 0
    assert run_stage(finetune, "--round", "r00") == 0
    for r, prev in (("r01", "r00"), ("r02", "r01"), ("r03", "r02")):
        assert run_stage(acquire, "--round", r, "--prev", prev) == 0
        assert run_stage(annotate, "--round", r, "--prev", prev) == 0
        assert run_stage(finetune, "--round", r, "--prev", prev) == 0
    assert run_stage(report) == 0


def test_same_params_same_numbers(workdir):
    assert run_stage(fetch_data) == 0
    results = []
    for _ in range(2):
        assert run_stage(train_vae) == 0
        results.append((paths.VAE_METRICS.read_bytes(), paths.VAE_PT.read_bytes()))
    assert results[0] == results[1]  # metrics and weights, byte for byte


def test_missing_raw_file(workdir, capsys):
    (workdir / "data/raw/MNIST/raw/train-labels-idx1-ubyte").unlink()
    assert run_stage(fetch_data) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "train-labels-idx1-ubyte" in err and "Traceback" not in err
    assert outputs(workdir) == []


def test_corrupt_idx_header(workdir, capsys):
    path = workdir / "data/raw/MNIST/raw/t10k-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[0:4] = b"\x12\x34\x08\x03"
    path.write_bytes(bytes(data))
    assert run_stage(fetch_data) == 2
    err = capsys.readouterr().err
    assert "t10k-images-idx3-ubyte: not an IDX file" in err
    assert outputs(workdir) == []


@pytest.mark.parametrize("module", ORDER)
def test_unknown_params_key(workdir, capsys, module):
    p = yaml.safe_load(Path("params.yaml").read_text())
    p["ensemble"]["member"] = 3
    Path("params.yaml").write_text(yaml.safe_dump(p))
    assert run_stage(module) == 2
    assert "unknown key 'member'" in capsys.readouterr().err
    assert outputs(workdir) == []


def test_ambiguous_gives_up_with_advice(workdir, capsys):
    for module in ORDER[:3]:
        assert run_stage(module) == 0
    p = yaml.safe_load(Path("params.yaml").read_text())
    p["ambiguous"].update(min_distinct=10, max_distinct=10, max_candidates=400)
    Path("params.yaml").write_text(yaml.safe_dump(p))
    assert run_stage(make_ambiguous) == 2
    assert "max_candidates" in capsys.readouterr().err
    assert not paths.AMBIGUOUS_NPZ.exists()


def test_cl_strategy_on_baseline_outputs_gets_a_clear_error(workdir, capsys):
    for module in ORDER:
        assert run_stage(module) == 0
    set_strategy("random")
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 0
    assert run_stage(finetune, "--round", "r00") == 0
    set_strategy("distance_cl")  # without rerunning the finetune stage
    assert run_stage(acquire, "--round", "r01", "--prev", "r00") == 2
    err = capsys.readouterr().err
    assert "needs model outputs ['features']" in err and "Traceback" not in err
    assert not paths.candidates("r01").exists()
