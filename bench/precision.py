"""fp32 against bf16 (src/core/precision.py) on this machine: the contrastive step and the classifier
step of every encoder the profiles use, in one run, beside the machine's matmul peaks.

    python -m bench.precision                 # -> results/precision/precision.{json,md}
    python -m bench.precision --quick         # fewer steps (CI: the path runs; numbers are noisy)

Each network is timed through the project's own code (src.contrastive.train.train_contrastive and
src.models.supervised.train_classifier: augmentation, forward, loss, backward, Adam/SGD), first in
fp32 - today's arithmetic exactly, no autocast - then in bf16 (autocast), then in bf16 with
`compile: true` (torch.compile, src/core/compiled.py), after one warm-up call each (timed apart: with
compile it is mostly compiling, a cost every training call pays once). Work per view (forward + backward FLOPs, torch.utils.flop_counter) turns views/s into
GFLOP/s and into a share of the fp32 and bf16 matmul peaks measured in the same process (a 2048^2
matrix product). The augmentation's own rate shows the share of a contrastive step that no
precision changes (the views are made on the CPU in fp32). Nothing is asserted: ratios belong here, not in the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from src.core import compiled, config, precision
from src.core.log import log

OUT = Path("results/precision")
# (name, profile whose sections it takes, contrastive/classifier overrides)
NETWORKS = [
    ("convnet w8 (MixMNIST quick)", "params.yaml", {"width": 8}),
    ("convnet w16", "params.yaml", {"width": 16}),
    ("convnet w32 (MixMNIST paper)", "params.yaml", {"width": 32}),
    ("resnet w8 [1,1,1,1] (stand-in quick)", "configs/quick-standin.yaml", {}),
    ("resnet w16 [1,1,1,1]", "configs/quick-standin.yaml", {"width": 16}),
]


# (column, precision, compile): fp32 eager is today's code exactly
VARIANTS = [("fp32", "fp32", False), ("bf16", "bf16", False), ("bf16+compile", "bf16", True)]


def matmul_peak(dtype, n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an n x n matrix product in `dtype` (best of `reps`)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def images(shape, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def flops_per_view(model: torch.nn.Module, shape) -> float:
    """Forward + backward FLOPs of one image (fp32 count; bf16 does the same work)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(8, *shape)
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 8


def contrastive_rate(cfg, data: np.ndarray, steps: int) -> tuple[float, float]:
    """Views/s of `steps` contrastive steps (unlabeled batch + labeled batch, as a round), and the
    seconds of the one-step warm-up call (with `compile: true`, mostly compiling)."""
    from src.contrastive.train import train_contrastive
    from src.models.representation import new_representation

    labeled = data[: cfg.labeled_batch_size * 2]
    y = np.arange(len(labeled)) % 11
    rep = new_representation(cfg, "bench")
    warm = _timed(lambda: train_contrastive(rep, data[: cfg.batch_size], labeled, y, cfg, 1.0, 0, "bench"))
    epochs = steps * cfg.batch_size / len(data)
    s = train_contrastive(rep, data, labeled, y, cfg, epochs, 0, "bench")
    return s["views"] / s["seconds"], warm


def augmentation_rate(cfg, data: np.ndarray, steps: int) -> float:
    """Views/s of the augmentation alone (two views of a batch: what no precision changes)."""
    from src.contrastive.train import two_views
    from src.core.seeding import torch_generator

    gen, x = torch_generator(0, "bench"), torch.as_tensor(data[: cfg.batch_size])
    two_views(x, cfg, gen)
    t = time.perf_counter()
    for _ in range(steps):
        two_views(x, cfg, gen)
    return 2 * len(x) * steps / (time.perf_counter() - t)


def classifier_rate(cfg, data: np.ndarray, steps: int) -> tuple[float, float]:
    """Images/s of one classifier epoch of `steps` batches, and the seconds of the one-batch warm-up."""
    from src.models.supervised import train_classifier

    n = min(len(data), steps * cfg.batch_size)
    y = np.arange(n) % 11
    one = replace(cfg, epochs=1, milestones=[])
    warm = _timed(lambda: train_classifier(data[: cfg.batch_size], y[: cfg.batch_size], one, 11, 0, "bench"))
    return n / _timed(lambda: train_classifier(data[:n], y, one, 11, 0, "bench")), warm


def measure(name: str, profile: str, overrides: dict, steps: int) -> dict:
    from src.models.representation import new_representation
    from src.models.nets import make_classifier

    p = config.load(profile)
    ccfg = replace(p.contrastive, **overrides)
    kcfg = replace(p.classifier, **overrides)
    shape = (3, 32, 32) if ccfg.arch == "resnet" else (1, 28, 28)
    data = images((32, 32, 3) if ccfg.arch == "resnet" else (28, 28), max(4 * ccfg.batch_size, 2048))
    rep_flops = flops_per_view(new_representation(ccfg, "bench").train(), shape)
    clf_flops = flops_per_view(make_classifier(kcfg.arch, 11, kcfg.width, kcfg.blocks).train(), shape)
    row = {"network": name, "arch": ccfg.arch, "width": ccfg.width, "blocks": ccfg.blocks,
           "contrastive_batch": ccfg.batch_size, "classifier_batch": kcfg.batch_size,
           "mflop_per_view": {"contrastive": round(rep_flops / 1e6, 3), "classifier": round(clf_flops / 1e6, 3)}}
    for which, prec, compile_ in VARIANTS:
        precision.use(prec)
        compiled.use(compile_)
        (c, c_warm), (k, k_warm) = contrastive_rate(ccfg, data, steps), classifier_rate(kcfg, data, steps * 4)
        row[which] = {"contrastive_views_per_s": round(c, 1), "classifier_images_per_s": round(k, 1),
                      "contrastive_gflops": round(c * rep_flops / 1e9, 2),
                      "classifier_gflops": round(k * clf_flops / 1e9, 2),
                      "contrastive_first_call_s": round(c_warm, 2), "classifier_first_call_s": round(k_warm, 2)}
        log(f"{name} {which}: contrastive {c:.0f} views/s, classifier {k:.0f} images/s "
            f"(first calls {c_warm:.1f} s, {k_warm:.1f} s)")
    precision.use("fp32")
    compiled.use(False)
    aug = augmentation_rate(ccfg, data, steps)
    row["augmentation_views_per_s"] = round(aug, 1)
    row["augmentation_share_of_fp32_step"] = round(row["fp32"]["contrastive_views_per_s"] / aug, 3)
    for which in ("bf16", "bf16+compile"):
        row[f"{which}_over_fp32"] = {k: round(row[which][f"{k}_{u}"] / row["fp32"][f"{k}_{u}"], 2)
                                     for k, u in (("contrastive", "views_per_s"), ("classifier", "images_per_s"))}
    return row


def render(result: dict) -> str:
    peaks = result["peaks_gflops"]
    lines = [
        "# fp32 against bf16 on this machine (`python -m bench.precision`)", "",
        f"Machine: {result['machine']}; {result['threads']} threads; bf16 flags: "
        f"{', '.join(result['bf16_flags']) or 'none'}; torch {result['torch']}.",
        f"Matmul peaks measured in the same run (2048^2 product): fp32 {peaks['fp32']:.0f} GFLOP/s, "
        f"bf16 {peaks['bf16']:.0f} GFLOP/s ({peaks['bf16'] / peaks['fp32']:.2f}x).",
        "fp32 is today's code path exactly (no autocast: the quick profiles' results are unchanged); bf16 is "
        "`precision: bf16` (autocast; losses, softmax and optimizer state in fp32); bf16+compile adds `compile: true` "
        "(torch.compile of the training step's network, src/core/compiled.py; 'compile s' is its one-batch first call, "
        "mostly compiling from a cold cache: a first run pays it per training call, later processes reuse the "
        "compiled kernels on disk).", "",
        "| network | step | fp32 | bf16 | bf16+compile | bf16 / fp32 | bf16+compile / fp32 | compile s | "
        "fp32 % of fp32 peak | bf16 % of bf16 peak | bf16+compile % of bf16 peak | augmentation share of the fp32 step |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        aug = {"contrastive": f"{100 * r['augmentation_share_of_fp32_step']:.0f} %", "classifier": "-"}
        for step, unit in (("contrastive", "views/s"), ("classifier", "images/s")):
            key = f"{step}_{'views' if step == 'contrastive' else 'images'}_per_s"
            g32, g16, gc = (r[v][f"{step}_gflops"] for v in ("fp32", "bf16", "bf16+compile"))
            lines.append(f"| {r['network']} | {step} (batch {r[f'{step}_batch']}) | {r['fp32'][key]:,.0f} {unit} | "
                         f"{r['bf16'][key]:,.0f} | {r['bf16+compile'][key]:,.0f} | {r['bf16_over_fp32'][step]:.2f}x | "
                         f"{r['bf16+compile_over_fp32'][step]:.2f}x | {r['bf16+compile'][f'{step}_first_call_s']:.0f} | "
                         f"{100 * g32 / peaks['fp32']:.0f} % | {100 * g16 / peaks['bf16']:.0f} % | "
                         f"{100 * gc / peaks['bf16']:.0f} % | {aug[step]} |")
    lines += ["", f"{result['steps']} contrastive steps and {4 * result['steps']} classifier batches per cell, after "
              f"a warm-up call; {result['seconds']:.0f} s in all. One run: the ratios are the evidence, the absolute "
              f"rates move with the machine's load."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, and no files written")
    parser.add_argument("--steps", type=int, default=12, help="contrastive steps per cell (classifier: 4x)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    steps = 2 if args.quick else args.steps
    # compile seconds from a cold cache, as a first run pays them (later processes reuse the cache on disk)
    cache = os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-inductor-")
    t0 = time.perf_counter()
    peaks = {"fp32": round(matmul_peak(torch.float32), 1), "bf16": round(matmul_peak(torch.bfloat16), 1)}
    log(f"matmul peaks: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")
    nets = NETWORKS[:1] + NETWORKS[3:4] if args.quick else NETWORKS
    try:
        rows = [measure(name, profile, overrides, steps) for name, profile, overrides in nets]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    result = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "cpus": os.cpu_count(), "bf16_flags": precision.cpu_bf16_flags(), "torch": torch.__version__,
              "peaks_gflops": peaks, "steps": steps, "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
    text = render(result)
    print(text)
    if not args.quick:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "precision.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / "precision.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
