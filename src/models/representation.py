"""The representation model of the proposed method: an encoder (`convnet` for MixMNIST, `resnet` for
the natural-image benchmarks, src/models/nets.py) plus a projection head.

The contrastive loss is computed on the projection z = g(f(x)). Clustering features
(`cluster.features`): `projection` = the L2-normalised z, the output of the model's last layer;
`encoder` = h = f(x), the encoder output (convnet: the flattened 3x3 map after the third conv
block; resnet: the global average pool), SimCLR's usual downstream representation.
The classifier is the same encoder with a linear K + 1 head (`classifier_from`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from src.core import precision
from src.core.device import cpu_state
from src.core.errors import DataError
from src.core.io import load_torch, save_torch
from src.core.seeding import seed_everything
from src.models.nets import encoder_output_dim, make_classifier, make_encoder, memory_format
from src.models.inputs import to_input

REPRESENTATION = "representation"  # the `learner` a checkpoint holding a representation model records


class RepresentationModel(nn.Module):
    def __init__(self, width: int, proj_dim: int, arch: str = "convnet", blocks=(2, 2, 2, 2)):
        super().__init__()
        self.width, self.proj_dim, self.arch, self.blocks = width, proj_dim, arch, [int(b) for b in blocks]
        d = encoder_output_dim(arch, width, blocks)
        self.encoder = make_encoder(arch, width, blocks)
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, proj_dim))

    def forward(self, x):
        return self.head(self.encoder(x))


def classifier_from(rep: RepresentationModel, num_outputs: int):
    """A classifier of the representation model's network whose encoder starts from its encoder;
    the linear head is new (initialised by the global torch generator: seed it before calling)."""
    net = make_classifier(rep.arch, num_outputs, rep.width, rep.blocks)
    net.features.load_state_dict(rep.encoder.state_dict())
    return net


@torch.no_grad()
def extract_features(rep: RepresentationModel, images_u8: np.ndarray, batch_size: int,
                     which: str = "encoder") -> np.ndarray:
    """float32 (N, D) clustering features: the encoder output, or the L2-normalised projection."""
    if which not in ("encoder", "projection"):
        raise ValueError(f"which must be 'encoder' or 'projection', got {which!r}")
    rep.eval()
    device, fmt = next(rep.parameters()).device, memory_format(rep)
    out = []
    for s in range(0, len(images_u8), batch_size):
        with precision.autocast(device):
            h = rep.encoder(to_input(images_u8[s:s + batch_size]).to(device, memory_format=fmt))
            if which == "projection":
                h = rep.head(h)
        h = F.normalize(h.float(), dim=1) if which == "projection" else h.float()
        out.append(h.cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def new_representation(cfg, stream: str) -> RepresentationModel:
    """A fresh representation model of the `contrastive` section, initialised from seed + stream."""
    seed_everything(cfg.seed, f"{stream}-init")
    return RepresentationModel(cfg.width, cfg.proj_dim, cfg.arch, cfg.blocks)


def save_representation(path, rep: RepresentationModel, **extra) -> Path:
    return save_torch(path, {"learner": REPRESENTATION, "rep_config": {"width": rep.width, "proj_dim": rep.proj_dim,
                                                                     "arch": rep.arch, "blocks": rep.blocks},
                             "rep": cpu_state(rep), **extra})


def load_representation(path) -> RepresentationModel:
    path = Path(path)
    ckpt = load_torch(path)
    if "rep" not in ckpt:
        raise DataError(f"{path} holds no representation model: it was written by the "
                        f"{ckpt.get('learner', 'baseline')} learner (a baseline strategy's round). Rerun the "
                        f"rounds with a CL strategy (`dvc repro`).")
    rep = RepresentationModel(**ckpt["rep_config"])
    rep.load_state_dict(ckpt["rep"])
    return rep.eval()
