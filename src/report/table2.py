"""Table 2 across DVC experiments: `python -m src.report.table2 [-A] [--json exp_show.json]`.

Reads `dvc exp show --json` (or a saved copy of it), groups experiments by `strategy`, and
prints Markdown: mean +- std over seeds of accuracy (%), cost, cost/acc and iD precision, beside
the paper's MixMNIST numbers. Runs with identical params (the workspace and its HEAD, say) count once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys

import numpy as np

SUMMARY_FILE = "metrics/summary.json"
PAPER_MIXMNIST = {  # Table 2 of the paper: Acc., Cost, Cost/Acc.
    "random": ("Random", 93.84, 440, 4.69),
    "least_confidence": ("Least Confidence", 96.80, 6582, 68.00),
    "entropy": ("Entropy", 93.89, 32738, 348.68),
    "random_cl": ("Random (CL)", 96.07, 420, 4.37),
    "distance_cl": ("Distance (CL)", 96.65, 406, 4.20),
}


def _runs(node, found: list) -> None:
    """Every {params, metrics} record anywhere in `dvc exp show --json` output."""
    if isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "params" in data and "metrics" in data:
            found.append((node.get("name") or node.get("rev") or "?", data))
        for value in node.values():
            _runs(value, found)
    elif isinstance(node, list):
        for value in node:
            _runs(value, found)


def collect(exp_show: list) -> dict[tuple[str, str], list[dict]]:
    """(strategy, setting) -> list of {name, seed, metrics}, unique by params. `setting` is a
    short hash of every param but strategy and seed, so runs of different profiles or
    hyperparameters are never averaged together."""
    found: list = []
    _runs(exp_show, found)
    groups: dict[str, list[dict]] = {}
    seen = set()
    for name, data in found:
        params = (data.get("params") or {}).get("params.yaml", {}).get("data") or {}
        metrics = (data.get("metrics") or {}).get(SUMMARY_FILE, {}).get("data")
        if not metrics or "strategy" not in params:
            continue
        key = json.dumps(params, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        rest = {k: v for k, v in params.items() if k not in ("strategy", "seed")}
        setting = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:6]
        groups.setdefault((params["strategy"], setting), []).append(
            {"name": name, "seed": params.get("seed"), **metrics})
    return groups


def _fmt(values, digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {float(np.std(values, ddof=1)):,.{digits}f}"


def markdown(groups: dict[tuple[str, str], list[dict]]) -> str:
    settings = sorted({setting for _, setting in groups})
    lines = ["| Acquisition | runs (seeds) | Acc. (%) | Cost | Cost/Acc. | iD precision "
             "| paper Acc. | paper Cost | paper Cost/Acc. |",
             "|---|---|---|---|---|---|---|---|---|"]
    rank = {s: i for i, s in enumerate(PAPER_MIXMNIST)}
    for strategy, setting in sorted(groups, key=lambda k: (k[1], rank.get(k[0], len(rank)), k[0])):
        runs = groups[(strategy, setting)]
        label, p_acc, p_cost, p_cpa = PAPER_MIXMNIST.get(strategy, (strategy, None, None, None))
        if len(settings) > 1:  # several param settings: say which row is which
            label = f"{label} [params {setting}]"
        seeds = ",".join(str(r["seed"]) for r in runs)
        paper = ([f"{p_acc:.2f}", f"{p_cost:,}", f"{p_cpa:.2f}"] if p_acc is not None else ["-", "-", "-"])
        lines.append(" | ".join([
            f"| {label}", f"{len(runs)} ({seeds})", _fmt([r["accuracy"] for r in runs], 2),
            _fmt([r["cost"] for r in runs], 0), _fmt([r["cost_per_acc"] for r in runs], 2),
            _fmt([r["id_precision"] for r in runs], 3), *paper]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="a saved `dvc exp show --json` output (default: run it)")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="include experiments based on earlier commits (default: HEAD's only)")
    args = parser.parse_args(argv)
    if args.json:
        with open(args.json) as fh:
            exp_show = json.load(fh)
    else:
        cmd = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if args.all_commits else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"error: `dvc exp show --json` failed: {out.stderr.strip()}", file=sys.stderr)
            return 2
        exp_show = json.loads(out.stdout)
    groups = collect(exp_show)
    if not groups:
        print("error: no experiment has metrics/summary.json yet; run `dvc repro` or "
              "`dvc exp run -S strategy=entropy` first.", file=sys.stderr)
        return 2
    print(markdown(groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
