"""A scripted stand-in for the person who labels a round (oracle: file), as the walk-through in
docs/label-your-own-images.md asks one to: copy annotations/rNN/queries.csv to labels.csv and fill in
the label column, pass by pass, until the round's iD quota.

    python -m src.ci.scripted_person r01 --key data/own/answer_key.csv

The answers come from a key (`file,answer` rows: src.data.example_folder writes one), or, in the
tests, from a function of the query row. `stop` says where the person stops: after the pass that
meets the quota (`quota`, what the walk-through asks), in the middle of that pass (`half`), after
`passes` whole passes, or never (`all`: every listed query).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import yaml

from src.active.annotations import labels_csv, queries_csv

NON_ID = ("ambiguous", "ood")


def read_queries(round_name: str) -> list[dict]:
    with open(queries_csv(round_name), newline="") as fh:
        return list(csv.DictReader(fh))


def answer_round(round_name: str, answer, quota: int, stop: str = "quota", passes: int | None = None) -> int:
    """Write labels.csv for `round_name`; `answer(row) -> label`. Returns the rows labeled."""
    rows = read_queries(round_name)
    by_pass: dict[int, list[dict]] = {}
    for row in rows:
        by_pass.setdefault(int(row["pass"]), []).append(row)
    labeled, found = [], 0
    for p in sorted(by_pass):
        if stop == "passes" and p >= passes:
            break
        group = by_pass[p]
        if stop == "half" and found + sum(answer(r) not in NON_ID for r in group) >= quota and len(group) > 1:
            labeled += group[: len(group) // 2]
            break
        labeled += group
        found += sum(answer(r) not in NON_ID for r in group)
        if stop == "quota" and found >= quota:
            break
    answered = {id(r) for r in labeled}
    out = [{**r, "label": answer(r) if id(r) in answered else ""} for r in rows]
    path = labels_csv(round_name)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["pool_index", "label"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    return len(labeled)


def key_answers(key_path: Path):
    """answer(row) from a `file,answer` key: the row's `file` column names the image."""
    with open(key_path, newline="") as fh:
        key = {r["file"]: r["answer"] for r in csv.DictReader(fh)}
    return lambda row: key[row["file"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("round", help="the round to label, e.g. r00")
    parser.add_argument("--key", required=True, help="file,answer CSV (src.data.example_folder's answer_key.csv)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    active = yaml.safe_load(Path(args.params).read_text())["active"]
    quota = active["init_id"] if args.round == "r00" else active["per_round_id"]
    n = answer_round(args.round, key_answers(Path(args.key)), quota)
    print(f"scripted person: labeled {n} queries of {args.round} in {labels_csv(args.round)} (quota {quota} iD)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
