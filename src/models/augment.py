"""Augmentations as batched tensor ops: one affine grid (or one gather) per batch, no per-sample PIL.

MixMNIST's views: `mnist_affine`; the natural-image benchmarks: `simclr_cifar` (contrastive views)
and `crop_flip` (labeled training of the classifiers).

Every random draw comes from the `generator` argument, so a seed fixes the views. Inputs and
outputs are float tensors in [0, 1]: MNIST (B, 1, H, W), CIFAR (B, 3, H, W).
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _uniform(n: int, low: float, high: float, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid.to(x.device), mode="bilinear", padding_mode="zeros", align_corners=False)


def mnist_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 15.0,
                 shear: float = 10.0, scale: tuple[float, float] = (0.85, 1.15), translate: float = 0.0) -> torch.Tensor:
    """Random rotation (+-degrees), x-shear (+-shear degrees), isotropic scale and a shift of up to
    +-translate x the image size in x and y (continuous; torchvision's RandomAffine rounds it to whole
    pixels), per sample. translate 0 draws no shift, so the random stream is as without it."""
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(x.shape)}")
    b = x.shape[0]
    rot = torch.deg2rad(_uniform(b, -degrees, degrees, generator))
    sh = torch.tan(torch.deg2rad(_uniform(b, -shear, shear, generator)))
    s = _uniform(b, scale[0], scale[1], generator)
    cos, sin = torch.cos(rot), torch.sin(rot)
    # output -> input sampling matrix: (R @ Shear)^-1 / s, built directly
    a = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (B, 2, 2)
    shear_m = torch.zeros(b, 2, 2)
    shear_m[:, 0, 0] = 1
    shear_m[:, 0, 1] = sh
    shear_m[:, 1, 1] = 1
    inv = torch.linalg.inv(a @ shear_m) / s[:, None, None]
    shift = torch.zeros(b, 2, 1)
    if translate > 0:  # content moves by t (in [-1, 1] grid units: 2 x the fraction): sample at inv @ (p - t)
        t = torch.stack([_uniform(b, -2 * translate, 2 * translate, generator) for _ in range(2)], 1)
        shift = -(inv @ t[:, :, None])
    theta = torch.cat([inv, shift], 2)
    return _warp(x, theta).clamp_(0.0, 1.0)


def _grey(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _hue_rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate hue by `angle` radians per sample in YIQ space (a batched stand-in for HSV hue)."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                          dtype=x.dtype, device=x.device)
    from_yiq = torch.linalg.inv(to_yiq)
    c, s = torch.cos(angle).to(x), torch.sin(angle).to(x)
    rot = torch.zeros(len(x), 3, 3, dtype=x.dtype, device=x.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    m = from_yiq @ rot @ to_yiq  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", m, x)


def simclr_cifar(x: torch.Tensor, generator: torch.Generator, crop_scale=(0.08, 1.0),
                 crop_ratio=(3 / 4, 4 / 3), jitter=(0.4, 0.4, 0.4, 0.1), p_jitter: float = 0.8, p_grey: float = 0.2) -> torch.Tensor:
    """SimCLR's CIFAR set: random resized crop, horizontal flip, colour jitter (brightness,
    contrast, saturation, hue) with probability p_jitter, greyscale with probability p_grey."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W), got {tuple(x.shape)}")
    b = x.shape[0]
    area = _uniform(b, crop_scale[0], crop_scale[1], generator)
    log_ratio = _uniform(b, math.log(crop_ratio[0]), math.log(crop_ratio[1]), generator)
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = _uniform(b, -1.0, 1.0, generator) * (1 - w)
    cy = _uniform(b, -1.0, 1.0, generator) * (1 - h)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    out = _warp(x, theta)
    br, co, sa, hu = jitter
    apply = (torch.rand(b, generator=generator) < p_jitter).to(x).view(b, 1, 1, 1)
    fb = _uniform(b, 1 - br, 1 + br, generator).to(x).view(b, 1, 1, 1)
    fc = _uniform(b, 1 - co, 1 + co, generator).to(x).view(b, 1, 1, 1)
    fs = _uniform(b, 1 - sa, 1 + sa, generator).to(x).view(b, 1, 1, 1)
    fh = _uniform(b, -hu, hu, generator) * 2 * math.pi
    j = (out * fb).clamp(0, 1)
    mean = _grey(j).mean((2, 3), keepdim=True)
    j = ((j - mean) * fc + mean).clamp(0, 1)
    g = _grey(j)
    j = ((j - g) * fs + g).clamp(0, 1)
    j = _hue_rotate(j, fh).clamp(0, 1)
    out = apply * j + (1 - apply) * out
    grey = (torch.rand(b, generator=generator) < p_grey).to(x).view(b, 1, 1, 1)
    return (grey * _grey(out).expand_as(out) + (1 - grey) * out).clamp_(0.0, 1.0)


def crop_flip(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The CIFAR labeled-training augmentation: zero-pad `pad` pixels on each side, take a random
    crop of the original size, flip horizontally with probability 0.5 - per sample, in one gather."""
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(x.shape)}")
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    cols = torch.arange(w)
    cols = torch.where(flip[:, None], w - 1 - cols, cols) + ox[:, None]  # (B, W)
    rows = torch.arange(h)[None, :] + oy[:, None]  # (B, H)
    bi = torch.arange(b, device=x.device)[:, None, None]
    rows, cols = rows.to(x.device), cols.to(x.device)
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()
