"""Bad inputs on a real, fully built workspace: `python -m src.ci.bad_inputs` from the
repository root after `dvc repro` (.ci/run does). Each case runs a stage or command as a user would
and must exit 2 with the project's `error:` line naming the file or param, print no traceback and
leave every output unchanged (hashes before/after); files it breaks are restored. Exit 1 if any
case fails. tests/test_bad_inputs.py holds the same kinds of cases on tiny data, under pytest."""
import hashlib, json, os, pickle, resource, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import yaml

ROOTS = ["runs", "metrics", "plots", "data/prepared", "data/interim", "models", "live", "annotations"]


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


def run(name, argv, fragment, setup=None, teardown=None, preexec_fn=None):
    backup = setup() if setup else None
    before = snap()
    out = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, preexec_fn=preexec_fn)
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


def edit_npz(rel, **changes):
    def setup():
        data = Path(rel).read_bytes()
        with np.load(rel) as f:
            d = {k: f[k] for k in f.files}
        for k, fn in changes.items():
            d[k] = fn(d)
        np.savez_compressed(rel, **d)
        return data
    return setup, lambda data: Path(rel).write_bytes(data)


def edit_state(**changes):
    return edit_npz("runs/state/r02.npz", **changes)


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


# ---------------------------------------------------------------- files from outside are data
def params_file(text):
    fd, path = tempfile.mkstemp(suffix=".yaml", dir="/tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def profile_with(profile, **changes):
    p = yaml.safe_load(open(profile))
    for dotted, v in changes.items():
        section, key = dotted.split(".")
        p[section][key] = v
    return params_file(yaml.safe_dump(p))


class Payload:  # what a crafted pickle does when it is loaded with plain pickle: run a command
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


evil = Path(tempfile.mkdtemp(dir="/tmp"))
marker = evil / "code-ran"
(evil / "cifar-100-python").mkdir()
for name in ("train", "test", "meta"):
    (evil / "cifar-100-python" / name).write_bytes(pickle.dumps({"data": Payload(marker)}, protocol=2))
for check, fragment in ((False, "refused without running it"), (True, "not the official file")):
    ok &= run(f"crafted CIFAR-100 pickle (check_counts {check})", ["stages.fetch_data", "--params", profile_with(
        "configs/paper-mixcifar60.yaml", **{"data.raw_dir": str(evil), "data.source": "local",
                                           "data.check_counts": check})], fragment)
    if marker.exists():
        print(f"BAD crafted CIFAR-100 pickle: its code ran ({marker} exists)")
        ok = False

own = evil / "own"
own.mkdir()
from PIL import Image  # noqa: E402
for i in range(3):
    Image.new("RGB", (40, 40), (60 * i, 0, 0)).save(own / f"img{i}.png")
os.symlink("/etc/hostname", own / "linked.png")
ok &= run("folder image linked out of the folder", ["stages.fetch_data", "--params", profile_with(
    "configs/folder-example.yaml", **{"data.raw_dir": str(evil), "folder.images": str(own), "folder.test": None})],
    "linked.png: a link to")

base = Path("params.yaml").read_text()
ok &= run("seed given twice", ["stages.acquire", *R, "--params", params_file(base + "seed: 7\n")],
          "key 'seed' is given twice")
ok &= run("oracle: no", ["stages.annotate", *R, "--params", params_file(base.replace("oracle: simulated", "oracle: no", 1))],
          "got the boolean false")
s, t = edit_npz("runs/state/r03.npz", cost=lambda d: d["cost"] + 3)
ok &= run("state cost edited", ["stages.finetune", *R], "the state was edited", s, t)
s, t = edit_npz("runs/outputs/r02.npz", features=lambda d: np.zeros_like(d["features"]))
ok &= run("constant pool features", ["stages.acquire", *R], "is the same for every pool row", s, t)


s, t = corrupt("runs/metrics/r02_finetune.json",
               lambda b: json.dumps({**json.loads(b), "accuracy": float("nan")}).encode())
ok &= run("NaN accuracy reaching report", ["stages.report"], "'accuracy' is NaN", s, t)


def file_size_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


ok &= run("out of space during finetune", ["stages.finetune", *R], "could not be written", preexec_fn=file_size_limit)

# SIGKILL mid-epoch: every declared output (live/rounds/r03 included) as it was; hidden partials removed after
before = snap()
child = subprocess.Popen([sys.executable, "-m", "stages.finetune", *R], stderr=subprocess.DEVNULL)
staged = Path("live/rounds/.r03.partial")
deadline = time.time() + 300
while not any(staged.rglob("*.tsv")) and child.poll() is None and time.time() < deadline:
    time.sleep(0.05)
child.send_signal(signal.SIGKILL)
child.wait()
leftover = lambda part: part.startswith(".") and part.endswith((".partial", ".tmp", ".old", ".commit"))
declared = {k: v for k, v in snap().items() if not any(leftover(part) for part in Path(k).parts)}
killed_ok = child.returncode == -signal.SIGKILL and declared == before
print(f"{'OK ' if killed_ok else 'BAD'} finetune killed (SIGKILL) mid-epoch: every output unchanged")
ok &= killed_ok
shutil.rmtree(staged, ignore_errors=True)
for leftover in Path(".").glob("runs/*/.r03*"):
    leftover.unlink()
print("all cases refused cleanly" if ok else "SOME CASES FAILED")
sys.exit(0 if ok else 1)
