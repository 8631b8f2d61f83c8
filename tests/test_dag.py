"""dvc.yaml, src/paths.py and params.yaml agree, and the DAG has the designed shape."""
import importlib
from pathlib import Path

import yaml

from src import paths
from tests.conftest import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _paths(entries):
    return {e if isinstance(e, str) else next(iter(e)) for e in entries or []}


def outs(stage):
    return _paths(DVC[stage].get("outs")) | _paths(DVC[stage].get("metrics"))


def edges():
    return {(a, b) for a in DVC for b in DVC if outs(a) & _paths(DVC[b].get("deps"))}


def test_dag_shape():
    assert edges() == {("fetch_data", "train_vae"), ("fetch_data", "train_ensemble"),
                       ("fetch_data", "make_ambiguous"), ("fetch_data", "build_pool"),
                       ("train_vae", "make_ambiguous"), ("train_ensemble", "make_ambiguous"),
                       ("make_ambiguous", "build_pool")}


def test_declared_paths_match_src_paths():
    declared = set().union(*(outs(s) for s in DVC))
    constants = {str(v) for k, v in vars(paths).items() if k.isupper() and isinstance(v, Path)
                 and v.suffix}
    constants |= {str(paths.pool_grid_png(c)) for c in ("id", "ambiguous", "ood")}
    assert declared == constants


def test_stage_scripts_and_params_exist():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in DVC.items():
        module = stage["cmd"].split("python -m ")[1].split()[0]
        assert importlib.import_module(module).main
        assert f"{module.replace('.', '/')}.py" in _paths(stage["deps"])
        for section in stage.get("params", []):
            assert section in params, f"{name}: params section {section} missing"
        for dep in _paths(stage["deps"]):
            assert (ROOT / dep).exists() or any(dep in outs(s) for s in DVC), dep
