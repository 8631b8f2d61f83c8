"""Train the hierarchical VAE on MNIST train and measure its test ELBO."""
from __future__ import annotations

import time

import numpy as np
import torch

from src.core.config import VAEConfig
from src.core import live
from src.core.device import get_device
from src.core.log import log
from src.core.seeding import rng, seed_everything, torch_generator
from src.generate.vae import HierarchicalVAE, bits_per_dim, negative_elbo


def to_unit(images_u8: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(images_u8).float().div_(255.0).unsqueeze(1)


def binarize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Stochastic binarisation: pixel ~ Bernoulli(intensity)."""
    return torch.bernoulli(x, generator=generator)


def build_vae(cfg: VAEConfig) -> HierarchicalVAE:
    return HierarchicalVAE(cfg.channels, cfg.z_top, cfg.z_bottom)


def train_vae(train_u8: np.ndarray, cfg: VAEConfig) -> tuple[HierarchicalVAE, dict]:
    seed_everything(cfg.seed, "vae-init")
    order_rng = rng(cfg.seed, "vae-order")
    noise = torch_generator(cfg.seed, "vae-noise")
    if cfg.train_subset is not None:
        train_u8 = train_u8[order_rng.choice(len(train_u8), min(cfg.train_subset, len(train_u8)),
                                             replace=False)]
    data = to_unit(train_u8)
    device = get_device()
    model = build_vae(cfg).to(device)
    opt = torch.optim.Adamax(model.parameters(), lr=cfg.lr)  # NVAE trains with Adamax
    steps_per_epoch = max(1, int(np.ceil(len(data) / cfg.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
    step, t0, history = 0, time.perf_counter(), []
    model.train()
    for epoch in range(cfg.epochs):
        perm = torch.from_numpy(order_rng.permutation(len(data)))
        total = torch.zeros((), dtype=torch.float64, device=device)  # on the device: no host sync per step
        for b in range(steps_per_epoch):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            x = binarize(data[idx], noise).to(device)
            kl_weight = min(1.0, (step + 1) / max(1, cfg.kl_warmup_steps))
            loss, _, _ = negative_elbo(model, x, noise, kl_weight)
            opt.zero_grad(set_to_none=True)
            loss.mean().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            total += loss.detach().sum().double()
            step += 1
            if b % 100 == 0:
                log(f"vae epoch {epoch + 1}/{cfg.epochs} step {b}/{steps_per_epoch} "
                    f"loss {loss.mean().item():.1f} nats (kl weight {kl_weight:.2f})")
        history.append(float(total) / len(data))
        log(f"vae epoch {epoch + 1}/{cfg.epochs}: train loss {history[-1]:.2f} nats")
        live.step(**{"train/loss_nats": history[-1]})
    model.eval()
    log(f"vae trained in {time.perf_counter() - t0:.1f}s")
    return model, {"train_images": len(data),
                   "train_loss_per_epoch": [round(h, 3) for h in history]}


@torch.no_grad()
def evaluate_elbo(model: HierarchicalVAE, test_u8: np.ndarray, seed: int, batch_size: int = 1000) -> dict:
    """Single-sample test ELBO on a fixed (seeded) binarisation of the test images."""
    model.eval()
    noise = torch_generator(seed, "vae-test")
    device = next(model.parameters()).device
    data = to_unit(test_u8)
    nll = kl = 0.0
    for start in range(0, len(data), batch_size):
        x = binarize(data[start:start + batch_size], noise).to(device)
        _, n, k = negative_elbo(model, x, noise)
        nll += n.sum().item()
        kl += k.sum().item()
    n_img = max(1, len(data))
    neg_elbo = (nll + kl) / n_img
    return {"test_neg_elbo_nats": round(neg_elbo, 3), "test_bits_per_dim": round(bits_per_dim(neg_elbo), 4),
            "test_recon_nats": round(nll / n_img, 3), "test_kl_nats": round(kl / n_img, 3),
            "test_images": len(data)}


@torch.no_grad()
def reconstruct(model: HierarchicalVAE, images_u8: np.ndarray) -> np.ndarray:
    """Decode the posterior means: uint8 (N, 28, 28)."""
    x = to_unit(images_u8).to(next(model.parameters()).device)
    return to_uint8(model.decode(*model.encode(x)))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 1, 28, 28) in [0, 1] -> uint8 (N, 28, 28), rounded."""
    return (x.squeeze(1).clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
