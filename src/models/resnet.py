"""ResNet for 32x32 images, CIFAR variant (3x3 stem, stride 1, no max-pool), as in the paper's
MixCIFAR60 experiments (ResNet-18) and, narrower or shallower, for the CPU quick profile.

`resnet_encoder(width, blocks)` is the feature extractor (global average pool, flattened) shared
by the baselines' classifier and the representation model; `ResNetClassifier` adds a linear head
with K + 1 outputs. ResNet-18 = width 64, blocks (2, 2, 2, 2).
"""
from __future__ import annotations

from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet_encoder(width: int = 64, blocks: tuple = (2, 2, 2, 2), in_channels: int = 3) -> nn.Sequential:
    """(B, 3, 32, 32) -> (B, width * 2 ** (len(blocks) - 1)): stem, one stage per entry of `blocks`
    (channels doubling, stride 2 from the second stage), global average pool."""
    layers = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c_in = width
    for i, n in enumerate(blocks):
        c_out = width * 2 ** i
        for j in range(n):
            layers.append(BasicBlock(c_in, c_out, 2 if (i > 0 and j == 0) else 1))
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def encoder_dim(width: int, blocks: tuple) -> int:
    return width * 2 ** (len(blocks) - 1)


class ResNetClassifier(nn.Module):
    """(B, C, H, W) -> logits (B, num_outputs); C = 3 for the natural benchmarks, 1 for DDU's
    MixMNIST network (global average pooling takes any image size)."""

    def __init__(self, num_outputs: int, width: int = 64, blocks: tuple = (2, 2, 2, 2), in_channels: int = 3):
        super().__init__()
        self.features = resnet_encoder(width, tuple(blocks), in_channels)
        self.head = nn.Linear(encoder_dim(width, tuple(blocks)), num_outputs)

    def forward(self, x):
        return self.head(self.features(x))
