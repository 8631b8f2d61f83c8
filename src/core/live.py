"""Live training metrics with DVCLive: one folder per training stage under `live/`.

    with tracking("pretrain"):        # in a stage: live/pretrain/ is written while it trains
        ...train...                   # the training loops call step(...) once per epoch

`step(**metrics)` records one step (an epoch, or a chunk of contrastive steps): DVCLive rewrites
live/<name>/metrics.json (the latest value of each key: `dvc exp show` lists it while the run
progresses) and appends a row to live/<name>/plots/metrics/<key>.tsv (`dvc plots show`). Outside a
`tracking` block (tests, notebooks) step() does nothing, so the training code does not depend on it.

Only numbers that the same params always give are logged: no timings, no timestamps. So these
files are byte-identical across runs like every other output (timings stay in each stage's own
metrics JSON, which DVC does not compare). Under torchrun only rank 0 writes.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from src.core import ranks
from src.core.io import output_dir
from src.core.log import log

LIVE = Path("live")
_current = []  # the active DVCLive logger, when a stage is tracking


def live_dir(name: str) -> Path:
    return LIVE / name


@contextmanager
def tracking(name: str):
    """DVCLive logging into live/<name>/ for the block (a fresh folder: earlier steps are removed).
    Inside `stage_outputs` that declares live/<name> (every training stage), DVCLive writes into its
    partial folder, which replaces live/<name> only when the stage succeeds (src/core/io.py)."""
    if _current or not ranks.is_main():
        yield None
        return
    folder = output_dir(live_dir(name))
    from dvclive import Live

    try:
        live = Live(dir=str(folder), resume=False, report=None, save_dvc_exp=False, dvcyaml=False,
                    monitor_system=False)
    except Exception as exc:  # e.g. a git repository without a commit yet: DVCLive asks git for HEAD
        log(f"WARNING: DVCLive could not start ({type(exc).__name__}: {exc}); {live_dir(name)} stays empty "
            f"this run (commit once, `git commit`, and DVCLive works)")
        (folder / "metrics.json").write_text("{}")
        yield None
        return
    _current.append(live)
    try:
        yield live
    finally:
        _current.pop()
        live.end()


def empty(name: str) -> None:
    """An empty live/<name>: a stage that trains nothing (a round after the stop) still writes its
    output. The bytes DVCLive writes for a block without steps (metrics.json `{}`; tests/test_live.py
    compares them), written without starting DVCLive: its import and start-up cost more than
    such a round's whole work."""
    if not ranks.is_main():
        return
    (output_dir(live_dir(name)) / "metrics.json").write_text("{}\n")


def step(**metrics) -> None:
    """One step of the active tracking block: each metric (a number; `a/b` keys nest) then next_step."""
    if not _current:
        return
    live = _current[-1]
    for key, value in metrics.items():
        live.log_metric(key, round(float(value), 6))
    live.next_step()
