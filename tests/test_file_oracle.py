"""The whole loop with oracle: file on a tiny pool, a scripted person writing the labels files:
stop and resume at every boundary, bad answers change nothing, cost = rows labeled, and with
ground-truth answers the very states (same queries, same order, same cost) of the simulated oracle."""
import json
import os
import shutil

import numpy as np
import pytest
import yaml

from src.active import label_studio, sheets
from src.active.annotations import labels_csv, listed_queries, more_sheets_dir, queries_csv, sheets_dir
from src.active.state import ActiveState
from src.active.strategies import Candidates
from src.core import paths
from src.core.io import load_npz
from stages import (acquire, annotate, build_pool, fetch_data, finetune, init_state, make_ambiguous, pretrain,
                    train_ensemble, train_vae)
from tests.conftest import make_raw, tiny_params
from src.ci.scripted_person import answer_round
from tests.test_stages import run_stage

ROUNDS = (("r01", "r00"), ("r02", "r01"), ("r03", "r02"))
K = 10


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Data stages and pretraining once (distance_cl: its stage 0 ranks the pool, as the paper)."""
    root = tmp_path_factory.mktemp("file_oracle")
    make_raw(root / "data" / "raw")
    p = tiny_params()
    p["active"].update(init_id=4, per_round_id=2)
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    old = os.getcwd()
    os.chdir(root)
    try:
        for module in (fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool, pretrain):
            assert run_stage(module) == 0, module.__name__
    finally:
        os.chdir(old)
    return root


def workspace(built, path, oracle: str):
    shutil.copytree(built, path, symlinks=True)
    os.chdir(path)
    p = yaml.safe_load(open("params.yaml"))
    p["oracle"] = oracle
    open("params.yaml", "w").write(yaml.safe_dump(p))


def truth():
    """The scripted person answers with the pool's ground truth."""
    pool = load_npz(paths.POOL_NPZ, keys=("category", "label"))
    names = {0: None, 1: "ambiguous", 2: "ood"}
    return lambda row: names[int(pool["category"][int(row["pool_index"])])] or \
        str(int(pool["label"][int(row["pool_index"])]))


def stage_args(r, prev):
    return ("--round", r) + (() if prev is None else ("--prev", prev))


def simulated_chain():
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 0
    assert run_stage(finetune, "--round", "r00") == 0
    for r, prev in ROUNDS:
        for module in (acquire, annotate, finetune):
            assert run_stage(module, *stage_args(r, prev)) == 0, (module.__name__, r)


def snapshot(rounds):
    out = {}
    for r in rounds:
        s = ActiveState.load(paths.state(r), K)
        m = json.loads(paths.round_metrics(r, "annotate").read_text())
        out[r] = {"labels": s.labels, "acquired": s.acquired_round, "cost": s.cost,
                  "queries": queries_csv(r).read_text(), "sheets": sorted(p.name for p in sheets_dir(r).iterdir()),
                  "counts": {k: m[k] for k in m if k.startswith(("examined", "labeled"))}}
    return out


def test_scripted_person_gives_the_simulated_oracles_states(built, tmp_path, capsys):
    workspace(built, tmp_path / "sim", "simulated")
    simulated_chain()
    names = ["r00"] + [r for r, _ in ROUNDS]
    expected = snapshot(names)

    workspace(built, tmp_path / "file", "file")
    person = truth()
    assert run_stage(init_state) == 0
    for r, prev in (("r00", None),) + ROUNDS:
        if r != "r00":
            assert run_stage(acquire, *stage_args(r, prev)) == 0
        quota = 4 if r == "r00" else 2
        # no labels yet: the stage stops, names the file and the first pass, and writes nothing
        assert run_stage(annotate, *stage_args(r, prev)) == 2
        err = capsys.readouterr().err
        assert f"\nlabels needed: round {r}: {labels_csv(r)} is not written yet. Next: label pass 0" in "\n" + err
        assert not paths.state(r).exists()
        if r == "r00":  # half a pass: stopped again, naming the missing queries
            answer_round(r, person, quota, stop="half")
            assert run_stage(annotate, *stage_args(r, prev)) == 2
            assert "is half-labeled" in capsys.readouterr().err and not paths.state(r).exists()
        labeled = answer_round(r, person, quota)  # exactly to the quota's pass
        assert run_stage(annotate, *stage_args(r, prev)) == 0
        m = json.loads(paths.round_metrics(r, "annotate").read_text())
        assert m["examined"] == labeled and m["beyond_quota"] == 0 and m["quota_met"]
        assert run_stage(finetune, "--round", r, *(() if prev is None else ("--prev", prev))) == 0
    got = snapshot(names)
    for r in names:
        for key in ("labels", "acquired"):
            assert np.array_equal(got[r][key], expected[r][key]), (r, key)
        for key in ("cost", "queries", "sheets", "counts"):
            assert got[r][key] == expected[r][key], (r, key)
    state = ActiveState.load(paths.state("r03"), K)
    pool = load_npz(paths.POOL_NPZ, keys=("category",))
    assert np.array_equal(state.answers[state.labeled], pool["category"][state.labeled])  # the person's answers kept

    # more than the quota: every listed query of r03 labeled - all taken, all charged
    prev_cost = ActiveState.load(paths.state("r02"), K).cost
    labeled = answer_round("r03", person, 2, stop="all")
    assert run_stage(annotate, "--round", "r03", "--prev", "r02") == 0
    state = ActiveState.load(paths.state("r03"), K)
    m = json.loads(paths.round_metrics("r03", "annotate").read_text())
    assert labeled > got["r03"]["counts"]["examined"] and m["examined"] == labeled
    assert state.cost - prev_cost == labeled and m["beyond_quota"] == labeled - got["r03"]["counts"]["examined"]
    assert (state.acquired_round == 3).sum() == labeled


BAD = [
    ("pool_index,label\n", "labels needed"),  # a header only: nothing answered yet
    ("pool_index,label\n{q0},cat\n", "line 2: label 'cat' is not an answer"),
    ("pool_index,label\n{q0},7\n{q0},8\n", "lines 2 and 3: pool index {q0} (query 1) is labeled twice"),
    ("pool_index,label\n{q0},7\n{old},3\n", "line 3: pool index {old} was labeled before this round"),
    ("pool_index,label\n{q0},7\n999999,3\n", "line 3: pool_index '999999' is not an index of the pool"),
    ("pool_index,label\n{q0},7\n{unqueried},3\n", "line 3: pool index {unqueried} is not among round r01's"),
    ("round,pool_index,label\nr02,{q0},7\n", "line 2: round 'r02', but this is round r01's labels file"),
    ("", "the file is empty"),
    ("pool_index;label\n{q0};7\n", "line 1: the header 'pool_index;label' lacks pool_index and label"),
]


def test_bad_answers_change_nothing(built, tmp_path, capsys):
    workspace(built, tmp_path / "file", "file")
    person = truth()
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 2
    answer_round("r00", person, 4)
    for module, args in ((annotate, ("--round", "r00")), (finetune, ("--round", "r00")),
                         (acquire, ("--round", "r01", "--prev", "r00"))):
        assert run_stage(module, *args) == 0
    rows = queries_csv("r01").read_text().splitlines()[1:]
    q0 = rows[0].split(",")[4]
    listed = {int(r.split(",")[4]) for r in rows}
    old = int(ActiveState.load(paths.state("r00"), K).labeled[0])
    unqueried = next(i for i in range(10 ** 6) if i not in listed and i != old and
                     ActiveState.load(paths.state("r00"), K).acquired_round[i] == -1)
    answer_round("r01", person, 2)
    assert run_stage(annotate, "--round", "r01", "--prev", "r00") == 0
    before = paths.state("r01").read_bytes(), paths.round_metrics("r01", "annotate").read_bytes()
    capsys.readouterr()
    for text, expected in BAD:
        fill = dict(q0=q0, old=old, unqueried=unqueried)
        labels_csv("r01").write_text(text.format(**fill))
        assert run_stage(annotate, "--round", "r01", "--prev", "r00") == 2, text
        err = capsys.readouterr().err
        assert expected.format(**fill) in err and str(labels_csv("r01")) in err, err
        assert (paths.state("r01").read_bytes(), paths.round_metrics("r01", "annotate").read_bytes()) == before


def set_oracle(oracle):
    p = yaml.safe_load(open("params.yaml"))
    p["oracle"] = oracle
    open("params.yaml", "w").write(yaml.safe_dump(p))


def test_each_oracle_refuses_the_others_states(built, tmp_path, capsys):
    workspace(built, tmp_path / "sim", "simulated")
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 0
    set_oracle("file")
    assert run_stage(finetune, "--round", "r00") == 2
    assert "made by the simulated oracle, but params say oracle: file" in capsys.readouterr().err
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 2
    answer_round("r00", truth(), 4)
    assert run_stage(annotate, "--round", "r00") == 0
    set_oracle("simulated")
    assert run_stage(finetune, "--round", "r00") == 2
    assert "holds a person's answers (the file oracle), but params say oracle: simulated" in capsys.readouterr().err


def default_proportions():
    """params.yaml's stage 0 on the tiny pool (100 iD of 166, as 20,000 of 30,000 there): the ranking
    stage draws sheets for annotation.max_queries = active.init_id queries (100 and 100 there), two
    sheets of them (sheet_size 50 there)."""
    p = yaml.safe_load(open("params.yaml"))
    p["active"]["init_id"] = 30
    p["annotation"].update(max_queries=30, sheet_size=15)
    open("params.yaml", "w").write(yaml.safe_dump(p))


def test_default_proportions_need_more_than_the_first_sheets_and_answering_completes(built, tmp_path, capsys):
    """Issue 25, item 7: with these proportions a truthful person needs more than the first sheets.
    queries.csv lists every candidate, the stop names the next sheet and the command that draws it,
    and the scripted person completes stage 0 by answering alone: params.yaml never changes. With
    ground-truth answers the state is the simulated oracle's."""
    workspace(built, tmp_path / "sim", "simulated")
    default_proportions()
    assert run_stage(init_state) == 0 and run_stage(annotate, "--round", "r00") == 0
    expected = ActiveState.load(paths.state("r00"), K)
    workspace(built, tmp_path / "file", "file")
    default_proportions()
    params = open("params.yaml", "rb").read()
    person = truth()
    assert run_stage(init_state) == 0
    cands = load_npz(paths.candidates("r00"))
    rows = queries_csv("r00").read_text().splitlines()[1:]
    assert len(rows) == len(cands["order"]) > 30  # every candidate listed, in examination order
    assert [int(r.split(",")[4]) for r in rows] == cands["order"].tolist()
    first = listed_queries(Candidates(cands["order"], cands["batch"]), 30, 15)  # what sheets/ shows
    on_sheets = {f"sheet_{s:03d}.png" for s in set(first.sheets.tolist())}
    assert {f.name for f in sheets_dir("r00").iterdir()} == on_sheets | {"index.txt"}
    assert run_stage(annotate, "--round", "r00") == 2
    assert "annotations/r00/labels.csv is not written yet" in capsys.readouterr().err

    # the queries on the drawn sheets answered truthfully: short of the quota, the next sheet named
    answer_round("r00", person, 30, stop="passes", passes=int(first.passes[-1]) + 1)
    assert run_stage(annotate, "--round", "r00") == 2
    err = capsys.readouterr().err
    nxt = f"sheet_{int(first.sheets[-1]) + 1:03d}.png"
    assert "labels needed: round r00: the labels so far give" in err and "raise" not in err.lower(), err
    assert f"{more_sheets_dir('r00') / nxt}, drawn by `python -m src.active.sheets r00`" in err, err
    assert sheets.main(["r00"]) == 0 and (more_sheets_dir("r00") / nxt).exists()
    assert nxt in capsys.readouterr().out
    assert label_studio.main(["r00"]) == 0  # Label Studio's tasks: the next passes too
    tasks = json.loads((label_studio.export_dir("r00") / "tasks.json").read_text())
    assert tasks[0]["data"]["query"] == len(first.order) + 1 and len(tasks) >= 30
    assert not paths.state("r00").exists()

    labeled = answer_round("r00", person, 30)  # on to the quota's pass: the round completes
    assert run_stage(annotate, "--round", "r00") == 0
    m = json.loads(paths.round_metrics("r00", "annotate").read_text())
    assert m["quota_met"] and m["examined"] == labeled > len(first.order) and m["cost"] == labeled
    state = ActiveState.load(paths.state("r00"), K)
    assert np.array_equal(state.labels, expected.labels) and state.cost == expected.cost
    assert open("params.yaml", "rb").read() == params  # no params edit, no ranking rerun

