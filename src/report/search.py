"""A coordinate-wise search on the validation split: several knobs, one after another.

    python -m src.report.search results/tuning-quick/search --reuse results/tuning-quick \\
        --seeds 0 1 --knob contrastive.pretrain_epochs 8 16 24 \\
        --knob contrastive.round_epochs 0.25 0.5 1

For each knob in turn, `src.report.tune` tries its values from the settings chosen so far (the
current value is always among them). The best value replaces the current one in params.yaml only
when its mean validation AUC log-cost is at least `--margin` points higher (default 0.5: two seeds
of one setting differ by about that much); otherwise the current value stays. params.yaml is
edited line by line, its comments kept, so the search ends with the chosen settings in place;
<folder>/search.md lists each knob's values, scores and decision. Resumable: runs already recorded
are reused, in the folder and in the `--reuse` folders (src/report/tune.py). A search starts from
other settings than the single-knob tunes beside it, so it gets a folder of its own: its runs and
tables never replace theirs. Test accuracy is never read.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import yaml

from src.core.config import read_yaml
from src.core.log import log
from src.report import tune
from src.report.grid import get_key

SEARCH = "search.md"


def set_in_text(text: str, dotted: str, value) -> str:
    """params.yaml's text with `section.key` (or a top-level key) set to the scalar `value`; the
    line's comment and every other line are kept. KeyError when the key is not a line of its own."""
    *parents, key = dotted.split(".")
    if len(parents) > 1:
        raise KeyError(f"'{dotted}': only section.key or a top-level key can be set")
    lines = text.splitlines(keepends=True)
    start, indent = 0, ""
    if parents:
        head = next((i for i, ln in enumerate(lines) if re.match(rf"{re.escape(parents[0])}:\s*(#.*)?$", ln)), None)
        if head is None:
            raise KeyError(f"params.yaml has no section '{parents[0]}'")
        start, indent = head + 1, "  "
    rendered = as_text(value)
    for i in range(start, len(lines)):
        if parents and lines[i].strip() and not lines[i].startswith(" "):
            break  # the next section: the key is not in this one
        m = re.match(rf"({indent}{re.escape(key)}:\s*)([^#\n]*?)(\s*#.*)?(\n?)$", lines[i])
        if m:
            line = m.group(1) + rendered
            if m.group(3):  # the comment stays in its column (one space at least)
                comment = m.group(3).lstrip()
                column = len(m.group(1)) + len(m.group(2)) + len(m.group(3)) - len(comment)
                line = line.ljust(column - 1) + " " + comment
            lines[i] = line + m.group(4)
            return "".join(lines)
    raise KeyError(f"params.yaml has no line for '{dotted}'")


def as_text(value) -> str:
    """A value as YAML writes it on one line: 16, 0.5, bf16, true, [0.9, 1.1]."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def decide(scores: dict, current: str, margin: float) -> tuple[str, str]:
    """(the value to keep, why): the best mean replaces `current` only when `margin` points higher."""
    best, means = tune.choose(scores)
    if best == current or means[best] - means[current] < margin:
        return current, (f"kept: the best, {best}, is {means[best] - means[current]:+.2f} from it (margin {margin})"
                         if best != current else "kept: it is the best")
    return best, f"moved: {best} is {means[best] - means[current]:+.2f} above the current {current}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="tuning folder, e.g. results/tuning-quick")
    parser.add_argument("--knob", nargs="+", action="append", required=True, metavar=("KEY", "VALUE"),
                        help="a knob and its values (VALUE@KEY=VALUE adds companion settings); repeat per knob")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--strategy", default="distance_cl")
    parser.add_argument("--margin", type=float, default=0.5, help="points a value must gain to replace the current")
    parser.add_argument("--reuse", nargs="+", default=[], metavar="FOLDER",
                        help="other tuning folders whose runs of the same params are reused")
    args = parser.parse_args(argv)
    out, params_path = Path(args.out), Path("params.yaml")
    rows = []
    for knob, *values in args.knob:
        if not values:
            print(f"error: --knob {knob} lists no values", file=sys.stderr)
            return 2
        text = params_path.read_text()
        try:
            current = get_key(read_yaml(text, params_path), knob)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
        here = next((v for v in values if tune.parse_value(v) == (current, {})), None)
        if here is None:
            here = as_text(current)
            values = [here, *values]
        log(f"search: {knob} over {', '.join(values)} (current {here})")
        seed_args = [str(s) for s in args.seeds]
        rc = tune.main([str(out), "--knob", knob, "--strategy", args.strategy, "--seeds", *seed_args,
                        *(["--reuse", *args.reuse] if args.reuse else []), "--values", *values])
        if rc != 0:
            return rc
        scores = {v: tune.scores_of(out, knob, v, args.seeds) for v in values}
        keep, why = decide(scores, here, args.margin)
        value, companions = tune.parse_value(keep)
        for key, val in {knob: value, **companions}.items():
            text = set_in_text(text, key, val)
        params_path.write_text(text)
        means = ", ".join(f"{v}: {np.mean(s):.2f}" for v, s in scores.items())
        rows.append(f"| `{knob}` | {means} | {keep} | {why} |")
        log(f"search: {knob} -> {keep} ({why})")
    earlier = []  # rows of knobs searched by an earlier call, kept unless searched again now
    if (out / SEARCH).exists():
        searched = {f"| `{k[0]}` |" for k in args.knob}
        earlier = [ln for ln in (out / SEARCH).read_text().splitlines()
                   if ln.startswith("| `") and not any(ln.startswith(s) for s in searched)]
    rows = earlier + rows
    lines = ["# Coordinate-wise search on the validation split", "",
             f"`python -m src.report.search {out} ...`, strategy {args.strategy}, seeds "
             f"{', '.join(map(str, args.seeds))}, margin {args.margin} points. Mean validation AUC log-cost per "
             "value; each knob's own table is `<knob>.md` beside this file. Test accuracy is not used.", "",
             "| knob | values (mean validation AUC log-cost) | chosen | decision |", "|---|---|---|---|", *rows]
    (out / SEARCH).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
