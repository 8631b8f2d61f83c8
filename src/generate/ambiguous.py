"""Ambiguous MNIST-like images: mix two images' latents 7:3, decode, keep the ensemble-contested ones.

The rule (paper, "MixMNIST"): drop a generated image when all ten classifiers agree (clear,
not ambiguous) or when they give four or more distinct classes (badly generated); keep it
iff the number of distinct votes is in [min_distinct, max_distinct] = [2, 3] (src/data/votes.py).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from src.core import precision
from src.core.config import AmbiguousConfig
from src.core.errors import UserError
from src.core.log import log
from src.core.seeding import rng
from src.data.votes import distinct_votes, keep_mask
from src.generate.classifiers import predict
from src.generate.vae import HierarchicalVAE
from src.generate.vae_training import to_uint8, to_unit


def mix_latents(za, zb, weight: float):
    """Per-group convex mix: weight * za + (1 - weight) * zb, for tuples of tensors."""
    return tuple(weight * a + (1.0 - weight) * b for a, b in zip(za, zb))


def vote_pattern(column: np.ndarray) -> str:
    """Sorted vote counts, e.g. ten votes 0,0,...,6,6,8 -> '7-2-1'."""
    return "-".join(str(c) for c in sorted(Counter(column.tolist()).values(), reverse=True))


def vote_caption(column: np.ndarray) -> str:
    """'0:7 6:2 8:1' - class:count, most voted first (Figure 2's caption)."""
    items = sorted(Counter(column.tolist()).items(), key=lambda kv: (-kv[1], kv[0]))
    return " ".join(f"{k}:{v}" for k, v in items)


@torch.no_grad()
def generate(vae: HierarchicalVAE, ensemble: list, train_u8: np.ndarray, cfg: AmbiguousConfig) -> tuple[dict, dict]:
    """Returns (arrays, stats). arrays: images uint8 (count,28,28), votes int8 (count,members),
    parents int32 (count,2) = MNIST train indices mixed as mix * first + (1 - mix) * second."""
    if not 0.0 <= cfg.mix <= 1.0:
        raise UserError(f"params.yaml: ambiguous.mix = {cfg.mix} must lie in [0, 1] (paper: 0.7).")
    if not 1 <= cfg.min_distinct <= cfg.max_distinct:
        raise UserError("params.yaml: need 1 <= ambiguous.min_distinct <= ambiguous.max_distinct.")
    vae.eval()
    device = next(vae.parameters()).device
    pairs_rng = rng(cfg.seed, "ambiguous-pairs")
    kept_img, kept_votes, kept_pairs = [], [], []
    n_kept = n_seen = 0
    d_hist: Counter = Counter()
    while n_kept < cfg.count:
        if n_seen >= cfg.max_candidates:
            raise UserError(
                f"make_ambiguous: only {n_kept} of {cfg.count} images kept after {n_seen} candidates "
                f"(acceptance {n_kept / max(n_seen, 1):.2%}). Raise ambiguous.max_candidates, or train "
                f"the VAE/ensemble longer (vae.epochs, ensemble.epochs).")
        b = min(cfg.batch_size, cfg.max_candidates - n_seen)
        pairs = pairs_rng.integers(0, len(train_u8), size=(b, 2))
        with precision.autocast(device):  # bf16: the networks' products; latents mixed in fp32
            za = [z.float() for z in vae.encode(to_unit(train_u8[pairs[:, 0]]).to(device))]
            zb = [z.float() for z in vae.encode(to_unit(train_u8[pairs[:, 1]]).to(device))]
            decoded = vae.decode(*mix_latents(za, zb, cfg.mix))
        images = to_uint8(decoded.float())
        votes = predict(ensemble, images)
        d_hist.update(distinct_votes(votes).tolist())
        keep = keep_mask(votes, cfg.min_distinct, cfg.max_distinct)
        kept_img.append(images[keep])
        kept_votes.append(votes[:, keep].T)
        kept_pairs.append(pairs[keep])
        n_kept += int(keep.sum())
        n_seen += b
        log(f"ambiguous: {min(n_kept, cfg.count)}/{cfg.count} kept from {n_seen} candidates "
            f"({n_kept / n_seen:.1%} accepted)")
    images = np.concatenate(kept_img)[:cfg.count]
    votes = np.concatenate(kept_votes)[:cfg.count].astype(np.int8)
    parents = np.concatenate(kept_pairs)[:cfg.count].astype(np.int32)
    patterns = Counter(vote_pattern(v) for v in votes)
    stats = {
        "kept": int(len(images)), "candidates": int(n_seen),
        "acceptance_rate": round(n_kept / n_seen, 5),
        "distinct_votes_all_candidates": {str(k): int(v) for k, v in sorted(d_hist.items())},
        "vote_patterns_kept": {k: int(v) for k, v in sorted(patterns.items(), key=lambda kv: -kv[1])},
        "mix": cfg.mix, "members": int(votes.shape[1]),
    }
    return {"images": images, "votes": votes, "parents": parents}, stats
