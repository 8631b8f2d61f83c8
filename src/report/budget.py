"""Equal-budget views of a cost-accuracy curve (beyond the paper's Cost/Acc., which rewards
stopping early and ignores the curve).

A run's curve is its states (cumulative cost c_t, test accuracy a_t), cost increasing. Between
two states accuracy is taken as linear in log cost (Figure 4's axis for MixMNIST). Beyond the
last state the run has stopped, so its accuracy stays the final one. Before the first state the
run has no model at all: no accuracy is defined there.
"""
from __future__ import annotations

import math


def accuracy_at(costs: list[float], accs: list[float], budget: float) -> float | None:
    """Accuracy the run has at annotation budget `budget` (None if stage 0 alone costs more)."""
    if not costs or budget < costs[0]:
        return None
    if budget >= costs[-1]:
        return float(accs[-1])
    for (c0, a0), (c1, a1) in zip(zip(costs, accs), zip(costs[1:], accs[1:])):
        if c0 <= budget <= c1:
            if c1 == c0:
                return float(a1)
            w = (math.log(budget) - math.log(c0)) / (math.log(c1) - math.log(c0))
            return float(a0 + w * (a1 - a0))
    raise AssertionError("costs must be non-decreasing")


def auc_log_cost(costs: list[float], accs: list[float], low: float, high: float) -> float | None:
    """Normalised area under accuracy vs log cost over [low, high]:
    (1 / ln(high/low)) * integral of accuracy d(ln cost) - the mean accuracy over that log-cost
    range, in the accuracy's own units. Exact for the piecewise-linear curve. None when the
    first state costs more than `low` (the run has no model over part of the range)."""
    if not costs or costs[0] > low:
        return None
    knots = [low] + [c for c in costs if low < c < high] + [high]
    u = [math.log(c) for c in knots]
    a = [accuracy_at(costs, accs, c) for c in knots]
    area = sum((u1 - u0) * (a0 + a1) / 2 for u0, u1, a0, a1 in zip(u, u[1:], a, a[1:]))
    return float(area / (math.log(high) - math.log(low)))
