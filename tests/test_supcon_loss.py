import math

import pytest
import torch
from torch.nn import functional as F

from src.contrastive.loss import supcon_loss, total_loss


def nt_xent_reference(z1, z2, t):
    """An independent SimCLR NT-Xent written the textbook way (cross-entropy over 2N - 1 others)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / t
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def test_identical_features_give_log_2n_minus_1():
    n = 6
    feats = torch.ones(n, 2, 4)  # every view of every sample identical
    assert supcon_loss(feats, None, 0.5).item() == pytest.approx(math.log(2 * n - 1), rel=1e-5)


def test_perfectly_aligned_orthogonal_views():
    # views of a sample coincide, samples are orthogonal: positive sim 1/t, negatives 0
    n, t = 4, 0.1
    base = torch.eye(n)
    feats = torch.stack([base, base], 1).double()
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + (2 * n - 2)))
    assert supcon_loss(feats, None, t).item() == pytest.approx(expected, rel=1e-5)


def test_matches_independent_nt_xent():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    ours = supcon_loss(torch.stack([z1, z2], 1), None, 0.07)
    assert ours.item() == pytest.approx(nt_xent_reference(z1, z2, 0.07).item(), rel=1e-5)


def test_supcon_with_distinct_labels_is_simclr():
    feats = torch.randn(10, 2, 8, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(10) * 3
    assert supcon_loss(feats, labels, 0.2).item() == pytest.approx(supcon_loss(feats, None, 0.2).item(), rel=1e-6)


def test_symmetric_in_views_and_sample_order():
    feats = torch.randn(7, 2, 5, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 1, 0, 2, 1, 10, 10])
    base = supcon_loss(feats, labels, 0.1)
    assert supcon_loss(feats.flip(1), labels, 0.1).item() == pytest.approx(base.item(), rel=1e-6)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    assert supcon_loss(feats[perm], labels[perm], 0.1).item() == pytest.approx(base.item(), rel=1e-6)


def test_shared_label_pulls_together():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(1, 1, 8, generator=g)
    close = torch.cat([a, a + 0.01 * torch.randn(1, 1, 8, generator=g)], 0)  # two samples, same class
    far = torch.randn(2, 1, 8, generator=g)
    feats = torch.cat([close, far])
    same = supcon_loss(feats, torch.tensor([5, 5, 1, 2]), 0.1)
    wrong = supcon_loss(feats, torch.tensor([5, 1, 5, 2]), 0.1)
    assert same < wrong


def test_single_view_needs_repeated_labels():
    feats = torch.randn(4, 1, 3)
    with pytest.raises(ValueError, match="no anchor has a positive"):
        supcon_loss(feats, None)
    assert torch.isfinite(supcon_loss(feats, torch.tensor([0, 0, 1, 1])))


@pytest.mark.parametrize("feats, labels, match", [
    (torch.randn(4, 8), None, r"\[B, V, D\]"),
    (torch.randn(4, 2, 8), torch.zeros(3), "labels must be"),
    (torch.randn(1, 1, 8), None, "at least two views"),
])
def test_bad_shapes_raise(feats, labels, match):
    with pytest.raises(ValueError, match=match):
        supcon_loss(feats, labels)


def test_total_loss_is_the_sum():
    g = torch.Generator().manual_seed(5)
    zu, zl = torch.randn(6, 2, 4, generator=g), torch.randn(5, 2, 4, generator=g)
    y = torch.tensor([0, 10, 10, 3, 0])
    assert total_loss(zu, zl, y, 0.07).item() == pytest.approx(
        (supcon_loss(zu, None, 0.07) + supcon_loss(zl, y, 0.07)).item(), rel=1e-6)
    assert total_loss(zu, None, None, 0.07).item() == pytest.approx(supcon_loss(zu, None, 0.07).item())
