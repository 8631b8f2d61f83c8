"""Table 2 and Figure 4 from a saved results folder (src/report/results.py)."""
import json

import pytest
import yaml

from src.core.errors import DataError
from src.report import results
from src.report.curve import summary
from tests.conftest import as_dvc_exp_run

BASE = {"active": {"target_id": 120}, "report": {"budgets": [100, 150], "auc_range": [100, 150]}, "classifier": {"w": 8}}


def write_run(folder, strategy, seed, points, params=None):
    """points: [(cost, accuracy, labeled_id)]; summary.json made by the report's own function."""
    d = folder / "runs" / f"{strategy}-s{seed}"
    d.mkdir(parents=True)
    rows = [{"cost": c, "accuracy": a, "labeled_id": n, "labeled_ambiguous": 0, "labeled_ood": 0,
             "examined": 10, "examined_id": 8} for c, a, n in points]
    p = {**BASE, **(params or {}), "strategy": strategy, "seed": seed}
    (d / "summary.json").write_text(json.dumps(summary(rows, p["active"]["target_id"], [100, 150], [100, 150])))
    (d / "curve.csv").write_text("round,cost,accuracy,labeled_id\n" + "".join(
        f"{i},{c},{a},{n}\n" for i, (c, a, n) in enumerate(points)))
    (d / "params.yaml").write_text(yaml.safe_dump(p))


def test_table_and_figure_from_a_saved_folder(tmp_path):
    write_run(tmp_path, "random", 0, [(100, 80.0, 100), (130, 84.0, 120)])
    write_run(tmp_path, "random", 1, [(100, 82.0, 100), (140, 86.0, 120)])
    write_run(tmp_path, "distance_cl", 0, [(100, 85.0, 100), (125, 90.0, 121)])
    table_path, fig_path = results.build(tmp_path)
    table = table_path.read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    random_row = next(r for r in rows if r.startswith("| Random |"))
    cells = [c.strip() for c in random_row.strip("|").split("|")]
    assert cells[1] == "0,1" and cells[2] == "85.00 ± 1.41" and cells[3] == "135 ± 7"
    assert cells[5] == "81.00 ± 1.41"  # accuracy at budget 100: the stage-0 states
    assert "93.84" in random_row and "paper" in rows[0] and "not ours" in table
    assert rows.index(random_row) < rows.index(next(r for r in rows if r.startswith("| Distance (CL)")))
    assert "2/2" in random_row  # both seeds reached the target
    assert fig_path.read_bytes()[:4] == b"\x89PNG"


def test_targets_seed_by_seed(tmp_path):
    write_run(tmp_path, "random", 0, [(100, 80.0, 100), (130, 84.0, 120)])
    write_run(tmp_path, "least_confidence", 0, [(100, 80.0, 100), (200, 91.5, 120)])
    write_run(tmp_path, "distance_cl", 0, [(110, 79.0, 100), (150, 90.6, 121)])
    results.build(tmp_path)
    row = (tmp_path / "targets.md").read_text().splitlines()[-1]
    # 90.6 >= 91.5 - 1; cost 150 <= 1.2 * 130 = 156; below Random at budget 100? Distance has no
    # model there (stage 0 cost 110): not compared. At 150 it is above.
    assert row == "| 0 | 90.60 | 90.50 | yes | 150 | 156 | yes | none |"


def test_settings_are_not_averaged_and_missing_files_are_named(tmp_path):
    write_run(tmp_path, "random", 0, [(100, 80.0, 120)])
    write_run(tmp_path, "random", 1, [(100, 90.0, 120)], params={"classifier": {"w": 32}})
    assert results.table(results.load_runs(tmp_path)).count("| Random [params") == 2
    (tmp_path / "runs" / "random-s1" / "curve.csv").unlink()
    with pytest.raises(DataError, match="random-s1"):
        results.load_runs(tmp_path)
    with pytest.raises(DataError, match="no runs"):
        results.load_runs(tmp_path / "empty")


def test_diagnostics_on_a_hand_built_feature_scene():
    """Three tight blobs: digits 0 and 1 (iD) and one OoD blob; purity and nearest-iD share are exact."""
    import numpy as np

    from src.report.diagnostics import diagnose

    g = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    feats = np.concatenate([c + 0.1 * g.standard_normal((30, 2)) for c in centres])
    category = np.array([0] * 60 + [2] * 30, np.int8)
    label = np.array([0] * 30 + [1] * 30 + [-1] * 30, np.int16)
    label[:3] = 1  # three iD samples of blob 0 carry digit 1: they are not their cluster's majority
    d = diagnose(feats, category, label, k=2, seed=0, nearest=90)
    assert d["id_majority_share"] == round(57 / 60, 4)
    assert d["nearest_id_share"] == round(60 / 90, 4)
    assert sorted(c["size"] for c in d["clusters"]) == [30, 30, 30]
    assert sorted(c["ood"] for c in d["clusters"]) == [0.0, 0.0, 1.0]


def test_tuning_picks_the_best_validation_score_and_hides_test_accuracy():
    from src.report.tune import choose, report

    scores = {0.25: [90.0, 91.0], 0.5: [92.0, 92.5], 0.75: [92.25, 92.25]}
    best, means = choose(scores)
    assert best == 0.5 and means[0.75] == 92.25
    assert choose({1: [80.0], 2: [80.0]})[0] == 1  # ties: the first value listed
    text = report("cluster.no_non_id_radius", scores, {v: [95.0] for v in scores}, 0.5)
    assert "| 0.5 **(best)** | 2 | 92.25 ± 0.35 |" in text and "test" in text.lower()
    with pytest.raises(ValueError, match="n_val"):
        choose({0.5: [None]})


def test_set_key_refuses_unknown_keys():
    from src.report.grid import planned, set_key

    p = {"seed": 0, "strategy": "distance_cl", "cluster": {"no_non_id_radius": 0.5}}
    assert set_key(p, "cluster.no_non_id_radius", 0.25)["cluster"]["no_non_id_radius"] == 0.25
    assert p["cluster"]["no_non_id_radius"] == 0.5  # a copy
    with pytest.raises(KeyError):
        set_key(p, "cluster.radius", 1)
    order = planned(p, ["random", "distance_cl"], [0, 1])
    assert order[-1] == ("distance_cl", 0) and len(order) == 4  # the params.yaml default runs last


def test_a_recorded_run_is_done_when_only_keys_added_since_differ(tmp_path):
    """A key added after a run was recorded (ADDED_PARAMS) with the old behaviour's value does not
    make the grid or the tuner rerun it; any other value, or a missing result, does."""
    from src.report.grid import done

    old = {"seed": 0, "strategy": "random", "contrastive": {"width": 8}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(old))
    for name in ("summary.json", "curve.csv"):
        (tmp_path / name).write_text("{}")
    now = {**old, "contrastive": {"width": 8, "translate": 0.0}}
    assert done(tmp_path, now) and done(tmp_path, old)
    assert not done(tmp_path, {**old, "contrastive": {"width": 8, "translate": 0.1}})
    assert not done(tmp_path, {**old, "contrastive": {"width": 16}})
    (tmp_path / "curve.csv").unlink()
    assert not done(tmp_path, now)


def test_a_key_set_by_one_run_never_carries_into_the_next(tmp_path, monkeypatch):
    """`dvc exp run -S` edits the workspace's params.yaml: run_one resets it to the base first, and
    record refuses a run whose params are not the intended ones (a folder never names another run)."""
    from src.core import paths
    from src.report.grid import record, run_one

    monkeypatch.chdir(tmp_path)
    base = yaml.safe_dump({"seed": 0, "strategy": "random", "classifier": {"width": 8}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "strategy": "random", "classifier": {"width": 16}}))
    assert run_one({"seed": 1}, "true", tmp_path / "log", base) == (0, "")  # `true exp run`: does nothing
    assert (tmp_path / "params.yaml").read_text() == base  # the width 16 a run left behind is gone
    for path in (paths.SUMMARY, paths.CURVE_CSV, paths.ROUNDS_CSV):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    intended = {"seed": 0, "strategy": "random", "classifier": {"width": 8}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**intended, "classifier": {"width": 16}}))  # leaked
    with pytest.raises(RuntimeError, match="classifier.width"):
        record(tmp_path / "out", intended, "exp", "abc", 1.0)
    assert not (tmp_path / "out").exists()
    (tmp_path / "params.yaml").write_text(base)
    record(tmp_path / "out", intended, "exp", "abc", 1.0)
    assert yaml.safe_load((tmp_path / "out" / "params.yaml").read_text()) == intended


def test_tune_command_flow_resumes_and_restores_params(tmp_path, monkeypatch):
    """The command around `dvc exp run` (faked here): one run per value, a resumed call reruns
    nothing, params.yaml is restored, and the report names the best validation score."""
    from src.core import paths
    from src.report import tune

    monkeypatch.chdir(tmp_path)
    text = yaml.safe_dump({"seed": 0, "strategy": "random", "cluster": {"no_non_id_radius": 0.5}})
    (tmp_path / "params.yaml").write_text(text)
    calls = []

    def fake_run(overrides, dvc, log_file, base_text=None):
        as_dvc_exp_run(overrides, base_text)
        calls.append(overrides)
        q = overrides["cluster.no_non_id_radius"]
        for path in (paths.SUMMARY, paths.CURVE_CSV, paths.ROUNDS_CSV):
            path.parent.mkdir(parents=True, exist_ok=True)
        paths.SUMMARY.write_text(json.dumps({"val_auc_log_cost": 90 - (q - 0.75) ** 2, "val_accuracy": 91.0}))
        paths.CURVE_CSV.write_text("round,cost,accuracy\n")
        paths.ROUNDS_CSV.write_text("name\n")
        return 0, f"exp-{q}"

    monkeypatch.setattr(tune, "run_one", fake_run)
    monkeypatch.setattr(tune, "git_commit", lambda: "abc")
    argv = ["out", "--knob", "cluster.no_non_id_radius", "--values", "0.25", "0.75"]
    assert tune.main(argv) == 0
    assert [c["cluster.no_non_id_radius"] for c in calls] == [0.25, 0.75]
    assert calls[0]["strategy"] == "distance_cl"
    assert (tmp_path / "params.yaml").read_text() == text
    assert "| 0.75 **(best)** |" in (tmp_path / "out" / "cluster.no_non_id_radius.md").read_text()
    assert tune.main(argv) == 0 and len(calls) == 2  # resumed: nothing rerun
    assert tune.main(["out", "--knob", "cluster.radius", "--values", "1"]) == 2
    assert tune.main(["out", "--knob", "cluster.no_non_id_radius", "--values", "1@cluster.radius=2"]) == 2
    assert tune.main(["out", "--knob", "cluster.no_non_id_radius", "--values", "1@seed"]) == 2


def test_tune_companion_settings_and_times(tmp_path, monkeypatch):
    """A value may bring companion settings (VALUE@KEY=VALUE): they reach `dvc exp run` and the
    recorded params, name the run folder, and the report adds each value's compute and wall seconds."""
    from src.core import paths
    from src.report import tune

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"seed": 0, "strategy": "random", "precision": "fp32", "contrastive": {"width": 8}}))
    calls = []

    def fake_run(overrides, dvc, log_file, base_text=None):
        as_dvc_exp_run(overrides, base_text)
        calls.append(overrides)
        for path in (paths.SUMMARY, paths.CURVE_CSV, paths.ROUNDS_CSV, paths.PRETRAIN_METRICS):
            path.parent.mkdir(parents=True, exist_ok=True)
        width = overrides.get("contrastive.width", 32)
        paths.SUMMARY.write_text(json.dumps({"val_auc_log_cost": 80.0 + width, "val_accuracy": 91.0}))
        paths.CURVE_CSV.write_text("round,cost,accuracy\n")
        paths.ROUNDS_CSV.write_text(f"name,seconds_train,seconds_test\nr00,{width},1.5\nr01,{width},0.5\n")
        paths.PRETRAIN_METRICS.write_text(json.dumps({"seconds": 10 * width}))
        return 0, "exp"

    monkeypatch.setattr(tune, "run_one", fake_run)
    monkeypatch.setattr(tune, "git_commit", lambda: "abc")
    assert tune.main(["out", "--knob", "contrastive.width", "--values", "8", "32@precision=bf16"]) == 0
    assert calls[1]["precision"] == "bf16" and calls[1]["contrastive.width"] == 32 and "precision" not in calls[0]
    folder = tmp_path / "out" / "runs" / "contrastive.width=32@precision=bf16-s0"
    recorded = yaml.safe_load((folder / "params.yaml").read_text())
    assert recorded["precision"] == "bf16" and recorded["contrastive"]["width"] == 32
    text = (tmp_path / "out" / "contrastive.width.md").read_text()
    assert "| compute s | wall s |" in text
    assert "| 32@precision=bf16 **(best)** | 1 | 112.00 | 91.00 | 386 |" in text  # 320 + 2 * 32 + 2
    assert "| 8 | 1 | 88.00 | 91.00 | 98 |" in text  # 80 + 2 * 8 + 2
    # the next knob of a coordinate-wise search, from the chosen width: its value equal to that run is reused
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["contrastive"]["width"], params["precision"] = 32, "bf16"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert tune.main(["out", "--knob", "precision", "--values", "bf16", "fp32"]) == 0
    assert len(calls) == 3 and calls[2]["precision"] == "fp32"  # bf16 was not run again
    reused = tmp_path / "out" / "runs" / "precision=bf16-s0"
    assert (reused / "summary.json").read_bytes() == (folder / "summary.json").read_bytes()


def test_grid_warns_on_a_detached_head(tmp_path, monkeypatch, capsys):
    """A killed `dvc exp run` leaves HEAD detached; the grid says so before recording commits."""
    import subprocess

    from src.report.grid import git_commit

    monkeypatch.chdir(tmp_path)
    git = lambda *a: subprocess.run(["git", *a], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "one")
    head = git_commit()
    out = capsys.readouterr()
    assert "detached" not in out.err + out.out
    git("checkout", "-q", "--detach")
    assert git_commit() == head
    out = capsys.readouterr()
    assert "HEAD is detached" in out.err + out.out


def test_timing_marks_runs_restored_from_the_run_cache(tmp_path):
    """A run whose wall time is below its rounds' work came from DVC's run cache: no negative
    overhead, the row says so; a run that did its work keeps wall − work."""
    write_run(tmp_path, "random", 0, [(100, 80.0, 120)])
    write_run(tmp_path, "distance_cl", 0, [(100, 85.0, 120)])
    for name, wall in (("random-s0", 50.0), ("distance_cl-s0", 10.0)):
        d = tmp_path / "runs" / name
        (d / "run.json").write_text(json.dumps({"commit": "x", "experiment": "e", "wall_seconds": wall}))
        (d / "rounds.csv").write_text("name,seconds_train,seconds_kmeans\nr00,12.0,8.0\n")
    text = results.timing(tmp_path, results.load_runs(tmp_path))
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "-s0" in line}
    assert rows["random-s0"] == "| random-s0 | 0 | 50 | 20 | 30 | 3 | 10.0 |"
    assert rows["distance_cl-s0"] == "| distance_cl-s0 | 0 | 10 | 20 | - (run cache) | 3 | - |"


def test_the_grid_log_keeps_each_runs_output_when_dvc_puts_the_tracked_log_back(tmp_path, monkeypatch):
    """DVC applying an experiment restores the tracked files to the version the run started from,
    grid.log included: run_one appends a run's output after the run, so nothing is lost."""
    from src.report.grid import run_one

    monkeypatch.chdir(tmp_path)
    log = tmp_path / "grid.log"
    log.write_text("earlier run\n")
    fake_dvc = tmp_path / "dvc"
    fake_dvc.write_text("#!/bin/sh\necho \"Running stage 'finetune@r01':\"\n"
                        f"cp {log} {log}.start && rm {log} && cp {log}.start {log}\n"  # a new file, old content
                        "echo 'Ran experiment(s): brisk-lamb'\n")
    fake_dvc.chmod(0o755)
    assert run_one({"seed": 1}, str(fake_dvc), log) == (0, "brisk-lamb")
    assert log.read_text() == "earlier run\nRunning stage 'finetune@r01':\nRan experiment(s): brisk-lamb\n"
