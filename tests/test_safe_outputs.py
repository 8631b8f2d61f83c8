"""Every declared output all-or-nothing, the DVCLive folders included: a training stage that fails,
is killed (SIGKILL) mid-epoch, is stopped (SIGTERM) or runs out of disk space leaves every output
file as it was; the next run cleans up and succeeds."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from src.core.io import StageOutputs, output_dir, save_text, stage_outputs
from stages import (acquire, annotate, build_pool, fetch_data, finetune, init_state, make_ambiguous, pretrain,
                    train_ensemble, train_vae)
from tests.conftest import ROOT, make_raw, tiny_params, workspace_copy, working_in
from tests.test_stages import run_stage

OUTPUT_ROOTS = ("models", "runs", "live", "metrics", "plots", "annotations")


def outputs(root: Path) -> dict:
    """Every file under the stages' output folders (hidden leftovers of a killed run included)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for top in OUTPUT_ROOTS for p in sorted((root / top).rglob("*")) if p.is_file()}


def declared(snapshot: dict) -> dict:
    """The declared outputs: no hidden `.<name>.partial` / `.tmp` leftovers (the next run removes those)."""
    return {k: v for k, v in snapshot.items()
            if not any(p.startswith(".") and p.endswith((".partial", ".tmp", ".old", ".commit")) for p in Path(k).parts)}


# ---------------------------------------------------------------- output folders in a transaction
def test_an_output_folder_is_replaced_only_when_the_stage_succeeds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with stage_outputs("a.txt", "live"):
        save_text("a.txt", "old a")
        (output_dir("live") / "metrics.json").write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with stage_outputs("a.txt", "live"):
            (output_dir("live") / "metrics.json").write_text("new")
            save_text("a.txt", "new a")
            raise RuntimeError("boom")
    assert Path("live/metrics.json").read_text() == "old" and Path("a.txt").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "live"]  # no partial folder left
    with stage_outputs("a.txt", "live"):
        (output_dir("live") / "new.tsv").write_text("step\n")
        save_text("a.txt", "new a")
    assert sorted(p.name for p in Path("live").iterdir()) == ["new.tsv"]  # the new folder, not a merge
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "live"]


def test_a_folder_rename_cut_short_is_finished_by_the_next_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("live").mkdir()
    Path("live/metrics.json").write_text("old")
    Path(".a.txt.partial").write_text("new a")  # killed after the journal and the folder moved aside
    os.replace("live", ".live.old")
    Path(".live.partial").mkdir()
    Path(".live.partial/metrics.json").write_text("new")
    Path(".a.txt.commit").write_text(json.dumps([[str(tmp_path / ".a.txt.partial"), str(tmp_path / "a.txt")],
                                                 [str(tmp_path / ".live.partial"), str(tmp_path / "live")]]))
    StageOutputs(["a.txt", "live"]).recover()
    assert Path("a.txt").read_text() == "new a" and Path("live/metrics.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "live"]


def test_outside_a_stage_an_output_folder_is_written_in_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("live").mkdir()
    Path("live/stale").write_text("x")
    assert output_dir("live") == Path("live") and not any(Path("live").iterdir())


# ---------------------------------------------------------------- real training stages
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny distance_cl workspace through finetune r00 and acquire/annotate r01 (finetune r01 not run)."""
    root = tmp_path_factory.mktemp("safe_outputs")
    make_raw(root / "data" / "raw")
    p = tiny_params()
    p["strategy"] = "distance_cl"
    p["active"].update(init_id=4, per_round_id=2)
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    with working_in(root):
        for module in (fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool, pretrain, init_state):
            assert run_stage(module) == 0, module.__name__
        assert run_stage(annotate, "--round", "r00") == 0 and run_stage(finetune, "--round", "r00") == 0
        r01 = ("--round", "r01", "--prev", "r00")
        assert run_stage(acquire, *r01) == 0 and run_stage(annotate, *r01) == 0
        assert run_stage(finetune, *r01) == 0  # so live/rounds/r01 and the model exist: a rerun must keep them
    return root


@pytest.fixture
def ws(built, tmp_path, monkeypatch):
    return workspace_copy(built, tmp_path, monkeypatch)


def set_params(root: Path, **sections) -> None:
    p = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in sections.items():
        p[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(p))


def start(root: Path, *argv, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *argv], cwd=root, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stderr=subprocess.PIPE, text=True, **popen)


def wait_for_epochs(child: subprocess.Popen, partial: Path, steps: int = 2, timeout: float = 120) -> None:
    """Until DVCLive has logged `steps` epochs into the stage's partial live folder: mid-training."""
    tsv = partial / "plots" / "metrics" / "contrastive" / "loss.tsv"
    deadline = time.time() + timeout
    while not (tsv.exists() and len(tsv.read_text().splitlines()) > steps):
        assert child.poll() is None, f"the stage ended before it was stopped: {child.stderr.read()}"
        assert time.time() < deadline, "the stage never logged its epochs"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_training_stage_stopped_mid_epoch_changes_no_output(ws, how):
    set_params(ws, contrastive={"pretrain_epochs": 400})  # long enough to be stopped in the middle
    before = outputs(ws)
    assert (ws / "live/pretrain/metrics.json").exists()
    child = start(ws, "stages.pretrain")
    wait_for_epochs(child, ws / "live" / ".pretrain.partial")
    child.send_signal(getattr(signal, how))
    _, err = child.communicate(timeout=60)
    after = outputs(ws)
    assert declared(after) == before  # every output file as it was, live/pretrain included
    if how == "SIGTERM":  # unwound: the message is true and nothing is left behind
        assert child.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
        assert "the stage's outputs are unchanged" in err and after == before
    else:  # killed outright: only hidden partial files remain, and the next run removes them
        assert child.returncode == -signal.SIGKILL
        assert any(".pretrain.partial" in k for k in after)
        set_params(ws, contrastive={"pretrain_epochs": 1})
        assert run_stage(pretrain) == 0
        assert not any(".partial" in k for k in outputs(ws))
        assert sorted((ws / "live/pretrain").rglob("*.tsv"))  # the new live folder is complete


def test_a_failing_training_stage_keeps_its_live_folder(ws):
    """finetune r01 reads the corrupt model of r00 after DVCLive has started: nothing changes."""
    model = ws / "runs/models/r00.pt"
    model.write_bytes(model.read_bytes()[:200])
    before = outputs(ws)
    assert run_stage(finetune, "--round", "r01", "--prev", "r00") == 2
    assert outputs(ws) == before


def test_out_of_space_during_finetune_is_a_message_and_changes_nothing(ws):
    """A file size limit (what a full disk looks like to the process: the write fails) while finetune
    writes its model: exit 2 with the project's message, no traceback, every output as it was."""
    before = outputs(ws)
    limit = 4096  # bytes: the live logs fit, the model does not

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    child = start(ws, "stages.finetune", "--round", "r01", "--prev", "r00", preexec_fn=limited)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 2 and "Traceback" not in err, err
    assert "could not be written" in err and "Free space" in err, err
    assert outputs(ws) == before



# ---------------------------------------------------------------- a signal ends the process without unwinding it
_STAGE = """
import os, signal, sys, threading, time
from src.core import io
from src.core.cli import run

def main(params_path):
    with io.stage_outputs("a.txt", "b.txt"):
        io.save_text("a.txt", "new a")
        io.save_text("b.txt", "new b")
        if os.environ["MODE"] == "stuck-cleanup":
            lock = threading.Lock()
            try:
                print("ready", flush=True)
                time.sleep(60)
            finally:  # cleanup that never returns, as DVCLive's end() on a queue left locked by an exception
                lock.acquire()
                lock.acquire()
        else:  # the signal arrives between the two final renames
            put = io._put
            def put_then_signal(partial, final):
                put(partial, final)
                os.kill(os.getpid(), signal.SIGTERM)
            io._put = put_then_signal

run(main, "a test stage")
"""


def _start_stage(tmp_path: Path, mode: str) -> subprocess.Popen:
    (tmp_path / "stage.py").write_text(_STAGE)
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(f"old {name}")
    return subprocess.Popen([sys.executable, "stage.py"], cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT), "MODE": mode})


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_stage_even_when_its_cleanup_would_block(tmp_path, how):
    child = _start_stage(tmp_path, "stuck-cleanup")
    assert child.stdout.readline() == "ready\n"
    child.send_signal(getattr(signal, how))
    _, err = child.communicate(timeout=30)  # unwinding would run the blocking cleanup: a hang
    assert child.returncode == 128 + getattr(signal, how), err
    assert f"terminated ({how}); the stage's outputs are unchanged" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "stage.py"]  # no partial file
    assert [(tmp_path / f"{n}.txt").read_text() for n in "ab"] == ["old a", "old b"]


def test_a_signal_during_the_final_renames_acts_after_them(tmp_path):
    child = _start_stage(tmp_path, "signal-in-commit")
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM, err
    assert "the stage had written all its outputs; they are complete" in err
    assert [(tmp_path / f"{n}.txt").read_text() for n in "ab"] == ["new a", "new b"]  # never a mixed set
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "stage.py"]
