"""torch.compile of the training steps' networks: `compile` in params = false | true.

    compiled.use(p.compile)          # once, at the start of a stage that trains a network
    model = compiled.wrap(module)    # the module the training loop calls (weights stay module's)

`true` runs the contrastive and the classifier training steps through `torch.compile` (TorchInductor:
fused elementwise kernels around the convolutions and products; on CPU it needs a C++ compiler,
on CUDA Triton). Compiling costs a few tens of seconds per training call (each stage is a new process
and compiles again; a smaller last batch compiles once more), so it pays only where a call trains
for minutes; bench/precision.py measures both sides per network. The arithmetic changes (other
kernels, other summation orders), so a profile's results change with it: every shipped profile has
`compile: false` (today's eager arithmetic exactly); the same params on the same machine still give
the same bytes either way (tests/test_precision.py). Inference (features, predictions) stays eager:
its batch sizes vary and each would compile anew.

A process-wide setting like the precision (src/core/precision.py): code that never calls `use`
(tests, notebooks) runs eager.
"""
from __future__ import annotations

import shutil

from src.core.errors import ConfigError

_on = [False]


def use(flag: bool, device_type: str = "cpu") -> bool:
    """Set this process's compile flag from the `compile` param and return it (for the metrics).
    On CPU TorchInductor builds C++ kernels: without a compiler the run would fail mid-training, so
    it is refused here with what to do."""
    if flag and device_type == "cpu" and not (shutil.which("g++") or shutil.which("c++")):
        raise ConfigError("params.yaml: compile: true needs a C++ compiler on a CPU (TorchInductor builds C++ "
                          "kernels) and none is on PATH (g++ or c++); install one (e.g. apt install g++) or set "
                          "compile: false")
    _on[0] = bool(flag)
    return _on[0]


def enabled() -> bool:
    return _on[0]


def wrap(model):
    """`model` compiled when the flag is on (the returned module shares model's parameters, so the
    optimizer and the saved weights are model's own), `model` itself otherwise."""
    if not _on[0]:
        return model
    import torch

    return torch.compile(model)
