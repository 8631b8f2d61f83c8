"""README's "Several machines" recipe on tiny data: a bare git repository as the git remote, a local
folder as the DVC remote, and two clones standing in for two machines.

The project's main branch holds dvc.lock of the data stages, their outputs pushed to the DVC
remote (as after a first `dvc repro` + `dvc push`). Machine A runs its slice of the grid through
DVC's queue, pulling what main's dvc.lock has, and pushes (`dvc exp push`, `dvc push --run-cache`);
machine B fetches the run cache, runs its slice without computing `pretrain` (restored from the run cache: main's
dvc.lock does not have it) and pushes; a third clone pulls every experiment and builds Table 2.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, make_raw, tiny_params

BIN = str(Path(sys.executable).parent)


def sh(cwd: Path, *cmd: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost"}
    out = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(cmd)} in {cwd}:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout + out.stderr


def project_files(dest: Path) -> None:
    """The project's pipeline (dvc.yaml, stages, src) in `dest`, with tiny params and one round."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "stages", "src", ".gitignore", ".dvcignore"):
        src = ROOT / name
        (shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir()
         else shutil.copy(src, dest / name))
    params = tiny_params()
    params["rounds"] = {"r01": {"prev": "r00"}}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def machine(tmp: Path, name: str, origin: Path) -> Path:
    """`git clone` of the shared repository plus the raw files (the same bytes on every machine:
    DVC's run cache keys a stage by the hashes of its dependencies, data/raw included)."""
    repo = tmp / name
    sh(tmp, "git", "clone", "-q", str(origin), name)
    shutil.copytree(tmp / "raw", repo / "data" / "raw")
    return repo


@pytest.mark.slow
def test_two_machines_share_pretrain_and_one_collects_table2(tmp_path):
    origin, store = tmp_path / "origin.git", tmp_path / "dvc-store"
    seed = tmp_path / "seed"
    make_raw(tmp_path / "raw")
    project_files(seed)
    sh(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    sh(seed, "git", "init", "-q", "-b", "main")
    sh(seed, "dvc", "init", "-q")
    sh(seed, "dvc", "config", "core.analytics", "false")
    sh(seed, "dvc", "remote", "add", "-d", "shared", str(store))  # README: your S3/SSH/NFS remote here
    sh(seed, "git", "add", "-A")
    sh(seed, "git", "commit", "-qm", "project")
    shutil.copytree(tmp_path / "raw", seed / "data" / "raw")
    sh(seed, "dvc", "repro", "-q", "build_pool")
    sh(seed, "dvc", "push", "-q")
    sh(seed, "git", "add", "-A")
    sh(seed, "git", "commit", "-qm", "data stages")
    sh(seed, "git", "push", "-q", str(origin), "main")

    # Machine A: its slice through the queue, then share experiments and the run cache.
    a = machine(tmp_path, "a", origin)
    log_a = sh(a, sys.executable, "-m", "src.report.grid", "results/grid", "--strategies", "random",
               "--seeds", "0", "--jobs", "1", "--pull")
    assert (a / "results/grid/runs/random-s0/summary.json").exists(), log_a
    grid_log = (a / "results/grid/grid.log").read_text()
    assert "Running stage 'pretrain'" in grid_log and "Running stage 'train_vae'" not in grid_log
    shown = sh(a, "dvc", "exp", "show", "--no-pager", "--csv").splitlines()
    assert {"accuracy", "contrastive.loss", "train.loss"} <= set(shown[0].split(","))  # DVCLive's, listed
    sh(a, "dvc", "exp", "push", "origin", "--all-commits")
    sh(a, "dvc", "push", "--run-cache")

    # Machine B: the run cache first; its slice must not compute pretrain (nor the data stages).
    b = machine(tmp_path, "b", origin)
    sh(b, "dvc", "fetch", "--run-cache")
    sh(b, sys.executable, "-m", "src.report.grid", "results/grid", "--strategies", "distance_cl",
       "--seeds", "0", "--jobs", "1", "--pull")
    grid_log = (b / "results/grid/grid.log").read_text()
    assert "Stage 'pretrain' is cached - skipping run, checking out outputs" in grid_log, grid_log[-3000:]
    assert "Running stage 'pretrain'" not in grid_log and "Running stage 'train_vae'" not in grid_log
    assert "Running stage 'finetune_r00'" in grid_log  # its own rounds do run
    sh(b, "dvc", "exp", "push", "origin", "--all-commits")
    sh(b, "dvc", "push", "--run-cache")

    # The collector: every experiment from the git remote (no DVC data needed), then Table 2.
    c = machine(tmp_path, "c", origin)
    sh(c, "dvc", "exp", "pull", "origin", "--all-commits", "--no-cache")
    log_c = sh(c, sys.executable, "-m", "src.report.collect", "results/grid")
    assert "collected 2 new run(s)" in log_c, log_c
    table = (c / "results/grid/table2.md").read_text()
    assert "| Random | 0 |" in table and "| Distance (CL) | 0 |" in table, table  # both machines' rows
    for run in ("random-s0", "distance_cl-s0"):
        mine = json.loads((c / "results/grid/runs" / run / "summary.json").read_text())
        origin_machine = a if run == "random-s0" else b
        theirs = json.loads((origin_machine / "results/grid/runs" / run / "summary.json").read_text())
        assert mine == theirs, run
    assert sh(c, sys.executable, "-m", "src.report.collect", "results/grid").count("collected 0 new") == 1
