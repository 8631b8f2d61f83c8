"""Choose a knob the paper does not fix, on the validation split only:

    python -m src.report.tune results/tuning-quick --knob cluster.no_non_id_radius \\
        --values 0.25 0.5 0.75 [--strategy distance_cl] [--seeds 0]

For each value x seed: `dvc exp run -S strategy=... -S seed=... -S <knob>=<value>`, the run's
files copied to <folder>/runs/<knob>=<value>-s<seed>/ (resumable, as the grid). The score is
`val_auc_log_cost` of summary.json: the mean validation accuracy (MNIST train images held out
of the pool, `pool.n_val`) over log cost in `report.auc_range`. <folder>/<knob>.md lists every
value's validation scores and names the best; test accuracy is deliberately not shown.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from src.core.config import read_yaml
from src.core.log import log
from src.report.grid import done, get_key, git_commit, record, run_one, set_key
from src.report.table2_rows import fmt

SCORE = "val_auc_log_cost"


def run_dir(out: Path, knob: str, value, seed: int) -> Path:
    return out / "runs" / f"{knob}={value}-s{seed}"


def choose(scores: dict) -> tuple:
    """value -> list of validation scores; the value with the highest mean (ties: the first listed)."""
    means = {v: float(np.mean(s)) for v, s in scores.items() if s and None not in s}
    if not means:
        raise ValueError("no run has a validation score: is pool.n_val 0?")
    best = max(means, key=lambda v: (means[v], -list(scores).index(v)))
    return best, means


def report(knob: str, scores: dict, finals: dict, current) -> str:
    best, means = choose(scores)
    lines = [f"# Tuning `{knob}` on the validation split", "",
             f"Score: `{SCORE}` (mean validation accuracy over log cost; higher is better). "
             f"Test accuracy is not used. Current value in params.yaml: `{current}`.", "",
             f"| {knob} | runs | validation AUC log-cost | validation accuracy at the stop |", "|---|---|---|---|"]
    for v, s in scores.items():
        mark = " **(best)**" if v == best else ""
        lines.append(f"| {v}{mark} | {len(s)} | {fmt(s, 2)} | {fmt(finals[v], 2)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="tuning folder, e.g. results/tuning-quick")
    parser.add_argument("--knob", required=True, help="dotted params key, e.g. cluster.no_non_id_radius")
    parser.add_argument("--values", nargs="+", required=True, help="values to try (YAML scalars)")
    parser.add_argument("--strategy", default="distance_cl")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args(argv)
    out = Path(args.out)
    params_text = Path("params.yaml").read_text()
    base = read_yaml(params_text, "params.yaml")
    values = [yaml.safe_load(v) for v in args.values]
    try:
        current = get_key(base, args.knob)
    except KeyError as exc:
        print(f"error: {exc.args[0]}; give --knob as section.key, e.g. cluster.no_non_id_radius",
              file=sys.stderr)
        return 2
    dvc = str(Path(sys.executable).with_name("dvc"))
    commit = git_commit()
    scores, finals = {v: [] for v in values}, {v: [] for v in values}
    try:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "tune.log", "a") as log_file:
            for v in values:
                for seed in args.seeds:
                    params = set_key({**base, "strategy": args.strategy, "seed": seed}, args.knob, v)
                    folder = run_dir(out, args.knob, v, seed)
                    if not done(folder, params):
                        log(f"{args.knob}={v} seed {seed}: dvc exp run ...")
                        t0 = time.perf_counter()
                        rc, name = run_one({"strategy": args.strategy, "seed": seed, args.knob: v}, dvc, log_file)
                        if rc != 0:
                            log(f"error: the run failed (exit {rc}); see {out / 'tune.log'}. Rerun to resume.")
                            return rc
                        record(folder, params, name, commit, round(time.perf_counter() - t0, 1))
                    s = json.loads((folder / "summary.json").read_text())
                    scores[v].append(s.get(SCORE))
                    finals[v].append(s.get("val_accuracy"))
                    log(f"{args.knob}={v} seed {seed}: {SCORE} {s.get(SCORE)}")
    finally:
        Path("params.yaml").write_text(params_text)
    text = report(args.knob, scores, finals, current)
    (out / f"{args.knob}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
