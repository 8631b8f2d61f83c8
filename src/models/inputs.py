"""Input scaling of the networks: uint8 images -> normalised float tensors (N, C, H, W).

MixMNIST: one channel, MNIST's mean and standard deviation. Every network of the project
(baseline classifier, representation model, ensemble members) sees its input through here.
"""
from __future__ import annotations

import numpy as np
import torch

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def normalise(x01: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> MNIST-normalised (the networks' input scale)."""
    return (x01 - MNIST_MEAN) / MNIST_STD


def to_input(images_u8) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), MNIST-normalised."""
    x = torch.as_tensor(np.asarray(images_u8)).float().div_(255.0)
    return normalise(x).unsqueeze(1)
