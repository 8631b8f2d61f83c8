"""DVCLive logging (src/core/live.py) and the GPU claim of parallel workers (src/core/device.py)."""
import json
import subprocess
import sys
import types

import numpy as np
import pytest

from src.core import live
from src.models.supervised import train_classifier
from tests.conftest import ROOT, synthetic_digits


def classifier_cfg(epochs=3):
    return types.SimpleNamespace(arch="convnet", width=4, blocks=[1], epochs=epochs, batch_size=16, lr=1e-3,
                                 weight_decay=0.0, milestones=[], gamma=0.1, grad_clip=None,
                                 label_smoothing=0.0, optimizer="adam", momentum=0.0, augment="none")


def train_logged(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    images, labels = synthetic_digits(64, 0)
    with live.tracking(name):
        train_classifier(images, labels.astype(np.int64), classifier_cfg(), 11, 0, "t")
    return tmp_path / "live" / name


def test_training_logs_one_step_per_epoch_with_identical_bytes(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = train_logged(tmp_path / "a", monkeypatch, "rounds/r01")
    second = train_logged(tmp_path / "b", monkeypatch, "rounds/r01")
    metrics = json.loads((first / "metrics.json").read_text())
    rows = (first / "plots" / "metrics" / "classifier" / "loss.tsv").read_text().splitlines()
    assert rows[0] == "step\tloss" and len(rows) == 1 + 3  # header + one row per epoch, no timestamps
    assert metrics["step"] == 2 and metrics["classifier"]["loss"] == float(rows[-1].split("\t")[1])
    assert float(rows[-1].split("\t")[1]) < float(rows[1].split("\t")[1])  # it learned
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 2
    for f in files:
        assert (first / f).read_bytes() == (second / f).read_bytes(), f


def test_empty_writes_the_bytes_dvclive_writes_for_a_block_without_steps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with live.tracking("rounds/r01"):
        pass
    stale = tmp_path / "live" / "rounds" / "r02" / "plots" / "metrics"
    stale.mkdir(parents=True)
    (stale / "loss.tsv").write_text("step\tloss\n0\t1.0\n")  # an earlier run's steps: removed
    live.empty("rounds/r02")
    theirs, ours = (tmp_path / "live" / "rounds" / r for r in ("r01", "r02"))
    files = sorted(str(p.relative_to(theirs)) for p in theirs.rglob("*"))
    assert files == sorted(str(p.relative_to(ours)) for p in ours.rglob("*")) == ["metrics.json"]
    assert (ours / "metrics.json").read_bytes() == (theirs / "metrics.json").read_bytes()


def test_step_outside_tracking_and_other_ranks_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    live.step(loss=1.0)  # no tracking block: nothing happens
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with live.tracking("pretrain") as tracker:
        live.step(loss=1.0)
    assert tracker is None and not (tmp_path / "live").exists()


def test_parallel_processes_claim_different_gpus(tmp_path):
    """Queue workers on a 2-GPU machine: each process locks a GPU index of its own for its lifetime,
    and a third waits while both are held."""
    code = ("import sys, time; from src.core.device import claim_gpu; "
            "print(claim_gpu(2, sys.argv[1], poll_s=0.05), flush=True); time.sleep(30)")
    procs = []
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                                          stdout=subprocess.PIPE, text=True))
            procs[-1].claimed = procs[-1].stdout.readline().strip()
        assert sorted(p.claimed for p in procs) == ["0", "1"]
        with pytest.raises(subprocess.TimeoutExpired):  # both held: the third waits for one
            subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, timeout=3)
        procs[0].kill()
        procs[0].wait()
        third = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                                 text=True)
        procs.append(third)
        assert third.stdout.readline().strip() == procs[0].claimed  # the freed GPU
    finally:
        for p in procs:
            p.kill()
            p.wait()
