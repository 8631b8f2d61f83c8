"""The ten-member MNIST classifier ensemble that judges generated images.

Members differ by architecture (cycled from `archs`), initialisation seed, data order and
(optionally) the random training subset each one sees.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from src.core.config import EnsembleConfig
from src.core import live, precision
from src.core.device import cpu_state, get_device
from src.core.errors import ConfigError
from src.core.log import log
from src.core.seeding import rng, seed_everything
from src.models.inputs import to_input



def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10))


def _lenet() -> nn.Module:
    """LeNet-5's layout with ReLU and max pooling (converges in far fewer epochs than tanh)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


ARCHS = {"cnn": _cnn, "lenet": _lenet, "mlp": _mlp}


def build(arch: str) -> nn.Module:
    if arch not in ARCHS:
        raise ConfigError(f"ensemble.archs: unknown architecture '{arch}'. Valid: {', '.join(ARCHS)}.")
    return ARCHS[arch]()


def member_archs(cfg: EnsembleConfig) -> list[str]:
    for a in cfg.archs:
        build(a)  # validates the name before any training
    return [cfg.archs[i % len(cfg.archs)] for i in range(cfg.members)]


def train_member(arch: str, images: np.ndarray, labels: np.ndarray, cfg: EnsembleConfig,
                 member: int) -> nn.Module:
    seed_everything(cfg.seed, f"member-{member}-init")
    order = rng(cfg.seed, f"member-{member}-order")
    if cfg.train_subset is not None and cfg.train_subset < len(images):
        pick = order.choice(len(images), cfg.train_subset, replace=False)
        images, labels = images[pick], labels[pick]
    x, y = to_input(images), torch.as_tensor(labels, dtype=torch.long)
    device = get_device()
    model = build(arch).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = max(1, int(np.ceil(len(x) / cfg.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps)
    model.train()
    for _ in range(cfg.epochs):
        perm = torch.from_numpy(order.permutation(len(x)))
        total = torch.zeros((), dtype=torch.float64, device=device)  # on the device: no host sync per step
        for b in range(steps):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            with precision.autocast(device):  # bf16: the network's products; the loss stays fp32
                logits = model(x[idx].to(device))
            loss = F.cross_entropy(logits.float(), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach().double() * len(idx)
        live.step(member=member, **{"train/loss": float(total) / len(x)})
    return model.eval()


@torch.no_grad()
def predict(models: list[nn.Module], images_u8, batch_size: int = 2000) -> np.ndarray:
    """Votes of every member: int64 (members, N)."""
    x = to_input(images_u8)
    out = np.empty((len(models), len(x)), dtype=np.int64)
    for m, model in enumerate(models):
        model.eval()
        device = next(model.parameters()).device
        for s in range(0, len(x), batch_size):
            with precision.autocast(device):
                logits = model(x[s:s + batch_size].to(device))
            out[m, s:s + batch_size] = logits.float().argmax(1).cpu().numpy()
    return out


def train_ensemble(mnist: dict, cfg: EnsembleConfig) -> tuple[list[nn.Module], list[str], dict]:
    archs = member_archs(cfg)
    models, members = [], []
    for i, arch in enumerate(archs):
        t0 = time.perf_counter()
        model = train_member(arch, mnist["train_images"], mnist["train_labels"], cfg, i)
        acc = float((predict([model], mnist["test_images"])[0] == mnist["test_labels"]).mean())
        secs = time.perf_counter() - t0
        log(f"ensemble member {i + 1}/{len(archs)} ({arch}): test accuracy {acc:.4f} ({secs:.1f}s)")
        models.append(model)
        members.append({"member": i, "arch": arch, "test_accuracy": round(acc, 5)})
    accs = [m["test_accuracy"] for m in members]
    metrics = {"min_test_accuracy": min(accs), "mean_test_accuracy": round(float(np.mean(accs)), 5),
               "max_test_accuracy": max(accs), "members": members}
    if cfg.min_accuracy is not None:
        below = [m["member"] for m in members if m["test_accuracy"] < cfg.min_accuracy]
        metrics["all_members_reach_min_accuracy"] = not below
        if below:
            log(f"WARNING: members {below} are below ensemble.min_accuracy={cfg.min_accuracy}; "
                f"raise ensemble.epochs for a stricter ambiguity filter")
    return models, archs, metrics


def state_of(models: list[nn.Module], archs: list[str]) -> dict:
    return {"archs": archs, "state_dicts": [cpu_state(m) for m in models]}


def load_ensemble(state: dict) -> list[nn.Module]:
    models = []
    for arch, sd in zip(state["archs"], state["state_dicts"]):
        model = build(arch)
        model.load_state_dict(sd)
        models.append(model.to(get_device()).eval())
    return models
