"""The contact sheets of the passes a person labels next (oracle: file; docs/label-your-own-images.md).

    python -m src.active.sheets r01

queries.csv lists every candidate of the round, and its ranking stage draws the sheets of the first
`annotation.max_queries` queries in annotations/r01/sheets/. When a round needs more (labels
needed: ... sheet_NNN.png, drawn by `python -m src.active.sheets r01`), this draws the next ones:
from the sheet holding the first pass that labels.csv (or labels.json) does not answer whole, sheets
of at least `annotation.max_queries` queries, into annotations/more_sheets/r01/sheet_NNN.png -
numbered as queries.csv's `sheet` column, each image under its query number. Run it again after
labeling them for the sheets after those. It writes outside the round's folder: no stage reads or
writes what it draws, and `dvc repro` runs nothing because of it.
"""
from __future__ import annotations

import sys

import numpy as np

from src.active.annotations import QueryList, all_queries, draw_sheets, more_sheets_dir, ranking_stage, sheets_dir
from src.active.candidates import load_candidates
from src.active.integrity import load_state
from src.active.labels import next_rows, read_labels
from src.active.oracle import stage0_state
from src.core import config, paths
from src.core.errors import UserError
from src.data.pool import load_pool


def round_queries(round_name: str, p, params_path: str) -> tuple[str | None, QueryList, dict]:
    """(prev, the round's queries as its ranking stage listed them, the person's answers so far)."""
    prev = None if round_name == config.INITIAL_STATE else p.rounds.get(round_name, {}).get("prev")
    if round_name != config.INITIAL_STATE and prev is None:
        raise UserError(f"{round_name} is not a round of {params_path}.")
    state = stage0_state(load_pool(paths.POOL_NPZ, ("category",)), p) if prev is None else load_state(prev, p)
    cands = load_candidates(round_name, prev or "", state)
    queries = all_queries(cands, p.annotation.max_queries, p.annotation.sheet_size)
    return prev, queries, read_labels(round_name, queries, state.acquired_round, config.class_names(p))


def draw_next(round_name: str, params_path: str = "params.yaml") -> list[str]:
    """Draw the sheets of the next passes to label (see the module docstring) -> lines to print."""
    p = config.load(params_path)
    _, queries, answers = round_queries(round_name, p, params_path)
    rows = next_rows(queries, answers, p.annotation.max_queries)
    if not len(rows):
        return [f"round {round_name}: every listed query is labeled; no sheet to draw"]
    wanted = np.unique(queries.sheets[rows])
    done = [s for s in wanted.tolist() if queries.on_stage_sheets(s)]
    lines = [f"{sheets_dir(round_name)}/sheet_{s:03d}.png (drawn by {ranking_stage(round_name)})" for s in done]
    rows = np.flatnonzero(np.isin(queries.sheets, [s for s in wanted.tolist() if s not in done]))
    if len(rows):
        out = more_sheets_dir(round_name)
        out.mkdir(parents=True, exist_ok=True)
        images = load_pool(paths.POOL_NPZ, ("images",))["images"][queries.order[rows]]
        lines += [f"{out}/{line}" for line in draw_sheets(out, queries, rows, images)]
    return lines


def round_command(doc: str, work, argv=None) -> int:
    """`python -m <module> rNN` for a person's round commands (this one, Label Studio's export):
    work(round name) -> lines to print; a mistake is printed as the stages print it (exit 2)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(doc.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        lines = work(args[0])
    except UserError as exc:
        print(f"{getattr(exc, 'prefix', 'error')}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    return round_command(__doc__, draw_next, argv)


if __name__ == "__main__":
    sys.exit(main())
