"""Training throughput of the natural-image (ResNet) path: the project's batched tensor
augmentations against a per-sample torchvision-transforms DataLoader reference, in one run.

Two loops, each measured both ways with the same network, optimizer, batch size and machine:
  contrastive  two SimCLR views per image (project: src.models.augment.simclr_cifar on the batch,
               src.contrastive.train; reference: RandomResizedCrop, RandomHorizontalFlip,
               ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, RandomGrayscale p 0.2 on PIL images in a
               Dataset's __getitem__, NT-Xent over the 2N x 2N similarity matrix)
  supervised   one labeled view (project: src.models.augment.crop_flip on the batch, one gather,
               as src.models.supervised.train_classifier; reference: RandomCrop(32, padding=4),
               RandomHorizontalFlip per sample)

    python -m bench.resnet_throughput                 # the stand-in pool if built, else synthetic RGB
    python -m bench.resnet_throughput --width 64 --blocks 2 2 2 2   # ResNet-18

Prints images/s of each training path and the ratios (target >= 2x), then the data paths alone
(no network), which is where the two sides differ. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import time
import types
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from src.contrastive.train import two_views
from src.contrastive.loss import supcon_loss
from src.models.augment import crop_flip
from src.models.inputs import CIFAR_MEAN, CIFAR_STD, normalise, to_unit
from src.models.nets import make_classifier
from src.models.representation import RepresentationModel


def load_images(n: int, seed: int) -> tuple[np.ndarray, str]:
    """n RGB images: the built pool's when it has that many (natural-image benchmarks), else synthetic."""
    pool, note = Path("data/prepared/pool.npz"), ""
    if pool.exists():
        with np.load(pool) as f:
            images = f["images"]
        if images.ndim == 4 and len(images) >= n:  # the reference's DataLoader needs n images for its steps
            idx = np.random.default_rng(seed).permutation(len(images))[:n]
            return images[idx], f"{pool} ({len(idx)} RGB images)"
        if images.ndim == 4:
            note = f"; {pool} has only {len(images)} images"
    g = np.random.default_rng(seed)
    return g.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8), f"synthetic RGB ({n} images{note})"


class Views(torch.utils.data.Dataset):
    """The textbook data path: per sample, a PIL image through torchvision transforms."""

    def __init__(self, images: np.ndarray, simclr: bool):
        from PIL import Image
        from torchvision import transforms as T

        self.images, self.to_pil, self.simclr = images, Image.fromarray, simclr
        norm = [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]
        if simclr:
            aug = [T.RandomResizedCrop(32, scale=(0.08, 1.0)), T.RandomHorizontalFlip(),
                   T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), T.RandomGrayscale(p=0.2)]
        else:
            aug = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()]
        self.transform = T.Compose(aug + norm)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = self.to_pil(self.images[i])
        return (self.transform(img), self.transform(img)) if self.simclr else (self.transform(img), i % 7)


def nt_xent(z1, z2, temperature):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


def timed(step, steps: int) -> float:
    """Images per second over `steps` calls of step() after one warm-up call."""
    step()
    t0, n = time.perf_counter(), 0
    for _ in range(steps):
        n += step()
    return n / (time.perf_counter() - t0)


def _batches(images, simclr: bool, args):
    """The reference's endless iterator over DataLoader batches of per-sample torchvision views."""
    return iter(torch.utils.data.DataLoader(Views(images, simclr), batch_size=args.batch_size, shuffle=True,
                                            drop_last=True, num_workers=args.workers))


def _update(opt, loss) -> None:
    opt.zero_grad()
    loss.backward()
    opt.step()


def contrastive(images, args, reference: bool) -> float:
    torch.manual_seed(args.seed)
    model = RepresentationModel(args.width, 64, "resnet", args.blocks).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    if reference:
        it = _batches(images, True, args)

        def step():
            v1, v2 = next(it)
            loss = nt_xent(model(v1), model(v2), 0.2)
            _update(opt, loss)
            return len(v1)
    else:
        gen, x = torch.Generator().manual_seed(args.seed), torch.as_tensor(images)
        cfg = types.SimpleNamespace(augment="simclr")

        def step():
            idx = torch.randint(0, len(x), (args.batch_size,), generator=gen)
            z = model(two_views(x[idx], cfg, gen))  # default layout for the ResNet (src/models/nets.py)
            loss = supcon_loss(z.view(2, len(idx), -1).transpose(0, 1), None, 0.2)
            _update(opt, loss)
            return len(idx)
    return timed(step, args.steps)


def supervised(images, args, reference: bool) -> float:
    torch.manual_seed(args.seed)
    model = make_classifier("resnet", 7, args.width, args.blocks).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    if reference:
        it = _batches(images, False, args)

        def step():
            xb, yb = next(it)
            loss = F.cross_entropy(model(xb), yb)
            _update(opt, loss)
            return len(xb)
    else:
        gen, x = torch.Generator().manual_seed(args.seed), torch.as_tensor(images)
        y = torch.arange(len(images)) % 7

        def step():
            idx = torch.randint(0, len(x), (args.batch_size,), generator=gen)
            xb = normalise(crop_flip(to_unit(x[idx].numpy()), gen))
            loss = F.cross_entropy(model(xb), y[idx])
            _update(opt, loss)
            return len(idx)
    return timed(step, args.steps)


def data_only(images, args, reference: bool, simclr: bool) -> float:
    """The data path alone (no network): what each side pays to turn uint8 images into a batch of
    augmented, normalised views."""
    if reference:
        it = _batches(images, simclr, args)

        def step():
            return len(next(it)[0])
    else:
        gen, x = torch.Generator().manual_seed(args.seed), torch.as_tensor(images)
        cfg = types.SimpleNamespace(augment="simclr")

        def step():
            idx = torch.randint(0, len(x), (args.batch_size,), generator=gen)
            if simclr:
                two_views(x[idx], cfg, gen)
            else:
                normalise(crop_flip(to_unit(x[idx].numpy()), gen))
            return len(idx)
    return timed(step, args.steps)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per path (after one warm-up step)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--width", type=int, default=8, help="quick profile: 8; ResNet-18: 64")
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 1, 1, 1], help="quick: 1 1 1 1; ResNet-18: 2 2 2 2")
    ap.add_argument("--workers", type=int, default=0, help="reference DataLoader workers")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    images, source = load_images(max(args.images, args.batch_size * (args.steps + 2)), args.seed)
    print(f"images: {source}; ResNet width {args.width}, blocks {args.blocks}; batch {args.batch_size}; "
          f"{args.steps} timed steps; torch threads {torch.get_num_threads()}; reference workers {args.workers}")
    for name, fn in (("contrastive (2 SimCLR views)", contrastive), ("supervised (crop + flip)", supervised)):
        ref, ours = fn(images, args, True), fn(images, args, False)
        print(f"{name:30s} reference {ref:7.0f} img/s   project {ours:7.0f} img/s   speed-up {ours / ref:.2f}x "
              f"(target >= 2x)")
    for name, simclr in (("data path only, SimCLR views", True), ("data path only, crop + flip", False)):
        ref, ours = data_only(images, args, True, simclr), data_only(images, args, False, simclr)
        print(f"{name:30s} reference {ref:7.0f} img/s   project {ours:7.0f} img/s   speed-up {ours / ref:.2f}x")


if __name__ == "__main__":
    main()
