from pathlib import Path

import pytest
import yaml

from src import config
from src.errors import ConfigError
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
