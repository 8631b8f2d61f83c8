"""This process's place in a `torchrun` launch: rank, world size, local rank, and who writes.

`torchrun --nproc_per_node N -m stages.pretrain` starts N copies of a stage with WORLD_SIZE, RANK
and LOCAL_RANK in their environment. Without them (a plain `python -m ...`, or WORLD_SIZE=1):
rank() = 0, world_size() = 1, is_main() is True. Read from the environment, or from
torch.distributed once a process group exists (src/core/distributed.py joins it); torch is never
imported here. src/core/log.py keeps the ranks other than 0 quiet with is_main().
"""
from __future__ import annotations

import os
import sys

from src.core.errors import ConfigError


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer (torchrun sets it)") from None


def group_ready() -> bool:
    """True once a process group exists (only checked when torch is already imported)."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized()


def world_size() -> int:
    if group_ready():
        return sys.modules["torch.distributed"].get_world_size()
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    if group_ready():
        return sys.modules["torch.distributed"].get_rank()
    return _env_int("RANK", 0) if world_size() > 1 else 0


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0) if world_size() > 1 else 0


def is_main() -> bool:
    """The process that writes outputs (and logs): rank 0, or the only process."""
    return rank() == 0
