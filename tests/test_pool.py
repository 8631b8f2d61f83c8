import numpy as np
import pytest

from src.core.config import PoolConfig
from src.core.errors import DataError
from src.data.pool import AMBIGUOUS, ID, OOD, build_pool, check_pool
from tests.conftest import synthetic_digits


def inputs(n_train=50, n_amb=20, n_ood=15):
    tr_x, tr_y = synthetic_digits(n_train, 0)
    te_x, te_y = synthetic_digits(10, 1)
    g = np.random.default_rng(5)
    mnist = {"train_images": tr_x, "train_labels": tr_y.astype(np.int64),
             "test_images": te_x, "test_labels": te_y.astype(np.int64)}
    amb = {"images": g.integers(0, 256, (n_amb, 28, 28)).astype(np.uint8)}
    ood = {"images": g.integers(0, 256, (n_ood, 28, 28)).astype(np.uint8), "labels": np.zeros(n_ood)}
    return mnist, amb, ood


def cfg(**kw):
    base = dict(seed=0, n_id=30, n_ambiguous=None, n_ood=100, n_val=0, grid_images=4, id_classes=None,
                ambiguous_classes=None)
    return PoolConfig(**{**base, **kw})


def test_contract_and_counts():
    mnist, amb, ood = inputs()
    pool, test, _, stats = build_pool(mnist, amb, ood, cfg())
    check_pool(pool)
    assert pool["images"].dtype == np.uint8 and pool["images"].shape[1:] == (28, 28)
    n = len(pool["images"])
    assert n == 30 + 20 + 15 == stats["pool_size"]
    assert stats["by_category"] == {"id": 30, "ambiguous": 20, "ood": 15}
    assert stats["by_source"] == {"mnist": 30, "vae-mnist": 20, "notmnist": 15}
    assert sum(stats["by_category"].values()) == n
    # OoD: min(requested=100, available=15), recorded
    assert stats["requested"]["ood"] == 100 and stats["available"]["ood"] == 15
    assert (pool["label"][pool["category"] != ID] == -1).all()
    assert test["images"].shape == (10, 28, 28) and test["labels"].dtype == np.int16


def test_rows_trace_back_to_their_source():
    mnist, amb, ood = inputs()
    pool, _, _, _ = build_pool(mnist, amb, ood, cfg())
    src = {ID: mnist["train_images"], AMBIGUOUS: amb["images"], OOD: ood["images"]}
    for i in range(len(pool["images"])):
        c, j = int(pool["category"][i]), int(pool["source_index"][i])
        np.testing.assert_array_equal(pool["images"][i], src[c][j])
        if c == ID:
            assert pool["label"][i] == mnist["train_labels"][j]
    assert len(np.unique(pool["source_index"][pool["category"] == ID])) == 30  # no duplicates


def test_shuffled_and_seeded():
    mnist, amb, ood = inputs()
    a, _, _, _ = build_pool(mnist, amb, ood, cfg(seed=1))
    b, _, _, _ = build_pool(mnist, amb, ood, cfg(seed=1))
    c, _, _, _ = build_pool(mnist, amb, ood, cfg(seed=2))
    np.testing.assert_array_equal(a["images"], b["images"])
    assert not np.array_equal(a["category"], c["category"])
    assert not (np.diff(a["category"]) >= 0).all()  # not left in blocks


def test_null_takes_everything():
    mnist, amb, ood = inputs()
    _, _, _, stats = build_pool(mnist, amb, ood, cfg(n_id=None, n_ambiguous=None))
    assert stats["by_category"]["id"] == 50 and stats["by_category"]["ambiguous"] == 20


def test_check_pool_catches_violations():
    mnist, amb, ood = inputs()
    pool, _, _, _ = build_pool(mnist, amb, ood, cfg())
    bad = dict(pool, label=pool["label"].copy())
    bad["label"][np.flatnonzero(pool["category"] == OOD)[0]] = 3
    with pytest.raises(DataError, match="-1 for the others"):
        check_pool(bad)
    with pytest.raises(DataError, match="must be int8"):
        check_pool(dict(pool, category=pool["category"].astype(np.int64)))
    with pytest.raises(DataError, match="different lengths"):
        check_pool(dict(pool, source=pool["source"][:-1]))


def test_validation_split_is_disjoint_from_pool_and_test():
    """By source index: no validation image is in the pool; the test set is MNIST's own test file."""
    mnist, amb, ood = inputs()
    pool, test, val, stats = build_pool(mnist, amb, ood, cfg(n_id=None, n_val=12))
    assert stats["val_size"] == len(val["labels"]) == 12
    pool_rows = pool["source_index"][pool["category"] == ID]
    assert np.intersect1d(val["source_index"], pool_rows).size == 0
    assert len(pool_rows) == 50 - 12  # n_id null = every train image not held out
    np.testing.assert_array_equal(val["images"], mnist["train_images"][val["source_index"]])
    np.testing.assert_array_equal(val["labels"], mnist["train_labels"][val["source_index"]])
    for img in val["images"]:  # nor in the test set
        assert not (test["images"] == img).all(axis=(1, 2)).any()
    with pytest.raises(DataError, match="n_val"):
        build_pool(mnist, amb, ood, cfg(n_val=50))
