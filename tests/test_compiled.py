"""The compile setting (src/core/compiled.py): off is eager and untouched, on trains through
torch.compile to the same bytes twice, and a CPU without a C++ compiler is refused up front."""
from __future__ import annotations

import pytest
import torch

from src.core import compiled, precision
from src.core.errors import ConfigError
from tests.test_precision import train_tiny


@pytest.fixture
def setting():
    """Restores the process-wide precision and compile flag after a test."""
    before = precision.current(), compiled.enabled()
    yield precision._current
    precision._current[0] = before[0]
    compiled.use(before[1])


def test_off_returns_the_module_itself_and_on_a_compiled_wrapper_sharing_its_weights(setting):
    net = torch.nn.Linear(3, 2)
    assert compiled.use(False) is False and compiled.wrap(net) is net
    assert compiled.use(True) is True
    wrapped = compiled.wrap(net)
    assert wrapped is not net and isinstance(wrapped, torch.nn.Module)
    assert {id(p) for p in wrapped.parameters()} == {id(p) for p in net.parameters()}
    x = torch.randn(4, 3)
    assert torch.allclose(wrapped(x), net(x), atol=1e-6)


def test_a_cpu_without_a_cxx_compiler_is_refused_with_what_to_do(setting, monkeypatch):
    monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match=r"compile: true needs a C\+\+ compiler.*compile: false"):
        compiled.use(True, "cpu")
    assert compiled.enabled() is False
    assert compiled.use(True, "cuda") is True  # CUDA compiles with Triton, not a host C++ compiler


def test_compiled_training_runs_through_dynamo_and_gives_the_same_bytes_twice(setting):
    from torch._dynamo.utils import counters

    compiled.use(True)
    before = counters["stats"]["unique_graphs"]
    first = train_tiny(setting, "bf16")
    assert counters["stats"]["unique_graphs"] > before  # the training steps did go through torch.compile
    assert train_tiny(setting, "bf16") == first
