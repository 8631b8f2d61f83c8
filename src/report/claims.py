"""The paper's claims checked one by one on a results folder, with paired statistics over seeds:

    python -m src.report.claims results/mixmnist-quick --reach 88 90 92

writes <folder>/claims.md. Strategies are compared seed by seed: the same active-learning seed gives
the baselines the same stage-0 draw (and every strategy the same data and pretraining), so for a
pair (A, B) and a metric the paired differences d_s = A_s - B_s over the seeds both ran are
summarised by their mean and a 95 % t-interval (mean ± t(0.975, n - 1) · sd / √n; no interval from
one seed). Metrics: accuracy at each budget of `report.budgets` (summary.json's acc_at_B), accuracy
and cost at the stop, and the cost to reach accuracy A (the first state of curve.csv with test
accuracy >= A; a run that stops below A never reached it: it is counted, not dropped, and the
difference is taken over the seeds where both reached A).

A claim holds when every interval it rests on lies on its side of the threshold, fails when one
lies wholly on the other side, and is inconclusive otherwise (an interval contains the
threshold, or too few seeds). Only the folder's main setting is read (the params shared by most
runs, src/report/table2_rows.py's `setting_of` without a strategy's own section).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from src.core.errors import DataError
from src.core.io import save_text
from src.report.results import load_runs
from src.report.table2_rows import display_name as name

CLAIMS = "claims.md"
BASELINES = ("random", "least_confidence", "entropy", "ddu")
CL = ("random_cl", "distance_cl")
OPEN_SET = ("lfosa", "eaoa")


def t_interval(diffs: list[float]) -> tuple[float, float, float] | None:
    """(mean, low, high) of the 95 % t-interval of the mean of `diffs`; None for no values."""
    if not diffs:
        return None
    mean = float(np.mean(diffs))
    if len(diffs) < 2:
        return mean, -math.inf, math.inf
    from scipy.stats import t

    half = float(t.ppf(0.975, len(diffs) - 1)) * float(np.std(diffs, ddof=1)) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half


def cost_to_reach(run: dict, level: float) -> float | None:
    """Cost of the first state whose test accuracy is >= level (None: the run stopped below it)."""
    return next((row["cost"] for row in run["curve"] if row["accuracy"] is not None and row["accuracy"] >= level), None)


def metric(run: dict, key: str) -> float | None:
    if key.startswith("reach_"):
        return cost_to_reach(run, float(key[6:]))
    value = run["summary"].get(key)
    return None if value is None else float(value)


class Paired:
    """The main setting's runs of a folder, by strategy and seed, and their paired differences."""

    def __init__(self, runs: list[dict]):
        settings = [r["setting"].split("+")[0] for r in runs]
        main = max(set(settings), key=settings.count)
        self.by = {}
        for r, s in zip(runs, settings):
            if s == main:
                self.by.setdefault(r["strategy"], {})[r["seed"]] = r
        self.params = next(r["params"] for r, s in zip(runs, settings) if s == main)
        self.budgets = list(self.params["report"]["budgets"])

    def has(self, *strategies) -> bool:
        return all(s in self.by for s in strategies)

    def diff(self, a: str, b: str, key: str, scale: float = 1.0) -> dict:
        """Seed-by-seed A - scale x B of `key`: n, mean, low, high, and for reach_ keys how often each reached."""
        seeds = sorted(set(self.by[a]) & set(self.by[b]))
        va = {s: metric(self.by[a][s], key) for s in seeds}
        vb = {s: metric(self.by[b][s], key) for s in seeds}
        both = [s for s in seeds if va[s] is not None and vb[s] is not None]
        ci = t_interval([va[s] - scale * vb[s] for s in both])
        return {"a": a, "b": b, "key": key, "seeds": len(seeds), "n": len(both), "ci": ci, "scale": scale,
                "reached": (sum(va[s] is not None for s in seeds), sum(vb[s] is not None for s in seeds))}


def verdict(ds: list[dict], threshold: float, above: bool) -> str:
    """holds / fails / inconclusive for 'every A - B is above (or below) threshold'."""
    if not ds or any(d["ci"] is None for d in ds):
        return "inconclusive"
    if above:
        if any(d["ci"][2] < threshold for d in ds):
            return "fails"
        return "holds" if all(d["ci"][1] > threshold for d in ds) else "inconclusive"
    if any(d["ci"][1] > threshold for d in ds):
        return "fails"
    return "holds" if all(d["ci"][2] < threshold for d in ds) else "inconclusive"


KEY_NAMES = {"accuracy": "Acc. at the stop (points)", "cost": "Cost at the stop"}


def key_name(key: str) -> str:
    if key.startswith("acc_at_"):
        return f"Acc. @ {key[7:]} (points)"
    if key.startswith("reach_"):
        return f"Cost to reach {key[6:]} %"
    return KEY_NAMES[key]


def row(d: dict) -> str:
    ci = d["ci"]
    cells = "- | - | -" if ci is None else (
        f"{ci[0]:+.2f} | " + ("-" if math.isinf(ci[1]) else f"[{ci[1]:+.2f}, {ci[2]:+.2f}]") + f" | {d['n']}")
    reached = f" (reached: {d['reached'][0]}/{d['seeds']} vs {d['reached'][1]}/{d['seeds']})" \
        if d["key"].startswith("reach_") else ""
    b = name(d["b"]) if d.get("scale", 1.0) == 1.0 else f"{d['scale']:g} × {name(d['b'])}"
    return f"| {name(d['a'])} − {b} | {key_name(d['key'])}{reached} | {cells} |"


def claims(p: Paired, reach: list[float]) -> list[tuple[str, str, list[dict]]]:
    """(claim, verdict, the differences it rests on) for C1-C5 and the open-set questions."""
    out = []
    budgets = [f"acc_at_{b}" for b in p.budgets]

    def add(text, pairs, key_list, threshold, above):
        ds = [p.diff(a, b, k) for a, b in pairs for k in key_list if p.has(a, b)]
        if len(ds) < len(pairs) * len(key_list):
            out.append((text, "not run (a strategy is missing from the folder)", ds))
        else:
            out.append((text, verdict(ds, threshold, above), ds))

    add("C1: Least Confidence and Entropy examine more samples than Random to reach the stop "
        "(Cost at the stop, A − Random > 0)", [("least_confidence", "random"), ("entropy", "random")], ["cost"], 0, True)
    add("C2: the CL methods' accuracy at the stop is within 1 point of Least Confidence's "
        "(A − Least Confidence > −1)", [(c, "least_confidence") for c in CL], ["accuracy"], -1, True)
    others = [s for s in (*BASELINES, "random_cl") if s in p.by]  # the paper's strategies; open-set below
    add("C3: Distance (CL) has the lowest cost at the stop of the paper's strategies (Distance (CL) − B < 0 "
        "for every other B)", [("distance_cl", b) for b in others], ["cost"], 0, False)
    add("C4: Distance (CL) >= Random (CL) at equal budget (every budget: difference > 0)",
        [("distance_cl", "random_cl")], budgets, 0, True)
    add("C5: the CL methods are at least as accurate as every baseline at every equal budget "
        "(every pair and budget: difference > 0)",
        [(c, b) for c in CL for b in BASELINES if b in p.by], budgets, 0, True)
    for s in OPEN_SET:
        if s not in p.by:
            continue
        add(f"O-{name(s)}-cost: Distance (CL) costs less at the stop than {name(s)} (difference < 0)",
            [("distance_cl", s)], ["cost"], 0, False)
        add(f"O-{name(s)}-acc: Distance (CL) is more accurate at the stop than {name(s)} (difference > 0)",
            [("distance_cl", s)], ["accuracy"], 0, True)
        add(f"O-{name(s)}-budgets: Distance (CL) is more accurate than {name(s)} at every budget (difference > 0)",
            [("distance_cl", s)], budgets, 0, True)
    if reach:
        add(f"Cost to reach accuracy: Distance (CL) − Random < 0 at {', '.join(f'{a:g}' for a in reach)} %",
            [("distance_cl", "random")], [f"reach_{a:g}" for a in reach], 0, False)
    return out


def targets(p: Paired) -> list[str]:
    """The quick profile's targets for Distance (CL), each met or missed, with the numbers:
    T1 its accuracy at the stop >= Least Confidence's - 1 (mean paired difference);
    T2 its cost at the stop <= 1.2 x Random's (mean of Distance (CL) - 1.2 x Random <= 0);
    T3 at every budget, the 95 % interval of Distance (CL) - Random starts at >= -0.5 points."""
    if not p.has("distance_cl", "random", "least_confidence"):
        return ["## Targets", "", "not run (Distance (CL), Random or Least Confidence is missing from the folder)", ""]
    head = ["| A − B | metric | mean | 95 % interval | seeds |", "|---|---|---|---|---|"]
    t1 = p.diff("distance_cl", "least_confidence", "accuracy")
    t2 = p.diff("distance_cl", "random", "cost", scale=1.2)
    t3 = [p.diff("distance_cl", "random", f"acc_at_{b}") for b in p.budgets]
    ok = lambda flag: "met" if flag else "**missed**"  # noqa: E731
    ratio = [metric(p.by["distance_cl"][s], "cost") / metric(p.by["random"][s], "cost")
             for s in sorted(set(p.by["distance_cl"]) & set(p.by["random"]))]
    lows = [d["ci"][1] for d in t3 if d["ci"] is not None]
    out = ["## Targets for Distance (CL) on this profile", "",
           "Ours, not the paper's: T1 and T2 on the mean paired difference, T3 on the interval's lower end.", "",
           f"- T1, accuracy at the stop >= Least Confidence's − 1: {ok(t1['ci'] and t1['ci'][0] >= -1)} "
           f"(mean {t1['ci'][0]:+.2f} points)" if t1["ci"] else "- T1: no paired seeds",
           f"- T2, cost at the stop <= 1.2 × Random's: {ok(t2['ci'] and t2['ci'][0] <= 0)} "
           f"(cost ratio per seed {', '.join(f'{r:.2f}' for r in ratio)}; mean {np.mean(ratio):.2f})"
           if t2["ci"] else "- T2: no paired seeds",
           f"- T3, at every budget Distance (CL) − Random >= −0.5 points at the interval's lower end: "
           f"{ok(len(lows) == len(t3) and all(lo >= -0.5 for lo in lows))} "
           f"(lowest lower end {min(lows):+.2f})" if lows else "- T3: fewer than 2 paired seeds",
           "", *head, row(t1), row(t2), *(row(d) for d in t3), ""]
    return out


def report(folder: Path, reach: list[float], with_targets: bool = False) -> str:
    p = Paired(load_runs(folder))
    if not p.has("distance_cl"):
        raise DataError(f"{folder}: no distance_cl runs in the main setting; the claims compare against it.")
    seeds = sorted({s for runs in p.by.values() for s in runs})
    cmd = f"python -m src.report.claims {folder}" + (f" --reach {' '.join(f'{a:g}' for a in reach)}" if reach else "")
    cmd += " --targets" if with_targets else ""
    lines = [f"# The paper's claims on `{folder.name}`", "", f"`{cmd}`. Seeds {', '.join(map(str, seeds))}; "
             f"strategies: {', '.join(name(s) for s in p.by)}. Each difference is A − B over the seeds both ran "
             "(the same active-learning seed), its mean and a 95 % t-interval over seeds. A claim holds when "
             "every interval it rests on lies on its side of the threshold, fails when one lies wholly on the "
             "other side, and is inconclusive otherwise. These are our runs, not the paper's.", ""]
    head = ["| A − B | metric | mean | 95 % interval | seeds |", "|---|---|---|---|---|"]
    for text, v, ds in claims(p, reach):
        lines += [f"## {text}", "", f"**{v}**", "", *head, *(row(d) for d in ds), ""]
    if with_targets:
        lines += targets(p)
    keys = [f"acc_at_{b}" for b in p.budgets] + ["accuracy", "cost"] + [f"reach_{a:g}" for a in reach]
    lines += ["## Every strategy against Distance (CL)", "", "Distance (CL) − B for every metric; negative cost "
              "differences and positive accuracy differences favour Distance (CL).", "", *head]
    for b in p.by:
        if b != "distance_cl":
            lines += [row(p.diff("distance_cl", b, k)) for k in keys]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="results folder, e.g. results/mixmnist-quick")
    parser.add_argument("--reach", type=float, nargs="*", default=[],
                        help="accuracy levels (%%) for the cost-to-reach comparison, e.g. 88 90 92")
    parser.add_argument("--targets", action="store_true",
                        help="add the quick MixMNIST profile's targets for Distance (CL) (met / missed)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    try:
        text = report(folder, args.reach, args.targets)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_text(folder / CLAIMS, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
