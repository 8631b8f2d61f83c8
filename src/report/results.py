"""A results folder's Table 2 and Figure 4, from its committed per-run files:

    python -m src.report.results results/mixmnist-quick

<folder>/runs/<strategy>-s<seed>/ holds summary.json, curve.csv and params.yaml of one run
(written by src/report/grid.py). This writes <folder>/table2.md (mean +- std over seeds, the
paper's numbers beside, labelled as the paper's), <folder>/figure4.png (mean curve per strategy
with a +- std band, the stopping point marked) and <folder>/targets.md (the method-quality target
checked seed by seed). Runs are grouped by strategy and by every other
param, so different settings are never averaged together.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from src.core.config import read_yaml
from src.core.errors import DataError
from src.core.io import save_figure, save_text, stage_outputs
from src.report.budget import accuracy_at
from src.report.table2_rows import (AT_THE_STOP, ID_PRECISION, PAPER_MIXCIFAR60, PAPER_MIXMNIST, REQUIRED, mean_std,
                                    display_name, ordered, paper_rows, setting_of, table_lines)

PAPER_NOTE = {"MixMNIST": "MixMNIST: 93,724-image pool, full-size models",
              "MixCIFAR60": "MixCIFAR60: 60,000-image pool, ResNet-18, 2,000 iD per round up to 20,000; the "
                            "stand-in is another pool at another scale, so compare shapes, not numbers"}
BENCHMARK_TITLES = {"mixmnist": "MixMNIST", "mixcifar60": "MixCIFAR60",
                    "standin": "natural-image stand-in, not MixCIFAR60"}

TABLE = "table2.md"
SUMMARY_KEYS = (*REQUIRED, "rounds")  # Table 2's columns and the chain length
FIGURE = "figure4.png"
TARGETS = "targets.md"
TIMING = "timing.md"
WORK = ("seconds_kmeans", "seconds_select", "seconds_annotate", "seconds_representation", "seconds_train",
        "seconds_score_pool", "seconds_test")


def run_dir(out: Path, strategy: str, seed: int) -> Path:
    """Where the grid (src/report/grid.py) and src/report/collect.py put one run of a results folder."""
    return out / "runs" / f"{strategy}-s{seed}"


def load_runs(folder: Path) -> list[dict]:
    """Every run of the folder: {name, strategy, seed, setting, summary, curve, params}."""
    runs = []
    for d in sorted((folder / "runs").glob("*/")):
        try:
            params = read_yaml((d / "params.yaml").read_text(), d / "params.yaml")
            summary = json.loads((d / "summary.json").read_text())
            with open(d / "curve.csv") as fh:
                curve = [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                         for row in csv.DictReader(fh)]
        except (FileNotFoundError, json.JSONDecodeError) as exc:
            raise DataError(f"{d}: incomplete or unreadable run ({exc}); rerun the grid command to redo it, "
                            f"or delete the folder.") from None
        absent = [k for k in SUMMARY_KEYS if k not in summary] + [k for k in ("strategy", "seed") if k not in params]
        if absent:
            raise DataError(f"{d}: the run lacks {', '.join(absent)} (summary.json / params.yaml from an older "
                            f"version?); rerun the grid command to redo it, or delete the folder.")
        runs.append({"name": d.name, "strategy": params["strategy"], "seed": params["seed"],
                     "setting": setting_of(params), "summary": summary, "curve": curve, "params": params})
    if not runs:
        raise DataError(f"{folder}/runs: no runs. Make them with `python -m src.report.grid {folder}`.")
    return runs


def groups(runs: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        out.setdefault((r["strategy"], r["setting"]), []).append(r)
    return ordered(out)


def table(runs: list[dict]) -> str:
    """Table 2 of the folder (src/report/table2_rows.py builds it), with budgets, AUC and the
    stopping rule's outcome beside the paper's numbers, and the notes that say what they mean."""
    g = groups(runs)
    first = next(iter(g.values()))[0]["summary"]
    budgets = [k for k in first if k.startswith("acc_at_")]
    paper, paper_name = paper_rows(runs[0]["params"].get("benchmark"))
    summary = lambda r: r["summary"]  # noqa: E731
    columns = [("seeds", lambda rs: ",".join(str(r["seed"]) for r in rs)),
               *(mean_std(*column, summary) for column in AT_THE_STOP),
               *(mean_std(f"Acc. @ {k[7:]}", k, 2, summary) for k in budgets),
               mean_std("AUC log-cost", "auc_log_cost", 2, summary), mean_std(*ID_PRECISION, summary),
               ("target reached", lambda rs: f"{sum(bool(r['summary'].get('target_reached')) for r in rs)}/{len(rs)}")]
    lines = table_lines(g, columns, lambda rs: paper)
    p = runs[0]["params"]
    notes = [
        "",
        f"Ours: mean ± sample std over the seeds listed (`seed` = the active-learning seed; the data "
        f"stages and the contrastive pretraining have their own fixed seeds). Acc. and Cost at the first "
        f"state with {p['active']['target_id']} labeled iD (`active.target_id`, the paper's stopping rule). "
        f"Acc. @ B: test accuracy at annotation budget B, linear in log cost between states, the final "
        f"accuracy after the stop; AUC log-cost: mean accuracy over log cost in "
        f"[{p['report']['auc_range'][0]}, {p['report']['auc_range'][1]}]. "
        f"Columns headed *paper* are the paper's Table 2 ({PAPER_NOTE[paper_name]}), not ours; `-` there: "
        f"the paper has no such row (LfOSA and EAOA are not in the paper at all; our own comparison).",
    ]
    return "\n".join(lines + notes) + "\n"


def mean_curve(rs: list[dict], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over runs of accuracy at each budget of `grid` (NaN where a run has no model yet)."""
    vals = np.array([[np.nan if (a := accuracy_at([c["cost"] for c in r["curve"]], [c["accuracy"] for c in r["curve"]],
                                                   b)) is None else a for b in grid] for r in rs], dtype=float)
    ok = ~np.isnan(vals).any(0)  # only budgets every seed can afford
    mean, std = np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    mean[ok] = vals[:, ok].mean(0)
    std[ok] = vals[:, ok].std(0, ddof=1) if len(rs) > 1 else 0.0
    return mean, std


def figure(runs: list[dict], title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.8))
    costs = [c["cost"] for r in runs for c in r["curve"]]
    grid = np.exp(np.linspace(math.log(min(costs)), math.log(max(costs)), 300))
    for (strategy, setting), rs in groups(runs).items():
        label = display_name(strategy) + ("" if strategy in PAPER_MIXCIFAR60 or strategy in PAPER_MIXMNIST
                                          else ", not in the paper")
        stop_cost = np.mean([r["summary"]["cost"] for r in rs])
        g = grid[grid <= max(r["summary"]["cost"] for r in rs)]
        mean, std = mean_curve(rs, g)
        line, = ax.plot(g, mean, label=f"{label} ({len(rs)} seeds)")
        ax.fill_between(g, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)
        ax.plot([stop_cost], [np.mean([r["summary"]["accuracy"] for r in rs])], marker="*", ms=12,
                color=line.get_color(), mec="black", mew=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("annotation cost (samples examined, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.plot([], [], ls="", marker="*", ms=10, color="gray", label="stopping point (mean)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def targets(runs: list[dict]) -> str:
    """The method-quality target, seed by seed: Distance(CL)'s accuracy at the stop >= Least
    confidence's - 1 point, its cost <= 1.2 x Random's, and its accuracy >= Random's at every
    budget of report.budgets that both runs reach (acc_at_B not null)."""
    by = {(r["strategy"], r["seed"]): r["summary"] for r in runs}
    seeds = sorted({s for (st, s) in by if st == "distance_cl"})
    lines = ["| seed | Distance (CL) Acc. | Least Conf. Acc. − 1 | accuracy met | Distance (CL) Cost "
             "| 1.2 × Random Cost | cost met | budgets where Distance (CL) < Random |", "|---|---|---|---|---|---|---|---|"]
    for seed in seeds:
        d, lc, rnd = by[("distance_cl", seed)], by.get(("least_confidence", seed)), by.get(("random", seed))
        if lc is None or rnd is None:
            continue
        below = [k[7:] for k in d if k.startswith("acc_at_") and d[k] is not None and rnd.get(k) is not None
                 and d[k] < rnd[k]]
        lines.append(f"| {seed} | {d['accuracy']:.2f} | {lc['accuracy'] - 1:.2f} | "
                     f"{'yes' if d['accuracy'] >= lc['accuracy'] - 1 else 'no'} | {d['cost']:g} | "
                     f"{1.2 * rnd['cost']:g} | {'yes' if d['cost'] <= 1.2 * rnd['cost'] else 'no'} | "
                     f"{', '.join(below) or 'none'} |")
    return "\n".join(["# Method-quality target, seed by seed", ""] + lines) + "\n"


def timing(folder: Path, runs: list[dict]) -> str:
    """Wall seconds of each grid run (`dvc exp run`, from run.json) against the seconds of work its
    rounds measured (rounds.csv); the rest is process starts and DVC's bookkeeping, spread over
    the stages of the chain (init, finetune_r00, report and three per entry of `rounds`)."""
    lines = ["| run | rounds to the stop | wall (s) | work (s) | other (s) | stages | other per stage (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        d = folder / "runs" / r["name"]
        try:
            wall = json.loads((d / "run.json").read_text())["wall_seconds"]
            if wall is None:  # a queued run (src/report/collect.py): not timed
                continue
            with open(d / "rounds.csv") as fh:
                work = sum(float(row[k] or 0) for row in csv.DictReader(fh) for k in WORK if k in row)
        except (FileNotFoundError, KeyError):
            continue
        stages = 3 + 3 * len(r["params"].get("rounds", {}))
        if wall < work:  # stages restored from DVC's run cache: their work was done by an earlier run
            lines.append(f"| {r['name']} | {r['summary']['rounds']} | {wall:.0f} | {work:.0f} | "
                         f"- (run cache) | {stages} | - |")
            continue
        lines.append(f"| {r['name']} | {r['summary']['rounds']} | {wall:.0f} | {work:.0f} | {wall - work:.0f} | "
                     f"{stages} | {(wall - work) / stages:.1f} |")
    return "\n".join(["# Where the time of each grid run went", "",
                       "Measured by the grid on the machine that made the runs (the first run of a grid "
                       "also pays for `pretrain` when it is not cached). `- (run cache)`: the run's wall "
                       "time is below its work, because DVC restored its stages from the run cache (an "
                       "earlier run with the same params and code, e.g. a tuning run); its work seconds are "
                       "that earlier run's.", ""] + lines) + "\n"


def build(folder) -> tuple[Path, Path]:
    folder = Path(folder)
    runs = load_runs(folder)
    benchmark = runs[0]["params"].get("benchmark", "mixmnist")
    title = f"Figure 4 ({BENCHMARK_TITLES.get(benchmark, benchmark)}, {folder.name}): mean ± std over seeds"
    with stage_outputs(folder / TABLE, folder / TARGETS, folder / TIMING, folder / FIGURE):
        save_text(folder / TABLE, table(runs))
        save_text(folder / TARGETS, targets(runs))
        save_text(folder / TIMING, timing(folder, runs))
        save_figure(folder / FIGURE, figure(runs, title))
    return folder / TABLE, folder / FIGURE


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="results folder, e.g. results/mixmnist-quick")
    args = parser.parse_args(argv)
    try:
        t, f = build(args.folder)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(t.read_text())
    print(f"wrote {t} and {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
