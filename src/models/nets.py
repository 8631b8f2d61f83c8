"""The networks by name: `convnet` (MixMNIST's three conv layers, greyscale 28x28) and `resnet`
(the CIFAR ResNet, RGB 32x32; ResNet-18 = width 64, blocks [2, 2, 2, 2]).

One encoder serves the baselines' classifier and the representation model of the CL methods; a
classifier is an encoder (`.features`) plus a linear head with K + 1 outputs.
"""
from __future__ import annotations

import torch
from torch import nn

from src.models.convnet import ThreeConvNet, conv_encoder, feature_dim
from src.models.resnet import BasicBlock, ResNetClassifier, encoder_dim, resnet_encoder

ARCHS = ("convnet", "resnet")


def _check(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"unknown network {arch!r}; expected one of {', '.join(ARCHS)}")


def make_encoder(arch: str, width: int, blocks=(2, 2, 2, 2)) -> nn.Module:
    _check(arch)
    return conv_encoder(width) if arch == "convnet" else resnet_encoder(width, tuple(blocks))


def encoder_output_dim(arch: str, width: int, blocks=(2, 2, 2, 2)) -> int:
    _check(arch)
    return feature_dim(width) if arch == "convnet" else encoder_dim(width, tuple(blocks))


def make_classifier(arch: str, num_outputs: int, width: int, blocks=(2, 2, 2, 2)) -> nn.Module:
    """A fresh classifier (initialised by the global torch generator: seed it before calling)."""
    _check(arch)
    if arch == "convnet":
        return ThreeConvNet(num_outputs, width)
    return ResNetClassifier(num_outputs, width, tuple(blocks))


def make_ddu_classifier(num_outputs: int, width: int, blocks, in_channels: int, coeff: float,
                        power_iterations: int, mod: bool = False) -> nn.Module:
    """DDU's network (Mukhoti et al. 2021): the residual classifier with spectrally normalised
    convolutions (sigma <= coeff, src/models/spectral.py), a plain linear head with K + 1 outputs.
    `in_channels` 3 is ResNet-18-SN on the natural benchmarks; 1 is the MixMNIST variant, the same
    residual network on greyscale 28x28 (DDU needs residual connections, which the three-conv
    net lacks). `mod` (`ddu.mod`): DDU's `-mod` network, leaky ReLU and average-pool shortcuts
    (src/models/resnet.py). Initialised by the global torch generator: seed it before calling."""
    from src.models.spectral import spectral_normalise

    model = ResNetClassifier(num_outputs, width, tuple(blocks), in_channels, mod)
    spectral_normalise(model.features, coeff, power_iterations)
    return model


def input_shape(arch: str) -> tuple:
    """The image shape (without the batch axis) a network of `arch` reads, as the pool stores it."""
    _check(arch)
    return (28, 28) if arch == "convnet" else (32, 32, 3)


def memory_format(model: nn.Module) -> torch.memory_format:
    """The tensor layout a model trains and predicts in: channels_last for the three-conv net (about
    2x faster convolutions on CPU for its narrow layers); the default layout for the ResNet, where
    channels_last is no faster on CPU and torch 2.14's CPU backward corrupts the heap with it at
    width 8 for some batch sizes (measured: 3, 5 and 7 crash; 6 does not)."""
    residual = any(isinstance(m, BasicBlock) for m in model.modules())
    return torch.contiguous_format if residual else torch.channels_last
