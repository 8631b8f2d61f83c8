"""Contrastive training of the representation model on both pools (paper Eq. 2).

Each step draws `batch_size` unlabeled images (two augmented views each -> L_con, NT-Xent) and,
when the labeled pool is not empty, `labeled_batch_size` labeled images (two views each ->
L_supcon with the labels; every non-iD sample carries the auxiliary class K). Both go through the
network in one forward pass. Augmentations are batched tensor ops on uint8 images already in
memory, so a step has no per-sample Python work (bench/contrastive_throughput.py measures this).

Adam with a cosine-annealed learning rate over the steps of one call: stage 0 (`pretrain`) anneals
over all pretraining steps; each round's continuation starts again from `lr` and anneals over its
own steps (the paper continues "without any changes to the hyperparameters").
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from src.models.augment import mnist_affine, simclr_cifar
from src.contrastive.loss import supcon_loss
from src.core.log import log
from src.core.seeding import torch_generator
from src.models.inputs import normalise, to_unit
from src.models.nets import memory_format


def steps_for(epochs: float, n_unlabeled: int, batch_size: int) -> int:
    """Optimizer steps for `epochs` passes over the unlabeled pool (fractions allowed, >= 1 step
    whenever epochs > 0)."""
    if epochs <= 0 or n_unlabeled == 0:
        return 0
    return max(1, math.ceil(epochs * n_unlabeled / batch_size))


class _Batches:
    """Endless batches of indices: a fresh random permutation every pass (explicit generator)."""

    def __init__(self, n: int, size: int, generator: torch.Generator):
        self.n, self.size, self.gen = n, min(size, n), generator
        self.perm, self.pos = torch.randperm(n, generator=generator), 0

    def next(self) -> torch.Tensor:
        if self.pos + self.size > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
        out = self.perm[self.pos:self.pos + self.size]
        self.pos += self.size
        return out


def two_views(x_u8: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
    """uint8 (B, 28, 28) -> normalised float (2B, 1, 28, 28) (`augment: affine`), or uint8
    (B, 32, 32, 3) -> (2B, 3, 32, 32) (`augment: simclr`, SimCLR's CIFAR set): view 1 of every
    sample, then view 2."""
    if cfg.augment == "simclr":
        x = to_unit(x_u8.numpy())
        return normalise(torch.cat([simclr_cifar(x, generator), simclr_cifar(x, generator)]))
    x = x_u8.float().div_(255.0).unsqueeze(1)
    views = torch.cat([mnist_affine(x, generator, cfg.rotation, cfg.shear, tuple(cfg.scale)),
                       mnist_affine(x, generator, cfg.rotation, cfg.shear, tuple(cfg.scale))])
    return normalise(views)


def _as_bvd(z: torch.Tensor, b: int) -> torch.Tensor:
    """(2B, D) rows [view1; view2] -> (B, 2, D)."""
    return z.view(2, b, -1).transpose(0, 1)


def train_contrastive(rep, unlabeled_u8: np.ndarray, labeled_u8: np.ndarray | None,
                      labeled_y: np.ndarray | None, cfg, epochs: float, seed: int, stream: str,
                      label: str = "contrastive") -> dict:
    """Train `rep` in place for `epochs` passes over the unlabeled images. Returns a summary:
    steps, views seen, seconds, views/s, mean loss of the first and last tenth of the steps."""
    from src.core.device import get_device

    device = get_device()
    fmt = memory_format(rep)
    rep.to(device, memory_format=fmt).train()
    gen = torch_generator(seed, f"{stream}-contrastive")
    xu = torch.as_tensor(np.ascontiguousarray(unlabeled_u8))
    has_l = labeled_u8 is not None and len(labeled_u8) > 0
    xl = torch.as_tensor(np.ascontiguousarray(labeled_u8)) if has_l else None
    yl = torch.as_tensor(np.asarray(labeled_y), dtype=torch.long) if has_l else None
    steps = steps_for(epochs, len(xu), cfg.batch_size)
    summary = {"steps": steps, "views": 0, "seconds": 0.0, "views_per_s": None,
               "loss_first": None, "loss_last": None}
    if steps == 0:
        return summary
    ub = _Batches(len(xu), cfg.batch_size, gen)
    lb = _Batches(len(xl), cfg.labeled_batch_size, gen) if has_l else None
    opt = torch.optim.Adam(rep.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    losses, views, t0, last_log = [], 0, time.perf_counter(), time.perf_counter()
    for step in range(steps):
        iu = ub.next()
        parts = [two_views(xu[iu], cfg, gen)]
        if has_l:
            il = lb.next()
            parts.append(two_views(xl[il], cfg, gen))
        x = torch.cat(parts).to(device, memory_format=fmt)
        z = rep(x)
        nu = 2 * len(iu)
        loss = supcon_loss(_as_bvd(z[:nu], len(iu)), None, cfg.temperature)
        if has_l:
            loss = loss + supcon_loss(_as_bvd(z[nu:], len(il)), yl[il].to(device), cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        views += len(x)
        now = time.perf_counter()
        if now - last_log > 10 or step == steps - 1:
            log(f"{label}: step {step + 1}/{steps}, loss {np.mean(losses[-20:]):.3f}, "
                f"{views / (now - t0):.0f} views/s")
            last_log = now
    tenth = max(1, steps // 10)
    secs = time.perf_counter() - t0
    summary.update(views=views, seconds=round(secs, 2), views_per_s=round(views / secs, 1),
                   loss_first=round(float(np.mean(losses[:tenth])), 4),
                   loss_last=round(float(np.mean(losses[-tenth:])), 4))
    rep.eval()
    return summary
