"""Which residual network DDU uses on a benchmark, chosen on the validation split:

    python -m src.report.ddu_network results/tuning-quick/ddu_network.md [--sizes 100 300] [--seed 0]

Trains each candidate (width, blocks) of DDU's spectral-norm residual classifier with the
benchmark's `classifier` recipe (params.yaml: the same schedule as the baselines) on n random iD
samples of the pool, n = the stage-0 size and the stopping-rule size, and writes its accuracy on
the validation split (never the test set) beside the baselines' own network and training seconds.
The control row with `coeff` 1e9 never binds the singular values: it shows what spectral
normalisation itself changes. Every candidate is the network `ddu.mod` of `--params` picks (DDU's
`-mod` one when true), so a params file with `mod: true` gives the table to set it against.

    python -m src.report.ddu_network results/tuning-quick/ddu_mod_mixmnist.md --compare-mod --seeds 0 1 2

instead trains only the network in use (`ddu.width`, `blocks`, `coeff`) both ways, `mod` false and
true, with each seed (its own random iD draw and initialisation), and writes each pair's validation
accuracy, its paired difference and the largest singular value after training (the `ddu.mod` choice).
Needs the pool and validation split (`dvc repro build_pool`).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from src.core import config, paths
from src.core.io import load_npz, save_text
from src.core.log import log
from src.core.seeding import rng

CANDIDATES = [(8, [1, 1, 1, 1], None), (8, [1, 1, 1, 1], 1e9), (16, [1, 1], None), (16, [1, 1, 1], None),
              (16, [1, 1, 1, 1], None), (32, [1, 1], None), (32, [1, 1, 1], None)]


def main(argv=None) -> int:
    from src.models.nets import make_ddu_classifier
    from src.models.supervised import accuracy, predict_probs, train_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="Markdown file to write")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="labeled iD samples (default: active.init_id and active.target_id)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-mod", action="store_true",
                        help="train the network in use with ddu.mod false and true (see the docstring)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="with --compare-mod")
    args = parser.parse_args(argv)
    p = config.load(args.params)
    sizes = args.sizes or [p.active.init_id, p.active.target_id]
    pool = load_npz(paths.POOL_NPZ, keys=("images", "category", "label"))
    val = load_npz(paths.VAL_NPZ, keys=("images", "labels"))
    if not len(val["labels"]):
        print(f"error: {paths.VAL_NPZ} is empty (pool.n_val = 0): nothing to choose on.", file=sys.stderr)
        return 2
    k1 = p.active.num_classes + 1
    in_channels = 1 if pool["images"].ndim == 3 else 3
    id_rows = np.flatnonzero(pool["category"] == 0)
    if args.compare_mod:
        return compare_mod(args, p, pool, val, sizes, k1, in_channels, id_rows)
    rows = []
    for n in sizes:
        idx = np.sort(rng(args.seed, f"ddu-network-{n}").choice(id_rows, n, replace=False))
        x, y = pool["images"][idx], pool["label"][idx].astype(np.int64)
        nets = [(f"baselines' network ({p.classifier.arch}, width {p.classifier.width})", None)]
        nets += [(f"DDU{' -mod' if p.ddu.mod else ''} width {w}, blocks {b}, coeff {c or p.ddu.coeff:g}",
                  (w, b, c or p.ddu.coeff))
                 for w, b, c in CANDIDATES]
        for name, spec in nets:
            t0 = time.perf_counter()
            make = None if spec is None else (
                lambda s=spec: make_ddu_classifier(k1, s[0], s[1], in_channels, s[2], p.ddu.power_iterations,
                                                   p.ddu.mod))
            model = train_classifier(x, y, p.classifier, k1, args.seed, "ddu-network-train", make_model=make)
            seconds = time.perf_counter() - t0
            acc = accuracy(predict_probs(model, val["images"], p.classifier.eval_batch_size), val["labels"])
            rows.append((n, name, acc, seconds))
            log(f"n={n} {name}: validation accuracy {acc:.4f} ({seconds:.1f}s)")
    lines = [f"# DDU's network on `{p.benchmark}`, chosen on the validation split",
             "", f"`python -m src.report.ddu_network {args.out}` with `{args.params}` (benchmark {p.benchmark}, "
             f"classifier recipe: {p.classifier.optimizer}, lr {p.classifier.lr:g}, {p.classifier.epochs} epochs, "
             f"batch {p.classifier.batch_size}); {len(val['labels'])} validation images; seed {args.seed}. "
             f"Training seconds on the machine that ran it.", "",
             "| labeled iD | network | validation accuracy | training s |", "|---|---|---|---|"]
    lines += [f"| {n} | {name} | {acc:.4f} | {s:.1f} |" for n, name, acc, s in rows]
    lines += ["", f"In use (`ddu` in {args.params}): width {p.ddu.width}, blocks {p.ddu.blocks}, "
              f"coeff {p.ddu.coeff:g}, mod {str(p.ddu.mod).lower()}."]
    save_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def compare_mod(args, p, pool, val, sizes, k1, in_channels, id_rows) -> int:
    """`--compare-mod`: the network in use, ddu.mod false against true, seed by seed."""
    from src.models.nets import make_ddu_classifier
    from src.models.spectral import largest_singular_values
    from src.models.supervised import accuracy, predict_probs, train_classifier

    d = p.ddu
    rows = []  # (n, seed, {mod: (accuracy, max sigma, seconds)})
    for n in sizes:
        for seed in args.seeds:
            idx = np.sort(rng(seed, f"ddu-network-{n}").choice(id_rows, n, replace=False))
            x, y = pool["images"][idx], pool["label"][idx].astype(np.int64)
            got = {}
            for mod in (False, True):
                t0 = time.perf_counter()
                model = train_classifier(
                    x, y, p.classifier, k1, seed, "ddu-network-train",
                    make_model=lambda m=mod: make_ddu_classifier(k1, d.width, d.blocks, in_channels, d.coeff,
                                                                 d.power_iterations, m))
                seconds = time.perf_counter() - t0
                acc = accuracy(predict_probs(model, val["images"], p.classifier.eval_batch_size), val["labels"])
                got[mod] = (acc, max(largest_singular_values(model)), seconds)
                log(f"n={n} seed {seed} mod {str(mod).lower()}: validation accuracy {acc:.4f}, "
                    f"max sigma {got[mod][1]:.3f} ({seconds:.1f}s)")
            rows.append((n, seed, got))
    lines = [f"# `ddu.mod` on `{p.benchmark}`, chosen on the validation split",
             "", f"`python -m src.report.ddu_network {args.out} --compare-mod --seeds "
             f"{' '.join(map(str, args.seeds))}` with `{args.params}`: DDU's network in use (width {d.width}, "
             f"blocks {d.blocks}, coeff {d.coeff:g}) trained with the classifier recipe ({p.classifier.optimizer}, "
             f"lr {p.classifier.lr:g}, {p.classifier.epochs} epochs, batch {p.classifier.batch_size}) on n random "
             f"labeled iD, plain (`mod: false`: ReLU, 1x1-convolution shortcuts) and DDU's `-mod` (`mod: true`: "
             f"leaky ReLU, average-pool shortcuts); the same draw and seed for both. {len(val['labels'])} "
             f"validation images; the test set is not read. Max sigma: the largest singular value of any "
             f"normalised layer after training (bound: coeff). Seconds on the machine that ran it.", "",
             "| labeled iD | seed | accuracy, plain | accuracy, -mod | -mod − plain (points) "
             "| max sigma plain / -mod | training s plain / -mod |", "|---|---|---|---|---|---|---|"]
    for n, seed, g in rows:
        lines.append(f"| {n} | {seed} | {g[False][0]:.4f} | {g[True][0]:.4f} | {100 * (g[True][0] - g[False][0]):+.2f} "
                     f"| {g[False][1]:.3f} / {g[True][1]:.3f} | {g[False][2]:.1f} / {g[True][2]:.1f} |")
    lines += ["", "| labeled iD | mean accuracy, plain | mean accuracy, -mod | mean paired difference (points) "
              "| seeds where -mod is better |", "|---|---|---|---|---|"]
    for n in sizes:
        mine = [g for m, _, g in rows if m == n]
        diffs = [100 * (g[True][0] - g[False][0]) for g in mine]
        lines.append(f"| {n} | {np.mean([g[False][0] for g in mine]):.4f} | {np.mean([g[True][0] for g in mine]):.4f} "
                     f"| {np.mean(diffs):+.2f} | {sum(x > 0 for x in diffs)} of {len(diffs)} |")
    lines += ["", f"In use (`ddu.mod` in {args.params}): {str(d.mod).lower()}."]
    save_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
