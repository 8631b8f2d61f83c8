"""Shared entry point for stage scripts: parse arguments, run, turn UserError into a clean exit.

SIGTERM (what `kill` and job schedulers send) is turned into an exit that unwinds the stage, so
`stage_outputs` removes its partial files and folders as it does on an exception; SIGKILL skips
that, and the next run of the stage cleans up. Either way every declared output, the DVCLive
folders included, is as it was (a stage writes them all inside `stage_outputs`)."""
import argparse
import inspect
import signal
import sys

from src.core.errors import UserError
from src.core.io import NO_SPACE, no_space_message


def run(main, description: str, argv=None) -> None:
    """Calls main(params_path, [round_name], [prev]) - the round arguments only if main takes them."""
    wanted = inspect.signature(main).parameters
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    if "round_name" in wanted:
        parser.add_argument("--round", dest="round_name", required=True, help="round name, e.g. r01")
    if "prev" in wanted:
        parser.add_argument("--prev", default=None,
                            help="the round this one continues from (as in params' rounds; none for finetune r00)")
    args = vars(parser.parse_args(argv))
    if argv is None:  # a real process (tests call run() in-process and keep their own handlers)
        signal.signal(signal.SIGTERM, _terminated)
    try:
        main(args.pop("params"), **args)
    except UserError as exc:
        print(f"{getattr(exc, 'prefix', 'error')}: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # a write outside the project's writers (DVCLive's logs, a library's cache)
        if exc.errno not in NO_SPACE:
            raise
        print(f"error: {no_space_message(exc.filename or '.', exc)}", file=sys.stderr)
        sys.exit(2)


def _terminated(signum, frame):
    print("error: terminated (SIGTERM); the stage's outputs are unchanged", file=sys.stderr)
    sys.exit(128 + signum)
