"""What a `dvc exp run` costs beyond its work, on this code and on an earlier commit, in one invocation.

    python -m bench.stage_overhead --baseline 142be08 [--candidate HEAD] [--strategy distance_cl]
                                   [--seed 1] [--out results/stage-overhead]

For each commit (baseline first, then candidate): a throw-away clone in a temporary folder with a
hard-linked copy of this workspace's DVC cache (`cp -al`) minus its run cache, so no round stage is
restored from an earlier run, and the raw folder linked; `dvc checkout` and `dvc repro pretrain`
(not timed: "pretrain cached"; the data stages and pretrain come from the cache when the commit's
dvc.lock matches what this machine built, else they run), then the timed `dvc exp run -S
strategy=<strategy> -S seed=<seed>`. The seed is 1 by default because the committed dvc.lock holds
the default job (seed 0): DVC would find that run up to date and time nothing. Both sides run with
this environment's packages, except that a package the candidate's requirements.txt adds (e.g.
ruamel.yaml.clib) is hidden from the baseline's processes: its top-level modules are shadowed by
stubs that raise ImportError, so the baseline runs as its own requirements install it. DVC's output is
read line by line as it comes: each "Running stage" line starts a stage's slot, which lasts until
the next one (the stage's process, then DVC's bookkeeping after it and before the next stage).

Per run it prints and writes (<out>/stage_overhead.json and .md): the wall seconds; the work (the
seconds the stages record in plots/rounds.csv, the same columns as results/*/timing.md); the
overhead per stage (its slot minus its recorded work: median and max over the stages that ran);
the time before the first stage and after the last (DVC's and git's own work: loading the
pipeline, checking the cached stages, committing the experiment); dvc.lock's line count; the ratio
of the two walls. Slot breakdown of the slowest stages is in the JSON. Nothing is asserted: the
targets are read off the output (docs/speed-and-memory.md).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from src.core.settings import md5_file

ROOT = Path(__file__).resolve().parents[1]
RUNNING = re.compile(r"^Running stage '([^']+)'")
# plots/rounds.csv columns by the stage that measured them (src/report/curve.py collects them)
WORK = {"acquire": ("seconds_kmeans", "seconds_select"), "annotate": ("seconds_annotate",),
        "finetune": ("seconds_representation", "seconds_train", "seconds_score_pool", "seconds_test")}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def dvc_bin() -> str:
    exe = Path(sys.executable).with_name("dvc")
    return str(exe) if exe.exists() else "dvc"


def environment(shadow: Path | None = None) -> dict:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if shadow is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow), env.get("PYTHONPATH", "")]))
    return env


def run(cmd: list[str], cwd: Path, shadow: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=environment(shadow), check=True, **kw)


def requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-"))
    return names


def shadow_added_packages(baseline: str, candidate: str, dest: Path) -> tuple[Path | None, list[str]]:
    """Stubs for the top-level modules of packages the candidate's requirements add: a folder to put
    first on the baseline's PYTHONPATH (only single-file modules; shared namespace folders stay).
    A stub raises ModuleNotFoundError, as importing an absent module does."""
    import importlib.metadata

    def req(commit):
        return subprocess.run(["git", "show", f"{commit}:requirements.txt"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout

    added = sorted(requirement_names(req(candidate)) - requirement_names(req(baseline)))
    hidden = []
    for name in added:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in files:
            if "/" not in str(f) and str(f).endswith((".so", ".py", ".pyd")):
                hidden.append(str(f).split(".")[0])
    if not hidden:
        return None, added
    dest.mkdir(parents=True)
    for module in hidden:
        message = f"{module}: hidden by bench.stage_overhead (not in the baseline commit's requirements.txt)"
        (dest / f"{module}.py").write_text(f"raise ModuleNotFoundError({message!r}, name={module!r})\n")
    return dest, added


def make_clone(commit: str, dest: Path, cache: Path, raw: Path) -> str:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=dest, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=dest, check=True, capture_output=True,
                         text=True).stdout.strip()
    subprocess.run(["git", "config", "user.email", "bench@localhost"], cwd=dest, check=True)
    subprocess.run(["git", "config", "user.name", "bench"], cwd=dest, check=True)
    if raw.exists():
        (dest / "data").mkdir(exist_ok=True)
        os.symlink(raw.resolve(), dest / "data" / "raw")
    own = dest.parent / f"{dest.name}-cache"
    subprocess.run(["cp", "-al", str(cache), str(own)], check=True)
    shutil.rmtree(own / "runs", ignore_errors=True)  # no run cache: every round stage runs
    run([dvc_bin(), "cache", "dir", "--local", str(own)], dest)
    return sha


def stage_work(clone: Path) -> dict[str, float]:
    """Seconds of work each round stage recorded (rounds.csv: one row per state)."""
    rows = list(csv.DictReader(open(clone / "plots" / "rounds.csv")))
    work = {}
    for row in rows:
        name = row["name"]
        for kind, cols in WORK.items():
            secs = sum(float(row.get(c) or 0) for c in cols)
            if name == "r00":
                stage = {"acquire": "init", "annotate": "annotate_r00", "finetune": "finetune_r00"}[kind]
            else:
                stage = f"{kind}@{name}"
            work[stage] = round(secs, 3)
    return work


def timed_exp_run(clone: Path, strategy: str, seed: int, shadow: Path | None = None) -> dict:
    cmd = [dvc_bin(), "exp", "run", "-S", f"strategy={strategy}", "-S", f"seed={seed}"]
    env = environment(shadow)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    starts, log_lines = [], []
    for line in proc.stdout:
        log_lines.append(line)
        m = RUNNING.match(line)
        if m:
            starts.append((m.group(1), time.perf_counter() - t0))
    rc = proc.wait()
    wall = time.perf_counter() - t0
    if rc != 0:
        sys.stderr.write("".join(log_lines[-60:]))
        raise SystemExit(f"dvc exp run failed in {clone} (exit {rc})")
    work = stage_work(clone)
    slots = []
    for i, (name, start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else None
        if end is None:
            continue  # the last stage's slot runs into the experiment's commit: reported as `after`
        slots.append({"stage": name, "slot": round(end - start, 3), "work": work.get(name, 0.0),
                      "overhead": round(end - start - work.get(name, 0.0), 3)})
    overheads = [s["overhead"] for s in slots]
    total_work = sum(work.values())
    return {"wall_seconds": round(wall, 1), "work_seconds": round(total_work, 1),
            "stages_run": len(starts), "before_first_stage": round(starts[0][1], 1) if starts else None,
            "after_last_stage_start": round(wall - starts[-1][1], 1) if starts else None,
            "last_stage": starts[-1][0] if starts else None,
            "overhead_per_stage_median": round(statistics.median(overheads), 2) if overheads else None,
            "overhead_per_stage_max": round(max(overheads), 2) if overheads else None,
            "dvc_lock_lines": sum(1 for _ in open(clone / "dvc.lock")),
            "slots": slots}


def bench_one(commit: str, label: str, tmp: Path, cache: Path, raw: Path, strategy: str, seed: int,
              shadow: Path | None = None) -> dict:
    dest = tmp / label
    sha = make_clone(commit, dest, cache, raw)
    log(f"{label} ({sha[:7]}): dvc repro pretrain (untimed; the data stages and pretrain are checked out from "
        f"the cache when the commit's dvc.lock matches this machine's build, else they run)")
    t0 = time.perf_counter()
    subprocess.run([dvc_bin(), "checkout", "-q"], cwd=dest, env=environment(shadow), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    run([dvc_bin(), "repro", "pretrain"], dest, shadow, stdout=subprocess.DEVNULL)
    log(f"{label}: pretrain ready in {time.perf_counter() - t0:.0f} s; timing dvc exp run -S strategy={strategy} "
        f"-S seed={seed}")
    result = timed_exp_run(dest, strategy, seed, shadow)
    summary = json.loads((dest / "metrics" / "summary.json").read_text())
    result.update(commit=sha, label=label, rounds_to_stop=summary.get("rounds"), cost=summary.get("cost"),
                  accuracy=summary.get("accuracy"),
                  summary_bytes_md5=md5_file(dest / "metrics" / "summary.json"),
                  curve_bytes_md5=md5_file(dest / "plots" / "curve.csv"))
    log(f"{label}: wall {result['wall_seconds']} s, work {result['work_seconds']} s, overhead per stage median "
        f"{result['overhead_per_stage_median']} s (max {result['overhead_per_stage_max']}), dvc.lock "
        f"{result['dvc_lock_lines']} lines")
    return result


def kind_of(slot: dict) -> str:
    """A slot's stage kind, working or finished (a round after the stop records no work)."""
    name = slot["stage"].split("@")[0]
    if name.endswith("_r00"):
        return name.replace("_r00", " (stage 0)")
    if name in ("acquire", "annotate", "finetune"):
        name += " (working)" if slot["work"] > 0 else " (finished or nothing recorded)"
    return name


def breakdown(slots: list[dict]) -> list[str]:
    """Where the overhead goes, by stage kind: stages, mean slot, mean recorded work, mean and total overhead."""
    kinds: dict[str, list[dict]] = {}
    for s in slots:
        kinds.setdefault(kind_of(s), []).append(s)
    lines = ["| stage kind | stages | slot, mean (s) | work, mean (s) | overhead, mean (s) | overhead, total (s) |",
             "|---|---|---|---|---|---|"]
    for kind, group in sorted(kinds.items(), key=lambda kv: -sum(s["overhead"] for s in kv[1])):
        n = len(group)
        lines.append(f"| {kind} | {n} | {sum(s['slot'] for s in group) / n:.2f} | {sum(s['work'] for s in group) / n:.2f} "
                     f"| {sum(s['overhead'] for s in group) / n:.2f} | {sum(s['overhead'] for s in group):.1f} |")
    return lines


def markdown(res: dict) -> str:
    b, c = res["baseline"], res["candidate"]
    rows = [("wall (s)", "wall_seconds"), ("work recorded by the stages (s)", "work_seconds"),
            ("stages run", "stages_run"), ("overhead per stage, median (s)", "overhead_per_stage_median"),
            ("overhead per stage, max (s)", "overhead_per_stage_max"),
            ("before the first stage (s)", "before_first_stage"),
            ("from the last stage's start to the end (s)", "after_last_stage_start"),
            ("dvc.lock lines", "dvc_lock_lines"), ("rounds to the stop", "rounds_to_stop"), ("cost", "cost"),
            ("accuracy", "accuracy")]
    lines = ["# Stage overhead: `dvc exp run` on two commits, one machine, one invocation", "",
             f"Command: `{res['command']}`", "",
             f"Strategy {res['strategy']}, seed {res['seed']}, quick profile, pretrain cached; {res['cpus']} CPUs ({res['machine']}), "
             f"{res['date']}. Packages the candidate adds, hidden from the baseline's processes: "
             f"{', '.join(res['hidden_from_baseline']) or 'none'}.", "",
             f"| | baseline {b['commit'][:7]} | candidate {c['commit'][:7]} |", "|---|---|---|"]
    lines += [f"| {title} | {b[key]} | {c[key]} |" for title, key in rows]
    lines += ["", f"Wall ratio candidate / baseline: **{res['wall_ratio']}**. Results identical: "
                  f"summary.json {'yes' if b['summary_bytes_md5'] == c['summary_bytes_md5'] else 'NO'}, "
                  f"curve.csv {'yes' if b['curve_bytes_md5'] == c['curve_bytes_md5'] else 'NO'}.", ""]
    for side in (b, c):
        lines += [f"Where the overhead goes, {side['label']} {side['commit'][:7]} (a slot runs from one \"Running stage\" "
                  f"line to the next; work = the seconds the stage recorded; the last stage's slot is in the row "
                  f"above; init and the finished rounds record no work, so their work shows as overhead):", ""]
        lines += breakdown(side["slots"]) + [""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="the earlier commit (e.g. 142be08)")
    ap.add_argument("--candidate", default="HEAD", help="the commit to compare (default HEAD: commit first)")
    ap.add_argument("--strategy", default="distance_cl")
    ap.add_argument("--seed", type=int, default=1, help="the AL seed of the timed run (default 1: see above)")
    ap.add_argument("--out", type=Path, default=Path("results/stage-overhead"))
    ap.add_argument("--keep", action="store_true", help="keep the two clones (printed) for inspection")
    ap.add_argument("--render", action="store_true", help="only rewrite <out>/stage_overhead.md from its .json")
    args = ap.parse_args(argv)
    if args.render:
        res = json.loads((args.out / "stage_overhead.json").read_text())
        (args.out / "stage_overhead.md").write_text(markdown(res))
        print(markdown(res))
        return 0
    cache = Path(run([dvc_bin(), "cache", "dir"], ROOT, capture_output=True, text=True).stdout.strip()).resolve()
    raw = ROOT / "data" / "raw"
    if not raw.exists():
        raise SystemExit("data/raw is missing: link the raw files first (docs/benchmarks.md)")
    tmp = Path(tempfile.mkdtemp(prefix="stage-overhead-"))
    try:
        shadow, added = shadow_added_packages(args.baseline, args.candidate, tmp / "shadow")
        if shadow is not None:
            log(f"hidden from the baseline (added by the candidate's requirements {added}): "
                f"{sorted(p.stem for p in shadow.iterdir())}")
        results = {"baseline": bench_one(args.baseline, "baseline", tmp, cache, raw, args.strategy, args.seed,
                                         shadow),
                   "candidate": bench_one(args.candidate, "candidate", tmp, cache, raw, args.strategy, args.seed)}
    finally:
        if args.keep:
            log(f"clones kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    res = {"command": "python -m bench.stage_overhead " + " ".join(argv if argv is not None else sys.argv[1:]),
           "strategy": args.strategy, "seed": args.seed, "hidden_from_baseline": added, "cpus": os.cpu_count(), "machine": platform.machine(),
           "date": time.strftime("%Y-%m-%d"), **results,
           "wall_ratio": round(results["candidate"]["wall_seconds"] / results["baseline"]["wall_seconds"], 3)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stage_overhead.json").write_text(json.dumps(res, indent=1) + "\n")
    (args.out / "stage_overhead.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
