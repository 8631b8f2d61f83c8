"""params.yaml -> frozen dataclasses, one per section.

Every key is required and every key must be known: a misspelt or missing key is an error
that names the file, the section and the valid keys. Values are type-checked (YAML reads
`1e-3` as a string; float fields accept it).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from src.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    raw_dir: str  # folder laid out as MNIST/raw/*-ubyte and notMNIST/*-images-idx3-ubyte.gz
    source: str  # auto: local files if complete, else download; local; download
    check_counts: bool  # MNIST must have the official 60,000 / 10,000 images


@dataclass(frozen=True)
class VAEConfig:
    seed: int
    channels: int  # base width; 2x at 14x14, 4x at 7x7
    z_top: int  # latent channels of the top group (7x7)
    z_bottom: int  # latent channels of the bottom group (14x14)
    epochs: int
    batch_size: int
    lr: float
    kl_warmup_steps: int  # KL weight rises linearly from 0 to 1 over these steps
    grad_clip: float
    train_subset: Optional[int]  # null = all 60,000 MNIST train images
    recon_images: int  # test images shown in the reconstruction PNG


@dataclass(frozen=True)
class EnsembleConfig:
    seed: int
    members: int
    archs: list  # cycled over members; names in src.generate.classifiers.ARCHS
    epochs: int
    batch_size: int
    lr: float
    train_subset: Optional[int]  # images per member, a different random draw each; null = all
    min_accuracy: Optional[float]  # warn (and flag in metrics) when a member is below this


@dataclass(frozen=True)
class AmbiguousConfig:
    seed: int
    count: int  # ambiguous images to keep
    mix: float  # weight of the first image's latents (paper: 0.7, i.e. 7:3)
    min_distinct: int  # keep iff min_distinct <= distinct ensemble votes <= max_distinct
    max_distinct: int
    batch_size: int  # candidate pairs per generation batch
    max_candidates: int  # give up (with an error) after this many candidates
    grid_images: int  # images in the Figure-2-like grid


@dataclass(frozen=True)
class PoolConfig:
    seed: int
    n_id: Optional[int]  # MNIST train images in the pool; null = all 60,000
    n_ambiguous: Optional[int]  # null = every generated ambiguous image
    n_ood: int  # notMNIST requested; min(requested, available) is used and recorded
    n_val: int  # MNIST train images held out as the validation split (never in the pool); 0 = none
    grid_images: int  # images per category sample grid


@dataclass(frozen=True)
class ActiveConfig:
    num_classes: int  # K; the auxiliary non-iD class is K
    init_id: int  # stage 0: labeled iD samples (paper: 100)
    per_round_id: int  # minimum iD samples acquired per round (paper: 10)
    target_id: int  # stopping rule: the process ends at the first state with >= this many labeled iD
    costs: dict  # cost of examining one sample per category: {id, ambiguous, ood}
    non_id_ratio: float  # training keeps <= ratio * (labeled iD / K) labeled non-iD samples


@dataclass(frozen=True)
class ClassifierConfig:
    width: int  # channels of the first conv layer (x2, x4 after)
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    milestones: list  # epochs at which lr is multiplied by gamma
    gamma: float
    grad_clip: float
    label_smoothing: float
    eval_batch_size: int


@dataclass(frozen=True)
class ContrastiveConfig:
    seed: int  # pretraining seed (stage 0 representation; rounds continue with the AL seed)
    width: int  # encoder width (the classifier of the CL methods is this encoder + linear head)
    proj_dim: int  # projection head output size
    temperature: float  # tau of Eq. 1
    lr: float  # Adam, cosine-annealed over each call's steps
    weight_decay: float
    batch_size: int  # unlabeled images per step (two views each)
    labeled_batch_size: int  # labeled images per step (two views each, SupCon)
    pretrain_epochs: float  # passes over the whole pool at stage 0 (paper: 300)
    round_epochs: float  # passes over the unlabeled pool per round (paper: 100); fractions allowed
    rotation: float  # augmentation: +- degrees
    shear: float  # augmentation: +- degrees of x-shear
    scale: list  # augmentation: [low, high] isotropic scale
    eval_batch_size: int  # feature extraction batch


@dataclass(frozen=True)
class CLClassifierConfig:
    epochs: int  # paper: 100
    batch_size: int
    lr: float
    weight_decay: float
    milestones: Optional[list]  # lr x gamma at these epochs; null = constant lr (paper)
    gamma: float
    grad_clip: Optional[float]  # null = no clipping (paper)
    label_smoothing: float


@dataclass(frozen=True)
class ClusterConfig:
    features: str  # encoder (last layer of the representation model) | projection
    n_init: int  # k-means++ restarts
    no_non_id_radius: float  # Distance(CL), clusters without labeled non-iD: radius = this quantile
    #                          of the cluster's centroid distances (0: nearest first, 1: farthest first)
    stage0: str  # CL methods' stage 0: strategy (paper: the CL strategy on pretrained features,
    #              charged for every sample examined) | random (init_id random iD, as baselines)


@dataclass(frozen=True)
class ReportConfig:
    budgets: list  # annotation budgets at which summary.json gives the (interpolated) accuracy
    auc_range: list  # [low, high] cost range of the normalised area under accuracy vs log cost


@dataclass(frozen=True)
class Params:
    seed: int  # active-learning seed: initial draw, training, tie-breaks (data stages have their own)
    strategy: str  # acquisition strategy, a key of src.active.strategies.REGISTRY
    data: DataConfig
    vae: VAEConfig
    ensemble: EnsembleConfig
    ambiguous: AmbiguousConfig
    pool: PoolConfig
    active: ActiveConfig
    classifier: ClassifierConfig
    contrastive: ContrastiveConfig
    cl_classifier: CLClassifierConfig
    cluster: ClusterConfig
    report: ReportConfig
    rounds: dict  # round name -> {prev: name of the state it continues from}; first prev is r00


CHOICES = {("data", "source"): ("auto", "local", "download"),
           ("cluster", "features"): ("encoder", "projection"),
           ("cluster", "stage0"): ("strategy", "random")}


def _unknown(where: str, key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{where}: unknown key '{key}'.{hint} Valid keys: {', '.join(valid)}.")


def _coerce(where: str, value, annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[X]
        inner = [a for a in typing.get_args(annotation) if a is not type(None)][0]
        return None if value is None else _coerce(where, value, inner)
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}.")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}.") from None
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}.")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}.")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}.")
        return value
    if annotation is dict:
        if not isinstance(value, dict) or not value:
            raise ConfigError(f"{where}: expected a non-empty mapping, got {value!r}.")
        return dict(value)
    if annotation is list:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: expected a non-empty list, got {value!r}.")
        return list(value)
    raise AssertionError(f"unsupported annotation {annotation}")


def _build(cls, raw, where: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(raw).__name__}.")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            raise _unknown(where, str(key), names)
    missing = [n for n in names if n not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}. "
                          f"Copy them from params.yaml or configs/paper-mixmnist.yaml.")
    values = {}
    for name in names:
        sub = f"{where}.{name}"
        if dataclasses.is_dataclass(hints[name]):
            values[name] = _build(hints[name], raw[name], sub)
        else:
            values[name] = _coerce(sub, raw[name], hints[name])
    return cls(**values)


INITIAL_STATE = "r00"
COST_KEYS = ("id", "ambiguous", "ood")


def check_rounds(rounds: dict, where: str) -> None:
    """Rounds must form one chain r00 -> first -> ... -> last, each naming its predecessor."""
    expected_prev = INITIAL_STATE
    for name, spec in rounds.items():
        if not isinstance(spec, dict) or set(spec) != {"prev"}:
            raise ConfigError(f"{where}.rounds.{name}: expected {{prev: <previous round>}}, got {spec!r}.")
        if name == INITIAL_STATE:
            raise ConfigError(f"{where}.rounds: '{INITIAL_STATE}' is the initial state, not a round.")
        if spec["prev"] != expected_prev:
            raise ConfigError(
                f"{where}.rounds.{name}: prev is '{spec['prev']}' but the round before it is "
                f"'{expected_prev}'. The chain must be {INITIAL_STATE} -> first round -> ... in "
                f"order; fix the prev entries (each round continues from the one listed above it).")
        expected_prev = name


def _check_choices(params: Params, path: str) -> None:
    from src.active.strategies import get as get_strategy

    get_strategy(params.strategy)  # a misspelt name lists the valid ones
    check_rounds(params.rounds, path)
    if set(params.active.costs) != set(COST_KEYS):
        raise ConfigError(f"{path}: active.costs must have exactly the keys {', '.join(COST_KEYS)}; "
                          f"got {', '.join(map(str, params.active.costs))}.")
    if not 0.0 <= params.cluster.no_non_id_radius <= 1.0:
        raise ConfigError(f"{path}: cluster.no_non_id_radius = {params.cluster.no_non_id_radius} must be a "
                          f"quantile between 0 (nearest the centroid first) and 1 (farthest first).")
    if params.active.target_id < 1:
        raise ConfigError(f"{path}: active.target_id = {params.active.target_id} must be >= 1 (the number "
                          f"of labeled iD samples at which active learning stops; paper: 300).")
    if params.pool.n_val < 0:
        raise ConfigError(f"{path}: pool.n_val = {params.pool.n_val} must be >= 0 (0 = no validation split).")
    budgets = params.report.budgets
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in budgets):
        raise ConfigError(f"{path}: report.budgets = {budgets} must be positive annotation costs.")
    lo_hi = params.report.auc_range
    if (len(lo_hi) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in lo_hi)
            or not 0 < lo_hi[0] < lo_hi[1]):
        raise ConfigError(f"{path}: report.auc_range = {lo_hi} must be [low, high] costs with 0 < low < high.")
    for (section, key), allowed in CHOICES.items():
        value = getattr(getattr(params, section), key)
        if value not in allowed:
            raise ConfigError(f"{path}: {section}.{key} = {value!r} is not one of {', '.join(allowed)}.")


def load(path: str | Path = "params.yaml") -> Params:
    """Read and validate a whole params file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found. Run from the repository root, "
                          f"or copy configs/paper-mixmnist.yaml to params.yaml.")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    params = _build(Params, raw or {}, str(path))
    _check_choices(params, str(path))
    return params


def to_dict(section) -> dict:
    return dataclasses.asdict(section)


def dumps(section) -> str:
    return json.dumps(to_dict(section), indent=2, sort_keys=True)
