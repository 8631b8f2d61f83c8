"""Random(CL) and Distance(CL) on hand-built 2-D features whose right order is known."""
import numpy as np
import pytest

from src.active.clusters import distance_order, excluded_clusters, passes, quotas
from src.active.state import ActiveState
from src.active.strategies import get

K = 2  # 3 clusters


def scene():
    """Cluster A around (0, 0): unlabeled at distance 1..5 on both sides of the x axis, two labeled
    non-iD at distance 3.5 (radius 3.5). Cluster B around (100, 0): three labeled non-iD (excluded).
    Cluster C around (0, 100): unlabeled at distance 1, 2, no labeled non-iD."""
    pts, lab = [], []
    for d in range(1, 6):
        pts += [(d, 0), (-d, 0)]
        lab += [-1, -1]
    pts += [(0, 3.5), (0, -3.5)]
    lab += [K, K]
    a = len(pts)
    pts += [(100, 1), (100, -1), (101, 0), (99, 0), (100, 2), (100, -2)]
    lab += [K, K, K, -1, -1, -1]
    b = len(pts)
    pts += [(1, 100), (-1, 100), (2, 100), (-2, 100)]
    lab += [-1, -1, -1, -1]
    feats = np.array(pts, dtype=float)
    lab = np.array(lab)
    state = ActiveState.empty(len(pts))
    known = np.flatnonzero(lab >= 0)
    state = state.with_labels(known, lab[known], float(len(known)), 0)
    return feats, state, range(0, a), range(a, b), range(b, len(pts))


def test_distance_cl_algorithm1_order():
    feats, state, a, b, c = scene()
    cands = get("distance_cl", quota=4, num_classes=K).rank(state, {"features": feats}, np.random.default_rng(0))
    order = cands.order.tolist()
    assert not set(order) & set(b)  # the cluster with most labeled non-iD is never queried
    dist_a = [abs(feats[i]).sum() for i in order if i in a]
    assert dist_a == [3, 3, 2, 2, 1, 1, 4, 4, 5, 5]  # inside nearest the boundary first, then outside nearest
    dist_c = [abs(feats[i][0]) for i in order if i in c]
    assert dist_c == [1, 1, 2, 2]  # no labeled non-iD: nearest the centroid first (default)
    # quotas proportional to cluster size (A 12, C 4 -> 3 + 1 of quota 4), whole passes
    first = cands.order[cands.batch == 0]
    assert sum(i in a for i in first) == 3 and sum(i in c for i in first) == 1


def test_distance_cl_farthest_option():
    feats, state, _, _, c = scene()
    s = get("distance_cl", quota=4, num_classes=K, no_non_id_radius=1.0)
    order = s.rank(state, {"features": feats}, np.random.default_rng(0)).order.tolist()
    assert [abs(feats[i][0]) for i in order if i in c] == [2, 2, 1, 1]


def test_exclude_majority_leaves_out_every_mostly_non_id_cluster():
    """A has 2 labeled non-iD and no labeled iD, B 3 and none: `majority` (ours) leaves both out,
    the paper's `most` only B; once A's labeled members are mostly iD, A is back."""
    feats, state, a, b, c = scene()
    order = get("distance_cl", quota=4, num_classes=K, exclude="majority").rank(
        state, {"features": feats}, np.random.default_rng(0)).order.tolist()
    assert sorted(order) == sorted(c)  # only the cluster without labeled non-iD is examined
    more_id = state.with_labels(np.array([0, 1, 2]), np.array([0, 1, 0]), 3.0, 1)  # 3 labeled iD in A
    s = get("distance_cl", quota=4, num_classes=K, exclude="majority")
    order = s.rank(more_id, {"features": feats}, np.random.default_rng(0)).order.tolist()
    assert set(order) & set(a) and not set(order) & set(b) and len(s.info["excluded_clusters"]) == 1


def test_excluded_clusters_rules():
    assign = np.array([0, 0, 0, 1, 1, 2, 2])
    labeled = np.array([0, 1, 3, 4, 5])
    non_id = np.array([True, False, True, True, False])  # cluster 0: 1 vs 1; 1: 2 vs 0; 2: 0 vs 1
    assert excluded_clusters(assign, labeled, non_id, 3, "most") == [1]
    assert excluded_clusters(assign, labeled, non_id, 3, "majority") == [1]  # a tie is not a majority
    assert excluded_clusters(assign, labeled, np.ones(5, bool), 3, "majority") == [0]  # all: the paper's (2 = 2: lowest)
    assert excluded_clusters(assign, labeled, np.zeros(5, bool), 3, "majority") == []  # nothing non-iD labeled
    with pytest.raises(ValueError, match="cluster.exclude: 'all' is not one of most, majority"):
        excluded_clusters(assign, labeled, non_id, 3, "all")


def test_random_cl_quotas_and_membership():
    feats, state, a, b, c = scene()
    cands = get("random_cl", quota=4, num_classes=K).rank(state, {"features": feats}, np.random.default_rng(1))
    first = cands.order[cands.batch == 0]
    assert [sum(i in r for i in first) for r in (a, b, c)] == [2, 1, 1]  # 4 over sizes 12/6/4
    assert sorted(cands.order.tolist()) == sorted(state.unlabeled.tolist())


@pytest.mark.parametrize("sizes, total, expected", [
    ([12, 6, 4], 4, [2, 1, 1]), ([12, 0, 4], 4, [3, 0, 1]), ([1, 1, 1], 10, [4, 3, 3]), ([5, 5], 0, [0, 0])])
def test_quotas(sizes, total, expected):
    q = quotas(np.array(sizes), total)
    assert q.tolist() == expected and q.sum() == total


def test_distance_order_and_passes():
    pos = distance_order(np.array([0.5, 2.0, 1.0, 3.0]), 1.5, np.zeros(4))
    assert pos.tolist() == [2, 0, 1, 3]
    order, batch = passes([np.array([1, 2, 3]), np.array([7])], np.array([2, 1]))
    assert order.tolist() == [1, 2, 7, 3] and batch.tolist() == [0, 0, 0, 1]


def test_passes_reach_zero_quota_clusters_and_survive_empty_ones():
    order, batch = passes([np.array([1, 2, 3]), np.array([8, 9])], np.array([2, 0]))
    assert order.tolist() == [1, 2, 3, 8, 9] and batch.tolist() == [0, 0, 1, 2, 3]
    order, batch = passes([np.zeros(0, np.int64), np.array([3, 4])], np.array([2, 0]))
    assert order.tolist() == [3, 4] and batch.tolist() == [0, 1]
    order, _ = passes([np.zeros(0, np.int64)], np.array([0]))
    assert len(order) == 0


def test_stage0_by_strategy_charges_every_sample_examined():
    """Stage 0 of the CL methods: nothing labeled, so no cluster is excluded and every cluster
    is examined nearest its centroid first; whole passes until init_id iD; all examined cost."""
    from src.active.stage0 import initial_state_by_strategy
    from src.core.config import ActiveConfig

    feats, _, a, b, c = scene()
    n = len(feats)
    category = np.full(n, 2, np.int8)  # OoD unless listed
    iD = [i for i in a if abs(feats[i]).sum() <= 2] + list(c)  # near the centroids of A and C
    category[iD] = 0
    label = np.where(category == 0, 1, -1).astype(np.int16)
    active = ActiveConfig(num_classes=K, init_id=5, per_round_id=2, target_id=300,
                          costs={"id": 1.0, "ambiguous": 1.0, "ood": 2.0}, non_id_ratio=1.0)
    strategy = get("distance_cl", quota=5, num_classes=K)
    state, m = initial_state_by_strategy({"category": category, "label": label}, active, strategy,
                                         {"features": feats}, np.random.default_rng(0))
    got = state.labeled
    assert m["labeled_id"] >= 5 and m["quota_met"] and m["examined"] == len(got)
    assert m["cost"] == m["examined_id"] * 1.0 + m["examined_ood"] * 2.0  # non-iD examined are paid for
    # B (nearest first) was queried too: no labeled non-iD yet, so nothing is excluded at stage 0
    assert set(got) & set(b)
    # inside every cluster, the nearest to the centroid came first
    for cl, centre in ((a, (0, 0)), (c, (0, 100))):
        picked = [np.linalg.norm(feats[i] - centre) for i in got if i in cl]
        rest = [np.linalg.norm(feats[i] - centre) for i in cl if i not in got and i in state.unlabeled]
        assert not rest or not picked or max(picked) <= min(rest) + 1e-9


def test_from_params_passes_the_cluster_options():
    from dataclasses import replace

    from src.core import config
    from src.active.strategies import DistanceCL, from_params
    from tests.conftest import ROOT

    p = config.load(ROOT / "params.yaml")
    p = replace(p, strategy="distance_cl", cluster=replace(p.cluster, no_non_id_radius=0.5, n_init=2))
    s = from_params(p, quota=7)
    assert isinstance(s, DistanceCL) and s.no_non_id_radius == 0.5 and s.n_init == 2 and s.quota == 7
    assert s.exclude == "most"  # the paper's rule in every profile
    assert from_params(replace(p, strategy="distance_cl", cluster=replace(p.cluster, exclude="majority"))).exclude \
        == "majority"
    assert from_params(replace(p, strategy="entropy")).quota == p.active.per_round_id
