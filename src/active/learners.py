"""What a round trains on its labeled state: two learner families behind one interface.

- `BaselineLearner` (Random, LC, Entropy, LfOSA, EAOA): the benchmark's classifier with K + 1
  outputs, trained from scratch every round; the strategy reads its pool `probs`, and the open-set
  strategies also its `logits` (LfOSA, EAOA) and `penultimate` features (EAOA), written only for
  the strategies that read them; their detector loss (`Strategy.detector_loss`) replaces the
  cross-entropy only for them.
- `DDULearner` (DDU): the baselines' recipe on DDU's network, the residual classifier with
  spectrally normalised convolutions; the strategy reads its pool `probs` and `embeddings`
  (penultimate features, where DDU fits its density).
- `RepresentationLearner` (the paper's method, Random(CL) and Distance(CL)): the representation
  model (stage 0: `pretrain`, without labels) continues every round on both pools (Eq. 2, labeled
  non-iD = class K); a copy of its encoder with a new linear K + 1 head is finetuned on the labeled
  pool and is the classifier; the strategy reads the representation model's pool `features`.

The family follows from what the strategy reads (`Strategy.needs`), so stage scripts never branch
on strategy names. Checkpoints record `learner` (the family).

Under torchrun (src/core/distributed.py) only the representation learner's contrastive training is
data-parallel (`data_parallel`): every rank runs it, then the ranks other than 0 leave `fit`
without a classifier; rank 0 alone finetunes the classifier, scores the pool and writes.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from src.active.state import ActiveState
from src.active.strategies import from_params as strategy_from_params
from src.active.strategies import get as get_strategy
from src.core import distributed, paths
from src.core.config import INITIAL_STATE, Params, to_dict
from src.core.device import cpu_state, get_device
from src.core.io import save_torch
from src.models.nets import memory_format
from src.models.representation import (REPRESENTATION, RepresentationModel, classifier_from, extract_features,
                                       load_representation, save_representation)
from src.models.supervised import predict_outputs, predict_probs, predict_probs_and_embeddings, train_classifier

CLASSIFIER_OUTPUTS = ("logits", "penultimate")  # what the baselines' classifier adds on request (Strategy.needs)


class Learner:
    name = ""
    pretrained = False  # True: a model exists before any label (stage 0 can rank with it)
    data_parallel = False  # True: fit trains with every torchrun process (ranks other than 0 stop after it)

    def __init__(self, p: Params):
        self.p = p
        self.classifier = None

    @property
    def eval_batch_size(self) -> int:
        raise NotImplementedError

    def fit(self, state: ActiveState, images_u8: np.ndarray, train_idx: np.ndarray, round_name: str,
            prev: str | None) -> dict:
        """Train on state `round_name`, continuing from round `prev` (None for r00), with the labeled
        rows `train_idx`. Returns extra metrics, including the `seconds` of its parts."""
        raise NotImplementedError

    def pool_outputs(self, images_u8: np.ndarray) -> dict:
        """What the next acquisition reads, for every pool row."""
        raise NotImplementedError

    def predict_probs(self, images_u8: np.ndarray) -> np.ndarray:
        return predict_probs(self.classifier, images_u8, self.eval_batch_size)

    def save(self, path) -> Path:
        raise NotImplementedError


class BaselineLearner(Learner):
    name = "baseline"

    @property
    def eval_batch_size(self) -> int:
        return self.p.classifier.eval_batch_size

    def fit(self, state, images_u8, train_idx, round_name, prev) -> dict:
        p, k = self.p, self.p.active.num_classes
        y = state.labels[train_idx]
        terms = strategy_from_params(p).detector_loss(bool((y == k).any()))
        loss_fn = None
        if terms:  # the open-set strategies' detector (src/models/open_set_loss.py)
            from src.models.open_set_loss import detector_loss

            loss_fn = detector_loss(p.classifier.label_smoothing, k, **terms)
        self.classifier = train_classifier(images_u8[train_idx], y, p.classifier, k + 1, p.seed, f"{round_name}-train",
                                           loss_fn=loss_fn)
        return {"seconds": {}, **({"detector_loss": terms} if terms else {})}

    def pool_outputs(self, images_u8) -> dict:
        """Class probabilities over the K + 1 outputs (what LC, Entropy and the aux filter read), plus
        the logits and penultimate features (float16: halves the file) for a strategy that reads them."""
        extra = get_strategy(self.p.strategy).needs & set(CLASSIFIER_OUTPUTS)
        if not extra:
            return {"probs": self.predict_probs(images_u8)}
        out = predict_outputs(self.classifier, images_u8, self.eval_batch_size, "logits" in extra,
                              "penultimate" in extra)
        if "penultimate" in out:
            out["penultimate"] = out["penultimate"].astype(np.float16)
        return out

    def save(self, path) -> Path:
        return save_torch(path, {"learner": self.name, "config": to_dict(self.p.classifier),
                                 "state_dict": cpu_state(self.classifier)})


class DDULearner(BaselineLearner):
    name = "ddu"

    def fit(self, state, images_u8, train_idx, round_name, prev) -> dict:
        from src.models.nets import make_ddu_classifier
        from src.models.spectral import largest_singular_values

        p, k1 = self.p, self.p.active.num_classes + 1
        in_channels = 1 if images_u8.ndim == 3 else images_u8.shape[-1]
        self.classifier = train_classifier(
            images_u8[train_idx], state.labels[train_idx], p.classifier, k1, p.seed, f"{round_name}-train",
            make_model=lambda: make_ddu_classifier(k1, p.ddu.width, p.ddu.blocks, in_channels, p.ddu.coeff,
                                                   p.ddu.power_iterations, p.ddu.mod))
        sigmas = largest_singular_values(self.classifier)
        return {"seconds": {}, "spectral_norm": {"coeff": p.ddu.coeff, "layers": len(sigmas),
                                                 "max_sigma": round(max(sigmas), 4)}}

    def pool_outputs(self, images_u8) -> dict:
        """Class probabilities (the aux filter) and the penultimate features (the density), one pass."""
        probs, emb = predict_probs_and_embeddings(self.classifier, images_u8, self.eval_batch_size)
        return {"probs": probs, "embeddings": emb}

    def save(self, path) -> Path:
        config = {**to_dict(self.p.classifier), "ddu": to_dict(self.p.ddu)}
        return save_torch(path, {"learner": self.name, "config": config, "state_dict": cpu_state(self.classifier)})


class RepresentationLearner(Learner):
    name = REPRESENTATION
    pretrained = True
    data_parallel = True

    def __init__(self, p: Params):
        super().__init__(p)
        self.rep: RepresentationModel | None = None

    @property
    def eval_batch_size(self) -> int:
        return self.p.contrastive.eval_batch_size

    @staticmethod
    def source(round_name: str, prev: str | None) -> Path:
        """The checkpoint a round's representation continues from: stage 0's pretraining for r00."""
        return paths.PRETRAIN_PT if round_name == INITIAL_STATE else paths.model(prev)

    def stage0_outputs(self, images_u8: np.ndarray) -> dict:
        """Clustering features (float32) of the pretrained representation: stage 0 of the CL methods."""
        self.rep = load_representation(paths.PRETRAIN_PT)
        self.rep.to(get_device(), memory_format=memory_format(self.rep))
        return {"features": extract_features(self.rep, images_u8, self.eval_batch_size, self.p.cluster.features)}

    def fit(self, state, images_u8, train_idx, round_name, prev) -> dict:
        from src.contrastive.train import train_contrastive

        p = self.p
        t0 = time.perf_counter()
        self.rep = load_representation(self.source(round_name, prev))
        lab, unl = state.labeled, state.unlabeled
        summary = train_contrastive(self.rep, images_u8[unl], images_u8[lab], state.labels[lab].astype(np.int64),
                                    p.contrastive, p.contrastive.round_epochs, p.seed, round_name,
                                    label=f"{round_name} representation")
        seconds = {"representation": round(time.perf_counter() - t0, 2)}
        if not distributed.is_main():  # torchrun: rank 0 alone finetunes the classifier (and writes)
            return {"seconds": seconds}
        k1 = p.active.num_classes + 1
        self.classifier = train_classifier(images_u8[train_idx], state.labels[train_idx], p.cl_classifier, k1,
                                           p.seed, f"{round_name}-train",
                                           make_model=lambda: classifier_from(self.rep, k1))
        return {"seconds": seconds,
                "representation": {key: summary[key] for key in ("steps", "loss_first", "loss_last")}}

    def pool_outputs(self, images_u8) -> dict:
        """Clustering features of the representation model (float16 keeps runs/outputs small; they
        are clustered in float32)."""
        feats = extract_features(self.rep, images_u8, self.eval_batch_size, self.p.cluster.features)
        return {"features": feats.astype("float16")}

    def save(self, path) -> Path:
        return save_representation(path, self.rep, config=to_dict(self.p.cl_classifier),
                                   state_dict=cpu_state(self.classifier))


FAMILIES = {"features": RepresentationLearner, "embeddings": DDULearner}


def learner_for(p: Params) -> Learner:
    """The learner family whose pool outputs the strategy reads beyond `probs`, which every
    classifier gives (a strategy reading only probs gets the baseline classifier)."""
    needs = get_strategy(p.strategy).needs
    families = {FAMILIES[n] for n in needs if n in FAMILIES} or {BaselineLearner}
    if len(families) != 1:
        raise ValueError(f"strategy {p.strategy} reads outputs of two learner families: {sorted(needs)}")
    return families.pop()(p)

