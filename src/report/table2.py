"""Table 2 across DVC experiments: `python -m src.report.table2 [-A] [--json exp_show.json]`.

Reads `dvc exp show --json` (or a saved copy of it), groups experiments by `strategy`, and
prints Markdown: mean +- std over seeds of accuracy (%), cost, cost/acc and iD precision, beside
the paper's MixMNIST numbers. What counts as a run:
- every experiment (`dvc exp run`) of the commits shown;
- the workspace only when its outputs are up to date with its params and code (`dvc status` is
  clean; with --json, only when --workspace says so);
- committed metrics (HEAD's metrics/summary.json, possibly made on another machine) never by
  default: --committed adds them, labelled as committed.
Runs with identical params count once (an experiment before the workspace before a commit).
The table itself is built by src/report/table2_rows.py, as the results-folder view's is.
The committed multi-seed evidence is a results folder: `python -m src.report.results <folder>`.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from src.core.errors import UserError
from src.report.table2_rows import AT_THE_STOP, ID_PRECISION, REQUIRED, mean_std, paper_rows, setting_of, table_lines

SUMMARY_FILE = "metrics/summary.json"
def _runs(node, found: list, kind: str) -> None:
    """Every {params, metrics} record in `dvc exp show --json` output, as (kind, name, data):
    kind is "workspace", "committed" (a commit's own metrics) or "experiment"."""
    if isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "params" in data and "metrics" in data:
            this = kind if kind == "experiment" else ("workspace" if node.get("rev") == "workspace" else "committed")
            found.append((this, node.get("name") or node.get("rev") or "?", data))
        for key, value in node.items():
            _runs(value, found, "experiment" if key == "experiments" or kind == "experiment" else kind)
    elif isinstance(node, list):
        for value in node:
            _runs(value, found, kind)


def collect(exp_show: list, workspace: bool = False, committed: bool = False) -> dict[tuple[str, str], list[dict]]:
    """(strategy, setting) -> list of {name, seed, metrics}, unique by params. `setting` is a
    short hash of every param but strategy and seed, so runs of different profiles or
    hyperparameters are never averaged together. The workspace and committed metrics count only
    when asked (see the module docstring)."""
    found: list = []
    _runs(exp_show, found, "top")
    order = {"experiment": 0, "workspace": 1, "committed": 2}
    found = sorted((f for f in found if (f[0] == "experiment" or (f[0] == "workspace" and workspace)
                                         or (f[0] == "committed" and committed))), key=lambda f: order[f[0]])
    groups: dict[str, list[dict]] = {}
    seen = set()
    for kind, name, data in found:
        name = f"{name} (committed)" if kind == "committed" else name
        params = (data.get("params") or {}).get("params.yaml", {}).get("data") or {}
        metrics = (data.get("metrics") or {}).get(SUMMARY_FILE, {}).get("data")
        if not metrics or "strategy" not in params:
            continue
        key = json.dumps(params, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        absent = [k for k in REQUIRED if k not in metrics]
        if absent:
            raise UserError(f"{SUMMARY_FILE} of {name} has no {', '.join(absent)}: made by an older version of the "
                            f"report stage. Rerun that experiment (`dvc exp run`), or remove it (`dvc exp remove "
                            f"{name}`).")
        groups.setdefault((params["strategy"], setting_of(params)), []).append(
            {"name": name, "seed": params.get("seed"), "benchmark": params.get("benchmark", "mixmnist"), **metrics})
    return groups


COLUMNS = [("runs (seeds)", lambda runs: f"{len(runs)} ({','.join(str(r['seed']) for r in runs)})"),
           *(mean_std(*column) for column in AT_THE_STOP), mean_std(*ID_PRECISION)]


def markdown(groups: dict[tuple[str, str], list[dict]]) -> str:
    """The table of `collect`'s groups, each row beside the paper's numbers for its benchmark."""
    return "\n".join(table_lines(groups, COLUMNS, lambda runs: paper_rows(runs[0].get("benchmark"))[0]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="a saved `dvc exp show --json` output (default: run it)")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="include experiments based on earlier commits (default: HEAD's only)")
    parser.add_argument("--workspace", action="store_true",
                        help="count the workspace's metrics without checking `dvc status`")
    parser.add_argument("--committed", action="store_true",
                        help="also count metrics committed in git (labelled as committed; maybe another machine's)")
    args = parser.parse_args(argv)
    if args.json:
        try:
            with open(args.json) as fh:
                exp_show = json.load(fh)
        except FileNotFoundError:
            print(f"error: {args.json}: no such file; save one with `dvc exp show --json > {args.json}`.",
                  file=sys.stderr)
            return 2
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"error: {args.json}: not the JSON `dvc exp show --json` writes ({exc}); save it again with "
                  f"`dvc exp show --json > {args.json}`.", file=sys.stderr)
            return 2
        if not isinstance(exp_show, list):
            print(f"error: {args.json}: expected the list `dvc exp show --json` writes, got a "
                  f"{type(exp_show).__name__}.", file=sys.stderr)
            return 2
    else:
        cmd = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if args.all_commits else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"error: `dvc exp show --json` failed: {out.stderr.strip()}", file=sys.stderr)
            return 2
        exp_show = json.loads(out.stdout)
        if not args.workspace:
            status = subprocess.run(["dvc", "status", "--json"], capture_output=True, text=True)
            args.workspace = status.returncode == 0 and json.loads(status.stdout or "{}") == {}
            if not args.workspace:
                print("note: the workspace is not up to date (`dvc status`), so its metrics are not counted.",
                      file=sys.stderr)
    try:
        groups = collect(exp_show, workspace=args.workspace, committed=args.committed)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    head_note = only_head(exp_show) if args.workspace and not args.committed else None
    if head_note:
        print(head_note, file=sys.stderr)
    if not groups:
        print("error: no experiment has metrics/summary.json yet; run `dvc exp run` (README's flow) "
              "first, or pass --committed to show the committed metrics.", file=sys.stderr)
        return 2
    for runs in groups.values():
        for r in runs:
            if r.get("target_reached") is False:
                print(f"WARNING: run {r['name']} ended with {r.get('labeled_id')} labeled iD, short of "
                      f"active.target_id = {r.get('target_id')}: add entries to `rounds` in params.yaml.",
                      file=sys.stderr)
    print(markdown(groups))
    if head_note:
        print(f"\n{head_note}")
    return 0


def only_head(exp_show: list) -> str | None:
    """A note when the table would show nothing but the workspace and the workspace's metrics are the
    committed HEAD ones: that row is HEAD's committed result (maybe computed on another machine),
    not a run of this workspace that adds evidence."""
    found: list = []
    _runs(exp_show, found, "top")
    if any(kind == "experiment" for kind, _, _ in found):
        return None
    metrics = {kind: (data.get("metrics") or {}).get(SUMMARY_FILE, {}).get("data")
               for kind, _, data in found if kind in ("workspace", "committed")}
    if metrics.get("workspace") and metrics.get("workspace") == metrics.get("committed"):
        return ("note: no experiments; the only row is the workspace, whose metrics equal HEAD's committed "
                "metrics/summary.json (computed here or checked out, it is one run either way, not several "
                "seeds). More runs: `dvc exp run` (README), or the results folders.")
    return None


if __name__ == "__main__":
    sys.exit(main())
