"""LfOSA and EAOA (src/active/open_set.py) on hand-built logits and features whose right order is
known; their two-component mixture (src/active/mixture.py); the detector losses and outputs."""
import numpy as np
import pytest

from src.active.mixture import Mixture, fit_two_gaussians, min_max, two_means_split
from src.active.open_set import adaptive_k1, energy, energy_margin, reverse_knn_counts, top_k_columns, window_passes
from src.active.state import ActiveState
from src.active.strategies import from_params, get
from src.core import config
from tests.test_config import write


# ---------------------------------------------------------------- the mixture
def two_clusters(seed=0):
    g = np.random.default_rng(seed)
    return np.concatenate([g.normal(0.0, 0.3, 40), g.normal(10.0, 0.3, 60)])


def test_two_means_split_is_the_exact_1d_split():
    assert two_means_split(np.array([0.0, 0.1, 0.2, 9.0, 10.0])) == 3
    assert two_means_split(np.array([-5.0, 1.0, 1.1, 1.2])) == 1


def test_mixture_separates_two_clusters_and_names_components_by_mean():
    x = two_clusters()
    mix = fit_two_gaussians(x)
    assert sorted(np.round(mix.means)) == [0.0, 10.0]
    high, low = mix.posterior(x, "high"), mix.posterior(x, "low")
    np.testing.assert_allclose(high + low, 1.0)
    assert (high[40:] > 0.99).all() and (high[:40] < 0.01).all()
    # the components listed the other way round: the same posteriors (chosen by mean, not position)
    swapped = Mixture(mix.weights[::-1], mix.means[::-1], mix.variances[::-1])
    np.testing.assert_allclose(swapped.posterior(x, "high"), high)
    np.testing.assert_allclose(swapped.posterior(x, "low"), low)
    with pytest.raises(ValueError, match="'high' or 'low'"):
        mix.posterior(x, "known")


def test_mixture_is_deterministic_and_order_free():
    x = two_clusters(1)
    a = fit_two_gaussians(x)
    b = fit_two_gaussians(np.random.default_rng(5).permutation(x))
    np.testing.assert_allclose(a.means, b.means, rtol=1e-12)
    np.testing.assert_allclose(a.variances, b.variances, rtol=1e-12)


def test_mixture_bad_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        fit_two_gaussians(np.array([1.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        fit_two_gaussians(np.array([1.0, np.nan, 2.0]))
    constant = fit_two_gaussians(np.full(5, 3.0))  # no split: equal means, equal posteriors
    assert np.isfinite(constant.posterior(np.full(5, 3.0), "high")).all()
    np.testing.assert_array_equal(min_max(np.array([2.0, 2.0])), [0.0, 0.0])
    np.testing.assert_allclose(min_max(np.array([1.0, 3.0, 2.0])), [0.0, 1.0, 0.5])


# ---------------------------------------------------------------- LfOSA
K = 3


def lfosa_scene():
    """K = 3. Class 0: five samples with max logit ~10 (known) and five with ~2 (unknown-looking);
    class 1: the same at 8 and 1; one sample predicted as class K; one lone sample of class 2."""
    g = np.random.default_rng(0)
    rows = []
    for cls, hi, lo in ((0, 10.0, 2.0), (1, 8.0, 1.0)):
        for value in [hi] * 5 + [lo] * 5:
            z = np.full(K + 1, -3.0) + g.normal(0, 0.01, K + 1)
            z[cls] = value + g.normal(0, 0.05)
            rows.append(z)
    k_row = np.array([0.0, 0.5, -1.0, 6.0])  # predicted class K (the unknown class)
    lone = np.array([0.0, 0.0, 9.0, -1.0])  # the only sample predicted as class 2
    return np.vstack(rows + [k_row, lone])


def test_lfosa_scores_and_order():
    logits = lfosa_scene()
    s = get("lfosa", num_classes=K)
    score, pred = s.scores(logits)
    assert (score[[0, 1, 2, 3, 4, 10, 11, 12, 13, 14]] > 0.99).all()  # the high-activation components
    assert (score[[5, 6, 7, 8, 9, 15, 16, 17, 18, 19]] < 0.01).all()
    assert score[20] == 0.0 and pred[20] == K  # predicted as class K: 0
    assert score[21] == 0.0  # a class of one sample fits no mixture
    order = s.rank(ActiveState.empty(len(logits)), {"logits": logits}, np.random.default_rng(0)).order
    assert set(order[:10]) == {0, 1, 2, 3, 4, 10, 11, 12, 13, 14}
    assert set(order[10:21]) == {5, 6, 7, 8, 9, 15, 16, 17, 18, 19, 21}
    assert order[-1] == 20  # class K last


def test_lfosa_ranks_only_unlabeled_and_is_deterministic():
    logits = lfosa_scene()
    state = ActiveState.empty(len(logits)).with_labels(np.array([0, 5]), np.array([0, K]), 2.0, 0)
    s = get("lfosa", num_classes=K)
    a = s.rank(state, {"logits": logits}, np.random.default_rng(3)).order
    b = s.rank(state, {"logits": logits}, np.random.default_rng(3)).order
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == sorted(state.unlabeled)


def test_open_set_strategies_refuse_logits_of_another_k():
    logits = lfosa_scene()
    for name in ("lfosa", "eaoa"):
        with pytest.raises(ValueError, match="K \\+ 1 = 5"):
            get(name, num_classes=4).rank(ActiveState.empty(len(logits)),
                                          {"logits": logits, "penultimate": np.ones((len(logits), 2))},
                                          np.random.default_rng(0))


# ---------------------------------------------------------------- EAOA's parts
def test_energies_by_hand():
    z = np.array([[2.0, 1.0, 0.5], [0.0, 0.0, 4.0]])
    want = -np.log(np.exp(2) + np.exp(1)) + np.log(1 + np.exp(0.5))
    np.testing.assert_allclose(energy(z, 2)[0], want)
    np.testing.assert_allclose(energy(z, 2, with_unknown=False)[1], -np.log(2.0))
    margin, pred = energy_margin(np.array([[3.0, 1.0, 0.0], [-50.0, 5.0, 5.0]]))
    np.testing.assert_allclose(margin[0], np.log(np.exp(1) + 1) - np.log(np.exp(3) + np.exp(1) + 1))
    np.testing.assert_allclose(margin[1], np.log(0.5))  # two equal tops: p_top = 1/2
    assert pred.tolist() == [0, 1]


def test_reverse_knn_counts_by_hand_and_in_blocks():
    ref = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 0, 1])
    pool = np.array([[1.0, 0.05], [0.7, 0.7], [0.05, 1.0], [-1.0, 0.0]])
    counts = reverse_knn_counts(ref, labels, pool, k=2, columns=3)
    # class-0 refs pick pool 0 and 1; the class-1 ref picks pool 2 and 1; nobody picks pool 3
    np.testing.assert_array_equal(counts, [[2, 0, 0], [2, 1, 0], [0, 1, 0], [0, 0, 0]])
    blocked = reverse_knn_counts(ref, labels, pool, k=2, columns=3, block_elements=1)  # one row per block
    np.testing.assert_array_equal(blocked, counts)
    np.testing.assert_array_equal(reverse_knn_counts(ref, labels, pool, k=99, columns=3).sum(0), [8, 4, 0])
    with pytest.raises(ValueError, match="must be"):
        reverse_knn_counts(ref[:, :1], labels, pool, k=2, columns=3)
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        reverse_knn_counts(ref, np.array([0, 3, 1]), pool, k=2, columns=3)


def brute_top_k(sims, k):
    return [set(np.argsort(-row, kind="stable")[:k].tolist()) for row in sims]


def as_sets(rows, cols, b):
    out = [set() for _ in range(b)]
    for r, c in zip(rows.tolist(), cols.tolist()):
        out[r].add(c)
    return out


@pytest.mark.parametrize("n, k", [(5000, 250), (5000, 3), (300, 299), (300, 300), (300, 1000)])
def test_top_k_columns_equals_a_full_sort(n, k):
    """The sampled threshold (n = 5000, k = 250), the full selection (s >= n) and k >= n agree with a
    full sort on continuous values (no ties)."""
    sims = np.random.default_rng(n + k).normal(size=(7, n)).astype(np.float32)
    rows, cols = top_k_columns(sims, min(k, n))
    assert len(rows) == 7 * min(k, n)
    assert as_sets(rows, cols, 7) == brute_top_k(sims, min(k, n))


def test_top_k_columns_falls_back_when_the_sample_overshoots():
    """Row 0: the 32 largest values sit exactly on sampled columns, so the sample's threshold admits
    only those 32 (< k): that row takes the full selection. Row 1: ties everywhere: still k each."""
    n, k = 5000, 250
    sample = np.linspace(0, n - 1, int(np.ceil(16 * n / k))).astype(np.int64)
    g = np.random.default_rng(0)
    sims = g.uniform(0.0, 0.5, (2, n)).astype(np.float32)
    sims[0, sample[:32]] = 1.0 + np.arange(32, dtype=np.float32) / 100
    sims[1] = 0.25
    rows, cols = top_k_columns(sims, k)
    got = as_sets(rows, cols, 2)
    assert got[0] == brute_top_k(sims[:1], k)[0]
    assert len(got[1]) == k and np.bincount(rows).tolist() == [k, k]


def test_window_passes_repeat_the_batch_rule():
    """Members a, b, c, d by decreasing cleanness; informativeness b > ... : pass 0 sees the window
    {a, b} and takes b; pass 1 {a, c} takes c; pass 2 {a, d} takes d; pass 3 takes a."""
    clean = np.array([0.9, 0.8, 0.7, 0.6])
    info = np.array([0.1, 0.5, 0.9, 0.3])
    taken, passes = window_passes(np.arange(4), clean, info, np.zeros(4), per_class=1, window=2)
    assert taken.tolist() == [1, 2, 3, 0] and passes.tolist() == [0, 1, 2, 3]
    taken, passes = window_passes(np.arange(4), clean, info, np.zeros(4), per_class=2, window=4)
    assert taken.tolist() == [2, 1, 3, 0] and passes.tolist() == [0, 0, 1, 1]


def test_adaptive_k1_follows_the_rounds_precision():
    n = 40
    state = ActiveState.empty(n).with_labels(np.arange(10), np.zeros(10, int), 10.0, 0)  # stage 0: not counted
    state = state.with_labels(np.arange(10, 15), np.zeros(5, int), 5.0, 1)  # precision 1.0 > 0.6: k1 + 1
    state = state.with_labels(np.arange(15, 25), np.array([0] * 2 + [K] * 8), 10.0, 2)  # 0.2: k1 - 1
    state = state.with_labels(np.arange(25, 33), np.array([0] * 5 + [K] * 3), 8.0, 3)  # 0.625: within 0.05
    assert adaptive_k1(state, K, 5, 1, 0.05, 0.6) == (5, [1.0, 0.2, 0.625])
    low = ActiveState.empty(n).with_labels(np.arange(5), np.full(5, K), 5.0, 1)
    assert adaptive_k1(low, K, 1, 1, 0.05, 0.6)[0] == 1  # never below 1


# ---------------------------------------------------------------- EAOA on a scene
def eaoa_scene():
    """K = 2. Labeled: four class-0 samples at feature e0, four class-1 at e1. Unlabeled: six iD of
    class 0 near e0 (logits known-high; rows 8..10 ambiguous between the two classes), six of
    class 1 near e1, six OoD near e2 with a large unknown logit."""
    g = np.random.default_rng(0)
    e = np.eye(3)
    feats, logits, kinds = [], [], []
    for cls in (0, 1):
        for _ in range(4):
            feats.append(e[cls] + g.normal(0, 0.01, 3))
            logits.append([8.0 if cls == 0 else 0.0, 8.0 if cls == 1 else 0.0, -5.0])
            kinds.append("labeled")
    for cls in (0, 1):
        for j in range(6):
            z = [0.0, 0.0, -5.0]
            z[cls], z[1 - cls] = 8.0, (7.5 if j < 3 else 0.0) + g.normal(0, 0.01)
            feats.append(e[cls] + g.normal(0, 0.01, 3))
            logits.append(z)
            kinds.append("ambiguous_id" if j < 3 else "id")
    for j in range(6):
        feats.append(e[2] + g.normal(0, 0.01, 3))
        logits.append([1.0 + 0.1 * j, 0.5, 6.0])
        kinds.append("ood")
    n = len(feats)
    state = ActiveState.empty(n).with_labels(np.arange(8), np.array([0] * 4 + [1] * 4), 8.0, 0)
    outputs = {"logits": np.array(logits) + g.normal(0, 0.01, (n, 3)), "penultimate": np.array(feats)}
    return state, outputs, np.array(kinds)


def eaoa(**changes):
    from src.active.open_set import EAOA

    s = EAOA.defaults()
    return get("eaoa", quota=2, num_classes=2, settings=type(s)(**{**s.__dict__, "k": 6, **changes}))


def test_eaoa_probabilities_on_the_scene():
    state, outputs, kinds = eaoa_scene()
    clean, info, pred, facts = eaoa().probabilities(state, outputs)
    unl = kinds[state.unlabeled]
    assert (clean[unl == "ood"] < 0.01).all() and (clean[unl != "ood"] > 0.99).all()
    assert info[unl == "ambiguous_id"].min() > info[unl == "id"].max()  # small margin: informative
    assert facts["non_id_column"] is False  # nothing labeled non-iD yet: no unknown column


def test_eaoa_order_on_the_scene():
    """quota 2, K = 2: one sample per class and pass. With k1 = 5 the window is the 5 cleanest of a
    class: pass 0 takes its most informative (an ambiguous iD); passes 0 and 1 hold iD only, as the
    6 iD of a class are cleaner than every OoD. With k1 = 1 the order is by cleanness alone: every
    OoD after every iD. (Once a class's clean iD run short, OoD enter its window and, being
    informative, can come before its confident iD: EAOA's trade-off, visible on so small a pool.)"""
    state, outputs, kinds = eaoa_scene()
    s = eaoa()
    cands = s.rank(state, outputs, np.random.default_rng(0))
    got = kinds[cands.order]
    assert set(got[:2]) == {"ambiguous_id"}  # pass 0: the most informative iD of each class
    assert "ood" not in set(got[:4])
    assert s.info["eaoa"]["k1"] == 5 and s.info["eaoa"]["per_class"] == 1 and s.info["eaoa"]["window"] == 5
    by_clean = kinds[eaoa(k1=1).rank(state, outputs, np.random.default_rng(0)).order]
    assert "ood" not in set(by_clean[:12]) and (by_clean[12:] == "ood").all()
    again = s.rank(state, outputs, np.random.default_rng(0))
    np.testing.assert_array_equal(again.order, cands.order)  # the round's seed decides every tie
    np.testing.assert_array_equal(cands.batch, np.arange(len(cands.order)))  # examined one by one


def test_eaoa_counts_labeled_non_id_in_column_k():
    state, outputs, kinds = eaoa_scene()
    ood = np.flatnonzero(kinds == "ood")
    state = state.with_labels(ood[:2], np.array([2, 2]), 2.0, 1)
    s = eaoa()
    order = s.rank(state, outputs, np.random.default_rng(0)).order
    assert s.info["eaoa"]["non_id_column"] is True and s.info["eaoa"]["precision_history"] == [0.0]
    assert s.info["eaoa"]["k1"] == 4  # round 1 found no iD: k1 - 1
    assert "ood" not in set(kinds[order][:6])  # passes 0..2: windows of 4 iD
    clean = s.probabilities(state, outputs)[0]
    assert (clean[kinds[state.unlabeled] == "ood"] < 0.01).all()


# ---------------------------------------------------------------- params, learner, loss
def test_params_reach_the_strategies(tmp_path):
    p = config.load(write(tmp_path, lambda d: (d.update(strategy="eaoa"), d["eaoa"].update(k=7))))
    s = from_params(p)
    assert s.settings.k == 7 and s.settings.k1 == 5 and s.quota == p.active.per_round_id
    p = config.load(write(tmp_path, lambda d: (d.update(strategy="lfosa"), d["lfosa"].update(temperature=0.25))))
    assert from_params(p).detector_loss(False) == {"temperature": 0.25}
    assert from_params(config.load(write(tmp_path, lambda d: d.update(strategy="entropy")))).detector_loss(True) == {}


def test_detector_loss_terms():
    import torch
    from torch.nn import functional as F

    from src.models.open_set_loss import detector_loss

    z = torch.tensor([[3.0, 1.0, 0.0], [0.5, 0.2, 2.0]])
    y = torch.tensor([0, 2])
    plain = F.cross_entropy(z / 0.5, y, label_smoothing=0.1)
    torch.testing.assert_close(detector_loss(0.1, 2, temperature=0.5)(z, y), plain)
    e = -torch.logsumexp(z[:, :2], 1)
    want = F.cross_entropy(z, y) + 0.01 * (F.relu(e[0] + 25) ** 2 + F.relu(-7 - e[1]) ** 2)
    got = detector_loss(0.0, 2, energy_weight=0.01, m_in=-25.0, m_out=-7.0)(z, y)
    torch.testing.assert_close(got, want)
    only_id = detector_loss(0.0, 2, energy_weight=0.01, m_in=-25.0, m_out=-7.0)(z[:1], y[:1])
    assert torch.isfinite(only_id)  # a batch without non-iD adds no term for them (no mean of nothing)
    with pytest.raises(ValueError, match="temperature"):
        detector_loss(0.1, 2, temperature=0.0)


@pytest.mark.parametrize("strategy, keys", [("random", {"probs"}), ("lfosa", {"probs", "logits"}),
                                            ("eaoa", {"probs", "logits", "penultimate"})])
def test_baseline_learner_writes_what_the_strategy_reads(tmp_path, strategy, keys):
    """The extra outputs only for the strategies that read them (12 labels 0..10: class K included)."""
    from src.active.learners import BaselineLearner
    from tests.test_learners import fit_tiny

    def tiny(d):
        d["classifier"].update(width=2, epochs=1, batch_size=8, milestones=[1])
        d["strategy"] = strategy
    learner, images, extra = fit_tiny(tmp_path, tiny)
    assert type(learner) is BaselineLearner and not learner.pretrained
    out = learner.pool_outputs(images)
    assert set(out) == keys and out["probs"].shape == (30, 11) and out["probs"].dtype == np.float32
    np.testing.assert_allclose(out["probs"], learner.predict_probs(images), rtol=1e-6, atol=1e-7)
    if "logits" in keys:
        assert out["logits"].shape == (30, 11)
        np.testing.assert_allclose(np.exp(out["logits"]) / np.exp(out["logits"]).sum(1, keepdims=True),
                                   out["probs"], rtol=1e-5, atol=1e-6)
    if "penultimate" in keys:
        assert out["penultimate"].dtype == np.float16 and out["penultimate"].shape == (30, 2 * 4 * 9)
    assert ("detector_loss" in extra) == (strategy != "random")


def test_ranking_imports_neither_torch_nor_sklearn():
    """acquire of lfosa and eaoa stays as light as the probability strategies' (docs/design.md):
    the mixtures are NumPy's, the reverse kNN too."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    probe = ("import sys, numpy as np\n"
             "from tests.test_open_set import eaoa_scene, lfosa_scene\n"
             "from src.active.state import ActiveState\n"
             "from src.active.strategies import get\n"
             "state, outputs, _ = eaoa_scene()\n"
             "get('eaoa', quota=2, num_classes=2).rank(state, outputs, np.random.default_rng(0))\n"
             "z = lfosa_scene()\n"
             "get('lfosa', num_classes=3).rank(ActiveState.empty(len(z)), {'logits': z}, np.random.default_rng(0))\n"
             "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
