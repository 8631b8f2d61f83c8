from pathlib import Path

import pytest
import yaml

from src.core import config
from src.core.errors import ConfigError
from tests.conftest import ROOT


def write(tmp_path, mutate) -> Path:
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    mutate(p)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    return path


@pytest.mark.parametrize("name", ["params.yaml", "configs/paper-mixmnist.yaml"])
def test_shipped_profiles_load(name):
    params = config.load(ROOT / name)
    assert params.ambiguous.mix == 0.7 and params.ensemble.members == 10


def test_paper_profile_has_paper_sizes():
    params = config.load(ROOT / "configs/paper-mixmnist.yaml")
    assert params.ambiguous.count == 15000 and params.pool.n_ood == 18724 and params.pool.n_id is None
    assert params.ensemble.min_accuracy == 0.98


def test_unknown_key_names_key_and_suggests(tmp_path):
    path = write(tmp_path, lambda p: p["vae"].update(epoch=3))
    with pytest.raises(ConfigError, match=r"vae: unknown key 'epoch'.*Did you mean 'epochs'"):
        config.load(path)


def test_unknown_section(tmp_path):
    path = write(tmp_path, lambda p: p.update(vea={}))
    with pytest.raises(ConfigError, match="unknown key 'vea'.*Did you mean 'vae'"):
        config.load(path)


def test_missing_key(tmp_path):
    path = write(tmp_path, lambda p: p["pool"].pop("n_ood"))
    with pytest.raises(ConfigError, match="pool: missing key.*n_ood"):
        config.load(path)


@pytest.mark.parametrize("section, key, value, match", [
    ("vae", "epochs", "three", "vae.epochs: expected an integer"),
    ("vae", "epochs", 2.5, "vae.epochs: expected an integer"),
    ("ambiguous", "mix", "seventy", "ambiguous.mix: expected a number"),
    ("data", "check_counts", "yes", "expected true or false"),
    ("data", "source", "ftp", "data.source = 'ftp' is not one of"),
    ("cluster", "exclude", "all", "cluster.exclude = 'all' is not one of most, majority"),
])
def test_bad_values(tmp_path, section, key, value, match):
    path = write(tmp_path, lambda p: p[section].update({key: value}))
    with pytest.raises(ConfigError, match=match):
        config.load(path)


def test_yaml_exponent_string_is_a_float(tmp_path):
    path = write(tmp_path, lambda p: p["vae"].update(lr="1e-3"))
    assert config.load(path).vae.lr == pytest.approx(1e-3)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        config.load(tmp_path / "nope.yaml")


def test_every_numeric_or_list_param_has_a_range_rule():
    """A new param cannot skip range checking: every int/float/list/dict field declares a rule beside
    its type (a range, or a check with its own messages), and every rule is well formed."""
    import dataclasses
    import typing

    missing = []

    def visit(cls, prefix=""):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]):
                visit(hints[f.name], f"{prefix}{f.name}.")
                continue
            inner = [a for a in typing.get_args(hints[f.name]) if a is not type(None)] or [hints[f.name]]
            if inner[0] in (int, float, list, dict) and not ({"rule", "check"} & set(f.metadata)):
                missing.append(f"{prefix}{f.name}")
            if "rule" in f.metadata:
                ok, allowed = f.metadata["rule"]
                assert callable(ok) and isinstance(allowed, str) and allowed, f.name
            if "choices" in f.metadata:
                assert inner[0] is str and f.metadata["choices"], f.name

    visit(config.Params)
    assert missing == []


@pytest.mark.parametrize("section, key, value, allowed", [
    ("active", "init_id", 0, ">= 1"),
    ("vae", "lr", "nan", "> 0 and finite"),
    ("contrastive", "scale", [1.2, 0.8], "[low, high] with 0 < low <= high"),
    ("cluster", "no_non_id_radius", 1.5, "in [0, 1]"),
    ("classifier", "milestones", [30, 20], "increasing epoch numbers"),
    ("active", "costs", {"id": 1.0, "ambiguous": True, "ood": 1.0}, "finite numbers >= 0"),
    ("pool", "n_id", 0, ">= 1"),
])
def test_out_of_range_names_key_value_and_range(tmp_path, section, key, value, allowed):
    path = write(tmp_path, lambda p: p[section].update({key: value}))
    with pytest.raises(ConfigError) as info:
        config.load(path)
    msg = str(info.value)
    assert f"{section}.{key}" in msg and "out of range" in msg and allowed in msg


def test_null_stays_allowed_where_the_field_is_optional(tmp_path):
    path = write(tmp_path, lambda p: (p["pool"].update(n_id=None), p["cl_classifier"].update(grad_clip=None)))
    assert config.load(path).pool.n_id is None


def test_check_command(tmp_path, capsys):
    from src.check import main

    assert main([str(ROOT / "params.yaml")]) == 0
    assert "OK" in capsys.readouterr().out
    path = write(tmp_path, lambda p: p["rounds"].update(r03={"prev": "r01"}))
    assert main([str(path)]) == 2
    assert "rounds.r03: prev is 'r01' but the round before it is 'r02'" in capsys.readouterr().err
    path = write(tmp_path, lambda p: p.update(strategy="distance"))
    assert main([str(path)]) == 2
    assert "strategy 'distance' is unknown" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["config", "params_rules", "params_schema", "params_check"])
def test_config_imports_nothing_above_it(module):
    """src/core/config.py (and the params modules it is made of) is the bottom layer: it imports only
    the standard library, yaml and src.core."""
    import ast

    tree = ast.parse((ROOT / f"src/core/{module}.py").read_text())
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert {m for m in imported if m and m.startswith("src") and not m.startswith("src.core")} == set()
