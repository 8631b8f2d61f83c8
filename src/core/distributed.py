"""Several processes under `torchrun`: the process group, and this process's rank and who writes.

`torchrun --nproc_per_node N -m stages.pretrain` starts N copies of a stage with WORLD_SIZE, RANK
and LOCAL_RANK (and MASTER_ADDR / MASTER_PORT) in their environment. Without them (a plain
`python -m ...`, or WORLD_SIZE=1) nothing here initialises anything and torch is not imported:
rank() = 0, world_size() = 1, is_main() is True, barrier() returns at once. rank(), world_size(),
local_rank() and is_main() come from src/core/ranks.py, which src/core/log.py reads (so logging
does not depend on the device, and the device may log).

Only the contrastive training is data-parallel (src/contrastive/train.py calls `init()`, which
joins the process group once: backend nccl when this process computes on CUDA, else gloo, and
leaves it at exit). Every rank holds the same weights after it; stages write their outputs on rank
0 only (`is_main()`), and src/core/log.py keeps the other ranks quiet.
"""
from __future__ import annotations

import atexit
import os
import sys

from src.core.device import get_device
from src.core.errors import ConfigError
from src.core.ranks import group_ready, is_main, local_rank, rank, world_size

_backend: str | None = None  # set by init()
__all__ = ["world_size", "rank", "local_rank", "is_main", "backend", "init", "barrier", "same_on_all_ranks", "destroy"]


def backend() -> str | None:
    """The process group's backend ('gloo' or 'nccl'), None before init() or with one process."""
    return _backend if group_ready() else None


def init(init_method: str | None = None) -> bool:
    """Join the process group of a torchrun launch (once). Returns whether there is one: False with a
    single process, where nothing is initialised. `init_method` defaults to torchrun's env://."""
    global _backend
    if world_size() <= 1:
        return False
    if group_ready():
        return True
    if "RANK" not in os.environ:
        raise ConfigError(f"WORLD_SIZE={os.environ.get('WORLD_SIZE')} but RANK is not set: start several processes "
                          f"with `torchrun --nproc_per_node N -m stages.<stage>`, or unset WORLD_SIZE.")
    import torch
    import torch.distributed as dist

    device = get_device()
    _backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda" and device.index is not None:  # torchrun: cuda:LOCAL_RANK (src/core/device.py)
        torch.cuda.set_device(device)
    dist.init_process_group(_backend, init_method=init_method or "env://", rank=rank(), world_size=world_size())
    atexit.register(destroy)
    return True


def barrier() -> None:
    """Wait for every rank (a no-op with one process)."""
    if not group_ready():
        return
    import torch.distributed as dist

    if _backend == "nccl":
        import torch

        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def same_on_all_ranks(values) -> bool:
    """Whether the integers `values` are equal on every rank (a collective: every rank must call it)."""
    if not group_ready():
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
    if group_ready():
        sys.modules["torch.distributed"].destroy_process_group()
    _backend = None
