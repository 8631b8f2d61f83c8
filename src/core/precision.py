"""Numeric precision of the networks: `precision` in params = fp32 | bf16 | auto.

    precision.use(p.precision)      # once, at the start of a stage that runs a network
    with precision.autocast(device): # around each forward pass (training and inference)
        out = model(x)
    loss = loss_fn(out.float(), ...) # losses, softmax, log-sum-exp: fp32, outside the block

`bf16` runs the forward passes under `torch.autocast(dtype=torch.bfloat16)`: convolutions and
matrix products in bfloat16 on the matrix units (AMX or AVX512-BF16 on CPU, tensor cores on
CUDA), with fp32 master weights, fp32 optimizer state and fp32 losses (what the forward returns
is cast back with `.float()` where the math needs it: the contrastive logits and their
log-sum-exp, cross-entropy, softmax; GDA and k-means run in NumPy on fp32 features). `fp32` is
today's arithmetic exactly (no autocast at all). `auto` is bf16 on CUDA and on CPUs whose flags
show AMX (amx_bf16) or AVX512-BF16, fp32 elsewhere; the precision actually used is recorded in
each training stage's metrics. Same params on the same machine give the same bytes in either
precision (tests/test_precision.py). Set per profile: thin networks (the quick MixMNIST encoder,
width 8) run slower in bf16 than in fp32 (bench/precision.py measures it).

A process-wide setting, like the device (src/core/device.py): each stage sets it from its params
before it builds a network, so the training code needs no extra argument; code that never calls
`use` (tests, notebooks) runs in fp32.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from src.core.device import get_device

CHOICES = ("fp32", "bf16", "auto")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # CPU flags of bfloat16 matrix units (Linux /proc/cpuinfo names)
_current = ["fp32"]


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The bfloat16 flags this CPU shows (Linux; elsewhere none, so `auto` is fp32 there)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
            break
    return [f for f in BF16_FLAGS if f in flags]


def resolve(setting: str, device_type: str, cpuinfo: str | None = None) -> str:
    """The precision `setting` means on a device of `device_type` ('cpu', 'cuda')."""
    if setting not in CHOICES:
        raise ValueError(f"precision must be one of {', '.join(CHOICES)}, got {setting!r}")
    if setting != "auto":
        return setting
    if device_type == "cuda":
        return "bf16"
    return "bf16" if device_type == "cpu" and cpu_bf16_flags(cpuinfo) else "fp32"


def use(setting: str) -> str:
    """Set this process's precision from the `precision` param (resolved for the device the stage
    runs on) and return it, for the stage's metrics."""
    _current[0] = resolve(setting, get_device().type)
    return _current[0]


def current() -> str:
    return _current[0]


def autocast(device):
    """A context for forward passes: bfloat16 autocast on `device` when the precision is bf16,
    nothing at all (today's fp32 arithmetic) otherwise."""
    if _current[0] != "bf16":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(getattr(device, "type", str(device)), dtype=torch.bfloat16)
