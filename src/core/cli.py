"""Shared entry point for stage scripts: parse arguments, run, turn UserError into a clean exit.

SIGTERM (what `kill` and job schedulers send) and SIGINT (Ctrl-C) remove the open `stage_outputs`
transaction's partial files and folders, then end the process at once (os._exit). The stage is not
unwound through the libraries it was in: an exception raised at an arbitrary point inside one can
leave its locks held, and DVCLive's `end()` then waited forever on its own queue (a CI run hung
that way). A signal during the final renames acts after them (src/core/io.py). SIGKILL skips all
this, and the next run of the stage cleans up. Either way every declared output, the DVCLive
folders included, is as it was (a stage writes them all inside `stage_outputs`)."""
import argparse
import inspect
import os
import signal
import sys

from src.core.errors import UserError
from src.core.io import NO_SPACE, abort_now, no_space_message, signal_deferred


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
        signal.signal(signal.SIGINT, _terminated)
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
    if signal_deferred(signum):  # inside the final renames: this handler runs again after them
        return
    left = abort_now()
    what = {"unchanged": "the stage's outputs are unchanged",
            "complete": "the stage had written all its outputs; they are complete"}[left]
    for stream in (sys.stdout, sys.stderr):  # what the stage printed so far
        try:
            stream.flush()
        except (OSError, RuntimeError, ValueError):  # interrupted inside that stream's own write
            pass
    # os.write, not print: the handler may run while the stage is inside a write to stderr
    os.write(2, f"error: terminated ({signal.Signals(signum).name}); {what}\n".encode())
    os._exit(128 + signum)
