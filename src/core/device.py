"""Where tensors compute: `MIXAL_DEVICE` = auto (CUDA when present, else CPU) | cpu | cuda[:N].

An environment variable, not a param: the device does not change what an experiment means.
Bit-for-bit reproducibility is promised on CPU only (CUDA kernels may be nondeterministic).

Several GPUs, `auto`:
- under `torchrun` each process takes `cuda:LOCAL_RANK`;
- otherwise (parallel `dvc queue start --jobs N` workers, or any processes started side by side)
  each process claims the first GPU that no other process holds: an exclusive lock on the file
  `mixal-gpu<i>.lock` in `MIXAL_GPU_LOCKS` (default: the system temp folder), held until the
  process exits. When every GPU is held the process waits for one. So N queue workers on N GPUs
  train one experiment per GPU with no configuration; `MIXAL_DEVICE=cuda:1` pins a process instead.
"""
import os
import tempfile
import time
from pathlib import Path

from src.core.errors import ConfigError
from src.core.log import log

_held = {}  # GPU index -> open lock file, kept for the life of the process


def lock_dir() -> Path:
    return Path(os.environ.get("MIXAL_GPU_LOCKS") or tempfile.gettempdir())


def claim_gpu(count: int, folder: Path | None = None, poll_s: float = 5.0, log=None) -> int:
    """The index of a GPU no other process holds, locked for the life of this process (waits
    while all `count` are held)."""
    import fcntl

    if _held:
        return next(iter(_held))
    folder = Path(folder or lock_dir())
    folder.mkdir(parents=True, exist_ok=True)
    announced = False
    while True:
        for i in range(count):
            f = open(folder / f"mixal-gpu{i}.lock", "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            _held[i] = f
            return i
        if not announced and log is not None:
            log(f"all {count} GPUs are held by other processes (locks in {folder}); waiting for one")
            announced = True
        time.sleep(poll_s)


def get_device():
    import torch

    name = os.environ.get("MIXAL_DEVICE", "auto")
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        count = torch.cuda.device_count()
        if count == 1:
            return torch.device("cuda")
        return torch.device("cuda", claim_gpu(count, log=log))
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"MIXAL_DEVICE={name!r} is not a torch device; use auto, cpu or cuda.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"MIXAL_DEVICE={name!r} but CUDA is not available here; use auto or cpu.")
    return device


def cpu_state(model) -> dict:
    """A state_dict on the CPU, so checkpoints load anywhere."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}
