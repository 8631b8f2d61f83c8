import numpy as np
import pytest

from src.active.state import ActiveState
from src.active.strategies import REGISTRY, Candidates, from_params, get
from src.core import config
from src.core.errors import ConfigError
from tests.test_config import write

K = 10


def fixture_state_and_probs(n=60, seed=0):
    g = np.random.default_rng(seed)
    probs = g.dirichlet(np.full(K + 1, 0.5), size=n)
    features = g.normal(size=(n, 4)) + 5 * g.integers(0, 3, size=(n, 1))
    state = ActiveState.empty(n)
    labeled = g.choice(n, 15, replace=False)
    state = state.with_labels(labeled, g.integers(0, K + 1, 15), 15.0, 0)
    embeddings = features + g.normal(size=features.shape)
    logits = np.log(np.clip(probs, 1e-300, None)) + g.normal(size=(n, 1))  # softmax(logits) = probs
    return state, {"probs": probs, "features": features, "embeddings": embeddings,
                   "logits": logits, "penultimate": (features + g.normal(size=features.shape)).astype(np.float16)}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_contract(name):
    strategy = get(name)
    assert strategy.name == name and strategy.needs <= {"probs", "features", "embeddings", "logits", "penultimate"}
    state, outputs = fixture_state_and_probs()
    c1 = strategy.rank(state, outputs, np.random.default_rng(7))
    c2 = strategy.rank(state, outputs, np.random.default_rng(7))
    np.testing.assert_array_equal(c1.order, c2.order)  # same rng, same output
    np.testing.assert_array_equal(c1.batch, c2.batch)
    assert len(c1.order) > 0
    assert set(c1.order.tolist()) <= set(state.unlabeled.tolist())  # only unlabeled
    assert len(np.unique(c1.order)) == len(c1.order)  # no duplicates
    assert (np.diff(c1.batch) >= 0).all() and len(c1.batch) == len(c1.order)


@pytest.mark.parametrize("name", sorted(n for n, cls in REGISTRY.items() if "probs" in cls.needs))
def test_auxiliary_class_filter(name):
    state, outputs = fixture_state_and_probs()
    c1 = get(name).rank(state, outputs, np.random.default_rng(7))
    aux = outputs["probs"].argmax(1)[c1.order] == K
    assert aux.any() and not aux.all()
    first_aux = np.argmax(aux)
    assert not aux[:first_aux].any() and aux[first_aux:].all()  # filtered ones only at the end


@pytest.mark.parametrize("name", ["least_confidence", "entropy"])
def test_flat_softmax_ranks_first(name):
    n = 20
    probs = np.full((n, K + 1), 0.01)
    probs[np.arange(n), np.arange(n) % K] = 1 - 0.01 * K  # confident, never the aux class
    probs[13] = 1.0 / (K + 1)  # flat
    probs[13, 2] += 1e-6  # argmax is an iD class, so the aux filter keeps it
    probs[5] = 0.5 * probs[5] + 0.5 / (K + 1)  # half-flat: second
    order = get(name).rank(ActiveState.empty(n), {"probs": probs}, np.random.default_rng(0)).order
    assert order[0] == 13 and order[1] == 5


def test_random_differs_with_rng():
    state, outputs = fixture_state_and_probs()
    a = get("random").rank(state, outputs, np.random.default_rng(1)).order
    b = get("random").rank(state, outputs, np.random.default_rng(2)).order
    assert not np.array_equal(a, b)


def test_candidates_batches():
    c = Candidates(np.array([4, 2, 9, 7, 1]), np.array([0, 0, 1, 2, 2]))
    assert [b.tolist() for b in c.batches()] == [[4, 2], [9], [7, 1]]
    assert [b.tolist() for b in Candidates.one_by_one(np.array([3, 1])).batches()] == [[3], [1]]


def test_misspelt_strategy_lists_valid_names(tmp_path):
    with pytest.raises(ConfigError, match="strategy 'entropi' is unknown.*entropy.*least_confidence.*random"):
        get("entropi")
    path = write(tmp_path, lambda p: p.update(strategy="least-confidence"))
    params = config.load(path)  # config knows no strategy names (it is below the registry) ...
    with pytest.raises(ConfigError, match="Valid strategies: .*least_confidence"):
        from_params(params)  # ... the registry refuses the name where a stage uses it
