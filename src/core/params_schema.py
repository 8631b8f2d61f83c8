"""The params sections: one frozen dataclass per section of params.yaml, each field with its type,
its rules (src/core/params_rules.py: a range, choices or a check) and what it means.

A field's type is checked as the file is read (src/core/config.py), its rules and the cross-field
rules after (src/core/params_check.py). A field without `param(...)` is a word or flag with no rule
beyond its type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from src.core.params_rules import (ARCHS, AUC_RANGE, BLOCKS, BUDGETS, CHANNELS, COSTS, COUNT, MILESTONES, MOMENTUM,
                                   PENALTY, RATE, SCALE, SEED, SHARE, SMOOTHING, at_least, between, check_class_names,
                                   check_rounds, param)
from src.core.precision import CHOICES as PRECISIONS

BENCHMARKS = ("mixmnist", "standin", "mixcifar60", "folder")
NATURAL = ("standin", "mixcifar60")  # RGB 32x32 benchmarks: ResNet, SimCLR augmentations
ORACLES = ("simulated", "file")
NETWORKS = ("convnet", "resnet")  # classifier.arch, contrastive.arch: the benchmark's images pick one (params_check)
OPTIMIZERS = ("adam", "sgd")
CLASSIFIER_AUGMENTS = ("none", "crop_flip")
# why train_vae, train_ensemble and make_ambiguous write not-applicable markers for them:
NOT_MNIST = "the natural-image benchmarks' ambiguous set is real images of pool.ambiguous_classes"
NOT_GENERATED = "a folder pool is your own unlabeled images: nothing is generated, a person says what is ambiguous"


def not_applicable_reason(benchmark: str) -> str:
    """Why the MixMNIST-only stages (train_vae, train_ensemble, make_ambiguous) write markers."""
    return NOT_GENERATED if benchmark == "folder" else NOT_MNIST


@dataclass(frozen=True)
class DataConfig:
    raw_dir: str  # folder laid out as MNIST/raw/*-ubyte and notMNIST/*-images-idx3-ubyte.gz
    source: str = param(choices=("auto", "local", "download"))  # auto: local files if complete, else download
    check_counts: bool  # raw files must be official: MNIST's counts, CIFAR-100/SVHN's published MD5s; false: custom


@dataclass(frozen=True)
class VAEConfig:
    seed: int = param(SEED)
    channels: int = param(COUNT)  # base width; 2x at 14x14, 4x at 7x7
    z_top: int = param(COUNT)  # latent channels of the top group (7x7)
    z_bottom: int = param(COUNT)  # latent channels of the bottom group (14x14)
    epochs: int = param(COUNT)
    batch_size: int = param(COUNT)
    lr: float = param(RATE)
    kl_warmup_steps: int = param(at_least(0))  # KL weight rises linearly from 0 to 1 over these steps
    grad_clip: float = param(RATE)
    train_subset: Optional[int] = param(COUNT)  # null = all 60,000 MNIST train images
    recon_images: int = param(COUNT)  # test images shown in the reconstruction PNG


@dataclass(frozen=True)
class EnsembleConfig:
    seed: int = param(SEED)
    members: int = param(COUNT)
    archs: list = param(ARCHS)  # cycled over members; names in src.generate.classifiers.ARCHS
    epochs: int = param(COUNT)
    batch_size: int = param(COUNT)
    lr: float = param(RATE)
    train_subset: Optional[int] = param(COUNT)  # images per member, a different random draw each; null = all
    min_accuracy: Optional[float] = param(SHARE)  # warn (and flag in metrics) when a member is below this


@dataclass(frozen=True)
class AmbiguousConfig:
    seed: int = param(SEED)
    count: int = param(COUNT)  # ambiguous images to keep
    mix: float = param(SHARE)  # weight of the first image's latents (paper: 0.7, i.e. 7:3)
    min_distinct: int = param(COUNT)  # keep iff min_distinct <= distinct ensemble votes <= max_distinct
    max_distinct: int = param(COUNT)
    batch_size: int = param(COUNT)  # candidate pairs per generation batch
    max_candidates: int = param(COUNT)  # give up (with an error) after this many candidates
    grid_images: int = param(COUNT)  # images in the Figure-2-like grid


@dataclass(frozen=True)
class PoolConfig:
    seed: int = param(SEED)
    n_id: Optional[int] = param(COUNT)  # MNIST train images in the pool; null = all 60,000
    n_ambiguous: Optional[int] = param(at_least(0))  # null = every generated ambiguous image
    # OoD images requested; min(requested, available) is used and recorded; null = all
    n_ood: Optional[int] = param(at_least(0))
    n_val: int = param(at_least(0))  # MNIST train images held out as the validation split (never in the pool); 0 = none
    grid_images: int = param(COUNT)  # images per category sample grid
    # natural benchmarks: iD class names (label = position); mixmnist: null
    id_classes: Optional[list] = param(check=check_class_names)
    ambiguous_classes: Optional[list] = param(check=check_class_names)  # natural benchmarks: the ambiguous classes


@dataclass(frozen=True)
class ActiveConfig:
    num_classes: int = param(at_least(2))  # K; the auxiliary non-iD class is K
    init_id: int = param(COUNT)  # stage 0: labeled iD samples (paper: 100)
    per_round_id: int = param(COUNT)  # minimum iD samples acquired per round (paper: 10)
    target_id: int = param(COUNT)  # stopping rule: the process ends at the first state with >= this many labeled iD
    costs: dict = param(COSTS)  # cost of examining one sample per category: {id, ambiguous, ood}
    non_id_ratio: float = param(at_least(0))  # training keeps <= ratio * (labeled iD / K) labeled non-iD samples


@dataclass(frozen=True)
class ClassifierConfig:
    # convnet (three conv layers, MixMNIST) | resnet (CIFAR ResNet, natural images); the benchmark picks it
    arch: str = param(hint=NETWORKS)
    width: int = param(COUNT)  # channels of the first conv layer (x2, x4 after)
    blocks: list = param(BLOCKS)  # resnet: residual blocks per stage (ResNet-18: [2, 2, 2, 2]); ignored by convnet
    epochs: int = param(COUNT)
    batch_size: int = param(COUNT)
    lr: float = param(RATE)
    weight_decay: float = param(PENALTY)
    milestones: list = param(MILESTONES)  # epochs at which lr is multiplied by gamma
    gamma: float = param(RATE)
    grad_clip: Optional[float] = param(RATE)  # null = no clipping
    label_smoothing: float = param(SMOOTHING)
    eval_batch_size: int = param(COUNT)
    optimizer: str = param(choices=OPTIMIZERS)  # adam (MixMNIST) | sgd (MixCIFAR60, with momentum)
    momentum: float = param(MOMENTUM)  # sgd only
    # none | crop_flip (random 32-crop after 4-pixel zero padding + horizontal flip)
    augment: str = param(choices=CLASSIFIER_AUGMENTS)


@dataclass(frozen=True)
class DDUConfig:
    width: int = param(COUNT)  # DDU's network: the residual classifier (classifier's schedule) with spectral norm
    blocks: list = param(BLOCKS)  # residual blocks per stage (ResNet-18-SN: width 64, [2, 2, 2, 2])
    coeff: float = param(RATE)  # every convolution's largest singular value is kept <= coeff (DDU: 3)
    power_iterations: int = param(COUNT)  # power-iteration steps per training forward (torch's default: 1)
    # true: DDU's `-mod` network (its net/resnet.py): leaky ReLU, average-pool + zero-channel shortcuts;
    # false: ReLU, strided 1x1-convolution shortcuts (src/models/resnet.py)
    mod: bool = param()
    # ledoit_wolf (shrinkage, full rank for few samples) | jitter (sample covariance); src/active/density.py
    covariance: str = param(choices=("ledoit_wolf", "jitter"))
    # all (the K classes and non-iD class K, as trained) | id (the K classes)
    density_classes: str = param(choices=("all", "id"))


@dataclass(frozen=True)
class LfOSAConfig:
    # LfOSA (Ning et al. 2022; ningkp/LfOSA): the detector's cross-entropy reads logits / temperature
    # (README command: --known-T 0.5 --unknown-T 0.5, AL_center_temperature.py)
    temperature: float = param(RATE)
    # its per-class 2-component mixture: Sampling.py GaussianMixture(max_iter=10, tol=1e-2, reg_covar=5e-4)
    mixture_iterations: int = param(COUNT)
    mixture_tol: float = param(RATE)
    mixture_reg: float = param(RATE)  # added to each variance


@dataclass(frozen=True)
class EAOAConfig:
    # EAOA (Zong & Huang 2025; chenchenzong/EAOA main.py): the detector's energy regulariser, weight
    # --energy-weight 0.01, margins --m-in -25 (iD energies below) and --m-out -7 (non-iD energies above)
    energy_weight: float = param(PENALTY)
    m_in: float = param(between(-1e6, 1e6))
    m_out: float = param(between(-1e6, 1e6))
    k: int = param(COUNT)  # reverse kNN: each labeled sample's most similar unlabeled (query_strategies.py: 250)
    k1: int = param(COUNT)  # first round's window: the k1 x n cleanest per class (main.py --k1 5)
    k1_step: int = param(at_least(0))  # k1 +- this after a round whose iD precision misses the target (--a 1)
    precision_tolerance: float = param(SHARE)  # no change within this of the target (--z 0.05)
    target_precision: float = param(SHARE)  # (--target_precision 0.6)
    # its three 2-component mixtures: query_strategies.py GaussianMixture(max_iter=10, tol=1e-2, reg_covar=5e-4)
    mixture_iterations: int = param(COUNT)
    mixture_tol: float = param(RATE)
    mixture_reg: float = param(RATE)  # added to each variance


@dataclass(frozen=True)
class ContrastiveConfig:
    seed: int = param(SEED)  # pretraining seed (stage 0 representation; rounds continue with the AL seed)
    # encoder: convnet | resnet (the CL classifier is this encoder + a linear head); the benchmark picks it
    arch: str = param(hint=NETWORKS)
    width: int = param(COUNT)  # encoder width (the classifier of the CL methods is this encoder + linear head)
    blocks: list = param(BLOCKS)  # resnet: residual blocks per stage; ignored by convnet
    # affine (MixMNIST: rotation, shear, scale) | simclr (crop, flip, colour jitter, grey); the benchmark picks it
    augment: str = param(hint=("affine", "simclr"))
    proj_dim: int = param(COUNT)  # projection head output size
    temperature: float = param(RATE)  # tau of Eq. 1
    lr: float = param(RATE)  # Adam, cosine-annealed over each call's steps
    weight_decay: float = param(PENALTY)
    batch_size: int = param(COUNT)  # unlabeled images per step (two views each)
    labeled_batch_size: int = param(COUNT)  # labeled images per step (two views each, SupCon)
    pretrain_epochs: float = param(at_least(0))  # passes over the whole pool at stage 0 (paper: 300)
    round_epochs: float = param(at_least(0))  # passes over the unlabeled pool per round (paper: 100); fractions allowed
    rotation: float = param(between(0, 180))  # augmentation: +- degrees
    shear: float = param(between(0, 89))  # augmentation: +- degrees of x-shear
    scale: list = param(SCALE)  # augmentation: [low, high] isotropic scale
    translate: float = param(between(0, 1))  # augmentation: +- this fraction of the image size, x and y (ours: 0)
    eval_batch_size: int = param(COUNT)  # feature extraction batch


@dataclass(frozen=True)
class CLClassifierConfig:
    epochs: int = param(COUNT)  # paper: 100
    batch_size: int = param(COUNT)
    lr: float = param(RATE)
    weight_decay: float = param(PENALTY)
    milestones: Optional[list] = param(MILESTONES)  # lr x gamma at these epochs; null = constant lr (paper)
    gamma: float = param(RATE)
    grad_clip: Optional[float] = param(RATE)  # null = no clipping (paper)
    label_smoothing: float = param(SMOOTHING)
    optimizer: str = param(choices=OPTIMIZERS)  # adam | sgd
    momentum: float = param(MOMENTUM)  # sgd only
    augment: str = param(choices=CLASSIFIER_AUGMENTS)  # none | crop_flip


@dataclass(frozen=True)
class ClusterConfig:
    # encoder (last layer of the representation model) | projection
    features: str = param(choices=("encoder", "projection"))
    n_init: int = param(COUNT)  # k-means++ restarts
    # Distance(CL), clusters without labeled non-iD: radius = this quantile of the cluster's centroid
    # distances (0: nearest first, 1: farthest first)
    no_non_id_radius: float = param(SHARE)
    # Distance(CL)'s excluded clusters: most (paper: the one with the most labeled non-iD) | majority
    # (ours: every cluster whose labeled members are mostly non-iD)
    exclude: str = param(choices=("most", "majority"))
    # CL methods' stage 0: strategy (paper: the CL strategy on pretrained features, charged for every
    # sample examined) | random (init_id random iD, as baselines)
    stage0: str = param(choices=("strategy", "random"))


@dataclass(frozen=True)
class AnnotationConfig:
    # queries listed per round for a person (whole passes); the file oracle reads no further
    max_queries: int = param(COUNT)
    sheet_size: int = param(COUNT)  # images per contact sheet (a sheet holds whole passes)


@dataclass(frozen=True)
class FolderConfig:
    images: Optional[str]  # benchmark folder: the folder of unlabeled images (nested folders; PNG/JPEG)
    test: Optional[str]  # optional labeled test folder, ImageFolder layout: <class name>/<image>
    size: int = param(COUNT)  # images are centre-cropped to a square and resized to size x size
    # 3: RGB (resnet, SimCLR views; size 32) | 1: greyscale (convnet, affine views; size 28)
    channels: int = param(CHANNELS)


@dataclass(frozen=True)
class ReportConfig:
    budgets: list = param(BUDGETS)  # annotation budgets at which summary.json gives the (interpolated) accuracy
    auc_range: list = param(AUC_RANGE)  # [low, high] cost range of the normalised area under accuracy vs log cost


@dataclass(frozen=True)
class Params:
    benchmark: str = param(choices=BENCHMARKS)  # mixmnist | standin (offline natural-image stand-in) | mixcifar60
    seed: int = param(SEED)  # active-learning seed: initial draw, training, tie-breaks (data stages have their own)
    # acquisition strategy, a key of src.active.strategies.REGISTRY (checked there: this layer cannot see it)
    strategy: str = param(hint="the strategy names (`python -m src.check` lists them)")
    # fp32 | bf16 (bfloat16 autocast) | auto (bf16 on CUDA and CPUs with AMX/AVX512-BF16); src/core/precision.py
    precision: str = param(choices=PRECISIONS,
                           note="auto: bf16 on CUDA and on CPUs with AMX or AVX512-BF16, fp32 elsewhere")
    # torch.compile the training steps' networks (TorchInductor; changes the arithmetic, costs seconds per
    # training call); src/core/compiled.py, measured by bench/precision.py
    compile: bool = param()
    # simulated (the pool's ground truth answers) | file (a person, in annotations/rNN/labels.csv)
    oracle: str = param(choices=ORACLES)
    data: DataConfig
    folder: FolderConfig
    vae: VAEConfig
    ensemble: EnsembleConfig
    ambiguous: AmbiguousConfig
    pool: PoolConfig
    active: ActiveConfig
    classifier: ClassifierConfig
    ddu: DDUConfig
    lfosa: LfOSAConfig
    eaoa: EAOAConfig
    contrastive: ContrastiveConfig
    cl_classifier: CLClassifierConfig
    cluster: ClusterConfig
    annotation: AnnotationConfig
    report: ReportConfig
    # round name -> {prev: name of the state it continues from}; first prev is r00
    rounds: dict = param(check=check_rounds)


def is_rgb(params: Params) -> bool:
    """RGB 32x32 images (resnet, SimCLR views): the natural benchmarks, and a folder pool with 3 channels."""
    return params.benchmark in NATURAL or (params.benchmark == "folder" and params.folder.channels == 3)


def class_names(params: Params) -> list[str]:
    """What a person answers for the iD classes: pool.id_classes, or MixMNIST's digits."""
    if params.pool.id_classes is not None:
        return [str(n) for n in params.pool.id_classes]
    return [str(k) for k in range(params.active.num_classes)]
