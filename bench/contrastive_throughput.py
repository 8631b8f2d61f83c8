"""Contrastive-training throughput (views/s): the project's path against a reference, one run.

Project path: src.contrastive.train.train_contrastive - uint8 images in memory, batched affine
augmentation (one affine_grid/grid_sample per batch), one forward pass, src.contrastive.loss.
Reference (written here): a torchvision per-sample pipeline - a Dataset whose __getitem__ makes
two views with transforms.RandomAffine on a PIL image, ToTensor and Normalize, batched by a
DataLoader - plus a straightforward NT-Xent (2N x 2N similarity matrix, mask, cross-entropy).
Same RepresentationModel, same optimizer, same batch size, same machine, same process.

    python -m bench.contrastive_throughput            # pool images if built, else synthetic
    python -m bench.contrastive_throughput --steps 20 --batch-size 512 --workers 0

Prints views/s of both and their ratio (target >= 3x). Nothing is asserted: ratios belong here,
not in the test suite.
"""
from __future__ import annotations

import argparse
import time
import types
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from src.contrastive.train import steps_for, train_contrastive
from src.models.inputs import MNIST_MEAN, MNIST_STD
from src.models.representation import RepresentationModel


def load_images(n: int, seed: int) -> tuple[np.ndarray, str]:
    pool = Path("data/prepared/pool.npz")
    if pool.exists():
        with np.load(pool) as f:
            images = f["images"]
        if images.ndim == 3:  # a MixMNIST pool (a natural-image pool is bench/resnet_throughput.py's)
            idx = np.random.default_rng(seed).permutation(len(images))[:n]
            return images[idx], f"{pool} ({len(idx)} images)"
    g = np.random.default_rng(seed)
    images = g.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(g.integers(0, 10, n)):
        images[i, 2 + 2 * k: 5 + 2 * k, 4:24] = 255
    return images, f"synthetic ({n} images; build the pool for real MNIST-like images)"


class TwoViewDataset(torch.utils.data.Dataset):
    """The textbook SimCLR data path: per sample, PIL image -> two random affine views."""

    def __init__(self, images: np.ndarray, cfg):
        from PIL import Image
        from torchvision import transforms

        self.images, self.to_pil = images, Image.fromarray
        self.transform = transforms.Compose([
            transforms.RandomAffine(degrees=cfg.rotation, shear=(-cfg.shear, cfg.shear), scale=tuple(cfg.scale)),
            transforms.ToTensor(),
            transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = self.to_pil(self.images[i])
        return self.transform(img), self.transform(img)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Straightforward NT-Xent: positives are the other view, all 2N - 2 others are negatives."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def reference(images: np.ndarray, cfg, steps: int, workers: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = RepresentationModel(cfg.width, cfg.proj_dim).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = torch.utils.data.DataLoader(TwoViewDataset(images, cfg), batch_size=cfg.batch_size, shuffle=True,
                                         drop_last=True, num_workers=workers,
                                         generator=torch.Generator().manual_seed(seed))
    views, done, t0 = 0, 0, None
    while done < steps + 1:
        for v1, v2 in loader:
            if done == 1:  # step 0 is warm-up
                t0, views = time.perf_counter(), 0
            loss = nt_xent(model(v1), model(v2), cfg.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            views += 2 * len(v1)
            done += 1
            if done == steps + 1:
                break
    return views / (time.perf_counter() - t0)


def project(images: np.ndarray, cfg, steps: int, seed: int) -> float:
    torch.manual_seed(seed)
    train_contrastive(RepresentationModel(cfg.width, cfg.proj_dim), images, None, None, cfg,
                      cfg.batch_size / len(images), seed, "bench-warmup", label="warm-up")
    torch.manual_seed(seed)
    model = RepresentationModel(cfg.width, cfg.proj_dim)
    epochs = (steps - 0.5) * cfg.batch_size / len(images)  # ceil() of this gives exactly `steps`
    assert steps_for(epochs, len(images), cfg.batch_size) == steps
    summary = train_contrastive(model, images, None, None, cfg, epochs, seed, "bench", label="project")
    return summary["views_per_s"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=8192)
    ap.add_argument("--steps", type=int, default=12, help="timed steps per path (after one warm-up step)")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0, help="reference DataLoader workers")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cfg = types.SimpleNamespace(width=args.width, proj_dim=64, batch_size=args.batch_size, labeled_batch_size=0,
                                lr=1e-3, weight_decay=1e-4, temperature=0.2, rotation=15.0, shear=10.0,
                                scale=[0.85, 1.15], translate=0.0, augment="affine")
    images, source = load_images(max(args.images, args.batch_size * 2), args.seed)
    print(f"images: {source}; batch {args.batch_size} x 2 views; width {args.width}; "
          f"{args.steps} timed steps; torch threads {torch.get_num_threads()}")
    ref = reference(images, cfg, args.steps, args.workers, args.seed)
    print(f"reference (torchvision per-sample transforms, DataLoader workers={args.workers}, NT-Xent): "
          f"{ref:8.0f} views/s")
    ours = project(images, cfg, args.steps, args.seed)
    print(f"project   (batched tensor augmentation, src.contrastive):                       {ours:8.0f} views/s")
    print(f"speed-up: {ours / ref:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
