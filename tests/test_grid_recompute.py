"""`python -m src.report.grid --no-run-cache` on tiny data, with real git and DVC: deleting a run's
folder and running the grid again computes nothing (DVC finds the stages up to date in the workspace
or restores them from its run cache); --no-run-cache makes the run compute its stages again, and on
one machine they give the same bytes."""
import shutil
import sys

import pytest

from src.report.grid import main as grid_main
from tests.conftest import make_raw
from tests.test_two_clones import project_files, sh


def test_no_run_cache_is_refused_with_the_queue(capsys):
    with pytest.raises(SystemExit):
        grid_main(["results/x", "--no-run-cache", "--jobs", "1"])
    assert "--no-run-cache runs in this workspace only" in capsys.readouterr().err


@pytest.mark.slow
def test_a_deleted_run_is_not_recomputed_unless_no_run_cache(tmp_path):
    repo = tmp_path / "repo"
    project_files(repo)
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "project")
    make_raw(repo / "data" / "raw")
    grid = [sys.executable, "-m", "src.report.grid", "results/g", "--strategies", "random", "--seeds", "0"]
    run = repo / "results/g/runs/random-s0"
    log = repo / "results/g/grid.log"

    sh(repo, *grid)
    first = (run / "summary.json").read_bytes()
    assert "Running stage 'finetune_r00'" in log.read_text()

    shutil.rmtree(run)  # the folder alone: DVC still has the run in its run cache
    before = len(log.read_text())
    sh(repo, *grid)
    again = log.read_text()[before:]
    assert "Running stage" not in again  # nothing computed: unchanged in the workspace or restored from the run cache
    assert (run / "summary.json").read_bytes() == first

    shutil.rmtree(run)
    before = len(log.read_text())
    out = sh(repo, *grid, "--no-run-cache")
    fresh = log.read_text()[before:]
    assert "dvc repro pretrain" in out
    for stage in ("settings", "init", "annotate_r00", "finetune_r00", "acquire@r01", "finetune@r01", "report"):
        assert f"Running stage '{stage}'" in fresh, (stage, fresh[-3000:])
    assert "is cached - skipping run" not in fresh.split("Running stage 'settings'", 1)[1]
    assert "Running stage 'pretrain'" not in fresh and "Running stage 'build_pool'" not in fresh
    assert (run / "summary.json").read_bytes() == first  # recomputed, the same bytes
