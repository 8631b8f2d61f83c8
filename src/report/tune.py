"""Choose a knob the paper does not fix, on the validation split only:

    python -m src.report.tune results/tuning-quick --knob cluster.no_non_id_radius \\
        --values 0.25 0.5 0.75 [--strategy distance_cl] [--seeds 0]

For each value x seed: `dvc exp run -S strategy=... -S seed=... -S <knob>=<value>`, the run's
files copied to <folder>/runs/<knob>=<value>-s<seed>/ (resumable, as the grid). The score is
`val_auc_log_cost` of summary.json: the mean validation accuracy (MNIST train images held out
of the pool, `pool.n_val`) over log cost in `report.auc_range`. <folder>/<knob>.md lists every
value's validation scores and names the best; test accuracy is deliberately not shown.

A value may bring companion settings, `VALUE@KEY=VALUE[@KEY=VALUE]`: `--knob contrastive.width
--values 8 16@precision=bf16 32@precision=bf16` tries each width with its fastest precision.
The report gives each value's time too: `compute s` is the run's own work (pretrain from
metrics/pretrain.json, which a cached pretrain restores with its original seconds, plus every
round's seconds in rounds.csv), `wall s` the whole `dvc exp run` (DVC's run cache can shorten it).
A value whose params equal a run already recorded under <folder>/runs, or under the runs of a
folder given with `--reuse` (e.g. the chosen value of the knob tuned before, in a coordinate-wise
search), reuses that run's files instead of running again. A run folder that already holds a run
of other params (the same knob and value tried from other settings) is never overwritten: the
tune stops and says so; give such a tune its own folder.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from src.core import paths
from src.core.config import read_yaml
from src.core.log import log
from src.report.grid import done, get_key, git_commit, recorded_differences, record, run_one, set_key
from src.report.table2_rows import fmt

SCORE = "val_auc_log_cost"


def run_dir(out: Path, knob: str, value, seed: int) -> Path:
    return out / "runs" / f"{knob}={value}-s{seed}"


def label(text: str):
    """How a value given on the command line names its runs and its row: the YAML value itself, or
    the text as given when it brings companion settings."""
    value, companions = parse_value(text)
    return text if companions else value


def scores_of(out: Path, knob: str, text: str, seeds) -> list:
    """The validation scores recorded for a value (as given on the command line) over `seeds`."""
    return [json.loads((run_dir(out, knob, label(text), seed) / "summary.json").read_text()).get(SCORE)
            for seed in seeds]


def recorded_run(folders, params: dict) -> Path | None:
    """A run folder under <folder>/runs, for each folder in turn, already made with exactly these
    params (grid.done), if any."""
    return next((f for out in folders for f in sorted((Path(out) / "runs").glob("*"))
                 if f.is_dir() and done(f, params)), None)


def parse_value(text: str) -> tuple[object, dict]:
    """'16@precision=bf16' -> (16, {'precision': 'bf16'}); values are YAML scalars."""
    first, *extra = text.split("@")
    companions = {}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"'{text}': a companion setting is KEY=VALUE after '@', e.g. 16@precision=bf16")
        companions[key] = yaml.safe_load(value)
    return yaml.safe_load(first), companions


def compute_seconds(folder: Path) -> float | None:
    """The run's own work: pretrain seconds plus every round's seconds (see the module docstring)."""
    rounds = folder / "rounds.csv"
    if not rounds.exists():
        return None
    with open(rounds, newline="") as fh:
        total = sum(float(v) for row in csv.DictReader(fh) for k, v in row.items()
                    if k.startswith("seconds_") and v not in ("", None))
    pretrain = folder / "pretrain.json"
    if pretrain.exists():
        total += float(json.loads(pretrain.read_text()).get("seconds", 0.0))
    return round(total, 1)


def choose(scores: dict) -> tuple:
    """value -> list of validation scores; the value with the highest mean (ties: the first listed)."""
    means = {v: float(np.mean(s)) for v, s in scores.items() if s and None not in s}
    if not means:
        raise ValueError("no run has a validation score: is pool.n_val 0?")
    best = max(means, key=lambda v: (means[v], -list(scores).index(v)))
    return best, means


def report(knob: str, scores: dict, finals: dict, current, times: dict | None = None) -> str:
    """times: value -> (compute seconds list, wall seconds list); without it no time columns."""
    best, means = choose(scores)
    time_head, time_rule = (" compute s | wall s |", "---|---|") if times else ("", "")
    lines = [f"# Tuning `{knob}` on the validation split", "",
             f"Score: `{SCORE}` (mean validation accuracy over log cost; higher is better). "
             f"Test accuracy is not used. Current value in params.yaml: `{current}`.", "",
             f"| {knob} | runs | validation AUC log-cost | validation accuracy at the stop |{time_head}",
             f"|---|---|---|---|{time_rule}"]
    for v, s in scores.items():
        mark = " **(best)**" if v == best else ""
        row = f"| {v}{mark} | {len(s)} | {fmt(s, 2)} | {fmt(finals[v], 2)} |"
        if times:
            compute, wall = times[v]
            row += f" {fmt(compute, 0)} | {fmt(wall, 0)} |"
        lines.append(row)
    if times:
        lines += ["", "Times in seconds, mean ± SD over the runs, on the machine that made them: `compute s` = "
                      "pretrain + every round's work (rounds.csv), `wall s` = the whole `dvc exp run` (a pretrain "
                      "or stage restored from DVC's run cache costs no wall time there)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="tuning folder, e.g. results/tuning-quick")
    parser.add_argument("--knob", required=True, help="dotted params key, e.g. cluster.no_non_id_radius")
    parser.add_argument("--values", nargs="+", required=True, help="values to try (YAML scalars)")
    parser.add_argument("--strategy", default="distance_cl")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--reuse", nargs="+", default=[], metavar="FOLDER",
                        help="other tuning folders whose runs of the same params are reused")
    args = parser.parse_args(argv)
    out = Path(args.out)
    params_text = Path("params.yaml").read_text()
    base = read_yaml(params_text, "params.yaml")
    try:
        parsed = {text: parse_value(text) for text in args.values}
        current = get_key(base, args.knob)
        for _, companions in parsed.values():
            for key in companions:
                get_key(base, key)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}; give --knob as section.key, e.g. cluster.no_non_id_radius, and companion "
              f"settings as VALUE@section.key=VALUE", file=sys.stderr)
        return 2
    values = [label(text) for text in parsed]
    dvc = str(Path(sys.executable).with_name("dvc"))
    commit = git_commit()
    scores, finals = {v: [] for v in values}, {v: [] for v in values}
    times = {v: ([], []) for v in values}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for v, (value, companions) in zip(values, parsed.values()):
            for seed in args.seeds:
                overrides = {"strategy": args.strategy, "seed": seed, args.knob: value, **companions}
                params = {**base, "strategy": args.strategy, "seed": seed}
                for key, val in overrides.items():
                    params = set_key(params, key, val)
                folder = run_dir(out, args.knob, v, seed)
                taken = recorded_differences(folder, params)  # None: no run there yet
                if taken:
                    log(f"error: {folder} holds a run of other params ({', '.join(taken[:5])}): the same "
                        f"knob and value tried from other settings. Nothing overwritten; give this tune its "
                        f"own folder (e.g. {out}/search-2) and --reuse {out}")
                    return 2
                same = None if done(folder, params) else recorded_run([out, *args.reuse], params)
                if same is not None:  # the same params were run under another knob's name
                    log(f"{args.knob}={v} seed {seed}: the same params as {same.name}: its results reused")
                    shutil.copytree(same, folder, dirs_exist_ok=True)
                if not done(folder, params):
                    log(f"{args.knob}={v} seed {seed}: dvc exp run ...")
                    t0 = time.perf_counter()
                    rc, name = run_one(overrides, dvc, out / "tune.log", params_text)
                    if rc != 0:
                        log(f"error: the run failed (exit {rc}); see {out / 'tune.log'}. Rerun to resume.")
                        return rc
                    try:
                        record(folder, params, name, commit, round(time.perf_counter() - t0, 1))
                    except RuntimeError as exc:
                        log(f"error: {args.knob}={v} seed {seed}: {exc}")
                        return 2
                    if paths.PRETRAIN_METRICS.exists():  # its seconds: the compute column
                        shutil.copyfile(paths.PRETRAIN_METRICS, folder / "pretrain.json")
                s = json.loads((folder / "summary.json").read_text())
                scores[v].append(s.get(SCORE))
                finals[v].append(s.get("val_accuracy"))
                times[v][0].append(compute_seconds(folder))
                times[v][1].append(json.loads((folder / "run.json").read_text()).get("wall_seconds"))
                log(f"{args.knob}={v} seed {seed}: {SCORE} {s.get(SCORE)}")
    finally:
        Path("params.yaml").write_text(params_text)
    text = report(args.knob, scores, finals, current, times)
    (out / f"{args.knob}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
