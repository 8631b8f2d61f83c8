"""`python -m src.check [params.yaml]`: validate a params file before `dvc repro`.

Keys, types and ranges of every section, the round table (which DVC expands before any stage
runs, so some of its mistakes would otherwise reach DVC's wording first) and the strategy name.
Prints what the file would run, or the project's message and exit status 2.
"""
from __future__ import annotations

import argparse
import sys

from src.core.config import load
from src.core.errors import ConfigError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.check", description=__doc__.splitlines()[0])
    parser.add_argument("params", nargs="?", default="params.yaml")
    args = parser.parse_args(argv)
    from src.active.strategies import get as get_strategy

    try:
        p = load(args.params)
        get_strategy(p.strategy)  # a misspelt name lists the valid ones
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = list(p.rounds)
    print(f"{args.params}: OK - strategy {p.strategy}, seed {p.seed}, {len(names)} rounds "
          f"({names[0]} .. {names[-1]}), stop at {p.active.target_id} labeled iD")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
