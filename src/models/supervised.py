"""Supervised training over K + 1 outputs, prediction and accuracy (baselines and CL classifier).

The paper's recipe for the MixMNIST baselines: Adam (lr 1e-3, weight decay 5e-3), batch 32, 100
epochs, lr x0.1 at epochs 70 and 90, gradient clipping at norm 2.5, label smoothing 0.1, K + 1
outputs, retrained from scratch each round. MixCIFAR60: SGD 0.1 with momentum 0.9, weight decay
1e-4, batch 128, 200 epochs, lr x0.1 at 120 and 160, random crop + flip (`augment: crop_flip`).
The CL classifier uses the same loop with its own section.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from src.core import compiled, live, precision
from src.core.config import ClassifierConfig, CLClassifierConfig
from src.core.device import get_device
from src.core.seeding import seed_everything, torch_generator
from src.models.augment import crop_flip
from src.models.inputs import normalise, to_device, to_input, to_unit
from src.models.nets import make_classifier, memory_format


def train_classifier(images_u8: np.ndarray, labels: np.ndarray, cfg: ClassifierConfig | CLClassifierConfig,
                     num_outputs: int, seed: int, stream: str,
                     make_model: Callable[[], torch.nn.Module] | None = None,
                     loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.nn.Module:
    """Supervised training with cross-entropy over K + 1 outputs. `make_model` builds the network
    (default: a fresh classifier of cfg.arch, cfg.width, cfg.blocks: the baselines); it runs right after the
    global torch generator is seeded, so a new linear head is initialised reproducibly. `loss_fn(logits,
    labels)` replaces the cross-entropy (the open-set detectors, src/models/open_set_loss.py)."""
    seed_everything(seed, f"{stream}-init")
    order = torch_generator(seed, f"{stream}-order")
    device = get_device()
    model = make_model() if make_model is not None else make_classifier(cfg.arch, num_outputs, cfg.width, cfg.blocks)
    fmt = memory_format(model)  # channels_last for the three-conv net (src/models/nets.py)
    model = model.to(device, memory_format=fmt)
    y = torch.as_tensor(labels, dtype=torch.long).to(device)  # held on the device once
    augment = cfg.augment == "crop_flip"
    if augment:  # uint8 kept on the host; each batch is scaled, augmented (own stream) and normalised
        x, aug_gen = torch.as_tensor(np.ascontiguousarray(images_u8)), torch_generator(seed, f"{stream}-augment")
    else:  # the labeled images, normalised, held on the device once (CPU: the same tensor)
        x = to_input(images_u8).to(device)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones or []), gamma=cfg.gamma)
    model.train()
    step_model = compiled.wrap(model)  # `compile: true`: TorchInductor kernels (src/core/compiled.py)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(x), generator=order)
        total = torch.zeros((), dtype=torch.float64, device=device)  # on the device: no host sync per step
        for s in range(0, len(x), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            on_device = idx.to(device)
            if augment:
                xb = to_device(normalise(crop_flip(to_unit(x[idx].numpy()), aug_gen)), device, fmt)
            else:
                xb = x[on_device].contiguous(memory_format=fmt)
            with precision.autocast(device):  # bf16: the network's products; the loss stays fp32
                logits = step_model(xb)
            if loss_fn is None:
                loss = F.cross_entropy(logits.float(), y[on_device], label_smoothing=cfg.label_smoothing)
            else:
                loss = loss_fn(logits.float(), y[on_device])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.detach().double() * len(idx)
        sched.step()
        live.step(**{"classifier/loss": float(total) / len(x)})
    return model.eval()


@torch.no_grad()
def predict_probs(model, images_u8: np.ndarray, batch_size: int) -> np.ndarray:
    """Softmax over the K + 1 outputs: float32 (N, K + 1)."""
    model.eval()
    device, fmt = next(model.parameters()).device, memory_format(model)
    out = []
    for s in range(0, len(images_u8), batch_size):
        with precision.autocast(device):
            logits = model(to_input(images_u8[s:s + batch_size]).to(device, memory_format=fmt))
        out.append(torch.softmax(logits.float(), 1).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def predict_probs_and_embeddings(model, images_u8: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """One pass of a classifier with `.features` and `.head`: softmax over the K + 1 outputs (float32
    (N, K + 1)) and the penultimate features the head reads (float32 (N, D))."""
    out = predict_outputs(model, images_u8, batch_size, logits=False, penultimate=True)
    return out["probs"], out["penultimate"]


@torch.no_grad()
def predict_outputs(model, images_u8: np.ndarray, batch_size: int, logits: bool, penultimate: bool) -> dict:
    """One pass of a classifier with `.features` and `.head`: `probs` (softmax over the K + 1
    outputs, float32, as predict_probs), and on request `logits` (float32 (N, K + 1)) and
    `penultimate` (the features the head reads, float32 (N, D))."""
    model.eval()
    device, fmt = next(model.parameters()).device, memory_format(model)
    parts = {"probs": [], "logits": [], "penultimate": []}  # only what was asked for is kept
    for s in range(0, len(images_u8), batch_size):
        with precision.autocast(device):
            f = model.features(to_input(images_u8[s:s + batch_size]).to(device, memory_format=fmt))
            z = model.head(f)
        parts["probs"].append(torch.softmax(z.float(), 1).cpu().numpy())
        if logits:
            parts["logits"].append(z.float().cpu().numpy())
        if penultimate:
            parts["penultimate"].append(f.float().cpu().numpy())
    return {k: np.concatenate(v).astype(np.float32) for k, v in parts.items() if v}


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 over all K + 1 outputs: predicting non-iD for an iD test image counts as wrong."""
    return float((probs.argmax(1) == np.asarray(labels)).mean())
