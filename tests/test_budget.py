"""Accuracy at a budget and the area under accuracy vs log cost, against hand-computed values."""
import math

import pytest

from src.report.budget import accuracy_at, auc_log_cost

COSTS = [100.0, 200.0, 400.0]
ACCS = [80.0, 90.0, 94.0]


def test_accuracy_at_interpolates_in_log_cost():
    assert accuracy_at(COSTS, ACCS, 100) == 80.0 and accuracy_at(COSTS, ACCS, 200) == 90.0
    # sqrt(100 * 200) is halfway between 100 and 200 in log cost
    assert accuracy_at(COSTS, ACCS, math.sqrt(100 * 200)) == pytest.approx(85.0)
    # 300: ln(300/200) / ln(400/200) = 0.58496 of the way from 90 to 94
    assert accuracy_at(COSTS, ACCS, 300) == pytest.approx(90.0 + 4.0 * math.log(1.5) / math.log(2))


def test_accuracy_at_outside_the_curve():
    assert accuracy_at(COSTS, ACCS, 99) is None  # stage 0 alone costs more: no model yet
    assert accuracy_at(COSTS, ACCS, 1000) == 94.0  # the run had stopped: its final accuracy
    assert accuracy_at([], [], 10) is None


def test_auc_log_cost_hand_computed():
    # over [100, 400]: two trapezoids of equal width ln 2 in log cost: (80+90)/2 and (90+94)/2
    assert auc_log_cost(COSTS, ACCS, 100, 400) == pytest.approx((85.0 + 92.0) / 2)
    # over [200, 800]: ln2 at mean 92, then ln2 flat at 94
    assert auc_log_cost(COSTS, ACCS, 200, 800) == pytest.approx((92.0 + 94.0) / 2)
    # a constant curve has that constant as its normalised area
    assert auc_log_cost([50.0, 500.0], [70.0, 70.0], 60, 300) == pytest.approx(70.0)
    assert auc_log_cost(COSTS, ACCS, 50, 400) is None  # no model over [50, 100)
