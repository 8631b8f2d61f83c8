"""Bad inputs on a real, fully built workspace: `python -m tests.real_workspace_bad_inputs` from the
repository root after `dvc repro` (.ci/run does). Each case runs a stage or command as a user would
and must exit 2 with the project's `error:` line naming the file or param, print no traceback and
leave every output unchanged (hashes before/after); files it breaks are restored. Exit 1 if any
case fails. tests/test_bad_inputs.py holds the same kinds of cases on tiny data, under pytest."""
import hashlib, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

import numpy as np
import yaml

ROOTS = ["runs", "metrics", "plots", "data/prepared", "data/interim", "models"]


def snap():
    out = {}
    for r in ROOTS:
        for p in sorted(Path(r).rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def params_with(**changes):
    p = yaml.safe_load(open("params.yaml"))
    for dotted, v in changes.items():
        *parents, key = dotted.split(".")
        node = p
        for part in parents:
            node = node[part]
        node[key] = v
    fd, path = tempfile.mkstemp(suffix=".yaml", dir="/tmp")
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(p, fh)
    return path


def run(name, argv, fragment, setup=None, teardown=None):
    backup = setup() if setup else None
    before = snap()
    out = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True)
    after = snap()
    if teardown:
        teardown(backup)
    err = out.stderr.strip().splitlines()
    ok = out.returncode == 2 and "Traceback" not in out.stderr and fragment in out.stderr and before == after
    print(f"{'OK ' if ok else 'BAD'} {name}: exit {out.returncode}; {err[-1][:150] if err else ''}")
    return ok


def corrupt(path, how):
    def setup():
        data = Path(path).read_bytes()
        Path(path).write_bytes(how(data))
        return data
    def teardown(data):
        Path(path).write_bytes(data)
    return setup, teardown


R = ["--round", "r03", "--prev", "r02"]
cases = [
    ("init_id 0", ["stages.init_state", "--params", params_with(**{"active.init_id": 0})], "active.init_id = 0"),
    ("per_round_id 0", ["stages.annotate", *R, "--params", params_with(**{"active.per_round_id": 0})], "active.per_round_id = 0"),
    ("per_round_id -1", ["stages.acquire", *R, "--params", params_with(**{"active.per_round_id": -1})], "active.per_round_id"),
    ("cl_classifier.epochs -3", ["stages.finetune", *R, "--params", params_with(**{"cl_classifier.epochs": -3})], "cl_classifier.epochs"),
    ("negative cost", ["stages.annotate", *R, "--params", params_with(**{"active.costs": {"id": 1.0, "ambiguous": -11.0, "ood": 1.0}})], "active.costs"),
    ("cost as a word", ["stages.annotate", *R, "--params", params_with(**{"active.costs": {"id": 1.0, "ambiguous": "one", "ood": 1.0}})], "active.costs"),
    ("num_classes 5 (annotate)", ["stages.annotate", *R, "--params", params_with(**{"active.num_classes": 5})], "active.num_classes = 5"),
    ("cluster.n_init 0", ["stages.acquire", *R, "--params", params_with(**{"cluster.n_init": 0})], "cluster.n_init"),
    ("contrastive.batch_size 0", ["stages.pretrain", "--params", params_with(**{"contrastive.batch_size": 0})], "contrastive.batch_size"),
    ("contrastive.scale [0.9]", ["stages.pretrain", "--params", params_with(**{"contrastive.scale": [0.9]})], "contrastive.scale"),
    ("non_id_ratio -1", ["stages.finetune", *R, "--params", params_with(**{"active.non_id_ratio": -1})], "active.non_id_ratio"),
    ("--round r04 --prev r02", ["stages.acquire", "--round", "r04", "--prev", "r02"], "continues from r03"),
    ("annotate r02 with r03's prev", ["stages.annotate", "--round", "r02", "--prev", "r03"], "--prev r01"),
    ("round table r02: {}", ["src.check", params_with(rounds={"r01": {"prev": "r00"}, "r02": {}})], "rounds.r02"),
    ("round table prev null", ["src.check", params_with(rounds={"r01": {"prev": "r00"}, "r02": {"prev": None}})], "prev is null"),
    ("round table cycle", ["src.check", params_with(rounds={"r01": {"prev": "r02"}, "r02": {"prev": "r01"}})], "a cycle"),
    ("round table r00", ["src.check", params_with(rounds={"r00": {"prev": "r00"}})], "rounds.r00"),
]
ok = all(run(*c) for c in cases)


def edit_state(**changes):
    def setup():
        path = Path("runs/state/r02.npz")
        data = path.read_bytes()
        with np.load(path) as f:
            d = {k: f[k] for k in f.files}
        for k, fn in changes.items():
            d[k] = fn(d)
        np.savez_compressed(path, **d)
        return data
    return setup, lambda data: Path("runs/state/r02.npz").write_bytes(data)


def relabel(d):
    lab = d["labels"].copy()
    i = np.flatnonzero(d["acquired_round"] >= 0)[0]
    lab[i] = 42
    return lab


for name, changes, fragment in [
    ("state label 42", {"labels": relabel}, "label 42"),
    ("state NaN cost", {"cost": lambda d: np.float64("nan")}, "cost nan"),
    ("state wrong round field", {"round": lambda d: np.int64(7)}, "says round 7"),
    ("state other pool", {"pool_fingerprint": lambda d: np.array("0" * 16)}, "another pool"),
]:
    s, t = edit_state(**changes)
    ok &= run(name, ["stages.acquire", *R], fragment, s, t)
s, t = corrupt("runs/state/r02.npz", lambda b: b[: len(b) // 2])
ok &= run("truncated state .npz", ["stages.acquire", *R], "unreadable .npz", s, t)
s, t = corrupt("runs/candidates/r03.npz", lambda b: b"")
ok &= run("empty candidates file", ["stages.annotate", *R], "candidates/r03.npz", s, t)
mv = lambda: shutil.move("runs/candidates/r03.npz", "/tmp/cand.npz")
ok &= run("missing candidates", ["stages.annotate", *R], "candidates/r03.npz: missing", mv,
          lambda _: shutil.move("/tmp/cand.npz", "runs/candidates/r03.npz"))
for name, content, fragment in [("table2 --json missing", None, "no such file"),
                                ("table2 --json malformed", "{oops", "not the JSON")]:
    path = "/tmp/exp_show_bad.json"
    Path(path).unlink(missing_ok=True)
    if content is not None:
        Path(path).write_text(content)
    ok &= run(name, ["src.report.table2", "--json", path], fragment)
print("all cases refused cleanly" if ok else "SOME CASES FAILED")
sys.exit(0 if ok else 1)
