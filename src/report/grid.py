"""The multi-seed grid behind Table 2 and Figure 4:

    python -m src.report.grid results/mixmnist-quick [--strategies ...] [--seeds 0 1 2] [--jobs N]

For each strategy x seed it runs `dvc exp run -S strategy=S -S seed=N` in this workspace (data
stages and `pretrain` come from DVC's cache: they do not depend on either param), then copies the
run's metrics/summary.json, plots/curve.csv, plots/rounds.csv and params.yaml to
<out>/runs/<strategy>-s<seed>/ with run.json (git commit, experiment name, wall seconds). A run
whose folder already holds the same params is skipped, so a killed grid resumes where it stopped.
The default strategy and seed run last, so the workspace ends matching params.yaml. Finally the
folder's table2.md and figure4.png are rebuilt (src/report/results.py).

With --no-run-cache every run computes its own stages, from `settings` on, instead of DVC restoring
them from its run cache (`dvc exp run --force --downstream settings`, after one plain `dvc repro
pretrain` brings the data stages and pretraining up to date): deleting a run's folder alone makes
DVC put back the earlier run's outputs, with none of its work or time. Use it to recompute a grid
or to time it.

With --jobs N the runs go through DVC's queue instead: each is queued (`dvc exp run --queue`, the
raw-data folder copied into its temporary workspace with -C), then `dvc exp run --run-all --jobs N`
executes N at a time, and src/report/collect.py copies the finished experiments into the folder
from their git commits. The workspace is left alone. On a machine with several GPUs each run claims
a GPU of its own (src/core/device.py). Queued runs are not timed (run.json: wall_seconds null).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from src.core.config import read_yaml
from src.core import paths
from src.core.log import log
from src.report.collect import collect
from src.report.results import build, run_dir
from src.report.table2_rows import with_added_params

STRATEGIES = ["random", "least_confidence", "entropy", "ddu", "random_cl", "distance_cl", "lfosa", "eaoa"]
COPIED = {"summary.json": paths.SUMMARY, "curve.csv": paths.CURVE_CSV, "rounds.csv": paths.ROUNDS_CSV}


def planned(base: dict, strategies: list[str], seeds: list[int]) -> list[tuple[str, int]]:
    """Every (strategy, seed), the params.yaml default last."""
    grid = [(s, n) for n in seeds for s in strategies]
    default = (base["strategy"], base["seed"])
    return [g for g in grid if g != default] + ([default] if default in grid else [])


def recorded_differences(folder: Path, params: dict) -> list[str] | None:
    """The keys in which the run recorded in `folder` differs from `params` (None: the folder
    records no run). A key added since it ran counts with the value that does what the code did
    before (table2_rows.ADDED_PARAMS)."""
    try:
        recorded = read_yaml((folder / "params.yaml").read_text(), folder / "params.yaml")
    except FileNotFoundError:
        return None
    return differing_keys(with_added_params(recorded), with_added_params(params))


def done(folder: Path, params: dict) -> bool:
    """The run in `folder` has these params (recorded_differences is empty) and its results."""
    return (recorded_differences(folder, params) == []
            and (folder / "summary.json").exists() and (folder / "curve.csv").exists())


FRESH = ("--force", "--downstream", "settings")  # run_one's `extra` for --no-run-cache: from `settings` on


def run_one(overrides: dict, dvc: str, log_path: Path, base_text: str | None = None,
            extra: tuple[str, ...] = ()) -> tuple[int, str]:
    """`dvc exp run -S key=value ...`, its output appended to `log_path` when it ends (killed too),
    progress lines to stdout. The log is written after the run, not during it: a log inside the
    repository is a tracked file, and DVC applying the experiment to the workspace puts back the
    version the run started from, which would drop whatever was appended meanwhile. With
    `base_text`, params.yaml is first reset to it: `-S` edits the workspace's params.yaml and DVC
    applies each experiment's params to the workspace, so without the reset a key one run set
    would carry into the next run that does not set it. `extra`: more `dvc exp run` arguments (FRESH)."""
    if base_text is not None:
        Path("params.yaml").write_text(base_text)
    cmd = [dvc, "exp", "run", *extra]
    for key, value in overrides.items():
        cmd += ["-S", f"{key}={value}"]
    name, lines = "", []
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Running stage 'finetune") or "accuracy" in line and "cost" in line:
                print(f"    {line.rstrip()}", flush=True)
            m = re.search(r"Ran experiment\(s\): (\S+)", line)
            name = m.group(1) if m else name
        if proc.wait() != 0:
            sys.stderr.write("".join(lines[-40:]))
    finally:
        with open(log_path, "a") as log_file:
            log_file.writelines(lines)
    return proc.returncode, name


def run_queued(todo: list[tuple[str, int]], dvc: str, jobs: int, copy_paths: list[str], log_file,
               pull: bool = False) -> int:
    """Queue every (strategy, seed), then run the queue `jobs` at a time; output to `log_file`."""
    for strategy, seed in todo:
        cmd = [dvc, "exp", "run", "--queue", "-S", f"strategy={strategy}", "-S", f"seed={seed}"]
        cmd += ["--pull"] if pull else []
        for path in copy_paths:
            cmd += ["-C", path]
        out = subprocess.run(cmd, capture_output=True, text=True)
        log_file.write(out.stdout + out.stderr)
        if out.returncode != 0:
            sys.stderr.write(out.stdout[-2000:] + out.stderr[-2000:])
            return out.returncode
        log(f"queued {strategy} seed {seed}")
    log(f"dvc exp run --run-all --jobs {jobs}: {len(todo)} run(s), {jobs} at a time ...")
    proc = subprocess.Popen([dvc, "exp", "run", "--run-all", "--jobs", str(jobs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        log_file.write(line)
        log_file.flush()
        if "accuracy" in line and "cost" in line:
            print(f"    {line.rstrip()}", flush=True)
    return proc.wait()


def queue_copy_paths(base: dict) -> list[str]:
    """Untracked inputs a queued run's temporary workspace needs: the raw folder, when it lies in the
    repository (an outside path is read where it is)."""
    raw = Path(base["data"]["raw_dir"])
    inside = not raw.is_absolute() and ".." not in raw.parts
    return [str(raw)] if inside and raw.exists() else []


def get_key(params: dict, dotted: str):
    """The value of section.key (or a top-level key); KeyError names a key params.yaml lacks."""
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"params.yaml has no key '{dotted}'")
        node = node[part]
    return node


def set_key(params: dict, dotted: str, value) -> dict:
    """A copy of `params` with section.key (or a top-level key) set to `value`."""
    get_key(params, dotted)
    out = json.loads(json.dumps(params))
    *parents, last = dotted.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[last] = value
    return out


def differing_keys(a, b, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two params trees."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [k for key in sorted(set(a) | set(b), key=str)
                for k in differing_keys(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


def record(folder: Path, params: dict, name: str, commit: str, seconds: float) -> dict:
    """Copy the workspace's run results (after `dvc exp run`) into `folder`; returns the summary.
    Refuses (RuntimeError) when the params the run used (the workspace's params.yaml, which DVC set
    to the experiment's) are not `params`: a folder must never name a run it does not hold."""
    ran = read_yaml(Path("params.yaml").read_text(), "params.yaml")
    wrong = differing_keys(with_added_params(ran), with_added_params(params))
    if wrong:
        raise RuntimeError(f"the run used other params than intended ({', '.join(wrong[:5])}); "
                           f"nothing recorded in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    for dst, src in COPIED.items():
        shutil.copyfile(src, folder / dst)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (folder / "run.json").write_text(json.dumps(
        {"experiment": name, "commit": commit, "wall_seconds": seconds}, indent=2) + "\n")
    return json.loads((folder / "summary.json").read_text())


def git_commit() -> str:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "stages",
                            "dvc.yaml"], capture_output=True, text=True).stdout.strip()
    if dirty:
        log(f"WARNING: uncommitted changes in code ({dirty.splitlines()[0]} ...): run.json will record "
            f"commit {commit[:8]}, which is not the code these runs use. Commit first.")
    if subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], capture_output=True).returncode != 0:
        log(f"WARNING: HEAD is detached at {commit[:8]}, not on a branch. A `dvc exp run` that was killed "
            f"leaves it so, and commits made now belong to no branch. If that is what happened, stop "
            f"and run `git checkout <your branch>` (`git reflog` shows where it was).")
    return commit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="results folder, e.g. results/mixmnist-quick")
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=None,
                        help="run through DVC's queue, N experiments at a time (see the module docstring)")
    parser.add_argument("--pull", action="store_true",
                        help="with --jobs: a stage found in the run cache (`dvc fetch --run-cache`) pulls its "
                             "outputs from the DVC remote instead of running (docs/several-machines-and-gpus.md)")
    parser.add_argument("--no-run-cache", action="store_true",
                        help="every run computes its stages from `settings` on, none restored from DVC's run "
                             "cache (a true recomputation, clean wall times); not with --jobs")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.jobs is not None and args.no_run_cache:
        parser.error("--no-run-cache runs in this workspace only; leave out --jobs (queued runs restore from "
                     "the run cache)")
    out = Path(args.out)
    params_text = Path("params.yaml").read_text()
    base = read_yaml(params_text, "params.yaml")
    dvc = str(Path(sys.executable).with_name("dvc"))
    commit = git_commit()
    out.mkdir(parents=True, exist_ok=True)
    todo = planned(base, args.strategies, args.seeds)
    if args.jobs is not None:
        return queued_grid(out, base, todo, dvc, args.jobs, args.pull)
    extra = FRESH if args.no_run_cache else ()
    if extra:
        log("--no-run-cache: dvc repro pretrain (the data stages and pretraining, which no run recomputes) ...")
        with open(out / "grid.log", "a") as log_file:
            rc = subprocess.run([dvc, "repro", "pretrain"], stdout=log_file, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            log(f"error: `dvc repro pretrain` failed (exit {rc}); see {out / 'grid.log'}")
            return rc
    t_grid = time.perf_counter()
    try:
        for i, (strategy, seed) in enumerate(todo, 1):
            params = {**base, "strategy": strategy, "seed": seed}
            folder = run_dir(out, strategy, seed)
            if done(folder, params):
                log(f"[{i}/{len(todo)}] {strategy} seed {seed}: already in {folder}, skipped")
                continue
            log(f"[{i}/{len(todo)}] {strategy} seed {seed}: dvc exp run ...")
            t0 = time.perf_counter()
            rc, name = run_one({"strategy": strategy, "seed": seed}, dvc, out / "grid.log", params_text, extra)
            if rc != 0:
                log(f"error: `{' '.join(['dvc exp run', *extra])} -S strategy={strategy} -S seed={seed}` failed (exit {rc}); "
                    f"see {out / 'grid.log'}. Finished runs are kept; rerun the command to resume.")
                return rc
            seconds = round(time.perf_counter() - t0, 1)
            try:
                s = record(folder, params, name, commit, seconds)
            except RuntimeError as exc:
                log(f"error: {strategy} seed {seed}: {exc}")
                return 2
            acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.2f}%"
            log(f"[{i}/{len(todo)}] {strategy} seed {seed}: {acc} at cost {s['cost']:g} "
                f"({seconds:.0f} s; grid {time.perf_counter() - t_grid:.0f} s)")
    finally:
        Path("params.yaml").write_text(params_text)
    build(out)
    return 0


def queued_grid(out: Path, base: dict, todo: list[tuple[str, int]], dvc: str, jobs: int, pull: bool) -> int:
    todo = [(s, n) for s, n in todo if not done(run_dir(out, s, n), {**base, "strategy": s, "seed": n})]
    if todo:
        t0 = time.perf_counter()
        with open(out / "grid.log", "a") as log_file:
            rc = run_queued(todo, dvc, jobs, queue_copy_paths(base), log_file, pull)
        log(f"queue finished in {time.perf_counter() - t0:.0f} s (exit {rc})")
    counts = collect(out, base)
    missing = [(s, n) for s, n in todo if not done(run_dir(out, s, n), {**base, "strategy": s, "seed": n})]
    if missing:
        log(f"error: {len(missing)} run(s) did not finish: {', '.join(f'{s} seed {n}' for s, n in missing)}. See "
            f"{out / 'grid.log'}, `dvc queue status` and `dvc queue logs <name>`; rerun the command to retry them.")
        return 1
    log(f"collected {counts['added']} run(s) into {out}/runs")
    build(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
