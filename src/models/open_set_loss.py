"""The detector losses of the open-set baselines, on the baselines' classifier (K + 1 outputs,
labeled non-iD = class K): the baselines' label-smoothed cross-entropy plus what the method adds.

- LfOSA (ningkp/LfOSA, AL_center_temperature.py `train_A`): the cross-entropy of the logits
  divided by a temperature T (README command: T = 0.5 for known and unknown samples alike).
- EAOA (chenchenzong/EAOA, main.py `train_model_ID_w_OOD`): cross-entropy + w x (mean over the
  batch's iD samples of relu(E - m_in)^2 + mean over its non-iD samples of relu(m_out - E)^2),
  E = -logsumexp of the K known logits. A batch without iD (or without non-iD) samples adds no
  term for them (the official code would take the mean of nothing).

The predictions are the raw logits either way (T only scales the training loss, as LfOSA).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.nn import functional as F


def detector_loss(label_smoothing: float, num_known: int, temperature: float = 1.0, energy_weight: float = 0.0,
                  m_in: float = 0.0, m_out: float = 0.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """loss(logits (B, K + 1) float32, labels (B,)) -> scalar."""
    if temperature <= 0:
        raise ValueError(f"detector_loss: temperature {temperature} must be > 0")

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = F.cross_entropy(logits / temperature, y, label_smoothing=label_smoothing)
        if energy_weight:
            e = -torch.logsumexp(logits[:, :num_known], dim=1)
            known = y < num_known
            term = logits.new_zeros(())
            if known.any():
                term = term + F.relu(e[known] - m_in).pow(2).mean()
            if (~known).any():
                term = term + F.relu(m_out - e[~known]).pow(2).mean()
            out = out + energy_weight * term
        return out

    return loss
