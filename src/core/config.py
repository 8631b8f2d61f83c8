"""params.yaml -> frozen dataclasses, one per section.

Every key is required and every key must be known: a misspelt or missing key is an error
that names the file, the section and the valid keys. Values are type-checked (YAML reads
`1e-3` as a string; float fields accept it).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from src.core.errors import ConfigError, excerpt


@dataclass(frozen=True)
class DataConfig:
    raw_dir: str  # folder laid out as MNIST/raw/*-ubyte and notMNIST/*-images-idx3-ubyte.gz
    source: str  # auto: local files if complete, else download; local; download
    check_counts: bool  # raw files must be official: MNIST's counts, CIFAR-100/SVHN's published MD5s; false: custom


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
    n_ood: Optional[int]  # OoD images requested; min(requested, available) is used and recorded; null = all
    n_val: int  # MNIST train images held out as the validation split (never in the pool); 0 = none
    grid_images: int  # images per category sample grid
    id_classes: Optional[list]  # natural benchmarks: iD class names (label = position); mixmnist: null
    ambiguous_classes: Optional[list]  # natural benchmarks: the ambiguous classes; mixmnist: null


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
    arch: str  # convnet (three conv layers, MixMNIST) | resnet (CIFAR ResNet, natural images)
    width: int  # channels of the first conv layer (x2, x4 after)
    blocks: list  # resnet: residual blocks per stage (ResNet-18: [2, 2, 2, 2]); ignored by convnet
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    milestones: list  # epochs at which lr is multiplied by gamma
    gamma: float
    grad_clip: Optional[float]  # null = no clipping
    label_smoothing: float
    eval_batch_size: int
    optimizer: str  # adam (MixMNIST) | sgd (MixCIFAR60, with momentum)
    momentum: float  # sgd only
    augment: str  # none | crop_flip (random 32-crop after 4-pixel zero padding + horizontal flip)


@dataclass(frozen=True)
class DDUConfig:
    width: int  # DDU's network: the residual classifier (classifier's schedule) with spectral norm
    blocks: list  # residual blocks per stage (ResNet-18-SN: width 64, [2, 2, 2, 2])
    coeff: float  # every convolution's largest singular value is kept <= coeff (DDU: 3)
    power_iterations: int  # power-iteration steps per training forward (torch's default: 1)
    covariance: str  # ledoit_wolf (shrinkage, full rank for few samples) | jitter (sample covariance)
    density_classes: str  # all (the K classes and non-iD class K, as trained) | id (the K classes)


@dataclass(frozen=True)
class ContrastiveConfig:
    seed: int  # pretraining seed (stage 0 representation; rounds continue with the AL seed)
    arch: str  # encoder: convnet | resnet (the CL classifier is this encoder + a linear head)
    width: int  # encoder width (the classifier of the CL methods is this encoder + linear head)
    blocks: list  # resnet: residual blocks per stage; ignored by convnet
    augment: str  # affine (MixMNIST: rotation, shear, scale) | simclr (crop, flip, colour jitter, grey)
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
    optimizer: str  # adam | sgd
    momentum: float  # sgd only
    augment: str  # none | crop_flip


@dataclass(frozen=True)
class ClusterConfig:
    features: str  # encoder (last layer of the representation model) | projection
    n_init: int  # k-means++ restarts
    no_non_id_radius: float  # Distance(CL), clusters without labeled non-iD: radius = this quantile
    #                          of the cluster's centroid distances (0: nearest first, 1: farthest first)
    stage0: str  # CL methods' stage 0: strategy (paper: the CL strategy on pretrained features,
    #              charged for every sample examined) | random (init_id random iD, as baselines)


@dataclass(frozen=True)
class AnnotationConfig:
    max_queries: int  # queries listed per round for a person (whole passes); the file oracle reads no further
    sheet_size: int  # images per contact sheet (a sheet holds whole passes)


@dataclass(frozen=True)
class FolderConfig:
    images: Optional[str]  # benchmark folder: the folder of unlabeled images (nested folders; PNG/JPEG)
    test: Optional[str]  # optional labeled test folder, ImageFolder layout: <class name>/<image>
    size: int  # images are centre-cropped to a square and resized to size x size
    channels: int  # 3: RGB (resnet, SimCLR views; size 32) | 1: greyscale (convnet, affine views; size 28)


@dataclass(frozen=True)
class ReportConfig:
    budgets: list  # annotation budgets at which summary.json gives the (interpolated) accuracy
    auc_range: list  # [low, high] cost range of the normalised area under accuracy vs log cost


@dataclass(frozen=True)
class Params:
    benchmark: str  # mixmnist | standin (offline natural-image stand-in) | mixcifar60
    seed: int  # active-learning seed: initial draw, training, tie-breaks (data stages have their own)
    strategy: str  # acquisition strategy, a key of src.active.strategies.REGISTRY
    precision: str  # fp32 | bf16 (bfloat16 autocast) | auto (bf16 on CUDA and CPUs with AMX/AVX512-BF16); src/core/precision.py
    oracle: str  # simulated (the pool's ground truth answers) | file (a person, in annotations/rNN/labels.csv)
    data: DataConfig
    folder: FolderConfig
    vae: VAEConfig
    ensemble: EnsembleConfig
    ambiguous: AmbiguousConfig
    pool: PoolConfig
    active: ActiveConfig
    classifier: ClassifierConfig
    ddu: DDUConfig
    contrastive: ContrastiveConfig
    cl_classifier: CLClassifierConfig
    cluster: ClusterConfig
    annotation: AnnotationConfig
    report: ReportConfig
    rounds: dict  # round name -> {prev: name of the state it continues from}; first prev is r00


BENCHMARKS = ("mixmnist", "standin", "mixcifar60", "folder")
NATURAL = ("standin", "mixcifar60")  # RGB 32x32 benchmarks: ResNet, SimCLR augmentations
ORACLES = ("simulated", "file")
PRECISIONS = ("fp32", "bf16", "auto")  # src/core/precision.py
# why train_vae, train_ensemble and make_ambiguous write not-applicable markers for them:
NOT_MNIST = "the natural-image benchmarks' ambiguous set is real images of pool.ambiguous_classes"
NOT_GENERATED = "a folder pool is your own unlabeled images: nothing is generated, a person says what is ambiguous"


def not_applicable_reason(benchmark: str) -> str:
    """Why the MixMNIST-only stages (train_vae, train_ensemble, make_ambiguous) write markers."""
    return NOT_GENERATED if benchmark == "folder" else NOT_MNIST
CHOICES = {("data", "source"): ("auto", "local", "download"),
           ("classifier", "arch"): ("convnet", "resnet"), ("contrastive", "arch"): ("convnet", "resnet"),
           ("classifier", "optimizer"): ("adam", "sgd"), ("cl_classifier", "optimizer"): ("adam", "sgd"),
           ("classifier", "augment"): ("none", "crop_flip"), ("cl_classifier", "augment"): ("none", "crop_flip"),
           ("contrastive", "augment"): ("affine", "simclr"),
           ("cluster", "features"): ("encoder", "projection"),
           ("ddu", "covariance"): ("ledoit_wolf", "jitter"), ("ddu", "density_classes"): ("all", "id"),
           ("cluster", "stage0"): ("strategy", "random")}


def _choices_hint(where: str) -> str:
    """'The choices: a, b.' for a params key with a fixed set of values (`where` ends with its dotted key)."""
    top = {"benchmark": BENCHMARKS, "oracle": ORACLES, "precision": PRECISIONS}
    for key, allowed in [*top.items(), *((f"{sec}.{k}", v) for (sec, k), v in CHOICES.items())]:
        if where == key or where.endswith(f".{key}"):
            return f"The choices: {', '.join(allowed)}. "
    if where == "strategy" or where.endswith(".strategy"):
        return "The choices: the strategy names (`python -m src.check` lists them). "
    return ""


def _unknown(where: str, key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{where}: unknown key '{key}'.{hint} Valid keys: {', '.join(valid)}.")


def _coerce(where: str, value, annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[X]
        inner = [a for a in typing.get_args(annotation) if a is not type(None)][0]
        return None if value is None else _coerce(where, value, inner)
    if annotation in (float, int) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected {'a number' if annotation is float else 'an integer'}, got the "
                          f"boolean {str(value).lower()} (YAML 1.1 reads an unquoted yes, no, on, off, true or false "
                          f"as a boolean): write a number.")
    if annotation is float:
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
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got the boolean {str(value).lower()}: YAML 1.1 reads an "
                              f"unquoted yes, no, on, off, true or false as a boolean. {_choices_hint(where)}"
                              f"Quote a word that is meant as text (e.g. \"no\").")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}. {_choices_hint(where)}")
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


ROUND_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def check_rounds(rounds: dict, where: str) -> None:
    """Rounds must form one chain r00 -> first -> ... -> last, each naming its predecessor.

    DVC parses the round table (dvc.yaml's foreach) before any stage runs, so some mistakes reach
    DVC's own wording first; `python -m src.check` runs this check alone (README maps DVC's
    messages to these)."""
    expected_prev = INITIAL_STATE
    names = [str(n) for n in rounds]
    for name, spec in rounds.items():
        entry = f"{where}: rounds.{name}"
        if not isinstance(name, str) or not ROUND_NAME.match(name):
            raise ConfigError(f"{entry}: a round name must be letters, digits, '-' or '_' (e.g. r01); "
                              f"got {name!r}.")
        if name == INITIAL_STATE:
            raise ConfigError(f"{entry}: '{INITIAL_STATE}' is the initial state (stage 0, written by the init "
                              f"stage), not a round; start the table with r01: {{prev: {INITIAL_STATE}}}.")
        if not isinstance(spec, dict) or set(spec) != {"prev"}:
            raise ConfigError(f"{entry}: expected {{prev: <previous round>}}, got {spec!r}; write it as "
                              f"{name}: {{prev: {expected_prev}}}.")
        prev = spec["prev"]
        if prev != expected_prev:
            why = ("is null" if prev is None else
                   f"names a round listed after it (a cycle)" if str(prev) in names[names.index(name):] else
                   f"is '{prev}'")
            raise ConfigError(
                f"{entry}: prev {why} but the round before it is '{expected_prev}'. The chain must be "
                f"{INITIAL_STATE} -> first round -> ... in order: write {name}: {{prev: {expected_prev}}} "
                f"(each round continues from the one listed above it).")
        expected_prev = name


# ---------------------------------------------------------------- ranges
# Every numeric, list and mapping param has a rule: (check, "allowed range" in words). A value
# outside it is refused with the key, the value and the range (tests/test_config.py checks that
# every such field of every section has a rule, so a new param cannot skip this).
def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _at_least(lo):
    return (lambda v: _num(v) and v >= lo), f">= {lo}"


def _above(lo):
    return (lambda v: _num(v) and v > lo), f"> {lo} and finite"


def _between(lo, hi, hi_open=False):
    return ((lambda v: _num(v) and lo <= v and (v < hi if hi_open else v <= hi)),
            f"in [{lo}, {hi}{')' if hi_open else ']'}")


def _milestones(v) -> bool:
    return (isinstance(v, list) and all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in v)
            and v == sorted(set(v)))


def _scale(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_num(s) for s in v) and 0 < v[0] <= v[1]


def _costs(v) -> bool:
    return isinstance(v, dict) and set(v) == set(COST_KEYS) and all(_num(c) and c >= 0 for c in v.values())


def _budgets(v) -> bool:
    return isinstance(v, list) and all(_num(b) and b > 0 for b in v)


def _auc_range(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_num(b) for b in v) and 0 < v[0] < v[1]


def _archs(v) -> bool:
    return isinstance(v, list) and all(isinstance(a, str) and a for a in v)


def _names_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(n, str) and n for n in v) and len(set(v)) == len(v)


def _blocks(v) -> bool:
    return isinstance(v, list) and all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in v)


SEED = _at_least(0)
NAMES = (_names_list, "a list of distinct class names")
BLOCKS = (_blocks, "a list of block counts >= 1, one per stage (ResNet-18: [2, 2, 2, 2])")
MOMENTUM = _between(0, 1, hi_open=True)
COUNT = _at_least(1)  # a count where zero is meaningless
RATE = _above(0)  # learning rates, temperatures, factors
PENALTY = _at_least(0)  # weight decay, degrees of augmentation
SMOOTHING = _between(0, 1, hi_open=True)
MILESTONES = (_milestones, "a list of increasing epoch numbers >= 1")
RANGES = {
    "seed": SEED,
    "vae.seed": SEED, "vae.channels": COUNT, "vae.z_top": COUNT, "vae.z_bottom": COUNT, "vae.epochs": COUNT,
    "vae.batch_size": COUNT, "vae.lr": RATE, "vae.kl_warmup_steps": _at_least(0), "vae.grad_clip": RATE,
    "vae.train_subset": COUNT, "vae.recon_images": COUNT,
    "ensemble.seed": SEED, "ensemble.members": COUNT, "ensemble.epochs": COUNT, "ensemble.batch_size": COUNT,
    "ensemble.lr": RATE, "ensemble.train_subset": COUNT, "ensemble.min_accuracy": _between(0, 1),
    "ensemble.archs": (_archs, "a non-empty list of architecture names"),
    "ambiguous.seed": SEED, "ambiguous.count": COUNT, "ambiguous.mix": _between(0, 1),
    "ambiguous.min_distinct": COUNT, "ambiguous.max_distinct": COUNT, "ambiguous.batch_size": COUNT,
    "ambiguous.max_candidates": COUNT, "ambiguous.grid_images": COUNT,
    "pool.seed": SEED, "pool.n_id": COUNT, "pool.n_ambiguous": _at_least(0), "pool.n_ood": _at_least(0),
    "pool.n_val": _at_least(0), "pool.grid_images": COUNT,
    "active.num_classes": _at_least(2), "active.init_id": COUNT, "active.per_round_id": COUNT,
    "active.target_id": COUNT, "active.non_id_ratio": _at_least(0),
    "active.costs": (_costs, f"a mapping of exactly {', '.join(COST_KEYS)} to finite numbers >= 0"),
    "classifier.width": COUNT, "classifier.epochs": COUNT, "classifier.batch_size": COUNT, "classifier.lr": RATE,
    "classifier.weight_decay": PENALTY, "classifier.milestones": MILESTONES, "classifier.gamma": RATE,
    "classifier.grad_clip": RATE, "classifier.label_smoothing": SMOOTHING, "classifier.eval_batch_size": COUNT,
    "classifier.blocks": BLOCKS, "classifier.momentum": MOMENTUM,
    "contrastive.blocks": BLOCKS, "cl_classifier.momentum": MOMENTUM,
    "ddu.width": COUNT, "ddu.blocks": BLOCKS, "ddu.coeff": RATE, "ddu.power_iterations": COUNT,
    "pool.id_classes": NAMES, "pool.ambiguous_classes": NAMES,
    "contrastive.seed": SEED, "contrastive.width": COUNT, "contrastive.proj_dim": COUNT,
    "contrastive.temperature": RATE, "contrastive.lr": RATE, "contrastive.weight_decay": PENALTY,
    "contrastive.batch_size": COUNT, "contrastive.labeled_batch_size": COUNT,
    "contrastive.pretrain_epochs": _at_least(0), "contrastive.round_epochs": _at_least(0),
    "contrastive.rotation": _between(0, 180), "contrastive.shear": _between(0, 89),
    "contrastive.scale": (_scale, "[low, high] with 0 < low <= high"), "contrastive.eval_batch_size": COUNT,
    "cl_classifier.epochs": COUNT, "cl_classifier.batch_size": COUNT, "cl_classifier.lr": RATE,
    "cl_classifier.weight_decay": PENALTY, "cl_classifier.milestones": MILESTONES, "cl_classifier.gamma": RATE,
    "cl_classifier.grad_clip": RATE, "cl_classifier.label_smoothing": SMOOTHING,
    "cluster.n_init": COUNT, "cluster.no_non_id_radius": _between(0, 1),
    "annotation.max_queries": COUNT, "annotation.sheet_size": COUNT,
    "folder.size": COUNT, "folder.channels": ((lambda v: v in (1, 3)), "1 (greyscale) or 3 (RGB)"),
    "report.budgets": (_budgets, "a list of annotation costs > 0"),
    "report.auc_range": (_auc_range, "[low, high] costs with 0 < low < high"),
}


def _value(params: Params, dotted: str):
    obj = params
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


MAX_CLASS_NAME = 100  # characters: a name is shown on contact sheets, in CSV columns and folder names


def check_class_names(names, key: str, path) -> None:
    """Class names are what a person types and what test folders are called: text (not a YAML boolean or
    number), without surrounding spaces or control characters, at most MAX_CLASS_NAME characters, distinct."""
    if not isinstance(names, list) or not names:
        raise ConfigError(f"{path}: {key} must be a non-empty list of class names, got {excerpt(names)}.")
    for i, name in enumerate(names):
        at = f"{path}: {key}[{i}]"
        if isinstance(name, bool):
            raise ConfigError(f"{at} is the boolean {str(name).lower()}: YAML 1.1 reads an unquoted yes, no, on, "
                              f"off, true or false as a boolean; quote the class name (e.g. \"no\").")
        if not isinstance(name, str):
            raise ConfigError(f"{at} is {name!r}, not text; quote it (e.g. \"{name}\").")
        if not name.strip():
            raise ConfigError(f"{at} is empty; give the class a name.")
        if name != name.strip():
            raise ConfigError(f"{at} = {excerpt(name)} has spaces around it: nobody could type that answer, and a "
                              f"test folder of that name would not match it. Write {excerpt(name.strip())}.")
        if not name.isprintable():
            raise ConfigError(f"{at} = {excerpt(name)} holds a control character (tab, newline...); remove it.")
        if len(name) > MAX_CLASS_NAME:
            raise ConfigError(f"{at} is {len(name)} characters long (at most {MAX_CLASS_NAME}); shorten it (and the "
                              f"test folder of that class).")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{path}: {key} names {excerpt(dup[0])} twice; each class once.")


def check_ranges(params: Params, path: str) -> None:
    """Every rule of RANGES (null is allowed where the field is Optional), then cross-field rules."""
    for key in ("id_classes", "ambiguous_classes"):
        if getattr(params.pool, key) is not None:
            check_class_names(getattr(params.pool, key), f"pool.{key}", path)
    for key, (ok, allowed) in RANGES.items():
        value = _value(params, key)
        if value is not None and not ok(value):
            raise ConfigError(f"{path}: {key} = {value!r} is out of range: allowed {allowed}.")
    _check_benchmark(params, path)
    amb, members = params.ambiguous, params.ensemble.members
    if not amb.min_distinct <= amb.max_distinct <= members:
        raise ConfigError(f"{path}: ambiguous.min_distinct = {amb.min_distinct} and max_distinct = "
                          f"{amb.max_distinct} must satisfy 1 <= min_distinct <= max_distinct <= "
                          f"ensemble.members ({members}).")


def is_rgb(params: Params) -> bool:
    """RGB 32x32 images (resnet, SimCLR views): the natural benchmarks, and a folder pool with 3 channels."""
    return params.benchmark in NATURAL or (params.benchmark == "folder" and params.folder.channels == 3)


def class_names(params: Params) -> list[str]:
    """What a person answers for the iD classes: pool.id_classes, or MixMNIST's digits."""
    if params.pool.id_classes is not None:
        return [str(n) for n in params.pool.id_classes]
    return [str(k) for k in range(params.active.num_classes)]


def _check_folder(params: Params, path: str) -> None:
    """A folder pool: its images folder, its class names, the oracle that can answer it, and a size
    the networks take (resnet: RGB 32x32; convnet: greyscale 28x28)."""
    f = params.folder
    if not f.images:
        raise ConfigError(f"{path}: benchmark 'folder' needs folder.images, the folder of your unlabeled images.")
    if params.pool.id_classes is None or params.pool.ambiguous_classes is not None:
        raise ConfigError(f"{path}: benchmark 'folder' needs pool.id_classes, the names of your iD classes (what the "
                          f"annotator answers), and pool.ambiguous_classes: null.")
    raw = Path(params.data.raw_dir)
    for key in ("images", "test"):
        where = getattr(f, key)
        if where and raw.resolve() not in (Path(where).resolve(), *Path(where).resolve().parents):
            raise ConfigError(f"{path}: folder.{key} = {where!r} is not inside data.raw_dir = {str(raw)!r}, the folder "
                              f"DVC tracks as fetch_data's input (so changed images rerun it): set data.raw_dir "
                              f"to a folder that holds folder.images and folder.test (e.g. their parent).")
    if params.oracle != "file":
        raise ConfigError(f"{path}: benchmark 'folder' has no ground truth for the simulated oracle: set oracle: file "
                          f"(a person answers each round's queries).")
    size = 32 if f.channels == 3 else 28
    if f.size != size:
        raise ConfigError(f"{path}: folder.size = {f.size} with folder.channels = {f.channels}: the networks take "
                          f"{'RGB 32x32 (resnet)' if f.channels == 3 else 'greyscale 28x28 (convnet)'} images; "
                          f"set folder.size to {size}.")


def _check_benchmark(params: Params, path: str) -> None:
    """The networks and augmentations must fit the benchmark's images: MixMNIST is greyscale 28x28
    (convnet, affine views); the natural benchmarks are RGB 32x32 (resnet, SimCLR views); a folder
    pool is either, by folder.channels."""
    natural = is_rgb(params)
    want = {"classifier.arch": "resnet" if natural else "convnet",
            "contrastive.arch": "resnet" if natural else "convnet",
            "contrastive.augment": "simclr" if natural else "affine"}
    for key, value in want.items():
        if _value(params, key) != value:
            raise ConfigError(f"{path}: {key} = {_value(params, key)!r} does not fit benchmark "
                              f"{params.benchmark!r} ({'RGB 32x32' if natural else 'greyscale 28x28'} images): "
                              f"set it to {value!r}, or start from that benchmark's profile in configs/.")
    pool = params.pool
    if params.benchmark == "folder":
        _check_folder(params, path)
    elif (params.benchmark in NATURAL) != (pool.id_classes is not None and pool.ambiguous_classes is not None):
        raise ConfigError(f"{path}: pool.id_classes and pool.ambiguous_classes must be "
                          f"{'lists of class names' if natural else 'null'} for benchmark {params.benchmark!r}.")
    if pool.ambiguous_classes is not None:
        both = set(pool.id_classes) & set(pool.ambiguous_classes)
        if both:
            raise ConfigError(f"{path}: {', '.join(sorted(both))} in both pool.id_classes and "
                              f"pool.ambiguous_classes; a class is iD or ambiguous, not both.")
    if pool.id_classes is not None:
        if len(pool.id_classes) != params.active.num_classes:
            raise ConfigError(f"{path}: active.num_classes = {params.active.num_classes} but pool.id_classes "
                              f"names {len(pool.id_classes)} classes; set num_classes to {len(pool.id_classes)}.")


def _check_choices(params: Params, path: str) -> None:
    """Rounds, ranges and choices. The `strategy` name is checked by the strategy registry
    (src/active/strategies.py) where a stage uses it, and by `python -m src.check`: this module
    imports nothing from the layers above it."""
    check_rounds(params.rounds, path)
    if params.benchmark not in BENCHMARKS:
        raise ConfigError(f"{path}: benchmark = {params.benchmark!r} is not one of {', '.join(BENCHMARKS)}.")
    if params.oracle not in ORACLES:
        raise ConfigError(f"{path}: oracle = {params.oracle!r} is not one of {', '.join(ORACLES)}.")
    if params.precision not in PRECISIONS:
        raise ConfigError(f"{path}: precision = {params.precision!r} is not one of {', '.join(PRECISIONS)} (auto: bf16 "
                          f"on CUDA and on CPUs with AMX or AVX512-BF16, fp32 elsewhere).")
    check_ranges(params, path)
    clash = [n for n in class_names(params) if n in ("ambiguous", "ood")] if params.oracle == "file" else []
    if clash:
        raise ConfigError(f"{path}: pool.id_classes names {clash[0]!r}, but '{clash[0]}' is an answer of its own for "
                          f"the file oracle (a non-iD sample): rename the class.")
    for (section, key), allowed in CHOICES.items():
        value = getattr(getattr(params, section), key)
        if value not in allowed:
            raise ConfigError(f"{path}: {section}.{key} = {value!r} is not one of {', '.join(allowed)}.")


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader, but a key given twice in one mapping is an error (as DVC's parser makes it),
    not silently the last one: `seed` twice would run one seed under `dvc repro` and refuse under
    DVC, and a stage run directly would use another value than the one a reader sees first."""


class _DuplicateKey(Exception):
    def __init__(self, key, first: int, again: int):
        super().__init__(key, first, again)
        self.key, self.first, self.again = key, first, again


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # an unhashable key: the constructor below reports it as YAML does
        if key in lines:
            raise _DuplicateKey(key, lines[key], key_node.start_mark.line + 1)
        lines[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(text: str, where) -> object:
    """The project's one reader of its params files (params.yaml, configs/, a results folder's copy):
    YAML's safe subset (no tags that build objects), and a duplicate key refused with both lines."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a safe loader (SafeLoader's constructors)
    except _DuplicateKey as dup:
        raise ConfigError(f"{where}, line {dup.again}: key {excerpt(dup.key)} is given twice in the same mapping "
                          f"(first at line {dup.first}). YAML keeps one of them silently and DVC refuses the file: "
                          f"delete one of the two lines.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None


def load(path: str | Path = "params.yaml") -> Params:
    """Read and validate a whole params file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found. Run from the repository root, "
                          f"or copy configs/paper-mixmnist.yaml to params.yaml.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not readable as UTF-8 text ({type(exc).__name__}); save it as UTF-8.") from None
    raw = read_yaml(text, path)
    params = _build(Params, raw or {}, str(path))
    _check_choices(params, str(path))
    return params


def to_dict(section) -> dict:
    return dataclasses.asdict(section)


def dumps(section) -> str:
    return json.dumps(to_dict(section), indent=2, sort_keys=True)

