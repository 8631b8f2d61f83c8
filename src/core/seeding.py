"""Explicit randomness: every random draw below a stage goes through a generator made here.

Nothing is seeded at import time and the global `np.random` is never used.
"""
import hashlib

import numpy as np


def _stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed derived from (seed, stream name), stable across Python runs."""
    digest = hashlib.sha256(f"{int(seed)}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def rng(seed: int, stream: str = "") -> np.random.Generator:
    """A numpy Generator for one named stream of one seed."""
    return np.random.default_rng(_stream_seed(seed, stream))


def torch_generator(seed: int, stream: str = ""):
    """A torch.Generator (CPU) for one named stream of one seed."""
    import torch

    g = torch.Generator()
    g.manual_seed(_stream_seed(seed, stream))
    return g


def seed_everything(seed: int, stream: str = "") -> None:
    """Seed torch's global generator (used by module initialisation) for one stage.

    Also asks torch for deterministic kernels so two CPU runs give the same numbers.
    """
    import torch

    torch.manual_seed(_stream_seed(seed, stream))
    torch.use_deterministic_algorithms(True, warn_only=True)
