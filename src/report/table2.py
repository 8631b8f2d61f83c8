"""Table 2 across DVC experiments: `python -m src.report.table2 [-A] [--json exp_show.json]`.

Reads `dvc exp show --json` (or a saved copy of it), groups experiments by `strategy`, and
prints Markdown: mean +- std over seeds of accuracy (%), cost, cost/acc and iD precision, beside
the paper's MixMNIST numbers. What counts as a run:
- every experiment (`dvc exp run`) of the commits shown;
- the workspace only when its outputs are up to date with its params and code (`dvc status` is
  clean; with --json, only when --workspace says so);
- committed metrics (HEAD's metrics/summary.json, possibly made on another machine) never by
  default: --committed adds them, labelled as committed.
Runs with identical params count once (an experiment before the workspace before a commit).
The committed multi-seed evidence is a results folder: `python -m src.report.results <folder>`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys

import numpy as np

from src.core.errors import UserError

SUMMARY_FILE = "metrics/summary.json"
REQUIRED = ("accuracy", "cost", "cost_per_acc", "id_precision")
PAPER_MIXMNIST = {  # Table 2 of the paper: Acc., Cost, Cost/Acc.
    "random": ("Random", 93.84, 440, 4.69),
    "least_confidence": ("Least Confidence", 96.80, 6582, 68.00),
    "entropy": ("Entropy", 93.89, 32738, 348.68),
    "random_cl": ("Random (CL)", 96.07, 420, 4.37),
    "distance_cl": ("Distance (CL)", 96.65, 406, 4.20),
}
PAPER_MIXCIFAR60 = {  # Table 2 of the paper, MixCIFAR60 (ResNet-18, 60,000-image pool)
    "random": ("Random", 67.95, 39270, 577.92),
    "least_confidence": ("Least Confidence", 69.90, 42676, 610.53),
    "entropy": ("Entropy", 70.43, 42678, 605.96),
    "ddu": ("DDU", 67.38, 32162, 477.32),
    "random_cl": ("Random (CL)", 68.38, 34560, 505.41),
    "distance_cl": ("Distance (CL)", 66.38, 27891, 420.17),
}


LABELS = {"ddu": "DDU"}  # strategies without a row in a paper table (DDU on MixMNIST)
OWN_SECTIONS = {"ddu": ("ddu",)}  # params sections that only one strategy reads


# Params added after runs were recorded, each with the value that does what the code did before the
# key existed (the natural-image benchmarks' switch): a run's params.yaml without the key is read as
# having this value, so runs recorded before and after the key of one profile group together.
ADDED_PARAMS = {"benchmark": "mixmnist", "pool.id_classes": None, "pool.ambiguous_classes": None,
                "classifier.arch": "convnet", "classifier.blocks": [2, 2, 2, 2], "classifier.optimizer": "adam",
                "classifier.momentum": 0.0, "classifier.augment": "none", "contrastive.arch": "convnet",
                "contrastive.blocks": [2, 2, 2, 2], "contrastive.augment": "affine",
                "cl_classifier.optimizer": "adam", "cl_classifier.momentum": 0.0, "cl_classifier.augment": "none",
                # issue 12: the oracle and what a round lists for a person (no effect on simulated results)
                "oracle": "simulated", "folder": {"images": None, "test": None, "size": 32, "channels": 3},
                "annotation": {"max_queries": 100, "sheet_size": 50},
                # issue 24: the networks' precision (every run before it computed in fp32)
                "precision": "fp32"}


def with_added_params(params: dict) -> dict:
    """`params` with every absent key of ADDED_PARAMS filled in (a copy; present keys win)."""
    out = json.loads(json.dumps(params))
    for dotted, value in ADDED_PARAMS.items():
        *parents, key = dotted.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and key not in node:
            node[key] = value
    return out


def setting_of(params: dict) -> str:
    """Which runs may be averaged together: a short hash of every param but strategy, seed and the
    sections only some strategy reads, so the runs of every strategy under one profile share it
    (also runs made before such a section or an ADDED_PARAMS key existed); a strategy's own
    sections add a suffix ("3f2a1c+9b0e"), so two DDU settings are never averaged together."""
    own = {name for names in OWN_SECTIONS.values() for name in names}
    params = with_added_params(params)
    rest = {k: v for k, v in params.items() if k not in ("strategy", "seed") and k not in own}
    setting = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:6]
    mine = {k: params[k] for k in OWN_SECTIONS.get(params.get("strategy"), ()) if k in params}
    suffix = hashlib.sha256(json.dumps(mine, sort_keys=True).encode()).hexdigest()[:4] if mine else ""
    return setting + ("+" + suffix if suffix else "")


def needs_setting_label(keys) -> bool:
    """Rows must name their params setting when the table mixes profiles or two settings of one strategy."""
    keys = list(keys)
    return len({s.split("+")[0] for _, s in keys}) > 1 or len({k for k, _ in keys}) < len(keys)


def paper_rows(benchmark: str | None) -> tuple[dict, str]:
    """The paper's Table 2 rows to print beside a benchmark's runs, and which benchmark they are:
    MixCIFAR60's for MixCIFAR60 and its offline stand-in, MixMNIST's otherwise."""
    if benchmark in ("standin", "mixcifar60"):
        return PAPER_MIXCIFAR60, "MixCIFAR60"
    return PAPER_MIXMNIST, "MixMNIST"


def _runs(node, found: list, kind: str) -> None:
    """Every {params, metrics} record in `dvc exp show --json` output, as (kind, name, data):
    kind is "workspace", "committed" (a commit's own metrics) or "experiment"."""
    if isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "params" in data and "metrics" in data:
            this = kind if kind == "experiment" else ("workspace" if node.get("rev") == "workspace" else "committed")
            found.append((this, node.get("name") or node.get("rev") or "?", data))
        for key, value in node.items():
            _runs(value, found, "experiment" if key == "experiments" or kind == "experiment" else kind)
    elif isinstance(node, list):
        for value in node:
            _runs(value, found, kind)


def collect(exp_show: list, workspace: bool = False, committed: bool = False) -> dict[tuple[str, str], list[dict]]:
    """(strategy, setting) -> list of {name, seed, metrics}, unique by params. `setting` is a
    short hash of every param but strategy and seed, so runs of different profiles or
    hyperparameters are never averaged together. The workspace and committed metrics count only
    when asked (see the module docstring)."""
    found: list = []
    _runs(exp_show, found, "top")
    order = {"experiment": 0, "workspace": 1, "committed": 2}
    found = sorted((f for f in found if (f[0] == "experiment" or (f[0] == "workspace" and workspace)
                                         or (f[0] == "committed" and committed))), key=lambda f: order[f[0]])
    groups: dict[str, list[dict]] = {}
    seen = set()
    for kind, name, data in found:
        name = f"{name} (committed)" if kind == "committed" else name
        params = (data.get("params") or {}).get("params.yaml", {}).get("data") or {}
        metrics = (data.get("metrics") or {}).get(SUMMARY_FILE, {}).get("data")
        if not metrics or "strategy" not in params:
            continue
        key = json.dumps(params, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        absent = [k for k in REQUIRED if k not in metrics]
        if absent:
            raise UserError(f"{SUMMARY_FILE} of {name} has no {', '.join(absent)}: made by an older version of the "
                            f"report stage. Rerun that experiment (`dvc exp run`), or remove it (`dvc exp remove "
                            f"{name}`).")
        groups.setdefault((params["strategy"], setting_of(params)), []).append(
            {"name": name, "seed": params.get("seed"), "benchmark": params.get("benchmark", "mixmnist"), **metrics})
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
    labelled = needs_setting_label(groups)
    lines = ["| Acquisition | runs (seeds) | Acc. (%) | Cost | Cost/Acc. | iD precision "
             "| paper Acc. | paper Cost | paper Cost/Acc. |",
             "|---|---|---|---|---|---|---|---|---|"]
    rank = {s: i for i, s in enumerate(PAPER_MIXCIFAR60)}
    for strategy, setting in sorted(groups, key=lambda k: (k[1].split("+")[0], rank.get(k[0], len(rank)), k)):
        runs = groups[(strategy, setting)]
        paper, _ = paper_rows(runs[0].get("benchmark"))
        label, p_acc, p_cost, p_cpa = paper.get(strategy, (LABELS.get(strategy, strategy), None, None, None))
        if labelled:  # several param settings: say which row is which
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
    parser.add_argument("--workspace", action="store_true",
                        help="count the workspace's metrics without checking `dvc status`")
    parser.add_argument("--committed", action="store_true",
                        help="also count metrics committed in git (labelled as committed; maybe another machine's)")
    args = parser.parse_args(argv)
    if args.json:
        try:
            with open(args.json) as fh:
                exp_show = json.load(fh)
        except FileNotFoundError:
            print(f"error: {args.json}: no such file; save one with `dvc exp show --json > {args.json}`.",
                  file=sys.stderr)
            return 2
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"error: {args.json}: not the JSON `dvc exp show --json` writes ({exc}); save it again with "
                  f"`dvc exp show --json > {args.json}`.", file=sys.stderr)
            return 2
        if not isinstance(exp_show, list):
            print(f"error: {args.json}: expected the list `dvc exp show --json` writes, got a "
                  f"{type(exp_show).__name__}.", file=sys.stderr)
            return 2
    else:
        cmd = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if args.all_commits else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"error: `dvc exp show --json` failed: {out.stderr.strip()}", file=sys.stderr)
            return 2
        exp_show = json.loads(out.stdout)
        if not args.workspace:
            status = subprocess.run(["dvc", "status", "--json"], capture_output=True, text=True)
            args.workspace = status.returncode == 0 and json.loads(status.stdout or "{}") == {}
            if not args.workspace:
                print("note: the workspace is not up to date (`dvc status`), so its metrics are not counted.",
                      file=sys.stderr)
    try:
        groups = collect(exp_show, workspace=args.workspace, committed=args.committed)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    head_note = only_head(exp_show) if args.workspace and not args.committed else None
    if head_note:
        print(head_note, file=sys.stderr)
    if not groups:
        print("error: no experiment has metrics/summary.json yet; run `dvc exp run` (README's flow) "
              "first, or pass --committed to show the committed metrics.", file=sys.stderr)
        return 2
    for runs in groups.values():
        for r in runs:
            if r.get("target_reached") is False:
                print(f"WARNING: run {r['name']} ended with {r.get('labeled_id')} labeled iD, short of "
                      f"active.target_id = {r.get('target_id')}: add entries to `rounds` in params.yaml.",
                      file=sys.stderr)
    print(markdown(groups))
    if head_note:
        print(f"\n{head_note}")
    return 0


def only_head(exp_show: list) -> str | None:
    """A note when the table would show nothing but the workspace and the workspace's metrics are the
    committed HEAD ones: that row is HEAD's committed result (maybe computed on another machine),
    not a run of this workspace that adds evidence."""
    found: list = []
    _runs(exp_show, found, "top")
    if any(kind == "experiment" for kind, _, _ in found):
        return None
    metrics = {kind: (data.get("metrics") or {}).get(SUMMARY_FILE, {}).get("data")
               for kind, _, data in found if kind in ("workspace", "committed")}
    if metrics.get("workspace") and metrics.get("workspace") == metrics.get("committed"):
        return ("note: no experiments; the only row is the workspace, whose metrics equal HEAD's committed "
                "metrics/summary.json (computed here or checked out, it is one run either way, not several "
                "seeds). More runs: `dvc exp run` (README), or the results folders.")
    return None


if __name__ == "__main__":
    sys.exit(main())
