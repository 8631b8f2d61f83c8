"""Spectral normalisation with a coefficient, as DDU (Mukhoti et al. 2021) uses it.

torch's `parametrizations.spectral_norm` divides a weight by its largest singular value sigma
(estimated by power iteration, one step per training forward), so sigma becomes 1. DDU instead
bounds sigma by a coefficient c and leaves smaller weights alone: W / max(1, sigma / c). This
module keeps torch's parametrization (its power iteration, buffers, initial 15 iterations and
state-dict layout) and changes only that last division.

As in torch (and Miyato et al.), a convolution's sigma is that of its weight reshaped to
(out channels, in channels x kh x kw); DDU's own code power-iterates the convolution operator on
the input size instead (the layer's exact norm, which can exceed the reshaped matrix's), at the
cost of a convolution per step. DDU normalises the
convolutions of the feature extractor, not the batch norms nor the final linear layer; so does
`spectral_normalise`.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm


class CoeffSpectralNorm(_SpectralNorm):
    """torch's spectral-norm parametrization, bounding sigma by `coeff` instead of setting it to 1."""

    def __init__(self, weight: torch.Tensor, coeff: float, n_power_iterations: int = 1):
        if not coeff > 0:
            raise ValueError(f"spectral-norm coefficient must be > 0, got {coeff!r}")
        super().__init__(weight, n_power_iterations)
        self.coeff = float(coeff)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.autocast(weight.device.type, enabled=False):  # power iteration and sigma in fp32 under bf16
            weight_mat = self._reshape_weight_to_matrix(weight)
            if self.training:
                self._power_method(weight_mat, self.n_power_iterations)
            u = self._u.clone(memory_format=torch.contiguous_format)
            v = self._v.clone(memory_format=torch.contiguous_format)
            sigma = torch.vdot(u, torch.mv(weight_mat, v))
            return weight / torch.clamp(sigma / self.coeff, min=1.0)


def spectral_normalise(module: nn.Module, coeff: float, n_power_iterations: int = 1) -> nn.Module:
    """Register CoeffSpectralNorm on the weight of every Conv2d in `module` (in place; returned).
    The power-iteration vectors are drawn from the global torch generator: seed it first."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("spectral_normalise: the module has no convolution to normalise")
    for conv in convs:
        parametrize.register_parametrization(conv, "weight", CoeffSpectralNorm(conv.weight, coeff,
                                                                                n_power_iterations))
    return module


@torch.no_grad()
def largest_singular_values(module: nn.Module) -> list[float]:
    """The exact largest singular value of every spectrally normalised weight as the network uses
    it (reshaped to a matrix, computed by SVD - not the power-iteration estimate). Read in eval
    mode, so reading it runs no power iteration."""
    was_training = module.training
    module.eval()
    out = []
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight") and any(
                isinstance(p, CoeffSpectralNorm) for p in m.parametrizations["weight"]):
            w = m.weight.detach().flatten(1).double()
            out.append(float(torch.linalg.matrix_norm(w, ord=2)))
    module.train(was_training)
    return out
