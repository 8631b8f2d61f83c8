"""Contrastive training of the representation model on both pools (paper Eq. 2).

Each step draws `batch_size` unlabeled images (two augmented views each -> L_con, NT-Xent) and,
when the labeled pool is not empty, `labeled_batch_size` labeled images (two views each ->
L_supcon with the labels; every non-iD sample carries the auxiliary class K). Both go through the
network in one forward pass. Augmentations are batched tensor ops on uint8 images already in
memory, so a step has no per-sample Python work (bench/contrastive_throughput.py measures this).

Adam with a cosine-annealed learning rate over the steps of one call: stage 0 (`pretrain`) anneals
over all pretraining steps; each round's continuation starts again from `lr` and anneals over its
own steps (the paper continues "without any changes to the hyperparameters").

Several processes (`torchrun --nproc_per_node N`, src/core/distributed.py): the batch sizes are
the global batch. Every rank draws the same global batches from the same index generator and
takes its contiguous share (rank 0 the first); its views come from its own augmentation stream
(`<stream>-contrastive-rank<r>`), so a run with N > 1 processes draws other views than a single
process and its numbers differ from it (one process keeps the single stream `<stream>-contrastive`
for indices and views, exactly as before). The model is wrapped in DistributedDataParallel;
`contrastive_loss` all-gathers the projections with their gradients, so NT-Xent and SupCon see
the whole global batch as negatives and every rank computes the same global loss, whose gradient
(all_gather's backward sums over ranks, DDP averages over ranks) is the one-process gradient on the
same views. The batch sizes must be multiples of N; a pool smaller than its batch (the labeled pool
of early rounds) is split as evenly as it goes. BatchNorm (the resnet) is synchronised across ranks
on CUDA only; on CPU each process normalises with its own share's statistics.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch

from src.models.augment import mnist_affine, simclr_cifar
from src.contrastive.loss import supcon_loss
from src.core import compiled, distributed, live, precision
from src.core.device import get_device
from src.core.errors import ConfigError
from src.core.log import log
from src.core.seeding import torch_generator
from src.models.inputs import normalise, to_device, to_unit
from src.models.nets import memory_format


def steps_for(epochs: float, n_unlabeled: int, batch_size: int) -> int:
    """Optimizer steps for `epochs` passes over the unlabeled pool (fractions allowed, >= 1 step
    whenever epochs > 0)."""
    if epochs <= 0 or n_unlabeled == 0:
        return 0
    return max(1, math.ceil(epochs * n_unlabeled / batch_size))


class _Batches:
    """Endless batches of indices: a fresh random permutation every pass (explicit generator)."""

    def __init__(self, n: int, size: int, generator: torch.Generator):
        self.n, self.size, self.gen = n, min(size, n), generator
        self.perm, self.pos = torch.randperm(n, generator=generator), 0

    def next(self) -> torch.Tensor:
        if self.pos + self.size > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
        out = self.perm[self.pos:self.pos + self.size]
        self.pos += self.size
        return out


def two_views(x_u8: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
    """uint8 (B, 28, 28) -> normalised float (2B, 1, 28, 28) (`augment: affine`), or uint8
    (B, 32, 32, 3) -> (2B, 3, 32, 32) (`augment: simclr`, SimCLR's CIFAR set): view 1 of every
    sample, then view 2."""
    if cfg.augment == "simclr":
        x = to_unit(x_u8.numpy())
        return normalise(torch.cat([simclr_cifar(x, generator), simclr_cifar(x, generator)]))
    x = x_u8.float().div_(255.0).unsqueeze(1)
    affine = (cfg.rotation, cfg.shear, tuple(cfg.scale), cfg.translate)
    views = torch.cat([mnist_affine(x, generator, *affine), mnist_affine(x, generator, *affine)])
    return normalise(views)


def _as_bvd(z: torch.Tensor, b: int) -> torch.Tensor:
    """(2B, D) rows [view1; view2] -> (B, 2, D)."""
    return z.view(2, b, z.shape[-1]).transpose(0, 1)


def generators(seed: int, stream: str, rank: int = 0, world: int = 1) -> tuple[torch.Generator, torch.Generator]:
    """(index generator, augmentation generator) of one training call. One process: a single
    generator for both (the stream every committed result was drawn from). Several: the index
    generator is the same on every rank (they draw the same global batches), the augmentations
    have a stream per rank."""
    gen = torch_generator(seed, f"{stream}-contrastive")
    if world == 1:
        return gen, gen
    return gen, torch_generator(seed, f"{stream}-contrastive-rank{rank}")


def shares(n: int, world: int) -> list[int]:
    """Samples of each rank in a global batch of n: contiguous shares, rank 0 first, as even as
    they go (the first n % world ranks take one more)."""
    base, extra = divmod(n, world)
    return [base + (r < extra) for r in range(world)]


def _gather(z_bvd: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Every rank's (n_r, V, D) projections -> the global (sum n_r, V, D), rank 0's first, with
    gradients (all_gather's backward sends each rank the sum over ranks of the gradient of its rows).
    Unequal shares are padded to the largest for the collective and cut back after it."""
    import torch.distributed.nn.functional as dist_nn

    most = max(counts)
    if z_bvd.shape[0] < most:
        z_bvd = torch.cat([z_bvd, z_bvd.new_zeros((most - z_bvd.shape[0], *z_bvd.shape[1:]))])
    with warnings.catch_warnings():  # torch 2.14 deprecates it for a private replacement
        warnings.simplefilter("ignore", FutureWarning)
        parts = dist_nn.all_gather(z_bvd)
    return torch.cat([part[:n] for part, n in zip(parts, counts)])


def contrastive_loss(z: torch.Tensor, n_u: int, labels_l: torch.Tensor | None, temperature: float,
                     counts: tuple[list[int], list[int] | None] | None = None) -> torch.Tensor:
    """Eq. 2 for one step. `z`: this process's projections of [unlabeled view 1; view 2; labeled
    view 1; view 2], n_u unlabeled samples and the rest labeled (none when `labels_l` is None).
    `labels_l`: the labels of the whole labeled batch. `counts`: None in one process; else the
    (unlabeled, labeled) samples of every rank: the projections are all-gathered so the loss is
    the global batch's, the same on every rank."""
    zu = _as_bvd(z[:2 * n_u], n_u)
    if counts is not None:
        zu = _gather(zu, counts[0])
    loss = supcon_loss(zu, None, temperature)
    if labels_l is not None:
        zl = _as_bvd(z[2 * n_u:], (z.shape[0] - 2 * n_u) // 2)
        if counts is not None:
            zl = _gather(zl, counts[1])
        loss = loss + supcon_loss(zl, labels_l, temperature)
    return loss


def _batchnorms(model: torch.nn.Module) -> dict:
    return {name: type(m) for name, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}


def restore_batchnorm(model: torch.nn.Module, kinds: dict) -> None:
    """Undo SyncBatchNorm.convert_sync_batchnorm: the modules named in `kinds` get their original
    BatchNorm class back, with the same parameters and statistics."""
    for name, kind in kinds.items():
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        sync = getattr(parent, child_name)
        if type(sync) is kind:
            continue
        bn = kind(sync.num_features, sync.eps, sync.momentum, sync.affine, sync.track_running_stats)
        if sync.affine:
            bn.weight, bn.bias = sync.weight, sync.bias
        if sync.track_running_stats:
            bn.running_mean, bn.running_var = sync.running_mean, sync.running_var
            bn.num_batches_tracked = sync.num_batches_tracked
        bn.train(sync.training)
        setattr(parent, child_name, bn)


def data_parallel(rep: torch.nn.Module, device: torch.device):
    """`rep` in DistributedDataParallel (CUDA: with SyncBatchNorm) and the BatchNorm classes to
    restore after training."""
    from torch.nn.parallel import DistributedDataParallel

    kinds = _batchnorms(rep)
    if device.type == "cuda":
        rep = torch.nn.SyncBatchNorm.convert_sync_batchnorm(rep)
        index = device.index if device.index is not None else torch.cuda.current_device()
        return DistributedDataParallel(rep, device_ids=[index]), kinds
    if kinds:
        log("warning: BatchNorm statistics are per process on CPU (SyncBatchNorm needs CUDA): each rank normalises "
            "with its own share of the batch; rank 0's running statistics are kept")
    return DistributedDataParallel(rep), kinds


def _share_buffers(rep: torch.nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank, so all ranks hold the model that
    rank 0 saves (DDP broadcasts them before each forward, so the last step's stay per process)."""
    import torch.distributed as dist

    for buf in rep.buffers():
        dist.broadcast(buf, 0)


def _check_divisible(cfg, world: int, has_l: bool) -> None:
    for key in ("batch_size", "labeled_batch_size") if has_l else ("batch_size",):
        value = getattr(cfg, key)
        if value % world:
            raise ConfigError(f"contrastive.{key} = {value} is not divisible by the {world} torchrun processes "
                              f"(each takes an equal share of the global batch): set it to a multiple of {world} "
                              f"or start another number of processes (--nproc_per_node).")


def train_contrastive(rep, unlabeled_u8: np.ndarray, labeled_u8: np.ndarray | None,
                      labeled_y: np.ndarray | None, cfg, epochs: float, seed: int, stream: str,
                      label: str = "contrastive") -> dict:
    """Train `rep` in place for `epochs` passes over the unlabeled images. Returns a summary:
    steps, views seen (the global batches'), seconds, views/s, mean loss of the first and last
    tenth of the steps. Under torchrun every rank must call it with the same arguments."""
    world, rank = distributed.world_size(), distributed.rank()
    if world > 1:
        distributed.init()
    device = get_device()
    fmt = memory_format(rep)
    rep.to(device, memory_format=fmt).train()
    index_gen, view_gen = generators(seed, stream, rank, world)
    xu = torch.as_tensor(np.ascontiguousarray(unlabeled_u8))
    has_l = labeled_u8 is not None and len(labeled_u8) > 0
    xl = torch.as_tensor(np.ascontiguousarray(labeled_u8)) if has_l else None
    yl = torch.as_tensor(np.asarray(labeled_y), dtype=torch.long) if has_l else None
    steps = steps_for(epochs, len(xu), cfg.batch_size)
    summary = {"steps": steps, "views": 0, "seconds": 0.0, "views_per_s": None,
               "loss_first": None, "loss_last": None}
    if world > 1 and not distributed.same_on_all_ranks([len(xu), len(xl) if has_l else 0, steps, seed]):
        raise RuntimeError(f"{label}: the torchrun processes hold different pools or settings (pool sizes, steps, "
                           f"seed); every rank must train on the same data")
    if steps == 0:
        return summary
    if world > 1:
        _check_divisible(cfg, world, has_l)
    ub = _Batches(len(xu), cfg.batch_size, index_gen)
    lb = _Batches(len(xl), cfg.labeled_batch_size, index_gen) if has_l else None
    model, counts, kinds = rep, None, {}
    if world > 1:
        if ub.size < world:
            raise ConfigError(f"{label}: {ub.size} unlabeled images for {world} torchrun processes: every process "
                              f"needs at least one")
        model, kinds = data_parallel(rep, device)
        counts = (shares(ub.size, world), shares(lb.size, world) if has_l else None)
        mine_u = slice(sum(counts[0][:rank]), sum(counts[0][:rank + 1]))
        mine_l = slice(sum(counts[1][:rank]), sum(counts[1][:rank + 1])) if has_l else None
        log(f"{label}: rank {rank}/{world} ({distributed.backend()}, DistributedDataParallel): global batch "
            f"{ub.size} unlabeled{f' + {lb.size} labeled' if has_l else ''} images, {counts[0][rank]}"
            f"{f' + {counts[1][rank]}' if has_l else ''} on this process, its own augmentations")
    model = compiled.wrap(model)  # `compile: true`: TorchInductor kernels (src/core/compiled.py)
    opt = torch.optim.Adam(rep.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    # the losses stay on the device until a log point (one host sync per pass, not per step)
    loss_hist = torch.zeros(steps, dtype=torch.float32, device=device)
    views, t0, last_log = 0, time.perf_counter(), time.perf_counter()
    per_epoch = steps_for(1.0, len(xu), cfg.batch_size)
    for step in range(steps):
        iu = ub.next()
        own_u = iu if counts is None else iu[mine_u]
        parts = [two_views(xu[own_u], cfg, view_gen)]
        if has_l:
            il = lb.next()
            own_l = il if counts is None else il[mine_l]
            if len(own_l):  # torchrun: a labeled pool smaller than the processes leaves some without
                parts.append(two_views(xl[own_l], cfg, view_gen))
        x = to_device(torch.cat(parts), device, fmt)  # CUDA: pinned, non-blocking
        with precision.autocast(device):  # bf16: the network's products; the loss below stays fp32
            z = model(x)
        loss = contrastive_loss(z.float(), len(own_u), yl[il].to(device) if has_l else None, cfg.temperature, counts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_hist[step] = loss.detach()
        views += 2 * (len(iu) + (len(il) if has_l else 0))
        if (step + 1) % per_epoch == 0 or step == steps - 1:  # DVCLive: one point per pass (src/core/live.py)
            live.step(**{"contrastive/loss": np.mean(loss_hist[step - step % per_epoch:step + 1].tolist())})
        now = time.perf_counter()
        if now - last_log > 10 or step == steps - 1:
            log(f"{label}: step {step + 1}/{steps}, loss {np.mean(loss_hist[max(0, step - 19):step + 1].tolist()):.3f}, "
                f"{views / (now - t0):.0f} views/s")
            last_log = now
    if world > 1:
        del model  # drops DDP's gradient hooks from rep's parameters
        restore_batchnorm(rep, kinds)
        _share_buffers(rep)
    losses = loss_hist.tolist()
    tenth = max(1, steps // 10)
    secs = time.perf_counter() - t0
    summary.update(views=views, seconds=round(secs, 2), views_per_s=round(views / secs, 1),
                   loss_first=round(float(np.mean(losses[:tenth])), 4),
                   loss_last=round(float(np.mean(losses[-tenth:])), 4))
    rep.eval()
    return summary
