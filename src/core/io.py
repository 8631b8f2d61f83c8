"""Atomic writers, all-or-nothing stage outputs, and loaders whose errors name the file.

Every writer goes through `_atomic`: bytes go to a temporary name beside the target
(`.<name>.tmp`, always the same name, so a rerun overwrites what a killed run left), then one
rename. A stage with several outputs wraps its body in `stage_outputs(...)` (docs/design.md,
section 7): inside it, writes of the declared paths go to `.<name>.partial` files, and only when
the body succeeds are they renamed into place together, after a journal listing the renames is
written. So a stage that fails or is killed leaves either all its old outputs or all its new
ones: killed before the journal, the old set stays (the partial files are removed by the next
run of the stage); killed during the renames, the next run of the stage first finishes them.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

import numpy as np

from src.core.errors import DataError, excerpt

_ACTIVE: list["StageOutputs"] = []  # the open stage_outputs transaction, if any
_IN_FLIGHT: set[Path] = set()  # temporary files being written outside a transaction
_COMMITTED: list["StageOutputs"] = []  # transactions this process has committed
_DEFERRED = {"on": False, "pending": []}  # signals held during the final renames (_signals_deferred)


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{suffix}")


NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # disk full, quota reached, file size limit


def no_space_message(path, exc: OSError) -> str:
    return (f"{path}: could not be written: {exc.strerror or exc} - the disk is full, or a quota or file size limit "
            f"(ulimit -f) stops the write. Free space on that disk (`df -h {Path(path).parent}`; DVC's cache, "
            f"old CI clones and `dvc gc` are the usual places), then rerun; the stage's outputs are unchanged.")


def _write_to(target: Path, write, final: Path) -> None:
    try:
        with open(target, "wb") as fh:
            write(fh)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            target.unlink(missing_ok=True)
            raise DataError(no_space_message(final, exc)) from None
        raise
    os.chmod(target, 0o644)


def _atomic(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tx = _ACTIVE[-1] if _ACTIVE else None
    if tx is not None and path.absolute() in tx.paths:
        _write_to(tx.partial(path), write, path)  # renamed into place when the stage succeeds
        tx.written.add(path.absolute())
        return path
    tmp = _sibling(path, "tmp")
    _IN_FLIGHT.add(tmp)
    try:
        _write_to(tmp, write, path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        _IN_FLIGHT.discard(tmp)
    return path


class StageOutputs:
    """All-or-nothing outputs: see the module docstring. Use through `stage_outputs`."""

    def __init__(self, paths):
        self.paths = [Path(p).absolute() for p in paths]
        if not self.paths:
            raise ValueError("stage_outputs needs the stage's output paths")
        self.journal = _sibling(self.paths[0], "commit")
        self.written: set[Path] = set()

    def partial(self, path: Path) -> Path:
        return _sibling(path, "partial")

    def recover(self) -> None:
        """Finish the renames of a run killed after its journal, then drop any leftover partial files."""
        if self.journal.exists():
            try:
                pairs = json.loads(self.journal.read_text())
            except (OSError, ValueError):
                pairs = []  # the journal itself is written atomically; unreadable = not ours
            for partial, final in pairs:
                if Path(partial).exists():
                    _put(Path(partial), Path(final))
            self.journal.unlink(missing_ok=True)
        for path in self.paths:
            for leftover in (self.partial(path), _sibling(path, "tmp"), _sibling(path, "old")):
                _remove(leftover)

    def commit(self) -> None:
        missing = [os.path.relpath(p) for p in self.paths if p not in self.written]
        if missing:  # a stage that declares an output must write it: a bug, not a user error
            raise RuntimeError(f"stage_outputs: the stage did not write {', '.join(missing)}")
        # the journal names absolute paths, so a rerun from another folder still finishes the renames
        pairs = [[str(self.partial(p)), str(p)] for p in self.paths]
        save_json(self.journal, pairs)
        for partial, final in pairs:
            _put(Path(partial), Path(final))
        self.journal.unlink()
        for path in self.paths:
            _remove(_sibling(path, "old"))

    def abort(self) -> None:
        for path in self.paths:
            _remove(self.partial(path))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _put(partial: Path, final: Path) -> None:
    """Move a partial output into place: a file by one rename; a folder by moving the old one aside
    (`.<name>.old`, removed after the commit) and renaming the new one in (rerunnable: see recover)."""
    if partial.is_dir() and (final.is_dir() and not final.is_symlink()):
        old = _sibling(final, "old")
        _remove(old)
        os.replace(final, old)
    elif partial.is_dir() and (final.exists() or final.is_symlink()):
        final.unlink()
    os.replace(partial, final)


def output_dir(path) -> Path:
    """Where a stage writes the output folder `path`, as an empty folder: inside `stage_outputs` that
    declares it, its partial folder `.<name>.partial` (it replaces `path` when the stage succeeds, so
    a stage that fails or is killed leaves the old folder as it was); elsewhere (tests, notebooks)
    `path` itself, emptied."""
    path = Path(path)
    tx = _ACTIVE[-1] if _ACTIVE else None
    declared = tx is not None and path.absolute() in tx.paths
    target = tx.partial(path.absolute()) if declared else path
    _remove(target)
    target.mkdir(parents=True)
    if declared:
        tx.written.add(path.absolute())
    return target


@contextlib.contextmanager
def stage_outputs(*paths, enabled: bool = True):
    """`with stage_outputs(a, b, c): ...` - a, b and c appear together when the block succeeds,
    and none of them changes when it raises (or the process dies). A path may be an output folder,
    written through `output_dir`. `enabled=False` (torchrun's ranks other than 0, which write
    nothing) makes it a plain block."""
    if not enabled:
        yield None
        return
    if _ACTIVE:  # one transaction per stage: nesting would commit the inner set alone
        raise RuntimeError("stage_outputs cannot be nested")
    tx = StageOutputs(paths)
    tx.recover()
    _ACTIVE.append(tx)
    try:
        yield tx
    except BaseException:
        _ACTIVE.pop()
        tx.abort()
        raise
    with _signals_deferred():  # a SIGTERM during the renames acts after them: never a mixed set
        _ACTIVE.pop()
        try:
            tx.commit()
        except BaseException:
            tx.abort()
            raise
        _COMMITTED.append(tx)


@contextlib.contextmanager
def _signals_deferred():
    """A signal handler that asks `signal_deferred` during the block acts when the block ends.
    (Not pthread_sigmask: that blocks the main thread only, and the kernel hands a process's signal
    to any thread that does not block it - numpy's and torch's worker threads.)"""
    _DEFERRED["on"] = True
    try:
        yield
    finally:
        _DEFERRED["on"] = False
        if _DEFERRED["pending"]:
            import signal

            signal.raise_signal(_DEFERRED["pending"].pop())


def signal_deferred(signum: int) -> bool:
    """For a signal handler: True when it must not act now (the final renames are running); the
    signal is then raised again as soon as they end."""
    if _DEFERRED["on"]:
        _DEFERRED["pending"].append(signum)
        return True
    return False


def abort_now() -> str:
    """For a signal handler that ends the process without unwinding it (src/core/cli.py): remove
    the open transaction's partial outputs and any temporary file being written. Returns what
    that leaves: "unchanged" (the old outputs), or "complete" (the stage had committed its new set)."""
    for tmp in list(_IN_FLIGHT):
        tmp.unlink(missing_ok=True)
    if _ACTIVE:
        _ACTIVE[-1].abort()
        return "unchanged"
    return "complete" if _COMMITTED else "unchanged"


# ---------------------------------------------------------------- writers
def save_npz(path, **arrays) -> Path:
    return _atomic(path, lambda fh: np.savez_compressed(fh, **arrays))


def save_json(path, obj) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    return _atomic(path, lambda fh: fh.write(text.encode()))


def save_text(path, text: str) -> Path:
    return _atomic(path, lambda fh: fh.write(text.encode()))


def save_torch(path, obj) -> Path:
    """torch.save into memory, then the bytes to disk: a failed write is then an OSError (torch's own
    file writer reports a full disk as a RuntimeError without the cause)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return _atomic(path, lambda fh: fh.write(buf.getbuffer()))


def copy_file(src, path) -> Path:
    """`src`'s bytes to `path`, atomically."""
    src = _require(Path(src))
    with open(src, "rb") as fh_in:
        return _atomic(path, lambda fh: shutil.copyfileobj(fh_in, fh))


def save_figure(path, fig) -> Path:
    return _atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=110, bbox_inches="tight"))


# ---------------------------------------------------------------- loaders
def _require(path: Path, what: str = "") -> Path:
    if not path.is_file():
        what = f"{what} " if what else ""
        raise DataError(f"{path}: {what}missing; it is written by an earlier stage - run `dvc repro`.")
    return path


def inside(path, root, what: str = "file") -> Path:
    """`path`, a regular file that resolves inside the folder `root` (which may itself be a link,
    as the offline mirror data/raw is). Files that arrive from the repository or from collaborators
    (a round's labels file, a folder pool's images) go through this: a symlink that leads out of
    its folder (to /proc/self/environ, to ~/.ssh, to another project) or a path that is no regular
    file (a FIFO, a device) is a DataError naming the link and where it leads; nothing is read."""
    path, root = Path(path), Path(root)
    target, top = path.resolve(), root.resolve()
    if top != target and top not in target.parents:
        raise DataError(f"{path}: a link to {target}, outside {root}: the {what} must be a file inside {root}, "
                        f"not a link out of it. Replace the link with a copy of the file (`cp --remove-destination "
                        f"\"$(readlink -f {path})\" {path}`) if that is really what you mean.")
    if not target.is_file():
        kind = "missing" if not target.exists() else "not a regular file (a folder, FIFO or device)"
        raise DataError(f"{path}: {kind}; the {what} must be a regular file.")
    return path


REBUILD = "Delete it and rerun `dvc repro` (DVC rebuilds it), or rerun the stage that writes it."


def load_npz(path, keys=None) -> dict:
    """All arrays of an .npz, or only `keys` (members are decompressed only when read).

    A missing, truncated or corrupt file, or a missing key, is a DataError naming the file."""
    path = Path(path)
    _require(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            absent = [k for k in (keys or ()) if k not in f.files]
            if absent:
                raise DataError(f"{path}: has no array {', '.join(map(repr, absent))} (it holds "
                                f"{', '.join(f.files) or 'nothing'}): written by another stage or an older "
                                f"version of the code. {REBUILD}")
            return {k: f[k] for k in (f.files if keys is None else keys)}
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: unreadable .npz ({type(exc).__name__}: {exc}) - truncated or corrupt. "
                        f"{REBUILD}") from None


def npz_keys(path) -> list[str]:
    """Names of the arrays in an .npz (nothing is decompressed)."""
    path = Path(path)
    _require(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return list(f.files)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable .npz ({type(exc).__name__}: {exc}) - truncated or corrupt. "
                        f"{REBUILD}") from None


def load_json(path, what: str = "file"):
    """A JSON file; missing or malformed is a DataError naming the file. So is a number that is no
    JSON number - NaN, Infinity (Python's json reads them; `save_json` never writes them) or one too
    large for a float (1e999) - named by its place in the file."""
    path = _require(Path(path), what)
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}). {REBUILD}") from None
    where = _non_finite(obj)
    if where is not None:
        place = excerpt(where[0]) if where[0] else "the file's value"
        raise DataError(f"{path}: {place} is {where[1]}, not a number JSON allows (NaN and infinities are not "
                        f"JSON; the pipeline never writes them). {REBUILD}")
    return obj


def _non_finite(obj):
    """(place, JSON spelling) of the first NaN or infinite float in a parsed JSON value, or None."""
    todo = [("", obj)]
    while todo:  # depth-first in file order, without recursion
        at, value = todo.pop()
        if isinstance(value, float) and not np.isfinite(value):
            return at, "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        if isinstance(value, dict):
            todo += [(f"{at}.{k}" if at else str(k), v) for k, v in reversed(value.items())]
        elif isinstance(value, list):
            todo += [(f"{at}[{i}]", v) for i, v in reversed(list(enumerate(value)))]
    return None


def load_torch(path) -> dict:
    """A checkpoint written by `save_torch`; missing, truncated or corrupt is a DataError naming it."""
    import pickle

    import torch

    path = Path(path)
    _require(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {str(exc)[:200]}) - "
                        f"truncated or corrupt. {REBUILD}") from None


def save_not_applicable(path, stage: str, benchmark: str, reason: str) -> Path:
    """A stand-in output of a stage that does not apply to `benchmark` (written in well under a
    second, without torch): JSON, a PNG that says so, an .npz holding only `not_applicable`, or a
    text file for any other suffix (.pt). Reading one as a real output fails with its message."""
    note = f"{stage} does not apply to benchmark {benchmark}: {reason}"
    path = Path(path)
    if path.suffix == ".json":
        return save_json(path, {"applicable": False, "stage": stage, "benchmark": benchmark, "reason": reason})
    if path.suffix == ".npz":
        return save_npz(path, not_applicable=np.array(note))
    if path.suffix == ".png":
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (640, 40), "white")
        ImageDraw.Draw(img).text((8, 14), note[:100], fill="black")
        return _atomic(path, lambda fh: img.save(fh, format="PNG"))
    return save_text(path, f"NOT APPLICABLE: {note}\n")


def write_not_applicable(stage: str, benchmark: str, reason: str, *paths) -> None:
    """Every output of `stage` as a not-applicable marker, together (see `stage_outputs`; inside a
    stage's own `stage_outputs`, as part of it)."""
    with (contextlib.nullcontext() if _ACTIVE else stage_outputs(*paths)):
        for path in paths:
            save_not_applicable(path, stage, benchmark, reason)
