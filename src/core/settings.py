"""What each kind of round stage reads, resolved into one small file: runs/settings/<kind>.json.

Why: DVC re-reads and rewrites the whole dvc.lock after every stage, so every line of it is paid
once per stage of a run (60+ round stages). A round stage that listed its params sections and
its code folders itself recorded ~80 lines of params and ~25 lines of code hashes in its lock
entry, 60 times over. Instead one light stage, `settings`, owns the params and the code and pool
files that the rounds read, and writes per stage kind the resolved values: the params the kind
reads (the leaves below), the md5 of every code file it runs and the md5 of the prepared data
files it reads. Each round stage depends on its kind's file alone (plus the round files it
chains on), so its lock entry is ~30-40 lines, and:

- changing a param, a code file or a data file that a kind reads changes that kind's file, and
  DVC reruns exactly the stages of that kind (a param no kind reads changes nothing);
- `dvc exp show` and `dvc params diff` still list every param: the settings stage declares them;
- the files are deterministic (sorted keys, no times), so the run cache still restores the
  round stages on another machine or in a queued experiment.

KINDS is the one table of what a kind reads; dvc.yaml's settings stage lists the union of its
params, code and data (tests/test_dag.py checks both agree, and that the code covers each
stage's import tree). The stage imports neither torch nor scikit-learn: it runs in a fraction of
a second.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from src.core import paths

SETTINGS_DIR = paths.RUNS / "settings"
CODE_ROOT = Path(__file__).resolve().parents[2]  # the code that runs: where the src package lives

# kind -> (params leaves or sections, code files and folders, prepared data files). The stages:
# init; annotate_r00 and annotate@rNN; acquire@rNN; finetune_r00 and finetune@rNN; report.
KINDS = {
    "init": {
        "params": ["seed", "strategy", "oracle", "precision", "active", "contrastive.eval_batch_size", "cluster",
                   "annotation", "pool.id_classes"],
        "code": ["stages/init_state.py", "src/core", "src/active", "src/contrastive", "src/models",
                 "src/data/pool.py"],
        "data": [paths.POOL_NPZ],
    },
    "annotate": {
        "params": ["oracle", "active", "annotation", "pool.id_classes", "folder.images"],
        "code": ["stages/annotate.py", "src/core", "src/active", "src/data/pool.py"],
        "data": [paths.POOL_NPZ],
    },
    "acquire": {
        "params": ["seed", "strategy", "active", "cluster", "ddu", "lfosa", "eaoa", "annotation", "pool.id_classes"],
        "code": ["stages/acquire.py", "src/core", "src/active", "src/data/pool.py"],
        "data": [paths.POOL_NPZ],
    },
    "finetune": {
        "params": ["seed", "strategy", "oracle", "precision", "compile", "active", "classifier", "ddu", "contrastive",
                   "cl_classifier", "cluster.features", "lfosa.temperature", "eaoa.energy_weight", "eaoa.m_in",
                   "eaoa.m_out"],  # the open-set detectors' loss terms (the rest of their sections: acquire)
        "code": ["stages/finetune.py", "src/core", "src/active", "src/contrastive", "src/models",
                 "src/data/pool.py"],
        "data": [paths.POOL_NPZ, paths.TEST_NPZ, paths.VAL_NPZ],
    },
    "report": {
        "params": ["benchmark", "seed", "strategy", "active.num_classes", "active.target_id", "report", "rounds"],
        "code": ["stages/report.py", "src/core", "src/report/curve.py", "src/report/budget.py"],
        "data": [],
    },
}
SKIP_DIRS = {"__pycache__"}  # as .dvcignore: bytecode and the atomic writers' temporary files
SKIP_SUFFIXES = (".pyc", ".tmp", ".partial", ".commit", ".old")


def settings_file(kind: str) -> Path:
    return SETTINGS_DIR / f"{kind}.json"


def all_params() -> list[str]:
    """The params dvc.yaml's settings stage declares: every entry of every kind (a leaf is left
    out when a kind reads its whole section), in first-seen order."""
    seen = []
    for spec in KINDS.values():
        seen += [key for key in spec["params"] if key not in seen]
    return [key for key in seen if key.split(".")[0] == key or key.split(".")[0] not in seen]


def all_code() -> list[str]:
    seen = []
    for spec in KINDS.values():
        seen += [path for path in spec["code"] if path not in seen]
    return seen


def all_data() -> list[str]:
    seen = []
    for spec in KINDS.values():
        seen += [str(path) for path in spec["data"] if str(path) not in seen]
    return seen


def _plain(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def resolve_params(params, keys: list[str]) -> dict:
    """The listed entries of a validated Params: {'active': {...}, 'pool.id_classes': [...], 'seed': 0}."""
    out = {}
    for key in keys:
        value = params
        for part in key.split("."):
            value = getattr(value, part)
        out[key] = _plain(value)
    return out


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_files(entries: list[str], root: Path = CODE_ROOT) -> list[Path]:
    """The files of the listed code files and folders (folders walked; bytecode left out), sorted."""
    files = []
    for entry in entries:
        path = root / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [f for f in path.rglob("*") if f.is_file() and not SKIP_DIRS & set(f.relative_to(root).parts)
                      and not f.name.endswith(SKIP_SUFFIXES)]
        else:
            raise FileNotFoundError(f"{entry}: listed as code of a round stage in src/core/settings.py "
                                    f"(KINDS) but missing")
    return sorted(set(files))


def resolve(params, kind: str, code_root: Path = CODE_ROOT) -> dict:
    """Everything a stage of this kind reads besides its round files, as plain JSON values: the
    params, the code (paths relative to code_root) and the data files (relative to the working
    directory, the workspace)."""
    spec = KINDS[kind]
    return {"kind": kind,
            "params": resolve_params(params, spec["params"]),
            "code": {f.relative_to(code_root).as_posix(): md5_file(f) for f in code_files(spec["code"], code_root)},
            "data": {str(d): md5_file(d) if Path(d).exists() else None for d in spec["data"]}}


def dumps(resolved: dict) -> str:
    return json.dumps(resolved, indent=1, sort_keys=True) + "\n"
