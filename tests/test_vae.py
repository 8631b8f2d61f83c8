import math

import torch

from src.generate.vae import HierarchicalVAE, bits_per_dim, gaussian_kl, negative_elbo


def test_shapes_and_finite_loss():
    torch.manual_seed(0)
    model = HierarchicalVAE(channels=4, z_top=3, z_bottom=2)
    x = torch.bernoulli(torch.rand(5, 1, 28, 28))
    logits, kl_t, kl_b = model(x, torch.Generator().manual_seed(1))
    assert logits.shape == (5, 1, 28, 28) and kl_t.shape == (5,) and kl_b.shape == (5,)
    loss, nll, kl = negative_elbo(model, x, torch.Generator().manual_seed(1))
    assert torch.isfinite(loss).all() and (nll > 0).all() and (kl >= -1e-5).all()
    loss.mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_encode_decode_shapes_and_range():
    model = HierarchicalVAE(channels=4, z_top=3, z_bottom=2).eval()
    z_top, z_bottom = model.encode(torch.rand(4, 1, 28, 28))
    assert z_top.shape == (4, 3, 7, 7) and z_bottom.shape == (4, 2, 14, 14)
    out = model.decode(z_top, z_bottom)
    assert out.shape == (4, 1, 28, 28) and out.min() >= 0 and out.max() <= 1


def test_gaussian_kl_closed_forms():
    mu, ls = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    assert torch.allclose(gaussian_kl(mu, ls, mu, ls), torch.zeros(3), atol=1e-5)
    # KL(N(1, 1) || N(0, 1)) = 0.5 per dimension
    one = torch.ones(2, 1, 2, 2)
    assert torch.allclose(gaussian_kl(one, 0 * one, 0 * one, 0 * one), torch.full((2,), 2.0))


def test_bits_per_dim():
    assert math.isclose(bits_per_dim(784 * math.log(2)), 1.0)
