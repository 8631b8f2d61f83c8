"""Several processes under `torchrun`: this process's rank, the process group, and who writes.

`torchrun --nproc_per_node N -m stages.pretrain` starts N copies of a stage with WORLD_SIZE, RANK
and LOCAL_RANK (and MASTER_ADDR / MASTER_PORT) in their environment. Without them (a plain
`python -m ...`, or WORLD_SIZE=1) nothing here initialises anything and torch is not imported:
rank() = 0, world_size() = 1, is_main() is True, barrier() returns at once.

Only the contrastive training is data-parallel (src/contrastive/train.py calls `init()`, which
joins the process group once: backend nccl when this process computes on CUDA, else gloo, and
leaves it at exit). Every rank holds the same weights after it; stages write their outputs on rank
0 only (`is_main()`), and src/core/log.py keeps the other ranks quiet.
"""
from __future__ import annotations

import atexit
import os
import sys

from src.core.errors import ConfigError

_backend: str | None = None  # set by init()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer (torchrun sets it)") from None


def _group_ready() -> bool:
    """True once a process group exists (only checked when torch is already imported)."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized()


def world_size() -> int:
    if _group_ready():
        return sys.modules["torch.distributed"].get_world_size()
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    if _group_ready():
        return sys.modules["torch.distributed"].get_rank()
    return _env_int("RANK", 0) if world_size() > 1 else 0


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0) if world_size() > 1 else 0


def is_main() -> bool:
    """The process that writes outputs (and logs): rank 0, or the only process."""
    return rank() == 0


def backend() -> str | None:
    """The process group's backend ('gloo' or 'nccl'), None before init() or with one process."""
    return _backend if _group_ready() else None


def init(init_method: str | None = None) -> bool:
    """Join the process group of a torchrun launch (once). Returns whether there is one: False with a
    single process, where nothing is initialised. `init_method` defaults to torchrun's env://."""
    global _backend
    if world_size() <= 1:
        return False
    if _group_ready():
        return True
    if "RANK" not in os.environ:
        raise ConfigError(f"WORLD_SIZE={os.environ.get('WORLD_SIZE')} but RANK is not set: start several processes "
                          f"with `torchrun --nproc_per_node N -m stages.<stage>`, or unset WORLD_SIZE.")
    import torch
    import torch.distributed as dist

    from src.core.device import get_device

    device = get_device()
    _backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda" and device.index is not None:  # torchrun: cuda:LOCAL_RANK (src/core/device.py)
        torch.cuda.set_device(device)
    dist.init_process_group(_backend, init_method=init_method or "env://", rank=rank(), world_size=world_size())
    atexit.register(destroy)
    return True


def barrier() -> None:
    """Wait for every rank (a no-op with one process)."""
    if not _group_ready():
        return
    import torch.distributed as dist

    if _backend == "nccl":
        import torch

        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def same_on_all_ranks(values) -> bool:
    """Whether the integers `values` are equal on every rank (a collective: every rank must call it)."""
    if not _group_ready():
        return True
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if _backend == "nccl" else torch.device("cpu")
    mine = torch.tensor([int(v) for v in values], dtype=torch.long, device=device)
    low, high = mine.clone(), mine.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(torch.equal(low, high))


def destroy() -> None:
    """Leave the process group (registered at exit by init(); safe to call twice)."""
    global _backend
    if _group_ready():
        sys.modules["torch.distributed"].destroy_process_group()
    _backend = None
