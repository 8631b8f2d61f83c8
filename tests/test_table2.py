import json

import pytest

from src.report.table2 import collect, main, markdown


def run(name, strategy, seed, acc, cost, extra=None):
    params = {"strategy": strategy, "seed": seed, "classifier": {"width": 8}, **(extra or {})}
    return {"rev": name, "name": name, "data": {
        "params": {"params.yaml": {"data": params}},
        "metrics": {"metrics/summary.json": {"data": {"accuracy": acc, "cost": cost,
                                                      "cost_per_acc": cost / acc, "id_precision": 0.5}},
                    "metrics/vae.json": {"data": {"test_neg_elbo_nats": 1.0}}}}}


def exp_show():
    """The shape of `dvc exp show --json` (DVC 3.67): workspace, then the commit with its experiments."""
    workspace = run("workspace", "random", 0, 90.0, 300.0)
    workspace.update(name=None, experiments=None, error=None)
    head = run("abc123", "random", 0, 90.0, 300.0)
    head["name"] = "main"
    head["experiments"] = [{"revs": [run("e1", "entropy", 0, 88.0, 3000.0)]},
                           {"revs": [run("e2", "entropy", 1, 90.0, 5000.0)]},
                           {"revs": [run("e3", "random", 1, 92.0, 320.0)]},
                           {"revs": [{"rev": "e4", "name": "failed", "data": {"params": {}, "metrics": {}}}]}]
    return [workspace, head]


def test_groups_dedupes_and_skips_runs_without_summary():
    groups = collect(exp_show(), workspace=True)
    assert sorted(s for s, _ in groups) == ["entropy", "random"]
    by_name = {s: runs for (s, _), runs in groups.items()}
    assert sorted(r["seed"] for r in by_name["random"]) == [0, 1]
    assert len(by_name["entropy"]) == 2


def test_committed_metrics_are_never_taken_silently():
    """HEAD's summary (maybe another machine's) is not a run; the workspace counts only when current."""
    by_name = {s: runs for (s, _), runs in collect(exp_show()).items()}
    assert [r["seed"] for r in by_name["random"]] == [1]  # neither workspace nor HEAD
    both = {s: runs for (s, _), runs in collect(exp_show(), workspace=True, committed=True).items()}
    assert [r["name"] for r in both["random"]] == ["e3", "workspace"]  # HEAD == workspace counts once
    only_head = {s: runs for (s, _), runs in collect(exp_show(), committed=True).items()}
    assert [r["name"] for r in only_head["random"]] == ["e3", "main (committed)"]


def test_different_settings_are_not_averaged():
    data = exp_show()
    data[1]["experiments"].append({"revs": [run("e5", "random", 2, 50.0, 100.0, {"classifier": {"width": 32}})]})
    groups = collect(data, workspace=True)
    assert len(groups) == 3
    table = markdown(groups)
    assert table.count("| Random [params") == 2 and "50.00" in table and "91.00 ± 1.41" in table


def test_markdown_mean_std_and_paper_numbers():
    table = markdown(collect(exp_show(), workspace=True))
    lines = table.splitlines()
    assert lines[0].startswith("| Acquisition") and len(lines) == 4
    random_row = next(line for line in lines if line.startswith("| Random"))
    assert "91.00 ± 1.41" in random_row and "93.84" in random_row and "4.69" in random_row
    entropy_row = next(line for line in lines if line.startswith("| Entropy"))
    assert "4,000 ± 1,414" in entropy_row and "32,738" in entropy_row
    assert lines.index(random_row) < lines.index(entropy_row)  # the paper's row order


def test_cli_reads_saved_json(tmp_path, capsys):
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(exp_show()))
    assert main(["--json", str(path), "--workspace"]) == 0
    assert "| Entropy" in capsys.readouterr().out
    path.write_text(json.dumps([run("w", "random", 0, 1.0, 1.0) | {"data": {"params": {}, "metrics": {}}}]))
    assert main(["--json", str(path)]) == 2
    assert "no experiment has metrics/summary.json" in capsys.readouterr().err


@pytest.mark.parametrize("values, text", [([1.0], "1.00"), ([1.0, 3.0], "2.00 ± 1.41")])
def test_format(values, text):
    from src.report.table2_rows import fmt
    assert fmt(values, 2) == text


def test_workspace_equal_to_head_without_experiments_is_labelled_as_head(tmp_path, capsys):
    """No experiments: the only row is HEAD's committed result, and the output says so."""
    from src.report.table2 import only_head

    workspace, head = exp_show()
    head["experiments"] = None
    path = tmp_path / "exp.json"
    path.write_text(json.dumps([workspace, head]))
    assert only_head([workspace, head]) is not None
    assert main(["--json", str(path), "--workspace"]) == 0
    out = capsys.readouterr().out
    assert "no experiments; the only row is the workspace, whose metrics equal HEAD's committed" in out
    assert only_head(exp_show()) is None  # with experiments, nothing to say


@pytest.mark.parametrize("content, fragment", [
    (None, "no such file"),
    ("{not json", "not the JSON `dvc exp show --json` writes"),
    ('{"a": 1}', "expected the list"),
])
def test_bad_json_input_is_an_error_not_a_traceback(tmp_path, capsys, content, fragment):
    path = tmp_path / "exp.json"
    if content is not None:
        path.write_text(content)
    assert main(["--json", str(path)]) == 2
    assert fragment in capsys.readouterr().err


def test_record_without_cost_names_the_experiment(tmp_path, capsys):
    rows = exp_show()
    del rows[1]["experiments"][0]["revs"][0]["data"]["metrics"]["metrics/summary.json"]["data"]["cost"]
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(rows))
    assert main(["--json", str(path)]) == 2
    assert "metrics/summary.json of e1 has no cost" in capsys.readouterr().err


def test_ddu_section_does_not_split_settings_but_its_values_do():
    """Runs made before the `ddu` section existed, and runs of other strategies, share a setting with
    DDU's runs; two DDU settings are two rows, each naming its params."""
    ddu = {"ddu": {"coeff": 3.0}}
    old = [{"revs": [run("e1", "random", 0, 90.0, 300.0)]}, {"revs": [run("e2", "entropy", 0, 88.0, 900.0, ddu)]}]
    one = old + [{"revs": [run("e3", "ddu", 0, 89.0, 500.0, ddu)]}, {"revs": [run("e4", "ddu", 1, 91.0, 520.0, ddu)]}]
    table = markdown(collect([{"rev": "main", "experiments": one}]))
    assert "| DDU | 2 (0,1) | 90.00 ± 1.41 |" in table and "[params" not in table
    two = one + [{"revs": [run("e5", "ddu", 0, 80.0, 700.0, {"ddu": {"coeff": 1.0}})]}]
    groups = collect([{"rev": "main", "experiments": two}])
    assert sorted(len(runs) for (s, _), runs in groups.items() if s == "ddu") == [1, 2]
    assert markdown(groups).count("| DDU [params") == 2


def test_runs_recorded_before_added_params_group_with_runs_after():
    """A run whose params.yaml predates the benchmark switch (no `benchmark`, no classifier.arch ...)
    shares its setting with a run that spells out the values the old code used; another value
    of such a key is another setting."""
    from src.report.table2_rows import ADDED_PARAMS, setting_of, with_added_params

    old = {"strategy": "random", "seed": 0, "classifier": {"width": 8}, "contrastive": {"width": 8},
           "cl_classifier": {"epochs": 30}, "pool": {"n_id": 20000}}
    new = with_added_params(old)
    assert new["benchmark"] == "mixmnist" and new["classifier"]["arch"] == "convnet" and "arch" not in old["classifier"]
    assert setting_of(old) == setting_of({**new, "strategy": "ddu", "ddu": {"width": 16}}).split("+")[0]
    other = json.loads(json.dumps(new))
    other["classifier"]["optimizer"] = "sgd"
    assert setting_of(other) != setting_of(old)


# keys the quick MixMNIST profile moved away from the old behaviour on purpose, chosen on the
# validation split (issue 27: results/tuning-quick): its runs record the new value explicitly
MOVED_BY_TUNING = {"precision": "bf16", "contrastive.translate": 0.1}


def test_added_params_are_the_mixmnist_profiles_values():
    """Every ADDED_PARAMS key is a param of today's params.yaml (MixMNIST quick), with that value,
    except the keys the profile's tuning moved (MOVED_BY_TUNING), which hold the tuned value."""
    from pathlib import Path

    import yaml

    from src.report.table2_rows import ADDED_PARAMS

    params = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    assert set(MOVED_BY_TUNING) <= set(ADDED_PARAMS)
    for dotted, value in ADDED_PARAMS.items():
        node = params
        for part in dotted.split("."):
            node = node[part]
        assert node == MOVED_BY_TUNING.get(dotted, value), dotted


def test_todays_params_share_the_committed_runs_setting():
    """A run made today with the default profile averages with the committed runs: their params
    (with any key added since they ran read as ADDED_PARAMS, the old behaviour) are today's."""
    from pathlib import Path

    import yaml

    from src.report.table2_rows import setting_of

    root = Path(__file__).parents[1]
    today = yaml.safe_load((root / "params.yaml").read_text())
    committed = yaml.safe_load((root / "results/mixmnist-quick/runs/distance_cl-s0/params.yaml").read_text())
    assert setting_of(today) == setting_of(committed)
