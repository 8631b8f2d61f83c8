"""Bad inputs are refused with the project's error, naming the file or param, and change nothing.

One tiny workspace (random strategy, rounds r01-r03 and the report) is built once per module; every
case copies it, breaks one thing (a param, a raw file, a state, candidates, model outputs, a stage
argument, a report input), runs one stage and asserts: the error class, a message fragment naming
the file or param, and that no file of the workspace changed (hash before/after, new files count).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from src.core import paths
from src.core.errors import ConfigError, DataError, UserError
from stages import (acquire, annotate, build_pool, fetch_data, finetune, init_state, make_ambiguous, pretrain,
                    report, train_ensemble, train_vae)
from tests.conftest import ROOT, make_raw, tiny_params, workspace_copy, working_in

ROUNDS = (("r01", "r00"), ("r02", "r01"), ("r03", "r02"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    make_raw(root / "data" / "raw")
    p = tiny_params()
    p["strategy"] = "random"
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    with working_in(root):
        for module in (fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool, init_state):
            module.main()
        annotate.main(round_name="r00", prev=None)
        finetune.main(round_name="r00")
        for r, prev in ROUNDS:
            acquire.main(round_name=r, prev=prev)
            annotate.main(round_name=r, prev=prev)
            finetune.main(round_name=r, prev=prev)
        report.main()
    return root


@pytest.fixture
def ws(built, tmp_path, monkeypatch):
    return workspace_copy(built, tmp_path, monkeypatch)


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- mutations
def set_params(**changes):
    """changes: 'section.key' (or a top-level key) -> value."""
    def mutate(root):
        p = yaml.safe_load((root / "params.yaml").read_text())
        for dotted, value in changes.items():
            *parents, key = dotted.split(".")
            node = p
            for part in parents:
                node = node[part]
            node[key] = value
        (root / "params.yaml").write_text(yaml.safe_dump(p))
    return mutate


def set_rounds(rounds):
    def mutate(root):
        p = yaml.safe_load((root / "params.yaml").read_text())
        p["rounds"] = rounds
        (root / "params.yaml").write_text(yaml.safe_dump(p))
    return mutate


def edit_npz(rel, **changes):
    """Rewrite an .npz with some arrays replaced (value None: removed)."""
    def mutate(root):
        path = root / rel
        with np.load(path) as f:
            d = {k: f[k] for k in f.files}
        for key, value in changes.items():
            if value is None:
                d.pop(key)
            else:
                d[key] = value(d) if callable(value) else value
        np.savez_compressed(path, **d)
    return mutate


def truncate(rel, keep=0.5):
    def mutate(root):
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(data[: int(len(data) * keep)])
    return mutate


def remove(rel):
    return lambda root: (root / rel).unlink()


def write_text(rel, text):
    return lambda root: (root / rel).write_text(text)


def corrupt_gzip_block(rel):
    """Keep the gzip header, damage the deflate stream (zlib.error on decompression)."""
    def mutate(root):
        path = root / rel
        data = bytearray(path.read_bytes())
        for i in range(20, min(len(data) - 8, 400)):
            data[i] = 0xFF
        path.write_bytes(bytes(data))
    return mutate


def state_label(idx_of_labeled, value):
    def change(d):
        labels = d["labels"].copy()
        labels[np.flatnonzero(d["acquired_round"] >= 0)[idx_of_labeled]] = value
        return labels
    return change


def drop_a_label(d):
    labels = d["labels"].copy()
    labels[np.flatnonzero(d["acquired_round"] == 0)[0]] = -1
    return labels


def drop_its_round(d):
    acquired = d["acquired_round"].copy()
    acquired[np.flatnonzero(d["acquired_round"] == 0)[0]] = -1
    return acquired


def first_unlabeled_as(order_value):
    return lambda d: np.concatenate([[order_value], d["order"][1:]]).astype(d["order"].dtype)


def labeled_in_prev(root):
    with np.load(root / "runs/state/r00.npz") as f:
        idx = int(np.flatnonzero(f["acquired_round"] >= 0)[0])
    edit_npz("runs/candidates/r01.npz", order=first_unlabeled_as(idx))(root)


def download_fails(monkeypatch):
    """Offline: the download creates its folders, then the network fails."""
    import src.data.raw as raw

    def fake_download(raw_dir):
        (Path(raw_dir) / "MNIST" / "raw").mkdir(parents=True, exist_ok=True)
        raise OSError("Name or service not known")
    monkeypatch.setattr(raw, "download_mnist", fake_download)


def no_raw_and_auto(root):
    (root / "data" / "raw").rename(root / "elsewhere")
    set_params(**{"data.source": "auto"})(root)


# (id, mutate(root), stage module, kwargs, error class, message fragment)
R1 = {"round_name": "r01", "prev": "r00"}
CASES = [
    # params: ranges, not just types
    ("init_id_0", set_params(**{"active.init_id": 0}), init_state, {}, ConfigError, "active.init_id = 0"),
    ("per_round_id_0", set_params(**{"active.per_round_id": 0}), annotate, R1, ConfigError, "active.per_round_id = 0"),
    ("per_round_id_neg", set_params(**{"active.per_round_id": -2}), acquire, R1, ConfigError, "active.per_round_id = -2"),
    ("cl_epochs_neg", set_params(**{"cl_classifier.epochs": -3}), finetune, R1, ConfigError, "cl_classifier.epochs = -3"),
    ("cost_negative", set_params(**{"active.costs": {"id": -1.0, "ambiguous": 1.0, "ood": 1.0}}), annotate, R1,
     ConfigError, "active.costs"),
    ("cost_word", set_params(**{"active.costs": {"id": 1.0, "ambiguous": 1.0, "ood": "ten"}}), annotate, R1,
     ConfigError, "active.costs"),
    ("cost_nan", set_params(**{"active.costs": {"id": float("nan"), "ambiguous": 1.0, "ood": 1.0}}), annotate, R1,
     ConfigError, "active.costs"),
    ("n_init_0", set_params(**{"cluster.n_init": 0}), acquire, R1, ConfigError, "cluster.n_init = 0"),
    ("cl_batch_0", set_params(**{"contrastive.batch_size": 0}), pretrain, {}, ConfigError, "contrastive.batch_size = 0"),
    ("scale_one_value", set_params(**{"contrastive.scale": [0.9]}), pretrain, {}, ConfigError, "contrastive.scale"),
    ("non_id_ratio_neg", set_params(**{"active.non_id_ratio": -1}), finetune, R1, ConfigError, "active.non_id_ratio = -1"),
    ("vae_lr_0", set_params(**{"vae.lr": 0}), train_vae, {}, ConfigError, "vae.lr = 0"),
    ("vae_lr_word", set_params(**{"vae.lr": "fast"}), train_vae, {}, ConfigError, "vae.lr: expected a number"),
    ("n_ood_neg", set_params(**{"pool.n_ood": -5}), build_pool, {}, ConfigError, "pool.n_ood = -5"),
    ("mix_above_1", set_params(**{"ambiguous.mix": 1.5}), make_ambiguous, {}, ConfigError, "ambiguous.mix = 1.5"),
    ("max_distinct_above_members", set_params(**{"ambiguous.max_distinct": 11}), make_ambiguous, {}, ConfigError,
     "ensemble.members"),
    ("label_smoothing_1", set_params(**{"classifier.label_smoothing": 1.0}), finetune, R1, ConfigError,
     "classifier.label_smoothing = 1.0"),
    ("min_accuracy_2", set_params(**{"ensemble.min_accuracy": 2}), train_ensemble, {}, ConfigError,
     "ensemble.min_accuracy = 2"),
    ("milestone_0", set_params(**{"classifier.milestones": [0]}), finetune, R1, ConfigError, "classifier.milestones"),
    ("temperature_0", set_params(**{"contrastive.temperature": 0}), pretrain, {}, ConfigError,
     "contrastive.temperature = 0"),
    ("round_epochs_inf", set_params(**{"contrastive.round_epochs": float("inf")}), finetune, R1, ConfigError,
     "contrastive.round_epochs = inf"),
    ("seed_neg", set_params(seed=-1), acquire, R1, ConfigError, "seed = -1"),
    ("budget_0", set_params(**{"report.budgets": [0, 300]}), report, {}, ConfigError, "report.budgets"),
    ("num_classes_5_init", set_params(**{"active.num_classes": 5}), init_state, {}, DataError,
     "active.num_classes = 5 but the pool"),
    ("num_classes_5_annotate", set_params(**{"active.num_classes": 5}), annotate, R1, DataError,
     "active.num_classes = 5 but the pool"),
    ("num_classes_12_finetune", set_params(**{"active.num_classes": 12}), finetune, R1, DataError,
     "active.num_classes = 12 but the pool"),
    # the round table
    ("round_empty_entry", set_rounds({"r01": {"prev": "r00"}, "r02": {}}), acquire, R1, ConfigError, "rounds.r02"),
    ("round_prev_null", set_rounds({"r01": {"prev": "r00"}, "r02": {"prev": None}}), acquire, R1, ConfigError,
     "rounds.r02: prev is null"),
    ("round_cycle", set_rounds({"r01": {"prev": "r02"}, "r02": {"prev": "r01"}}), acquire, R1, ConfigError,
     "a cycle"),
    ("round_named_r00", set_rounds({"r00": {"prev": "r00"}, "r01": {"prev": "r00"}}), acquire, R1, ConfigError,
     "rounds.r00"),
    # raw files
    ("gzip_bad_deflate", corrupt_gzip_block("data/raw/notMNIST/t10k-images-idx3-ubyte.gz"), fetch_data, {},
     DataError, "t10k-images-idx3-ubyte.gz: gzip stream is corrupt"),
    ("idx_truncated", truncate("data/raw/MNIST/raw/train-images-idx3-ubyte", 0.7), fetch_data, {}, DataError,
     "train-images-idx3-ubyte: IDX header says"),
    ("notmnist_labels_missing", remove("data/raw/notMNIST/t10k-labels-idx1-ubyte.gz"), fetch_data, {}, DataError,
     "notMNIST"),
    # packed intermediate files and checkpoints
    ("mnist_npz_missing", remove("data/interim/source.npz"), train_vae, {}, DataError, "data/interim/source.npz: missing"),
    ("mnist_npz_truncated", truncate("data/interim/source.npz"), train_ensemble, {}, DataError,
     "data/interim/source.npz: unreadable"),
    ("vae_pt_truncated", truncate("models/vae.pt"), make_ambiguous, {}, DataError, "models/vae.pt: unreadable checkpoint"),
    ("pool_truncated", truncate("data/prepared/pool.npz"), annotate, R1, DataError, "pool.npz: unreadable"),
    ("pool_without_fingerprint", edit_npz("data/prepared/pool.npz", fingerprint=None), annotate, R1, DataError,
     "has no fingerprint"),
    # states
    ("state_label_42", edit_npz("runs/state/r00.npz", labels=state_label(0, 42)), acquire, R1, DataError,
     "runs/state/r00.npz: invalid state: label 42"),
    ("state_acquired_without_label", edit_npz("runs/state/r00.npz", labels=drop_a_label), acquire, R1, DataError,
     "a sample is labeled exactly when it was acquired"),
    ("state_label_without_round", edit_npz("runs/state/r00.npz", acquired_round=drop_its_round), annotate, R1,
     DataError, "runs/state/r00.npz: invalid state"),
    ("state_cost_nan", edit_npz("runs/state/r00.npz", cost=np.float64("nan")), acquire, R1, DataError,
     "cost nan is not a finite number"),
    ("state_wrong_round_field", edit_npz("runs/state/r01.npz", round=np.int64(5)), finetune, R1, DataError,
     "runs/state/r01.npz"),
    ("state_round_field_ahead", edit_npz("runs/state/r00.npz", round=np.int64(2)), acquire, R1, DataError,
     "the state says round 2 but r00 is round 0"),
    ("state_other_pool", edit_npz("runs/state/r00.npz", pool_fingerprint=np.array("0123456789abcdef")), annotate, R1,
     DataError, "indexes another pool"),
    ("state_truncated", truncate("runs/state/r00.npz"), acquire, R1, DataError, "runs/state/r00.npz: unreadable"),
    ("state_old_format", edit_npz("runs/state/r00.npz", pool_fingerprint=None), acquire, R1, DataError,
     "not a state of this version"),
    ("state_wrong_digit", edit_npz("runs/state/r00.npz", labels=lambda d: np.where(
        (d["labels"] >= 0) & (d["labels"] < 10), (d["labels"] + 1) % 10, d["labels"]).astype(d["labels"].dtype)),
     annotate, R1, DataError, "differ from the simulated oracle's answers"),
    ("state_wrong_digit_finetune", edit_npz("runs/state/r03.npz", labels=lambda d: np.where(
        d["acquired_round"] == 3, 10, d["labels"]).astype(d["labels"].dtype)),
     finetune, {"round_name": "r03", "prev": "r02"}, DataError, "runs/state/r03.npz: "),
    ("state_cost_falls", edit_npz("runs/state/r01.npz", cost=np.float64(1.0)), finetune, R1, DataError,
     "below r00's"),
    ("state_drops_prev_label", edit_npz("runs/state/r01.npz", labels=state_label(0, 10),
                                        acquired_round=lambda d: d["acquired_round"]), finetune, R1, DataError,
     "does not keep the labels of r00"),
    # candidates
    ("candidates_missing", remove("runs/candidates/r01.npz"), annotate, R1, DataError,
     "runs/candidates/r01.npz: missing"),
    ("candidates_of_another_round", edit_npz("runs/candidates/r01.npz", round=np.array("r02"), prev=np.array("r01")),
     annotate, R1, DataError, "ranked for round r02"),
    ("candidates_of_another_state", edit_npz("runs/candidates/r01.npz", state_digest=np.array("feedfeedfeedfeed")),
     annotate, R1, DataError, "another version of state r00"),
    ("candidates_out_of_range", edit_npz("runs/candidates/r01.npz", order=first_unlabeled_as(10 ** 6)), annotate, R1,
     DataError, "pool indices must be in"),
    ("candidates_already_labeled", labeled_in_prev, annotate, R1, DataError, "already labeled in r00"),
    ("candidates_old_format", edit_npz("runs/candidates/r01.npz", state_digest=None), annotate, R1, DataError,
     "has no array 'state_digest'"),
    # model outputs
    ("outputs_truncated", truncate("runs/outputs/r00.npz"), acquire, R1, DataError, "runs/outputs/r00.npz: unreadable"),
    ("outputs_wrong_k", edit_npz("runs/outputs/r00.npz", probs=lambda d: d["probs"][:, :6]), acquire, R1, DataError,
     "probabilities over 6 classes"),
    ("outputs_of_another_state", edit_npz("runs/outputs/r00.npz", state_digest=np.array("feedfeedfeedfeed")), acquire,
     R1, DataError, "another version of state r00"),
    ("outputs_probs_1d", edit_npz("runs/outputs/r00.npz", probs=lambda d: d["probs"][:, 0]), acquire, R1, DataError,
     "'probs' must be a numeric (pool rows, columns) array"),
    ("outputs_probs_nan", edit_npz("runs/outputs/r00.npz", probs=lambda d: np.full_like(d["probs"], np.nan)), acquire,
     R1, DataError, "'probs' holds NaN or infinite values"),
    ("outputs_probs_constant", edit_npz("runs/outputs/r00.npz", probs=lambda d: np.full_like(d["probs"], 0.25)),
     acquire, R1, DataError, "'probs' is the same for every pool row"),
    ("outputs_probs_strings", edit_npz("runs/outputs/r00.npz", probs=lambda d: d["probs"].astype(str)), acquire,
     R1, DataError, "'probs' must be a numeric"),
    # a state's cost is its predecessor's plus what its new labels cost
    ("state_cost_edited_up", edit_npz("runs/state/r01.npz", cost=lambda d: d["cost"] + 5), finetune, R1, DataError,
     "the state was edited, or written with other costs"),
    ("state_r00_cost_edited", edit_npz("runs/state/r00.npz", cost=lambda d: d["cost"] - 1), finetune,
     {"round_name": "r00"}, DataError, "cost 4, but stage 0 (0) plus the 5 samples"),
    # params the YAML way: a key twice, a word YAML reads as a boolean
    ("params_seed_twice", lambda root: (root / "params.yaml").write_text(
        (root / "params.yaml").read_text() + "seed: 7\n"), acquire, R1, ConfigError, "key 'seed' is given twice"),
    ("params_cost_id_twice", lambda root: (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace("    id: 1.0\n", "    id: 1.0\n    id: 2.0\n", 1)), annotate, R1,
     ConfigError, "key 'id' is given twice"),
    ("params_oracle_no", lambda root: (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace("oracle: simulated", "oracle: no")), annotate, R1, ConfigError,
     "got the boolean false: YAML 1.1 reads an unquoted yes, no"),
    ("state_cost_not_scalar", edit_npz("runs/state/r00.npz", cost=np.zeros(3)), acquire, R1, DataError,
     "must be single values"),
    ("round_metrics_not_an_object", write_text("runs/metrics/r02_annotate.json", "[1, 2]"), report, {}, DataError,
     "r02_annotate.json: expected a JSON object"),
    ("round_metrics_without_seconds", lambda root: (root / "runs/metrics/r01_finetune.json").write_text(json.dumps(
        {k: v for k, v in json.loads((root / "runs/metrics/r01_finetune.json").read_text()).items()
         if k != "seconds"})), report, {}, None, None),
    ("outputs_other_pool", edit_npz("runs/outputs/r00.npz", pool_fingerprint=np.array("x")), acquire, R1, DataError,
     "another pool"),
    # stage arguments: a stage never reads or writes a round other than its params' pair
    ("args_round_not_in_table", None, acquire, {"round_name": "r04", "prev": "r02"}, UserError, "not a round of"),
    ("args_wrong_prev", None, annotate, {"round_name": "r02", "prev": "r03"}, UserError, "--prev r01"),
    ("args_skip_a_round", None, acquire, {"round_name": "r03", "prev": "r01"}, UserError, "continues from r02"),
    ("args_finetune_r00_prev", None, finetune, {"round_name": "r00", "prev": "r01"}, UserError, "without --prev"),
    ("args_round_without_prev", None, finetune, {"round_name": "r02"}, UserError, "with --prev r01"),
    # report inputs
    ("round_metrics_malformed", write_text("runs/metrics/r02_finetune.json", "{not json"), report, {}, DataError,
     "r02_finetune.json: not valid JSON"),
    ("round_metrics_without_cost", lambda root: (root / "runs/metrics/r01_annotate.json").write_text(json.dumps(
        {k: v for k, v in json.loads((root / "runs/metrics/r01_annotate.json").read_text()).items() if k != "cost"})),
     report, {}, DataError, "annotate 'cost'"),
    ("round_metrics_missing", remove("runs/metrics/r03_finetune.json"), report, {}, DataError,
     "r03_finetune.json: round metrics missing"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(ws, case):
    _, mutate, module, kwargs, error, fragment = case
    if mutate is not None:
        mutate(ws)
    before = snapshot(ws)
    if error is None:  # not a mistake: optional content missing must not stop the stage
        module.main(**kwargs)
        return
    with pytest.raises(error) as info:
        module.main(**kwargs)
    assert fragment in str(info.value)
    assert snapshot(ws) == before


def test_offline_auto_leaves_no_folder_that_breaks_the_suggested_link(ws, monkeypatch):
    no_raw_and_auto(ws)
    download_fails(monkeypatch)
    before = snapshot(ws)
    with pytest.raises(DataError) as info:
        fetch_data.main()
    assert "Download failed" in str(info.value) and "ln -sfn" in str(info.value)
    assert not (ws / "data" / "raw").exists()  # so `ln -sfn <mirror> data/raw` makes the link itself
    assert snapshot(ws) == before


def test_a_real_folder_is_named_in_the_advice(ws, monkeypatch):
    no_raw_and_auto(ws)
    (ws / "data" / "raw").mkdir()
    download_fails(monkeypatch)
    with pytest.raises(DataError, match=r"is a folder, not a link; for the link, remove it first"):
        fetch_data.main()


# ---------------------------------------------------------------- the command line prints no traceback
@pytest.mark.parametrize("argv, fragment", [
    (["-m", "stages.acquire", "--round", "r04", "--prev", "r02"], "not a round of params.yaml"),
    (["-m", "src.check"], "rounds.r02"),
])
def test_command_line_error_has_no_traceback(ws, argv, fragment):
    set_rounds({"r01": {"prev": "r00"}, "r02": {}})(ws) if argv[1] == "src.check" else None
    before = snapshot(ws)
    out = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and fragment in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert snapshot(ws) == before


# ---------------------------------------------------------------- killed writes
SLOW_WRITE = """
import sys, time
from pathlib import Path
from src.core.io import _atomic, save_json, save_text, stage_outputs

def slow(fh):  # half of b.txt written, then a signal to the test, then a long wait to be killed in
    fh.write(b"half of b")
    fh.flush()
    Path("writing").touch()
    time.sleep(60)
"""
KILLED_CHILD = SLOW_WRITE + """
with stage_outputs("a.json", "b.txt"):
    save_json("a.json", {"v": "new"})
    _atomic("b.txt", slow)
"""


def start_until_writing(cwd: Path, script: str, **popen) -> subprocess.Popen:
    """A child process running `script`, returned once it is in the middle of writing b.txt."""
    child = subprocess.Popen([sys.executable, "-c", script], cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             **popen)
    deadline = time.time() + 60
    while not (cwd / "writing").exists():
        assert child.poll() is None and time.time() < deadline, "child never reached the write"
        time.sleep(0.05)
    return child


def test_kill_9_while_writing_leaves_the_old_set_and_the_rerun_cleans_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from src.core.io import save_json, save_text, stage_outputs

    with stage_outputs("a.json", "b.txt"):
        save_json("a.json", {"v": "old"})
        save_text("b.txt", "old b")
    before = snapshot(tmp_path)
    child = start_until_writing(tmp_path, KILLED_CHILD)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    (tmp_path / "writing").unlink()
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert leftovers == [".a.json.partial", ".b.txt.partial"]  # the old set is untouched ...
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(".")} == before
    with stage_outputs("a.json", "b.txt"):  # ... and the next run of the stage removes the partial files
        save_json("a.json", {"v": "new"})
        save_text("b.txt", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.txt"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"v": "new"}


def test_killed_during_the_renames_the_next_run_finishes_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from src.core.io import StageOutputs, save_text, stage_outputs

    with stage_outputs("a.txt", "b.txt"):
        save_text("a.txt", "old a")
        save_text("b.txt", "old b")
    tx = StageOutputs(["a.txt", "b.txt"])  # what a run killed after its first rename leaves
    Path(".b.txt.partial").write_text("new b")
    Path("a.txt").write_text("new a")
    Path(".a.txt.commit").write_text(json.dumps([[".a.txt.partial", "a.txt"], [".b.txt.partial", "b.txt"]]))
    tx.recover()
    assert Path("a.txt").read_text() == "new a" and Path("b.txt").read_text() == "new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_an_error_inside_a_stage_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from src.core.io import save_text, stage_outputs

    with stage_outputs("a.txt", "b.txt"):
        save_text("a.txt", "old a")
        save_text("b.txt", "old b")
    before = snapshot(tmp_path)
    with pytest.raises(DataError):
        with stage_outputs("a.txt", "b.txt"):
            save_text("a.txt", "new a")
            raise DataError("the stage found a problem after writing one output")
    assert snapshot(tmp_path) == before
    with pytest.raises(RuntimeError, match="did not write b.txt"):  # a stage that forgets an output is a bug
        with stage_outputs("a.txt", "b.txt"):
            save_text("a.txt", "new a")
    assert snapshot(tmp_path) == before


def test_stage_outputs_cannot_be_nested(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from src.core.io import save_text, stage_outputs

    with pytest.raises(RuntimeError, match="cannot be nested"):
        with stage_outputs("a.txt"):
            with stage_outputs("b.txt"):
                save_text("b.txt", "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


SIGTERM_CHILD = SLOW_WRITE + """
from src.core.cli import run

def main(params_path):
    with stage_outputs("a.txt", "b.txt"):
        save_text("a.txt", "new a")
        _atomic("b.txt", slow)

sys.argv = ["stage"]
run(main, "")
"""


def test_sigterm_while_writing_leaves_the_old_set_and_no_partial_file(tmp_path, monkeypatch):
    """`kill` (SIGTERM) unwinds the stage: the old outputs stay and the partial files are removed."""
    monkeypatch.chdir(tmp_path)
    from src.core.io import save_text, stage_outputs

    with stage_outputs("a.txt", "b.txt"):
        save_text("a.txt", "old a")
        save_text("b.txt", "old b")
    before = snapshot(tmp_path)
    child = start_until_writing(tmp_path, SIGTERM_CHILD, stderr=subprocess.PIPE, text=True)
    child.terminate()
    _, err = child.communicate(timeout=30)
    (tmp_path / "writing").unlink()
    assert child.returncode == 128 + signal.SIGTERM and "terminated (SIGTERM)" in err and "Traceback" not in err
    assert snapshot(tmp_path) == before  # old set, and no .partial file left
