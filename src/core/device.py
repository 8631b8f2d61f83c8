"""Where tensors compute: `MIXAL_DEVICE` = auto (CUDA when present, else CPU) | cpu | cuda[:N].

An environment variable, not a param: the device does not change what an experiment means.
Bit-for-bit reproducibility is promised on CPU only (CUDA kernels may be nondeterministic).
"""
import os

from src.core.errors import ConfigError


def get_device():
    import torch

    name = os.environ.get("MIXAL_DEVICE", "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
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
