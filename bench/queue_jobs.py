"""The grid through DVC's queue with 1 worker against 2 workers: wall seconds of the same runs.

    python -m bench.queue_jobs [--strategies random entropy] [--seed 7] [--out bench/queue_jobs.json]

Needs the workspace's data and `pretrain` in DVC's cache (after `dvc repro`) and committed code.
Two throw-away clones of HEAD, each with a hard-linked copy of this workspace's DVC cache (`cp -al`,
so neither finds the other's runs in the run cache) and the raw folder linked; in each, `python -m src.report.grid <tmp> --strategies ... --seeds <seed> --jobs N` runs the same
experiments (data stages and `pretrain` are restored from the cache in both), once with N = 1 and
once with N = 2. Prints both wall times and their ratio, and writes them to --out. Nothing is
asserted: ratios belong here, not in the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from src.core.config import read_yaml
from src.core.log import log


def clone(root: Path, dest: Path, cache: Path, raw: Path) -> None:
    subprocess.run(["git", "clone", "-q", str(root), str(dest)], check=True)
    own = dest.parent / f"{dest.name}-cache"
    subprocess.run(["cp", "-al", str(cache), str(own)], check=True)
    cache = own
    if raw.exists():
        (dest / "data").mkdir(exist_ok=True)
        os.symlink(raw.resolve(), dest / "data" / "raw")
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "cache", "dir", "--local", str(cache)], cwd=dest, check=True)


def timed_grid(repo: Path, strategies: list[str], seed: int, jobs: int) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "src.report.grid", "results/bench", "--strategies", *strategies,
                          "--seeds", str(seed), "--jobs", str(jobs)], cwd=repo, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"grid with --jobs {jobs} failed (exit {out.returncode}); log in {repo}/results/bench")
    runs = sorted(p.parent.name for p in (repo / "results/bench/runs").glob("*/summary.json"))
    log(f"--jobs {jobs}: {len(runs)} runs ({', '.join(runs)}) in {seconds:.0f} s")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=["random", "entropy"])
    parser.add_argument("--seed", type=int, default=7, help="a seed no committed run uses")
    parser.add_argument("--out", default="bench/queue_jobs.json")
    args = parser.parse_args(argv)
    root = Path.cwd()
    params = read_yaml((root / "params.yaml").read_text(), root / "params.yaml")
    cache, raw = root / ".dvc" / "cache", root / params["data"]["raw_dir"]
    result = {"strategies": args.strategies, "seed": args.seed, "cpus": os.cpu_count(),
              "machine": platform.processor() or platform.machine(),
              "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()}
    with tempfile.TemporaryDirectory(prefix="queue-jobs-") as tmp:
        for jobs in (1, 2):
            repo = Path(tmp) / f"jobs{jobs}"
            clone(root, repo, cache, raw)
            result[f"jobs{jobs}_seconds"] = round(timed_grid(repo, args.strategies, args.seed, jobs), 1)
            shutil.rmtree(repo / ".dvc" / "tmp", ignore_errors=True)
    result["speedup"] = round(result["jobs1_seconds"] / result["jobs2_seconds"], 2)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    log(f"{len(args.strategies)} runs: --jobs 1 {result['jobs1_seconds']:.0f} s, --jobs 2 "
        f"{result['jobs2_seconds']:.0f} s: {result['speedup']:.2f}x (written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
