"""A two-group hierarchical VAE for 28x28 images, in the spirit of NVAE (Vahdat & Kautz 2020).

Bottom-up encoder 28 -> 14 -> 7 with residual cells at 14x14 and 7x7; top-down decoder
7 -> 14 -> 28 (no cells at full resolution: they cost half the compute for little gain on MNIST).
Latent groups: z_top (z_top x 7 x 7, prior N(0, I)) and z_bottom (z_bottom x 14 x 14,
prior p(z_bottom | z_top) from the top-down state). The posterior of z_bottom is
parameterised relative to its prior, as in NVAE: mu_q = mu_p + dmu, log_sig_q = log_sig_p + dls.
Likelihood: Bernoulli over binarised pixels (NVAE's MNIST setting), so the ELBO is in nats.

Shapes: x (B, 1, 28, 28) in [0, 1]; logits (B, 1, 28, 28).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from src.core import precision


class SqueezeExcite(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        hidden = max(c // 8, 4)
        self.fc = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(), nn.Linear(hidden, c), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x.mean((2, 3)))[:, :, None, None]


class ResidualCell(nn.Module):
    """NVAE's cell: BN-Swish-Conv3x3-BN-Swish-Conv3x3-SE, added to the input with a small scale."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(c), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1),
            nn.BatchNorm2d(c), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1), SqueezeExcite(c))

    def forward(self, x):
        return x + 0.1 * self.body(x)


def gaussian_kl(mu_q, ls_q, mu_p, ls_p):
    """KL(N(mu_q, e^ls_q) || N(mu_p, e^ls_p)) summed over all but the batch dim."""
    kl = ls_p - ls_q + (torch.exp(2 * ls_q) + (mu_q - mu_p) ** 2) / (2 * torch.exp(2 * ls_p)) - 0.5
    return kl.flatten(1).sum(1)


class HierarchicalVAE(nn.Module):
    def __init__(self, channels: int = 16, z_top: int = 8, z_bottom: int = 4):
        super().__init__()
        c1, c2, c3 = channels, 2 * channels, 4 * channels
        self.z_top, self.z_bottom = z_top, z_bottom
        # bottom-up
        self.stem = nn.Conv2d(1, c1, 3, padding=1)
        self.down14 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc14 = ResidualCell(c2)
        self.down7 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.enc7 = ResidualCell(c3)
        self.q_top = nn.Conv2d(c3, 2 * z_top, 3, padding=1)
        # top-down
        self.from_top = nn.Conv2d(z_top, c3, 3, padding=1)
        self.dec7 = ResidualCell(c3)
        self.up14 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.dec14a = ResidualCell(c2)
        self.p_bottom = nn.Conv2d(c2, 2 * z_bottom, 3, padding=1)
        self.q_bottom = nn.Conv2d(2 * c2, 2 * z_bottom, 3, padding=1)
        self.from_bottom = nn.Conv2d(z_bottom, c2, 3, padding=1)
        self.dec14b = ResidualCell(c2)
        self.up28 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.out = nn.Conv2d(c1, 1, 3, padding=1)
        for m in (self.q_bottom, self.p_bottom, self.q_top):  # start near the prior
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    # -- pieces
    def _bottom_up(self, x):
        e28 = torch.relu(self.stem(2 * x - 1))
        e14 = self.enc14(self.down14(e28))
        e7 = self.enc7(self.down7(e14))
        return e14, e7

    def _top_state(self, z_top):
        return self.dec14a(self.up14(self.dec7(self.from_top(z_top))))

    def _decode_from(self, h14, z_bottom):
        h = self.dec14b(h14 + self.from_bottom(z_bottom))
        return self.out(torch.relu(self.up28(h)))

    @staticmethod
    def _sample(mu, ls, generator):
        if generator is None:
            return mu
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        return mu + torch.exp(ls) * eps

    # -- public
    def forward(self, x, generator: torch.Generator | None = None):
        """Returns (logits, kl_top, kl_bottom); z is sampled with `generator`, or the mean if None."""
        e14, e7 = self._bottom_up(x)
        # the Gaussians' statistics, samples and KL in fp32 (under bf16 autocast the convolutions
        # return bf16; .float() is a no-op in fp32)
        mu_t, ls_t = (t.float() for t in self.q_top(e7).chunk(2, 1))
        z_t = self._sample(mu_t, ls_t, generator)
        kl_t = gaussian_kl(mu_t, ls_t, torch.zeros_like(mu_t), torch.zeros_like(ls_t))
        h14 = self._top_state(z_t)
        mu_p, ls_p = (t.float() for t in self.p_bottom(h14).chunk(2, 1))
        dmu, dls = (t.float() for t in self.q_bottom(torch.cat([e14, h14], 1)).chunk(2, 1))
        mu_q, ls_q = mu_p + dmu, ls_p + dls
        z_b = self._sample(mu_q, ls_q, generator)
        kl_b = gaussian_kl(mu_q, ls_q, mu_p, ls_p)
        return self._decode_from(h14, z_b), kl_t, kl_b

    def encode(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means of both groups: (z_top (B,z_top,7,7), z_bottom (B,z_bottom,14,14))."""
        e14, e7 = self._bottom_up(x)
        z_t = self.q_top(e7).chunk(2, 1)[0]
        h14 = self._top_state(z_t)
        mu_p = self.p_bottom(h14).chunk(2, 1)[0]
        dmu = self.q_bottom(torch.cat([e14, h14], 1)).chunk(2, 1)[0]
        return z_t, mu_p + dmu

    def decode(self, z_top, z_bottom) -> torch.Tensor:
        """Bernoulli means (B, 1, 28, 28) in [0, 1] for given latents of both groups."""
        return torch.sigmoid(self._decode_from(self._top_state(z_top), z_bottom))


def negative_elbo(model: HierarchicalVAE, x_bin, generator=None, kl_weight: float = 1.0):
    """Per-image (loss, nll, kl) in nats; loss = nll + kl_weight * kl (fp32 in either precision)."""
    with precision.autocast(x_bin.device):
        logits, kl_t, kl_b = model(x_bin, generator)
    nll = F.binary_cross_entropy_with_logits(logits.float(), x_bin, reduction="none").flatten(1).sum(1)
    kl = kl_t + kl_b
    return nll + kl_weight * kl, nll, kl


def bits_per_dim(nats: float, dims: int = 28 * 28) -> float:
    return nats / (dims * math.log(2))
