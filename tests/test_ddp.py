"""Data-parallel contrastive training (torchrun, src/core/distributed.py): 2 CPU processes, gloo.

The processes are started with torch.multiprocessing (a file:// rendezvous in tmp_path) or, end to
end, with the venv's torchrun; each writes what it computed to tmp_path and the test compares it
with one process on the same global batch."""
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import yaml

from src.contrastive.train import (contrastive_loss, data_parallel, generators, restore_batchnorm, shares,
                                   train_contrastive, two_views)
from src.core import distributed
from src.core.errors import ConfigError
from src.models.representation import RepresentationModel, load_representation, save_representation
from tests.conftest import ROOT, synthetic_digits, tiny_params

WORLD = 2
TEMPERATURE = 0.2
LR, WD = 1e-3, 1e-4  # Adam as train_contrastive makes it


def cfg(**kw):
    base = dict(batch_size=16, labeled_batch_size=4, lr=LR, weight_decay=WD, temperature=TEMPERATURE,
                rotation=15.0, shear=10.0, scale=[0.85, 1.15], translate=0.0, augment="affine")
    return types.SimpleNamespace(**{**base, **kw})


def fresh() -> RepresentationModel:
    torch.manual_seed(0)
    return RepresentationModel(width=4, proj_dim=8)


# ---------------------------------------------------------------- process harness
def _worker(rank: int, fn, tmp: Path, args) -> None:
    os.environ.update(WORLD_SIZE=str(WORLD), RANK=str(rank), LOCAL_RANK=str(rank), MIXAL_DEVICE="cpu")
    torch.set_num_threads(1)
    assert distributed.init(f"file://{tmp / 'rendezvous'}") and distributed.backend() == "gloo"
    try:
        fn(rank, tmp, *args)
        distributed.barrier()
    finally:
        distributed.destroy()


def spawn(fn, tmp: Path, *args) -> None:
    mp.spawn(_worker, args=(fn, tmp, args), nprocs=WORLD, join=True)


# ---------------------------------------------------------------- one step: loss, gradient, weights
CASES = {  # (unlabeled, labeled) samples of the global batch; 7 and 5 split unevenly (4 + 3, 3 + 2)
    "unlabeled": (8, 0),
    "both": (8, 6),
    "uneven": (7, 5),
}


def _global_views(tmp: Path) -> dict:
    """Precomputed views of every case's global batch: [view 1; view 2] per part, and the labels."""
    images, labels = synthetic_digits(20, 4)
    g = torch.Generator().manual_seed(0)
    out = {}
    for name, (nu, nl) in CASES.items():
        out[name] = {"u": two_views(torch.as_tensor(images[:nu]), cfg(), g),
                     "l": two_views(torch.as_tensor(images[nu:nu + nl]), cfg(), g) if nl else None,
                     "y": torch.as_tensor(labels[nu:nu + nl] % 3, dtype=torch.long) if nl else None}
    torch.save(out, tmp / "views.pt")
    return out


def _rows(views: torch.Tensor, part: slice) -> torch.Tensor:
    """Rows of the samples `part` from [view 1; view 2] of a batch, in the same layout."""
    b = len(views) // 2
    return torch.cat([views[:b][part], views[b:][part]])


def _own(n: int, rank: int) -> slice:
    counts = shares(n, WORLD)
    return slice(sum(counts[:rank]), sum(counts[:rank + 1]))


def _one_step_worker(rank: int, tmp: Path) -> None:
    cases = torch.load(tmp / "views.pt")
    result = {}
    for name, (nu, nl) in CASES.items():
        v = cases[name]
        parts = [_rows(v["u"], _own(nu, rank))] + ([_rows(v["l"], _own(nl, rank))] if nl else [])
        x = torch.cat(parts)
        for gathered in (True, False):  # False: each rank's own loss only (what the gather is for)
            rep = fresh()
            model, _ = data_parallel(rep, torch.device("cpu"))
            opt = torch.optim.Adam(rep.parameters(), lr=LR, weight_decay=WD)
            counts = (shares(nu, WORLD), shares(nl, WORLD) if nl else None)
            y = v["y"] if gathered else (v["y"][_own(nl, rank)] if nl else None)
            loss = contrastive_loss(model(x), shares(nu, WORLD)[rank], y, TEMPERATURE, counts if gathered else None)
            opt.zero_grad()
            loss.backward()
            grads = [p.grad.detach().clone() for p in rep.parameters()]
            opt.step()
            del model
            key = name if gathered else f"{name}-local"
            result[key] = {"loss": loss.detach(), "grads": grads,
                           "weights": [p.detach().clone() for p in rep.parameters()]}
            if rank == 0 and gathered:
                save_representation(tmp / f"{name}-rank0.pt", rep)
    torch.save(result, tmp / f"step-rank{rank}.pt")


def _reference(v: dict, nu: int, nl: int):
    """One process on the whole global batch, as train_contrastive runs it (counts None)."""
    rep = fresh()
    opt = torch.optim.Adam(rep.parameters(), lr=LR, weight_decay=WD)
    x = torch.cat([v["u"]] + ([v["l"]] if nl else []))
    loss = contrastive_loss(rep(x), nu, v["y"], TEMPERATURE)
    opt.zero_grad()
    loss.backward()
    grads = [p.grad.detach().clone() for p in rep.parameters()]
    opt.step()
    return loss.detach(), grads, [p.detach().clone() for p in rep.parameters()]


def close(a, b) -> bool:
    return all(torch.allclose(x, y, atol=1e-6, rtol=1e-5) for x, y in zip(a, b))


def test_one_step_equals_one_process_on_the_global_batch(tmp_path):
    cases = _global_views(tmp_path)
    spawn(_one_step_worker, tmp_path)
    ranks = [torch.load(tmp_path / f"step-rank{r}.pt") for r in range(WORLD)]
    for name, (nu, nl) in CASES.items():
        loss, grads, weights = _reference(cases[name], nu, nl)
        for r, got in enumerate(ranks):
            assert torch.allclose(got[name]["loss"], loss, atol=1e-6, rtol=1e-5), (name, r)
            assert close(got[name]["grads"], grads), (name, r)  # all_gather sums, DDP averages: the 1-process gradient
            assert close(got[name]["weights"], weights), (name, r)
            assert not close(got[f"{name}-local"]["grads"], grads), (name, r)  # without the gather it differs
        for a, b in zip(ranks[0][name]["weights"], ranks[1][name]["weights"]):
            assert torch.equal(a, b)  # every rank holds the same weights
        saved = load_representation(tmp_path / f"{name}-rank0.pt")
        assert close([p.detach() for p in saved.parameters()], weights)
        assert not close(weights, [p.detach() for p in fresh().parameters()])  # the step moved them


# ---------------------------------------------------------------- train_contrastive with 2 processes
def _train_worker(rank: int, tmp: Path) -> None:
    images, labels = synthetic_digits(40, 5)
    rep = fresh()
    summary = train_contrastive(rep, images[3:], images[:3], labels[:3].astype(np.int64), cfg(), 1.0, 0, "r01")
    assert type(rep) is RepresentationModel and not rep.training  # unwrapped, as callers expect
    summary.pop("seconds"), summary.pop("views_per_s")
    one = fresh()  # a labeled pool of 1: rank 1's labeled share is empty
    train_contrastive(one, images[1:], images[:1], labels[:1].astype(np.int64), cfg(), 0.5, 0, "r02")
    g = np.random.default_rng(0)  # the resnet (BatchNorm: per process on CPU) with SimCLR's views
    torch.manual_seed(2)
    resnet = RepresentationModel(4, 8, "resnet", (1, 1, 1, 1))
    cif = g.integers(0, 256, (20, 32, 32, 3)).astype(np.uint8)
    train_contrastive(resnet, cif[4:], cif[:4], np.arange(4) % 2, cfg(augment="simclr", batch_size=8), 0.5, 0, "t")
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in resnet.modules())
    errors = []
    for key, value in (("batch_size", 15), ("labeled_batch_size", 3)):
        try:
            train_contrastive(fresh(), images[3:], images[:3], labels[:3].astype(np.int64), cfg(**{key: value}),
                              1.0, 0, "r01")
        except ConfigError as exc:
            errors.append(str(exc))
    torch.save({"state": rep.state_dict(), "summary": summary, "errors": errors, "one": one.state_dict(),
                "resnet": resnet.state_dict()}, tmp / f"train-rank{rank}.pt")


def test_train_contrastive_two_processes(tmp_path):
    spawn(_train_worker, tmp_path)
    ranks = [torch.load(tmp_path / f"train-rank{r}.pt") for r in range(WORLD)]
    a, b = ranks
    for key in ("state", "one", "resnet"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key  # the ranks stay in step
    assert any("running_mean" in k for k in a["resnet"])  # BatchNorm statistics too: rank 0's on every rank
    assert not all(torch.equal(a["state"][k], v) for k, v in fresh().state_dict().items())
    # 37 unlabeled, batch 16: 3 steps of 16 + 3 labeled (split 2 + 1) images, two views each, counted globally
    assert a["summary"] == b["summary"] and a["summary"]["steps"] == 3 and a["summary"]["views"] == 3 * 2 * (16 + 3)
    assert np.isfinite(a["summary"]["loss_last"])
    for got in ranks:
        assert len(got["errors"]) == 2
        assert "contrastive.batch_size = 15" in got["errors"][0] and "2 torchrun processes" in got["errors"][0]
        assert "contrastive.labeled_batch_size = 3" in got["errors"][1]


# ---------------------------------------------------------------- torchrun -m stages.pretrain
SITECUSTOMIZE = '''
import os, sys
_log, _root = os.environ["DDP_TEST_WRITES"], os.path.realpath(os.getcwd())
_rank = os.environ.get("RANK", "launcher")
def _hook(event, args):
    if event == "open" and isinstance(args[0], str) and isinstance(args[1], str) and set(args[1]) & set("wax+"):
        path = args[0]
    elif event == "os.rename":
        path = args[1]
    else:
        return
    path = os.path.realpath(os.fsdecode(path))
    if path.startswith(_root + os.sep) and "__pycache__" not in path:
        with open(os.path.join(_log, f"writes-{_rank}.txt"), "a") as fh:
            fh.write(os.path.relpath(path, _root) + "\\n")
sys.addaudithook(_hook)
'''


def test_torchrun_pretrain_only_rank0_writes(tmp_path):
    project, shim, writes = tmp_path / "project", tmp_path / "shim", tmp_path / "writes"
    for d in (project / "data" / "prepared", shim, writes):
        d.mkdir(parents=True)
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params()))  # contrastive batch 64, 1 epoch
    np.savez_compressed(project / "data" / "prepared" / "pool.npz", images=synthetic_digits(128, 5)[0])
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)  # records each process's writes in the project
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT)]), "DDP_TEST_WRITES": str(writes),
           "MIXAL_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(key, None)
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", str(WORLD), "-m", "stages.pretrain"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("rank 0/2") == 1 and "rank 1/2" not in done.stderr
    assert done.stderr.count("pretrain: step 2/2") == 1  # rank 1 is quiet
    metrics = json.loads((project / "metrics" / "pretrain.json").read_text())
    assert metrics["steps"] == 2 and metrics["views"] == 2 * 2 * 64  # the global batch's views
    rep = load_representation(project / "models" / "pretrain.pt")
    assert (rep.width, rep.proj_dim) == (4, 8)
    rank0 = set((writes / "writes-0.txt").read_text().split())
    assert {"models/pretrain.pt", "metrics/pretrain.json"} <= rank0
    assert not (writes / "writes-1.txt").exists()  # rank 1 wrote nothing in the project
    assert sorted(p.name for p in (project / "models").iterdir()) == ["pretrain.pt"]  # no partial files left


# ---------------------------------------------------------------- in-process parts
def test_generators_shares_and_one_process_defaults(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.init() is False and distributed.backend() is None
    distributed.barrier()  # returns at once
    index, view = generators(0, "r01")
    assert index is view  # one process: the single stream, as before
    draws = []
    for rank in range(WORLD):
        index, view = generators(0, "r01", rank, WORLD)
        assert index is not view
        draws.append((torch.randperm(50, generator=index), torch.rand(5, generator=view)))
    assert torch.equal(draws[0][0], draws[1][0])  # the same global batches on every rank
    assert not torch.equal(draws[0][1], draws[1][1])  # each rank its own augmentations
    assert shares(16, 2) == [8, 8] and shares(5, 2) == [3, 2] and shares(1, 2) == [1, 0]


def test_environment_errors_and_quiet_ranks(monkeypatch, capsys):
    from src.core.log import log

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ConfigError, match="RANK is not set"):
        distributed.init()
    monkeypatch.setenv("RANK", "1")
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (2, 1, False)
    log("from rank 1")
    monkeypatch.setenv("RANK", "0")
    log("from rank 0")
    err = capsys.readouterr().err
    assert "from rank 0" in err and "from rank 1" not in err


def test_sync_batchnorm_is_undone():
    rep = RepresentationModel(width=4, proj_dim=8, arch="resnet", blocks=(1, 1, 1, 1))
    before = {k: v.clone() for k, v in rep.state_dict().items()}
    kinds = {name: type(m) for name, m in rep.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert kinds
    torch.nn.SyncBatchNorm.convert_sync_batchnorm(rep)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in rep.modules())
    restore_batchnorm(rep, kinds)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in rep.modules())
    assert {name: type(m) for name, m in rep.named_modules() if name in kinds} == kinds
    after = rep.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
