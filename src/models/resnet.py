"""ResNet for 32x32 images, CIFAR variant (3x3 stem, stride 1, no max-pool), as in the paper's
MixCIFAR60 experiments (ResNet-18) and, narrower or shallower, for the CPU quick profile.

`resnet_encoder(width, blocks)` is the feature extractor (global average pool, flattened) shared
by the baselines' classifier and the representation model; `ResNetClassifier` adds a linear head
with K + 1 outputs. ResNet-18 = width 64, blocks (2, 2, 2, 2).

`mod=True` (DDU's network only, `ddu.mod`) is the modified ResNet DDU's authors train with `-mod`
(their active-learning runs: `active_learning_script.py --model resnet18 -sn -mod --al-type gmm`;
the `mod` branch of `net/resnet.py` in github.com/omegafragger/DDU): leaky ReLU (slope 0.01,
torch's default, which their `F.leaky_relu` uses) everywhere the plain network has ReLU, and the
parameter-free `PoolPadShortcut` where the plain network has a strided 1x1 convolution + batch norm.
`mod=False` builds exactly the plain network (same modules, parameters, draws from the generator).
"""
from __future__ import annotations

from torch import nn
from torch.nn import functional as F

LEAKY_SLOPE = 0.01  # DDU's -mod activation: F.leaky_relu with its default negative slope


class PoolPadShortcut(nn.Module):
    """DDU's `-mod` shortcut: downsample by `stride` x `stride` average pooling, then append
    c_out - c_in zero channels. No weights, so nothing to normalise: a linear map of spectral norm
    at most 1 (an identity shortcut's), 1 / stride where the stride divides both sides.
    Where the stride does not divide a side (28 -> 14 -> 7 on MNIST) the windows would give one row
    fewer than the strided 3x3 convolution beside it, so that side keeps every stride-th pixel
    (pooling window 1) - what DDU's code does (it tests the height only; here each side)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if c_out < c_in:
            raise ValueError(f"PoolPadShortcut cannot narrow {c_in} channels to {c_out}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x):
        if self.stride > 1:
            window = tuple(self.stride if n % self.stride == 0 else 1 for n in x.shape[-2:])
            x = F.avg_pool2d(x, window, self.stride)
        return F.pad(x, (0, 0, 0, 0, 0, self.c_out - self.c_in)) if self.c_out > self.c_in else x


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, mod: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = (nn.Sequential(PoolPadShortcut(c_in, c_out, stride)) if mod else
                             nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))
        self.act = nn.LeakyReLU(LEAKY_SLOPE) if mod else F.relu  # a module only with mod: mod=False adds none

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet_encoder(width: int = 64, blocks: tuple = (2, 2, 2, 2), in_channels: int = 3,
                   mod: bool = False) -> nn.Sequential:
    """(B, 3, 32, 32) -> (B, width * 2 ** (len(blocks) - 1)): stem, one stage per entry of `blocks`
    (channels doubling, stride 2 from the second stage), global average pool. `mod`: DDU's
    modified network (above)."""
    act = nn.LeakyReLU(LEAKY_SLOPE) if mod else nn.ReLU()
    layers = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), act]
    c_in = width
    for i, n in enumerate(blocks):
        c_out = width * 2 ** i
        for j in range(n):
            layers.append(BasicBlock(c_in, c_out, 2 if (i > 0 and j == 0) else 1, mod))
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def encoder_dim(width: int, blocks: tuple) -> int:
    return width * 2 ** (len(blocks) - 1)


class ResNetClassifier(nn.Module):
    """(B, C, H, W) -> logits (B, num_outputs); C = 3 for the natural benchmarks, 1 for DDU's
    MixMNIST network (global average pooling takes any image size); `mod`: DDU's modified network."""

    def __init__(self, num_outputs: int, width: int = 64, blocks: tuple = (2, 2, 2, 2), in_channels: int = 3,
                 mod: bool = False):
        super().__init__()
        self.features = resnet_encoder(width, tuple(blocks), in_channels, mod)
        self.head = nn.Linear(encoder_dim(width, tuple(blocks)), num_outputs)

    def forward(self, x):
        return self.head(self.features(x))
