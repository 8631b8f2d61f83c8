"""The real thing on tiny data: `dvc repro` of dvc.yaml, killed mid-rounds and resumed."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, make_raw, tiny_params

BIN = str(Path(sys.executable).parent)


def make_project(root: Path, params: dict) -> Path:
    root.mkdir()
    for name in ("dvc.yaml", "stages", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    make_raw(root / "data" / "raw")
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run([f"{BIN}/dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    shutil.copytree(ROOT / ".dvc" / "plots", root / ".dvc" / "plots")
    return root


def env() -> dict:
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}


def repro(root: Path) -> str:
    out = subprocess.run([f"{BIN}/dvc", "repro"], cwd=root, env=env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


@pytest.mark.slow
def test_killed_repro_resumes_with_identical_results(tmp_path):
    params = tiny_params()
    straight = make_project(tmp_path / "straight", params)
    repro(straight)

    killed = make_project(tmp_path / "killed", params)
    proc = subprocess.Popen([f"{BIN}/dvc", "repro"], cwd=killed, env=env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = killed / "runs" / "candidates" / "r02.npz"
    deadline = time.time() + 300
    while not target.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "dvc repro ended before the kill point"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics" / "summary.json").exists()

    log = repro(killed)
    assert "Running stage 'fetch_data'" not in log and "Running stage 'finetune@r01'" not in log
    assert "Running stage 'finetune@r03'" in log
    for rel in ("metrics/summary.json", "plots/curve.csv"):
        assert (killed / rel).read_bytes() == (straight / rel).read_bytes(), rel
    summary = yaml.safe_load((straight / "metrics" / "summary.json").read_text())
    assert summary["labeled_id"] >= 5 + 3 * 3 and summary["rounds"] == 3
    assert summary["cost"] >= summary["labeled_id"]
