"""Atomic writers: write to a temporary file beside the target, then rename.

A stage killed mid-write leaves either the old file or nothing, never half a file.
"""
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _atomic(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_npz(path, **arrays) -> Path:
    return _atomic(path, lambda fh: np.savez_compressed(fh, **arrays))


def load_npz(path, keys=None) -> dict:
    """All arrays of an .npz, or only `keys` (members are decompressed only when read)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in (f.files if keys is None else keys)}


def save_json(path, obj) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return _atomic(path, lambda fh: fh.write(text.encode()))


def save_text(path, text: str) -> Path:
    return _atomic(path, lambda fh: fh.write(text.encode()))


def save_torch(path, obj) -> Path:
    import torch

    return _atomic(path, lambda fh: torch.save(obj, fh))


def copy_file(src, path) -> Path:
    """`src`'s bytes to `path`, atomically."""
    import shutil

    with open(src, "rb") as fh_in:
        return _atomic(path, lambda fh: shutil.copyfileobj(fh_in, fh))


def save_figure(path, fig) -> Path:
    return _atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=110, bbox_inches="tight"))
