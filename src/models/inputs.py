"""Input scaling of the networks: uint8 images -> normalised float tensors (N, C, H, W).

The images say which benchmark they come from: greyscale (N, H, W) is MixMNIST (one channel,
MNIST's mean and standard deviation); RGB (N, H, W, 3) is a natural-image benchmark (three
channels, CIFAR's per-channel mean and standard deviation, the usual CIFAR-ResNet scaling). Every
network of the project (baseline classifier, representation model, ensemble members) sees its
input through here.
"""
from __future__ import annotations

import numpy as np
import torch

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def normalise(x01: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1], (B, C, H, W) -> the networks' input scale (MNIST's for C = 1, CIFAR's for C = 3)."""
    if x01.ndim == 4 and x01.shape[1] == 3:
        mean = torch.tensor(CIFAR_MEAN, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR_STD, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
        return (x01 - mean) / std
    return (x01 - MNIST_MEAN) / MNIST_STD


def to_unit(images_u8) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> float (N, C, H, W) in [0, 1]."""
    x = torch.as_tensor(np.asarray(images_u8))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(255.0)


def to_input(images_u8) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), MNIST-normalised; uint8 (N, 32, 32, 3) -> float
    (N, 3, 32, 32), CIFAR-normalised."""
    arr = np.asarray(images_u8)
    if arr.ndim == 3:  # MixMNIST: the exact operations of every earlier version (same floats)
        x = torch.as_tensor(arr).float().div_(255.0)
        return normalise(x).unsqueeze(1)
    return normalise(to_unit(arr)).contiguous()


def to_device(x: torch.Tensor, device, memory_format=torch.contiguous_format) -> torch.Tensor:
    """A host batch on `device` in `memory_format`: on CUDA through pinned memory with a non-blocking
    copy (it overlaps the work already queued), elsewhere the plain copy (on the CPU, x itself)."""
    if getattr(device, "type", str(device)) == "cuda":
        return x.pin_memory().to(device, non_blocking=True, memory_format=memory_format)
    return x.to(device, memory_format=memory_format)
