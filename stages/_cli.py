"""Shared entry point for stage scripts: parse --params, run, turn UserError into a clean exit."""
import argparse
import sys

from src.errors import UserError


def run(main, description: str, argv=None) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args(argv)
    try:
        main(args.params)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
