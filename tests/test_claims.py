"""src/report/claims.py: paired t-intervals over seeds, cost to reach an accuracy (never reached is
counted), the holds / fails / inconclusive rule, and claims.md from a results folder on disk."""
import json
import math
import shutil

import numpy as np
import pytest
import yaml

from src.report.claims import Paired, cost_to_reach, main, t_interval, verdict


def test_t_interval_by_hand():
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert mean == 2.0 and low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert t_interval([5.0])[1:] == (-math.inf, math.inf) and t_interval([]) is None


def test_verdict_rule():
    d = lambda low, high: {"ci": ((low + high) / 2, low, high)}  # noqa: E731
    assert verdict([d(1, 3), d(0.5, 2)], 0, above=True) == "holds"
    assert verdict([d(1, 3), d(-2, 1)], 0, above=True) == "inconclusive"
    assert verdict([d(1, 3), d(-3, -1)], 0, above=True) == "fails"
    assert verdict([d(-3, -1)], 0, above=False) == "holds" and verdict([d(-0.5, 0.5)], -1, above=True) == "holds"
    assert verdict([], 0, above=True) == "inconclusive"


def _run(strategy, seed, acc, cost, curve, params):
    return {"strategy": strategy, "seed": seed, "setting": "abc123", "params": params, "curve": curve,
            "summary": {"accuracy": acc, "cost": cost, "acc_at_200": curve[-1]["accuracy"]}}


def test_cost_to_reach_and_paired_differences():
    params = {"report": {"budgets": [200]}}
    curve = lambda *pts: [{"cost": c, "accuracy": a} for c, a in pts]  # noqa: E731
    runs = [_run("distance_cl", 0, 91, 300, curve((100, 80), (200, 88), (300, 91)), params),
            _run("distance_cl", 1, 90, 310, curve((100, 82), (250, 90)), params),
            _run("random", 0, 89, 280, curve((100, 84), (280, 89)), params),
            _run("random", 1, 87, 290, curve((100, 83), (290, 87)), params),
            _run("random", 2, 88, 300, curve((100, 83), (300, 88)), params)]
    assert cost_to_reach(runs[0], 88) == 200 and cost_to_reach(runs[2], 90) is None
    p = Paired(runs)
    d = p.diff("distance_cl", "random", "cost")
    assert d["seeds"] == 2 and d["n"] == 2 and d["ci"][0] == pytest.approx(20.0)  # seed 2 has no pair
    r = p.diff("distance_cl", "random", "reach_88")
    assert r["reached"] == (2, 1) and r["n"] == 1 and r["ci"][0] == pytest.approx(200 - 280)  # counted, not dropped
    never = p.diff("distance_cl", "random", "reach_95")
    assert never["reached"] == (0, 0) and never["ci"] is None


def _write_run(folder, strategy, seed, accs, costs):
    d = folder / "runs" / f"{strategy}-s{seed}"
    d.mkdir(parents=True)
    (d / "params.yaml").write_text(yaml.safe_dump({"strategy": strategy, "seed": seed, "benchmark": "mixmnist",
                                                   "report": {"budgets": [200, 300]}, "active": {"target_id": 300}}))
    summary = {"accuracy": accs[-1], "cost": costs[-1], "cost_per_acc": costs[-1] / accs[-1], "id_precision": 0.5,
               "rounds": len(costs), "acc_at_200": accs[0], "acc_at_300": accs[-1]}
    (d / "summary.json").write_text(json.dumps(summary))
    rows = ["round,cost,accuracy"] + [f"{i},{c},{a}" for i, (c, a) in enumerate(zip(costs, accs))]
    (d / "curve.csv").write_text("\n".join(rows) + "\n")


def test_claims_md_from_a_folder(tmp_path, capsys):
    g = np.random.default_rng(0)
    for seed in range(3):
        _write_run(tmp_path, "random", seed, [85 + g.random(), 90 + g.random()], [200, 300])
        _write_run(tmp_path, "least_confidence", seed, [80 + g.random(), 95 + g.random()], [200, 1200 + 10 * seed])
        _write_run(tmp_path, "entropy", seed, [79 + g.random(), 94 + g.random()], [200, 1500 + 10 * seed])
        _write_run(tmp_path, "distance_cl", seed, [87 + g.random(), 95 + g.random()], [200, 250 + seed])
    assert main([str(tmp_path), "--reach", "90"]) == 0
    text = (tmp_path / "claims.md").read_text()
    c1 = text.split("## C1")[1].split("##")[0]
    assert "**holds**" in c1 and "Least Confidence − Random" in c1
    c2 = text.split("## C2")[1].split("##")[0]
    assert "not run" in c2  # random_cl is missing: the claim says so instead of guessing
    c3 = text.split("## C3")[1].split("##")[0]
    assert "**holds**" in c3  # Distance (CL) is the cheapest at the stop on every seed
    assert "reached: 3/3 vs 3/3" in text
    empty = tmp_path / "none"
    (empty / "runs").mkdir(parents=True)
    assert main([str(empty)]) == 2 and "no runs" in capsys.readouterr().err


def test_targets_met_and_missed(tmp_path):
    """--targets: T1 (accuracy vs Least Confidence - 1), T2 (cost <= 1.2 x Random's), T3 (every
    budget's interval of Distance (CL) - Random starts at >= -0.5), each met or missed with the numbers."""
    g = np.random.default_rng(1)
    for seed in range(3):
        _write_run(tmp_path, "random", seed, [85 + g.random(), 90 + g.random()], [200, 300])
        _write_run(tmp_path, "least_confidence", seed, [80, 95.5], [200, 1200])
        # cost 1.1 x Random's (T2 met); accuracy 94.9-95.0 against 95.5 (T1 met); 5 points above Random (T3 met)
        _write_run(tmp_path, "distance_cl", seed, [90 + 0.01 * seed, 94.9 + 0.05 * seed], [200, 330])
    assert main([str(tmp_path), "--targets"]) == 0
    text = (tmp_path / "claims.md").read_text()
    assert "--targets`" in text
    targets = text.split("## Targets")[1].split("\n## ")[0]
    assert "T1, accuracy at the stop >= Least Confidence's − 1: met" in targets
    assert "T2, cost at the stop <= 1.2 × Random's: met (cost ratio per seed 1.10, 1.10, 1.10" in targets
    assert "lower end: met" in targets and "| Distance (CL) − 1.2 × Random | Cost at the stop | -30.00 |" in targets
    # now Distance (CL) costs 1.3 x Random and trails it by 2 points at 200: T2 and T3 missed
    for seed in range(3):
        d = tmp_path / "runs" / f"distance_cl-s{seed}"
        shutil.rmtree(d)
        _write_run(tmp_path, "distance_cl", seed, [83 + 0.3 * seed, 95.0], [200, 390])
    assert main([str(tmp_path), "--targets"]) == 0
    targets = (tmp_path / "claims.md").read_text().split("## Targets")[1].split("\n## ")[0]
    assert "1.2 × Random's: **missed** (cost ratio per seed 1.30, 1.30, 1.30" in targets
    assert "lower end: **missed**" in targets and "T1, accuracy at the stop >= Least Confidence's − 1: met" in targets
    assert main([str(tmp_path)]) == 0
    assert "## Targets" not in (tmp_path / "claims.md").read_text()
