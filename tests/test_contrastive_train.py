"""The representation model and its training loop on tiny synthetic images."""
import types

import numpy as np
import pytest
import torch

from src.contrastive.train import steps_for, train_contrastive, two_views
from src.models.representation import RepresentationModel, classifier_from, extract_features
from tests.conftest import synthetic_digits


def cfg(**kw):
    base = dict(batch_size=32, labeled_batch_size=8, lr=1e-3, weight_decay=1e-4, temperature=0.2,
                rotation=15.0, shear=10.0, scale=[0.85, 1.15], translate=0.0, augment="affine")
    return types.SimpleNamespace(**{**base, **kw})


def fresh(seed=0):
    torch.manual_seed(seed)
    return RepresentationModel(width=4, proj_dim=8)


def test_steps_for():
    assert steps_for(1.0, 100, 32) == 4 and steps_for(0.25, 100, 32) == 1 and steps_for(2.5, 64, 32) == 5
    assert steps_for(0.0, 100, 32) == 0 and steps_for(1.0, 0, 32) == 0


def test_same_seed_same_weights_and_labels_change_training():
    images, labels = synthetic_digits(80, 0)
    runs = []
    for lab in (labels[:20], labels[:20], np.zeros(20, np.int64)):  # a renaming of labels would not count
        rep = fresh()
        s = train_contrastive(rep, images[20:], images[:20], lab, cfg(), 1.0, 0, "t")
        runs.append(torch.cat([p.detach().flatten() for p in rep.parameters()]))
        assert s["steps"] == 2 and s["views"] == 2 * (2 * 32 + 2 * 8) and np.isfinite(s["loss_last"])
    assert torch.equal(runs[0], runs[1])  # reproducible on CPU
    assert not torch.equal(runs[0], runs[2])  # the SupCon term sees which samples share a label


def test_unlabeled_only_and_zero_epochs():
    images, _ = synthetic_digits(40, 1)
    rep = fresh()
    before = [p.detach().clone() for p in rep.parameters()]
    assert train_contrastive(rep, images, None, None, cfg(), 0.0, 0, "t")["steps"] == 0
    assert all(torch.equal(a, b) for a, b in zip(before, rep.parameters()))
    s = train_contrastive(rep, images, np.zeros((0, 28, 28), np.uint8), np.zeros(0), cfg(), 1.0, 0, "t")
    assert s["steps"] == 2 and s["views"] == 2 * 2 * 32  # no labeled pool: unlabeled views only
    assert not all(torch.equal(a, b) for a, b in zip(before, rep.parameters()))


def test_two_views_shapes_and_normalisation():
    images, _ = synthetic_digits(5, 2)
    g = torch.Generator().manual_seed(0)
    v = two_views(torch.as_tensor(images), cfg(), g)
    assert v.shape == (10, 1, 28, 28)
    assert not torch.equal(v[:5], v[5:])  # two different random views
    assert v.min() >= (0 - 0.1307) / 0.3081 - 1e-5 and v.max() <= (1 - 0.1307) / 0.3081 + 1e-5


def test_classifier_starts_from_the_encoder_and_features():
    images, _ = synthetic_digits(30, 3)
    rep = fresh()
    net = classifier_from(rep, 11)
    for a, b in zip(rep.encoder.parameters(), net.features.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # a copy, not shared
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 11)
    enc = extract_features(rep, images, 7, "encoder")
    proj = extract_features(rep, images, 7, "projection")
    assert enc.shape == (30, 4 * 4 * 9) and proj.shape == (30, 8) and enc.dtype == np.float32
    assert np.allclose(np.linalg.norm(proj, axis=1), 1.0, atol=1e-5)
    assert np.allclose(extract_features(rep, images, 30, "encoder"), enc, atol=1e-5)  # batch-size free
    with pytest.raises(ValueError, match="encoder"):
        extract_features(rep, images, 7, "logits")
