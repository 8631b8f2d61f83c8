"""The learner family follows from what the strategy reads; checkpoints say which family wrote them."""
import numpy as np
import pytest
import torch

from src.active.learners import BaselineLearner, DDULearner, RepresentationLearner, learner_for
from src.active.state import ActiveState
from src.core import config
from src.core.errors import DataError
from src.models.representation import load_representation
from tests.test_config import write


@pytest.mark.parametrize("strategy, family", [
    ("random", BaselineLearner), ("least_confidence", BaselineLearner), ("entropy", BaselineLearner),
    ("random_cl", RepresentationLearner), ("distance_cl", RepresentationLearner), ("ddu", DDULearner)])
def test_family_follows_the_strategy(tmp_path, strategy, family):
    p = config.load(write(tmp_path, lambda d: d.update(strategy=strategy)))
    learner = learner_for(p)
    assert type(learner) is family and learner.pretrained == (family is RepresentationLearner)


def fit_tiny(tmp_path, mutate):
    """The learner of params.yaml changed by `mutate`, fitted as r00 on 12 of 30 random 28x28 images
    (labels 0..10): (learner, images, extra metrics)."""
    p = config.load(write(tmp_path, mutate))
    g = np.random.default_rng(0)
    images = g.integers(0, 255, (30, 28, 28)).astype(np.uint8)
    state = ActiveState.empty(30).with_labels(np.arange(12), np.arange(12) % 11, 12.0, 0)
    learner = learner_for(p)
    return learner, images, learner.fit(state, images, np.arange(12), "r00", None)


def test_baseline_learner_round_trip_and_refused_as_representation(tmp_path):
    def tiny(d):
        d["classifier"].update(width=2, epochs=1, batch_size=8, milestones=[1])
        d["strategy"] = "random"
    learner, images, extra = fit_tiny(tmp_path, tiny)
    out = learner.pool_outputs(images)
    assert set(out) == {"probs"} and out["probs"].shape == (30, 11) and "seconds" in extra
    np.testing.assert_allclose(out["probs"].sum(1), 1.0, rtol=1e-5)
    path = learner.save(tmp_path / "r00.pt")
    assert torch.load(path, weights_only=True)["learner"] == "baseline"
    with pytest.raises(DataError, match="written by the baseline learner"):
        load_representation(path)
