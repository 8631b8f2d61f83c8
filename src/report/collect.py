"""Gather finished experiments into a results folder, then rebuild its Table 2 and Figure 4:

    python -m src.report.collect results/mixmnist-quick

Every experiment in this repository's git refs (`refs/exps/...`: run here by `dvc exp run` or the
queue, or fetched from a git remote with `dvc exp pull <remote> --all-commits --no-cache`) whose
params equal params.yaml's but for `strategy` and `seed` becomes <out>/runs/<strategy>-s<seed>/:
summary.json, curve.csv and rounds.csv read from the experiment's git commit (they are `cache:
false` outputs, so git holds them and no DVC remote is needed), its params.yaml, and run.json (the
experiment's name, the commit it ran on, wall_seconds null: a queued run is not timed). A run
folder that already holds the same params is kept, so collecting twice adds nothing; experiments
of other params (another profile, older code) are counted and left alone.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from src.core.config import read_yaml
from src.core.log import log
from src.report.results import build, run_dir

EXP_REF = re.compile(r"^refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/(.+)$")
FILES = {"summary.json": "metrics/summary.json", "curve.csv": "plots/curve.csv", "rounds.csv": "plots/rounds.csv"}


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["git", *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out


def experiments() -> list[dict]:
    """Every experiment ref: {name, rev (its commit), baseline (the commit it ran on)}, by name."""
    refs = _git("for-each-ref", "--format=%(objectname) %(refname)", "refs/exps").stdout.split("\n")
    found = []
    for line in filter(None, refs):
        rev, ref = line.split(" ", 1)
        m = EXP_REF.match(ref)
        if m:  # not the queue's own refs (refs/exps/celery/..., stashes)
            found.append({"name": m.group(3), "rev": rev, "baseline": m.group(1) + m.group(2)})
    return sorted(found, key=lambda e: e["name"])


def read_at(rev: str, path: str) -> str | None:
    out = _git("show", f"{rev}:{path}", check=False)
    return out.stdout if out.returncode == 0 else None


def collect(out: Path, base: dict) -> dict:
    """Copy every matching experiment into out/runs; returns counts {added, kept, other_params}."""
    counts = {"added": 0, "kept": 0, "other_params": 0}
    for exp in experiments():
        text = read_at(exp["rev"], "params.yaml")
        params = read_yaml(text, f"experiment {exp['name']}: params.yaml") if text else None
        if not isinstance(params, dict) or {**base, "strategy": params.get("strategy"),
                                             "seed": params.get("seed")} != params:
            counts["other_params"] += 1
            continue
        folder = run_dir(out, params["strategy"], params["seed"])
        files = {name: read_at(exp["rev"], path) for name, path in FILES.items()}
        if any(v is None for v in files.values()):
            counts["other_params"] += 1  # a pipeline without these outputs: not this code's
            continue
        if (folder / "params.yaml").exists():
            if read_yaml((folder / "params.yaml").read_text(), folder / "params.yaml") != params:
                log(f"WARNING: {folder} holds a run of other params; experiment {exp['name']} "
                    f"({params['strategy']} seed {params['seed']}) is not copied over it")
            counts["kept"] += 1
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (folder / name).write_text(content)
        (folder / "params.yaml").write_text(text)
        (folder / "run.json").write_text(json.dumps(
            {"experiment": exp["name"], "commit": exp["baseline"], "wall_seconds": None}, indent=2) + "\n")
        s = json.loads(files["summary.json"])
        acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.2f}%"
        log(f"{folder}: {params['strategy']} seed {params['seed']} from experiment {exp['name']} "
            f"({acc} at cost {s['cost']:g})")
        counts["added"] += 1
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="results folder, e.g. results/mixmnist-quick")
    parser.add_argument("--params", default="params.yaml", help="the setting to collect (default params.yaml)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    base = read_yaml(Path(args.params).read_text(), args.params)
    counts = collect(out, base)
    log(f"collected {counts['added']} new run(s) into {out}/runs ({counts['kept']} already there; "
        f"{counts['other_params']} experiment(s) of other params left alone)")
    if not any((out / "runs").glob("*/summary.json")):
        log(f"error: no runs in {out}/runs. Run experiments first (`python -m src.report.grid {out}`), or fetch "
            f"others' with `dvc exp pull <git remote> --all-commits --no-cache`.")
        return 1
    for path in build(out):
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
