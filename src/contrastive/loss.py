"""One contrastive loss for both pools (paper Eq. 1-2): SimCLR's NT-Xent without labels,
SupCon (Khosla et al. 2020) with them.

features: [B, V, D] - B samples, V augmented views each, D-dim projections (L2-normalised here).
labels:   [B] or None. None: the only positives of an anchor are the other views of the same
          sample (NT-Xent). Given: every other view of every sample with the same label is a
          positive (SupCon, "L_out" form: the log-probabilities of the positives are averaged).
The denominator of each anchor runs over all other 2N - 1 views (k != i), as in Eq. 1.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F


def supcon_loss(features: torch.Tensor, labels: torch.Tensor | None = None,
                temperature: float = 0.07) -> torch.Tensor:
    if features.ndim != 3:
        raise ValueError(f"features must be [B, V, D], got shape {tuple(features.shape)}")
    b, v, _ = features.shape
    if b * v < 2:
        raise ValueError("need at least two views in the batch")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if labels is not None and tuple(labels.shape) != (b,):
        raise ValueError(f"labels must be [B] = [{b}], got shape {tuple(labels.shape)}")
    z = F.normalize(features, dim=-1).transpose(0, 1).reshape(v * b, -1)  # view-major rows
    if labels is None and v == 2:
        # NT-Xent's usual case: one positive per anchor (the other view), so the mean over
        # positives is a single log-probability - a cross-entropy, about 2x faster than the masks
        logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
        return F.cross_entropy(logits, target)
    ids = torch.arange(b, device=z.device) if labels is None else labels.to(z.device)
    ids = ids.repeat(v)
    self_mask = torch.eye(v * b, dtype=torch.bool, device=z.device)
    logits = (z @ z.T) / temperature
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (ids[:, None] == ids[None, :]) & ~self_mask
    n_pos = positives.sum(1)
    has_pos = n_pos > 0  # an anchor with no positive (V = 1, unique label) adds nothing
    if not has_pos.any():
        raise ValueError("no anchor has a positive: use V >= 2 views or repeated labels")
    mean_log_prob_pos = log_prob.masked_fill(~positives, 0.0).sum(1)[has_pos] / n_pos[has_pos]
    return -mean_log_prob_pos.mean()


def total_loss(z_unlabeled: torch.Tensor, z_labeled: torch.Tensor | None, labels: torch.Tensor | None,
               temperature: float) -> torch.Tensor:
    """Eq. 2: L_con on the unlabeled batch + L_supcon on the labeled batch (labels include the
    auxiliary non-iD class K, so all labeled non-iD samples attract each other)."""
    loss = supcon_loss(z_unlabeled, None, temperature)
    if z_labeled is not None and len(z_labeled):
        loss = loss + supcon_loss(z_labeled, labels, temperature)
    return loss
