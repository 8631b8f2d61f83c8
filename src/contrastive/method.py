"""The proposed method's training inside the round stages (paper: "The proposed method").

Stage 0 (`pretrain`): the representation model learns from the whole pool without labels.
Every round (`finetune` stages): it continues on both pools (Eq. 2, labeled non-iD = class K),
then a copy of its encoder with a new linear K + 1 head is finetuned on the labeled pool
(non-iD undersampled as for the baselines) and serves as the classifier. Acquisition reads
features of the continued representation model, not of the finetuned classifier.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from src.active.state import ActiveState
from src.config import Params, to_dict
from src.contrastive.model import RepresentationModel, classifier_from, extract_features
from src.contrastive.train import train_contrastive
from src.device import cpu_state
from src.errors import DataError
from src.io import load_torch, save_torch
from src.seeding import seed_everything


def new_representation(cfg, stream: str) -> RepresentationModel:
    seed_everything(cfg.seed, f"{stream}-init")
    return RepresentationModel(cfg.width, cfg.proj_dim)


def save_representation(path, rep: RepresentationModel, **extra) -> Path:
    return save_torch(path, {"rep_config": {"width": rep.width, "proj_dim": rep.proj_dim},
                             "rep": cpu_state(rep), **extra})


def load_representation(path) -> RepresentationModel:
    path = Path(path)
    ckpt = load_torch(path)
    if "rep" not in ckpt:
        raise DataError(f"{path} holds no representation model: it was written by a baseline "
                        f"strategy's round. Rerun the rounds with a CL strategy (dvc repro).")
    rep = RepresentationModel(**ckpt["rep_config"])
    rep.load_state_dict(ckpt["rep"])
    return rep.eval()


def pool_features(checkpoint, images_u8: np.ndarray, p: Params) -> np.ndarray:
    """Clustering features of every pool image from a representation checkpoint."""
    from src.device import get_device

    rep = load_representation(checkpoint).to(get_device(), memory_format=torch.channels_last)
    return extract_features(rep, images_u8, p.contrastive.eval_batch_size, p.cluster.features)


def continue_representation(rep: RepresentationModel, images_u8: np.ndarray, state: ActiveState,
                            p: Params, round_name: str) -> dict:
    """One round of Eq. 2 on P^U (NT-Xent) and P^L (SupCon, labels 0..K with K = non-iD)."""
    lab, unl = state.labeled, state.unlabeled
    return train_contrastive(rep, images_u8[unl], images_u8[lab], state.labels[lab].astype(np.int64),
                             p.contrastive, p.contrastive.round_epochs, p.seed, round_name,
                             label=f"{round_name} representation")


def finetune_classifier(rep: RepresentationModel, images_u8: np.ndarray, labels: np.ndarray,
                        p: Params, round_name: str):
    from src.active.train import train_classifier

    k1 = p.active.num_classes + 1
    return train_classifier(images_u8, labels, p.cl_classifier, k1, p.seed, f"{round_name}-train",
                            make_model=lambda: classifier_from(rep, k1))


def save_round_model(path, rep: RepresentationModel, classifier, p: Params) -> Path:
    return save_representation(path, rep, config=to_dict(p.cl_classifier), state_dict=cpu_state(classifier))
