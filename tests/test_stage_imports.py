"""Each stage kind, run as its own process (as DVC runs it), imports torch only when it runs a
network and scikit-learn only when it clusters or fits a density: process start is most of what a
round stage costs beyond its work (`import torch` alone takes seconds)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from src.active.strategies import REGISTRY, reads_representation
from tests.conftest import ROOT, make_raw, tiny_params

HEAVY = ("torch", "sklearn", "dvclive", "matplotlib")
# Runs a stage module as `python -m` does, then writes which heavy packages the process imported.
PROBE = """
import json, runpy, sys
module, out, *args = sys.argv[1:]
sys.argv = [module, *args]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
    open(out, "w").write(json.dumps(heavy))
""" % (HEAVY,)


def imports_of(root: Path, module: str, *args: str) -> set[str]:
    out = root / "imports.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE, module, str(out), *args], cwd=root, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(out.read_text()))


def set_params(root: Path, **changes) -> None:
    p = tiny_params()
    p["active"].update(init_id=5, per_round_id=3, target_id=8)  # r01 reaches the target: r02 is finished
    p["rounds"] = {"r01": {"prev": "r00"}, "r02": {"prev": "r01"}}
    p.update(changes)
    (root / "params.yaml").write_text(yaml.safe_dump(p))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny workspace with the pool and the pretrained representation, built by the stages."""
    root = tmp_path_factory.mktemp("imports")
    make_raw(root / "data" / "raw")
    set_params(root)
    for module in ("fetch_data", "train_vae", "train_ensemble", "make_ambiguous", "build_pool", "pretrain"):
        subprocess.run([sys.executable, "-m", f"stages.{module}"], cwd=root, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    return root


def chain(root: Path, strategy: str) -> dict[str, set[str]]:
    """settings, stage 0 and rounds r01 (working) and r02 (after the stop), then report."""
    set_params(root, strategy=strategy)
    seen = {}
    for label, module, *args in (
            ("settings", "stages.settings"), ("init", "stages.init_state"),
            ("annotate r00", "stages.annotate", "--round", "r00"), ("finetune r00", "stages.finetune", "--round", "r00"),
            ("acquire r01", "stages.acquire", "--round", "r01", "--prev", "r00"),
            ("annotate r01", "stages.annotate", "--round", "r01", "--prev", "r00"),
            ("finetune r01", "stages.finetune", "--round", "r01", "--prev", "r00"),
            ("acquire r02 (finished)", "stages.acquire", "--round", "r02", "--prev", "r01"),
            ("annotate r02 (finished)", "stages.annotate", "--round", "r02", "--prev", "r01"),
            ("finetune r02 (finished)", "stages.finetune", "--round", "r02", "--prev", "r01"),
            ("report", "stages.report")):
        seen[label] = imports_of(root, module, *args)
    return seen


@pytest.fixture(scope="module")
def entropy_run(built):
    return chain(built, "entropy")


def test_probability_strategy_imports_torch_only_to_train(entropy_run):
    seen = dict(entropy_run)
    assert seen.pop("finetune r00") >= {"torch"} and seen.pop("finetune r01") >= {"torch"}
    assert seen.pop("report") == {"matplotlib"}  # it draws curve.png
    assert seen == {label: set() for label in seen}, seen  # init, annotate, acquire, finished rounds


@pytest.mark.parametrize("strategy, acquire_needs", [("distance_cl", {"sklearn"}), ("ddu", {"sklearn"})])
def test_cluster_and_density_strategies_import_sklearn_to_rank_not_torch(built, strategy, acquire_needs):
    seen = chain(built, strategy)
    assert seen["acquire r01"] == acquire_needs  # k-means (distance_cl) or the GDA's shrinkage (ddu)
    assert "torch" in seen["finetune r01"]
    assert seen["init"] == ({"torch", "sklearn"} if reads_representation(strategy) else set())
    for label in ("settings", "annotate r00", "annotate r01", "acquire r02 (finished)", "annotate r02 (finished)",
                  "finetune r02 (finished)"):
        assert seen[label] == set(), (label, seen[label])
    assert seen["report"] == {"matplotlib"}


def test_init_asks_the_learner_family_without_importing_it():
    """init decides whether stage 0 runs the representation model from the strategy alone; that
    answer must be the learner's own (`pretrained`), for every registered strategy."""
    from src.active.learners import learner_for
    from src.core.config import load

    p = load(ROOT / "params.yaml")
    for name in REGISTRY:
        learner = learner_for(type(p)(**{**p.__dict__, "strategy": name}))
        assert learner.pretrained == reads_representation(name), name


def test_state_prev_is_recorded_downstream(built, entropy_run):
    """dvc.yaml leaves state prev out of acquire's, annotate's and finetune's dependencies because
    every change of it shows in one they keep: the pool outputs of prev (acquire) and the
    candidates (annotate) record its digest, and state rNN carries it (finetune)."""
    from src.active.state import ActiveState
    from src.core.io import load_npz

    def state(name):
        return ActiveState.load(built / "runs" / "state" / f"{name}.npz", 10)

    for prev, key in (("r00", "r01"), ("r01", "r02")):
        old, new = state(prev), state(key)
        assert str(load_npz(built / "runs" / "outputs" / f"{prev}.npz")["state_digest"]) == old.digest()
        assert str(load_npz(built / "runs" / "candidates" / f"{key}.npz")["state_digest"]) == old.digest()
        rows = old.labeled
        assert (new.labels[rows] == old.labels[rows]).all() and (new.acquired_round[rows] == old.acquired_round[rows]).all()
        assert new.pool_fingerprint == old.pool_fingerprint and new.cost >= old.cost
        assert (new.round > old.round) or new.digest() == old.digest()  # a working round, or a finished one: prev as is
