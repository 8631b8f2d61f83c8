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


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A tiny project reproduced once, end to end (tests that change it work on a copy)."""
    root = make_project(tmp_path_factory.mktemp("pipeline") / "straight", tiny_params())
    repro(root)
    return root


@pytest.mark.slow
def test_killed_repro_resumes_with_identical_results(tmp_path, straight):
    params = tiny_params()

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


def dvc(root: Path, *args: str) -> str:
    out = subprocess.run([f"{BIN}/dvc", *args], cwd=root, env=env(), capture_output=True, text=True)
    assert out.returncode == 0, (args, out.stdout[-3000:] + out.stderr[-3000:])
    return out.stdout


def changed_stages(root: Path) -> set[str]:
    import json

    return set(json.loads(dvc(root, "status", "--json") or "{}"))


def set_leaf(params: dict, dotted: str, value) -> dict:
    import copy

    params = copy.deepcopy(params)
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value
    return params


ROUNDS = ("r01", "r02", "r03")  # tiny_params' chain
STAGES = {"init": {"init"}, "annotate": {"annotate_r00", *(f"annotate@{r}" for r in ROUNDS)},
          "acquire": {f"acquire@{r}" for r in ROUNDS}, "finetune": {"finetune_r00", *(f"finetune@{r}" for r in ROUNDS)},
          "report": {"report"}}


@pytest.mark.slow
def test_a_changed_param_reruns_exactly_the_stages_that_read_it(tmp_path, straight):
    """One leaf param of each kind: `dvc status` names the settings stage, and once it has run,
    exactly the stages of the kinds that read the param (src/core/settings.py KINDS); a data param
    names its data stage only. `dvc exp show` lists the params and `dvc params diff` the changed
    one. Changed back, the rounds come from DVC's run cache instead of running again."""
    from src.core.settings import KINDS

    root = tmp_path / "copy"
    shutil.copytree(straight, root, symlinks=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)  # `dvc params diff` compares with git HEAD
    dvc(root, "config", "core.no_scm", "false")
    (root / ".gitignore").write_text("/.dvc/cache\n/.dvc/tmp\n/data/\n/runs/\n/models/\n/live/\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "run"], cwd=root, check=True)
    base = yaml.safe_load((root / "params.yaml").read_text())
    assert changed_stages(root) == set()
    header = dvc(root, "exp", "show", "--csv", "--no-pager").splitlines()[0].split(",")
    assert {"seed", "strategy", "classifier.lr", "cluster.n_init", "report.budgets", "accuracy"} <= set(header), header
    cases = [("classifier.lr", 0.002, set()), ("cluster.n_init", 2, set()), ("annotation.sheet_size", 7, set()),
             ("contrastive.eval_batch_size", 128, {"pretrain"}),  # pretrain reads the contrastive section
             ("report.budgets", [10, 20], set()), ("active.costs.ood", 2.0, set()), ("seed", 5, set())]
    for dotted, value, also in cases:
        readers = {kind for kind, spec in KINDS.items()
                   if any(dotted == k or dotted.startswith(k + ".") for k in spec["params"])}
        assert readers, dotted
        (root / "params.yaml").write_text(yaml.safe_dump(set_leaf(base, dotted, value)))
        assert changed_stages(root) == {"settings"} | also, dotted
        diff = dvc(root, "params", "diff", "--json")
        assert dotted in diff or dotted.rsplit(".", 1)[0] in diff, (dotted, diff)
        dvc(root, "repro", "-s", "settings")
        assert changed_stages(root) == set().union(also, *(STAGES[k] for k in readers)), dotted
        (root / "params.yaml").write_text(yaml.safe_dump(base))
        dvc(root, "repro", "-s", "settings")
        assert changed_stages(root) == set(), dotted
    (root / "params.yaml").write_text(yaml.safe_dump(set_leaf(base, "vae.lr", 0.001)))
    assert changed_stages(root) == {"train_vae"}  # the rounds read no vae param
    (root / "params.yaml").write_text(yaml.safe_dump(base))

    # The run cache: rerun the finetunes with another lr, change it back: restored, not run.
    (root / "params.yaml").write_text(yaml.safe_dump(set_leaf(base, "classifier.lr", 0.002)))
    log = repro(root)
    assert "Running stage 'finetune@r01'" in log
    (root / "params.yaml").write_text(yaml.safe_dump(base))
    log = repro(root)
    assert "Running stage 'finetune@r01'" not in log and "Stage 'finetune@r01' is cached" in log, log[-3000:]
    for rel in ("metrics/summary.json", "plots/curve.csv"):
        assert (root / rel).read_bytes() == (straight / rel).read_bytes(), rel
