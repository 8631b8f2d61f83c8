"""Ranking time and peak memory of the open-set strategies (lfosa, eaoa) on synthetic pool outputs,
one run each, every (pool size, strategy) in its own process so that each peak is its own.

Pool outputs as a round writes them: `logits` float32 (N, K + 1) and `penultimate` float16 (N, 64);
K = 10; a labeled set of M rows (a fifth of them labeled non-iD, class K), stage 0 plus one round
(EAOA's k1 reads its precision). The sizes and their limits (issue 26):

    1,000,000 rows, M = 2,000 labeled: rank <= 60 s and <= 8 GB (process peak)
       30,000 rows, M =   600 labeled: rank <= 2 s

    python -m bench.open_set_rank            # both sizes (minutes on 2 cores)
    python -m bench.open_set_rank --quick    # 100,000 and 5,000 rows: a smoke run
    python -m bench.open_set_rank --out results/open-set-rank.md   # also writes the table there

Prints seconds, the process's peak resident memory and the part of it the ranking added, and each
number's ratio to its limit. Nothing is asserted: ratios belong here, not in the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

K, DIM = 10, 64
FULL = ((1_000_000, 2_000, 60.0, 8.0), (30_000, 600, 2.0, None))  # rows, labeled, s limit, GB limit
QUICK = ((100_000, 1_000, None, None), (5_000, 100, None, None))


def synthetic(n: int, m: int, seed: int = 0):
    """(state, outputs): a mixed pool - 70 % iD of K classes, 30 % non-iD - and its model outputs."""
    from src.active.state import ActiveState

    g = np.random.default_rng(seed)
    cls = g.integers(0, K, n)
    non_id = g.random(n) < 0.3
    logits = g.normal(0.0, 1.0, (n, K + 1)).astype(np.float32)
    logits[np.arange(n), np.where(non_id, K, cls)] += 4.0
    centres = g.normal(0.0, 1.0, (K + 1, DIM)).astype(np.float32)
    feats = (centres[np.where(non_id, K, cls)] + g.normal(0.0, 0.7, (n, DIM)).astype(np.float32)).astype(np.float16)
    labeled = g.choice(n, m, replace=False)
    labels = np.where(non_id[labeled], K, cls[labeled])
    first = m // 2  # stage 0 labels iD only (the baselines' stage 0); the rest is round 1
    id_rows = labeled[labels < K]
    stage0 = id_rows[:first]
    rest = np.setdiff1d(labeled, stage0)
    state = ActiveState.empty(n).with_labels(stage0, cls[stage0], float(len(stage0)), 0)
    state = state.with_labels(rest, np.where(non_id[rest], K, cls[rest]), float(len(rest)), 1)
    return state, {"logits": logits, "penultimate": feats}


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB


def one(strategy: str, n: int, m: int) -> dict:
    from src.active.strategies import get

    state, outputs = synthetic(n, m)
    before = peak_gb()
    s = get(strategy, quota=10, num_classes=K)
    t0 = time.perf_counter()
    cands = s.rank(state, outputs, np.random.default_rng(0))
    seconds = time.perf_counter() - t0
    return {"strategy": strategy, "rows": n, "labeled": m, "seconds": round(seconds, 2),
            "peak_gb": round(peak_gb(), 3), "added_gb": round(peak_gb() - before, 3),
            "ranked": int(len(cands.order)), "info": s.info}


def ratio(value: float, limit: float | None) -> str:
    return f"{value / limit:.2f} of {limit:g}" if limit else "-"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small pools only (a smoke run)")
    ap.add_argument("--out", help="also write the table, with this machine's CPU, to this Markdown file")
    ap.add_argument("--one", nargs=3, metavar=("STRATEGY", "ROWS", "LABELED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]))))
        return
    lines = ["| strategy | rows | labeled | ranked | seconds | of which reverse kNN | vs limit | peak GB | added GB "
             "| vs limit |", "|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for n, m, s_limit, gb_limit in QUICK if args.quick else FULL:
        for strategy in ("lfosa", "eaoa"):
            out = subprocess.run([sys.executable, "-m", "bench.open_set_rank", "--one", strategy, str(n), str(m)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rknn = r["info"].get("eaoa", {}).get("rknn_seconds", "-")
            lines.append(f"| {strategy} | {n:,} | {m:,} | {r['ranked']:,} | {r['seconds']} | {rknn} "
                         f"| {ratio(r['seconds'], s_limit)} | {r['peak_gb']} | {r['added_gb']} "
                         f"| {ratio(r['peak_gb'], gb_limit)} |")
            print(lines[-1], flush=True)
    if args.out:
        from pathlib import Path
        import platform
        info = Path("/proc/cpuinfo")
        names = [ln.split(":", 1)[1].strip() for ln in (info.read_text().splitlines() if info.exists() else [])
                 if ln.startswith("model name")]
        cpu = names[0] if names else platform.processor() or "an unknown CPU"
        head = ["# Ranking time and memory of the open-set strategies", "",
                f"`python -m bench.open_set_rank{' --quick' if args.quick else ''} --out {args.out}`, one run on "
                f"{cpu} ({os.cpu_count()} CPUs). Synthetic pool outputs (K = {K}, {DIM}-d float16 features); each "
                "(strategy, size) in its own process. Peak GB: that process's peak resident memory (Python, NumPy "
                "and the synthetic outputs included); added GB: what ranking added to it. Limits (issue 26): "
                "1,000,000 rows <= 60 s and <= 8 GB; 30,000 rows <= 2 s.", ""]
        Path(args.out).write_text("\n".join(head + lines) + "\n")


if __name__ == "__main__":
    main()
