import numpy as np
import pytest

from src.active.oracle import NON_ID, SimulatedOracle, annotate_round, examine
from src.active.stage0 import initial_state
from src.active.state import ActiveState
from src.active.strategies import Candidates
from src.active.training_set import training_set
from src.core import config
from src.core.config import ActiveConfig
from src.core.errors import ConfigError, DataError
from src.report.curve import summary
from tests.test_config import write

# hand-built pool: category 0 iD, 1 ambiguous, 2 OoD
CATEGORY = np.array([2, 1, 0, 0, 2, 0, 1, 0, 0, 2], dtype=np.int8)
LABEL = np.array([-1, -1, 3, 7, -1, 1, -1, 4, 9, -1], dtype=np.int16)
POOL = {"category": CATEGORY, "label": LABEL}


def cfg(per_round_id=2, costs=None, init_id=3):
    return ActiveConfig(num_classes=10, init_id=init_id, per_round_id=per_round_id, target_id=300,
                        costs=costs or {"id": 1.0, "ambiguous": 1.0, "ood": 1.0}, non_id_ratio=1.0)


def test_oracle_labels_and_costs():
    oracle = SimulatedOracle.from_pool(POOL, {"id": 1.0, "ambiguous": 3.0, "ood": 2.0})
    assert oracle.annotate([0, 1, 2, 5]).tolist() == [NON_ID, NON_ID, 3, 1]
    assert oracle.cost([0, 1, 2, 5]) == 2.0 + 3.0 + 1.0 + 1.0
    wide = SimulatedOracle.from_pool(POOL, {"id": 1.0, "ambiguous": 1.0, "ood": 1.0}, num_classes=60)
    assert wide.annotate([0, 2]).tolist() == [60, 3]  # K comes from active.num_classes


def test_num_classes_must_cover_the_labels():
    with pytest.raises(DataError, match="active.num_classes = 5 but the pool"):
        initial_state(POOL, ActiveConfig(5, 3, 2, 300, {"id": 1.0, "ambiguous": 1.0, "ood": 1.0}, 1.0),
                      np.random.default_rng(0))


def test_exact_cost_and_stopping_one_by_one():
    state = ActiveState.empty(10)
    order = np.array([0, 1, 2, 4, 3, 5, 7])  # iD found at positions 3 and 5 -> stop after index 3
    new, m = annotate_round(state, Candidates.one_by_one(order), POOL,
                            cfg(costs={"id": 1.0, "ambiguous": 1.0, "ood": 2.0}), 1)
    assert new.labeled.tolist() == [0, 1, 2, 3, 4]
    assert new.labels[[0, 1, 2, 3, 4]].tolist() == [NON_ID, NON_ID, 3, 7, NON_ID]
    assert new.cost == 2 + 1 + 1 + 2 + 1 and m["cost"] == 7.0
    assert m["examined"] == 5 and m["examined_id"] == 2 and m["examined_ood"] == 2
    assert m["id_precision"] == pytest.approx(2 / 5) and m["quota_met"]
    assert (new.acquired_round[new.labeled] == 1).all() and new.round == 1


def test_whole_batches_are_annotated():
    batches = Candidates(np.array([2, 3, 5, 0, 7]), np.array([0, 0, 0, 1, 1]))
    new, m = annotate_round(ActiveState.empty(10), batches, POOL, cfg(per_round_id=1), 1)
    assert new.labeled.tolist() == [2, 3, 5] and m["examined"] == 3 and m["id_found"] == 3


def test_quota_not_met_when_candidates_run_out():
    _, m = annotate_round(ActiveState.empty(10), Candidates.one_by_one(np.array([0, 2])), POOL,
                          cfg(per_round_id=2), 1)
    assert not m["quota_met"] and m["id_found"] == 1


def test_examine_empty():
    idx, lab, cost = examine([], SimulatedOracle.from_pool(POOL, cfg().costs), 3)
    assert len(idx) == 0 and cost == 0.0


def test_initial_state_is_random_id_at_cost_init_id():
    state, m = initial_state(POOL, cfg(init_id=3), np.random.default_rng(0))
    assert len(state.labeled) == 3 and (CATEGORY[state.labeled] == 0).all()
    assert state.cost == 3.0 and m["labeled_id"] == 3 and state.round == 0
    with pytest.raises(DataError, match="fewer than active.init_id"):
        initial_state(POOL, cfg(init_id=6), np.random.default_rng(0))


def test_state_round_trip_and_immutability(tmp_path):
    s = ActiveState.empty(10, "fp").with_labels(np.array([2, 4]), np.array([3, NON_ID]), 2.0, 0)
    s2 = s.with_labels(np.array([5]), np.array([1]), 1.0, 1)
    path = s2.save(tmp_path / "r01.npz")
    back = ActiveState.load(path, NON_ID, "fp")
    np.testing.assert_array_equal(back.acquired_round, s2.acquired_round)
    np.testing.assert_array_equal(back.labels, s2.labels)
    assert back.cost == 3.0 and back.round == 1 and back.pool_fingerprint == "fp"
    assert back.digest() == s2.digest() != s.digest()
    assert s.labeled.tolist() == [2, 4]  # the earlier state is untouched
    with pytest.raises(ValueError, match="already labeled"):
        s2.with_labels(np.array([4]), np.array([1]), 1.0, 2)
    back.check_pool_size(10, path)
    with pytest.raises(DataError, match="pool has 11"):
        back.check_pool_size(11, path)
    with pytest.raises(DataError, match="another pool"):
        ActiveState.load(path, NON_ID, "other")
    with pytest.raises(DataError, match="state file missing.*prev"):
        ActiveState.load(tmp_path / "r05.npz", NON_ID)


def test_non_id_undersampling_rule():
    n = 200
    state = ActiveState.empty(n)
    state = state.with_labels(np.arange(40), np.arange(40) % 10, 40.0, 0)  # 40 iD
    state = state.with_labels(np.arange(40, 100), np.full(60, NON_ID), 60.0, 1)  # 60 non-iD
    idx = training_set(state, 10, 1.0, np.random.default_rng(0))
    y = state.labels[idx]
    assert (y != NON_ID).sum() == 40 and (y == NON_ID).sum() == 4  # ceil(1.0 * 40 / 10)
    assert len(training_set(state, 10, 0.0, np.random.default_rng(0))) == 40
    assert (state.labels[training_set(state, 10, 100.0, np.random.default_rng(0))] == NON_ID).sum() == 60


def test_broken_prev_chain_is_a_clear_error(tmp_path):
    path = write(tmp_path, lambda p: p["rounds"]["r03"].update(prev="r01"))
    with pytest.raises(ConfigError, match=r"rounds.r03: prev is 'r01' but the round before it is 'r02'"):
        config.load(path)


def test_summary_cost_per_accuracy_point():
    rows = [{"accuracy": 80.0, "cost": 100.0, "examined": 100, "examined_id": 100, "labeled_id": 100,
             "labeled_ambiguous": 0, "labeled_ood": 0},
            {"accuracy": 90.0, "cost": 130.0, "examined": 30, "examined_id": 10, "labeled_id": 110,
             "labeled_ambiguous": 12, "labeled_ood": 8}]
    s = summary(rows, target_id=110, budgets=[100, 115, 200], auc_range=[100, 130])
    assert s["target_reached"] is True and s["target_id"] == 110
    assert s["acc_at_100"] == 80.0 and s["acc_at_200"] == 90.0  # flat after the last state
    assert s["auc_log_cost"] is not None and 80.0 < s["auc_log_cost"] < 90.0
    assert summary(rows, 111, [], [100, 130])["target_reached"] is False
    assert s["cost_per_acc"] == pytest.approx(130 / 90, abs=1e-4) and s["id_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["accuracy"] == 90.0 and s["rounds"] == 1
