"""src/report/search.py: params.yaml edited line by line (comments kept), the margin rule, and a
coordinate-wise search over two knobs around a faked `dvc exp run`."""
import json

import pytest
import yaml

from src.report import search, tune
from tests.conftest import as_dvc_exp_run

PARAMS = """# the profile
precision: fp32              # fp32 | bf16
seed: 0
strategy: random

contrastive:                 # the representation
  width: 8                   # encoder width
  round_epochs: 0.25
  scale: [0.85, 1.15]        # a list

cluster:
  width: 3                   # the same key name in another section
"""


def test_set_in_text_keeps_comments_and_other_lines():
    text = search.set_in_text(PARAMS, "contrastive.width", 32)
    assert "  width: 32                  # encoder width\n" in text and "  width: 3 " in text
    assert yaml.safe_load(text)["contrastive"]["width"] == 32 and yaml.safe_load(text)["cluster"]["width"] == 3
    assert text.replace("width: 32                  #", "width: 8                   #") == PARAMS  # one line changed
    text = search.set_in_text(text, "precision", "bf16")
    text = search.set_in_text(text, "contrastive.round_epochs", 1.0)
    text = search.set_in_text(text, "contrastive.scale", [0.9, 1.1])
    loaded = yaml.safe_load(text)
    assert loaded["precision"] == "bf16" and loaded["contrastive"]["round_epochs"] == 1.0
    assert loaded["contrastive"]["scale"] == [0.9, 1.1] and "# a list" in text and "# the profile" in text
    for bad in ("contrastive.depth", "nosection.width", "a.b.c"):
        with pytest.raises(KeyError):
            search.set_in_text(PARAMS, bad, 1)


def test_decide_moves_only_past_the_margin():
    assert search.decide({"8": [90.0, 91.0], "16": [90.8, 91.0]}, "8", 0.5)[0] == "8"  # +0.4: kept
    keep, why = search.decide({"8": [90.0, 91.0], "16": [91.0, 91.6]}, "8", 0.5)
    assert keep == "16" and why.startswith("moved")
    assert search.decide({"8": [92.0], "16": [91.0]}, "8", 0.5) == ("8", "kept: it is the best")


def _faked_runs(monkeypatch, tmp_path, calls):
    """tune's `dvc exp run` faked: the score rises a lot with the width, a little with round_epochs."""
    from src.core import paths

    def fake_run(overrides, dvc, log_file, base_text=None):
        as_dvc_exp_run(overrides, base_text)
        p = yaml.safe_load((tmp_path / "params.yaml").read_text())
        width = overrides.get("contrastive.width", p["contrastive"]["width"])
        epochs = overrides.get("contrastive.round_epochs", p["contrastive"]["round_epochs"])
        calls.append((width, epochs, overrides.get("precision", p["precision"])))
        for path in (paths.SUMMARY, paths.CURVE_CSV, paths.ROUNDS_CSV):
            path.parent.mkdir(parents=True, exist_ok=True)
        score = 80 + width / 4 + 0.2 * epochs + 0.1 * overrides["seed"]
        paths.SUMMARY.write_text(json.dumps({"val_auc_log_cost": score, "val_accuracy": 90.0}))
        paths.CURVE_CSV.write_text("round,cost,accuracy\n")
        paths.ROUNDS_CSV.write_text("name,seconds_train\nr00,1.0\n")
        return 0, "exp"

    monkeypatch.setattr(tune, "run_one", fake_run)
    monkeypatch.setattr(tune, "git_commit", lambda: "abc")


def test_search_two_knobs_from_the_chosen_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(PARAMS)
    calls = []


    _faked_runs(monkeypatch, tmp_path, calls)
    argv = ["out", "--seeds", "0", "1", "--knob", "contrastive.width", "16@precision=bf16", "32@precision=bf16",
            "--knob", "contrastive.round_epochs", "0.5", "1"]
    assert search.main(argv) == 0
    p = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert p["contrastive"]["width"] == 32 and p["precision"] == "bf16"  # +6 points: moved
    assert p["contrastive"]["round_epochs"] == 0.25  # +0.15 at most: within the margin, kept
    assert "# encoder width" in (tmp_path / "params.yaml").read_text()
    # the current width (8) ran too; round_epochs was searched at width 32 in bf16, its 0.25 reused
    assert (8, 0.25, "fp32") in calls and (32, 1.0, "bf16") in calls and len(calls) == 2 * 3 + 2 * 2
    table = (tmp_path / "out" / "search.md").read_text()
    assert "| `contrastive.width` |" in table and "| 32@precision=bf16 | moved" in table
    assert "| `contrastive.round_epochs` |" in table and "| 0.25 | kept" in table
    # a later call for another knob keeps the earlier rows
    assert search.main(["out", "--seeds", "0", "1", "--knob", "contrastive.round_epochs", "2"]) == 0
    assert "| `contrastive.width` |" in (tmp_path / "out" / "search.md").read_text()
    assert search.main(["out", "--knob", "contrastive.depth", "1"]) == 2


def test_a_search_from_other_settings_never_overwrites_runs_and_reuses_with_reuse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(PARAMS)
    calls = []
    _faked_runs(monkeypatch, tmp_path, calls)
    assert tune.main(["tunes", "--knob", "contrastive.width", "--seeds", "0", "--values", "8", "32"]) == 0
    before = (tmp_path / "tunes" / "runs" / "contrastive.width=8-s0" / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(search.set_in_text(PARAMS, "precision", "bf16"))
    # the same knob and value from other settings (bf16): refused, the fp32 run kept as it was
    assert tune.main(["tunes", "--knob", "contrastive.width", "--seeds", "0", "--values", "8"]) == 2
    assert (tmp_path / "tunes" / "runs" / "contrastive.width=8-s0" / "params.yaml").read_text() == before
    assert len(calls) == 2
    # a search in its own folder: the fp32 runs of the tune are not its settings, so it runs them in bf16;
    # a second search folder reusing the first runs nothing again
    assert search.main(["search", "--seeds", "0", "--reuse", "tunes", "--knob", "contrastive.width", "8", "32"]) == 0
    assert len(calls) == 4 and all(c[2] == "bf16" for c in calls[2:])
    assert search.main(["search-2", "--seeds", "0", "--reuse", "tunes", "search",
                        "--knob", "contrastive.round_epochs", "0.25"]) == 0
    assert len(calls) == 4 and (tmp_path / "search-2" / "runs" / "contrastive.round_epochs=0.25-s0" / "summary.json").exists()
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["contrastive"]["width"] == 32
