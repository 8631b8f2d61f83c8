"""benchmark folder: a pool from a folder of images (nested, PNG/JPEG, any size), categories unknown
until a scripted person answers; an optional ImageFolder test set for the accuracy curve."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from src.active.annotations import queries_csv
from src.core import config, paths
from src.core.errors import ConfigError, DataError
from src.core.io import load_npz
from src.data.folder import fetch_folder, list_images
from src.data.pool import UNKNOWN
from src.data.verify import verify
from stages import (acquire, annotate, build_pool, fetch_data, finetune, init_state, make_ambiguous, report,
                    train_ensemble, train_vae)
from tests.conftest import tiny_params
from src.ci.scripted_person import answer_round
from tests.test_stages import run_stage

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "ood": (120, 120, 120)}


def picture(kind: str, seed: int, size=(40, 30)) -> Image.Image:
    g = np.random.default_rng(seed)
    base = np.array(COLOURS[kind], np.int16)
    arr = np.clip(base + g.integers(-25, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def make_folder(root, n=30):
    """n pool images (red, green, grey in turn) in nested folders, PNG and JPEG, plus files to skip;
    a test folder red/ green/. Returns {relative path: answer}."""
    key = {}
    for i in range(n):
        kind = ("red", "green", "ood")[i % 3]
        rel = f"{'a' if i < n // 2 else 'b/deeper'}/img{i:03d}.{'jpg' if i % 5 == 0 else 'png'}"
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        picture(kind, i).save(root / "images" / rel)
        key[rel] = kind
    (root / "images" / "notes.txt").write_text("not an image")
    picture("red", 99).save(root / "images" / "a" / ".hidden.png")
    for kind in ("red", "green"):
        (root / "test" / kind).mkdir(parents=True)
        for i in range(4):
            picture(kind, 100 + i).save(root / "test" / kind / f"{i}.png")
    return key


def folder_params(**folder):
    p = tiny_params()
    p.update(benchmark="folder", oracle="file", strategy="random")
    p["data"].update(raw_dir="own")
    p["folder"].update({"images": "own/images", "test": "own/test", "size": 32, "channels": 3, **folder})
    p["pool"].update(id_classes=["red", "green"], ambiguous_classes=None, n_val=0)
    p["active"].update(num_classes=2, init_id=3, per_round_id=2, target_id=7)
    p["classifier"].update(arch="resnet", width=4, blocks=[1], epochs=2, milestones=[1], augment="crop_flip")
    p["contrastive"].update(arch="resnet", augment="simclr", blocks=[1])
    p["ddu"].update(width=4, blocks=[1])
    p["rounds"] = {"r01": {"prev": "r00"}, "r02": {"prev": "r01"}, "r03": {"prev": "r02"}}
    if folder.get("channels") == 1:
        p["classifier"].update(arch="convnet")
        p["contrastive"].update(arch="convnet", augment="affine")
    return p


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    key = make_folder(tmp_path / "own")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(folder_params()))
    return key


def test_listing_skips_hidden_and_other_files(own):
    files = [p.relative_to("own/images").as_posix() for p in list_images(Path("own/images"))]
    assert files == sorted(own) and len(files) == 30


def test_folder_pool_through_three_labeled_rounds(own, capsys):
    for module in (fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool):
        assert run_stage(module) == 0, module.__name__
    pool = load_npz(paths.POOL_NPZ)
    assert pool["images"].shape == (30, 32, 32, 3) and (pool["category"] == UNKNOWN).all()
    assert (pool["label"] == -1).all() and sorted(pool["files"].tolist()) == sorted(own)
    red = [i for i, f in enumerate(pool["files"]) if own[str(f)] == "red"]
    assert pool["images"][red][..., 0].mean() > 150  # the images are what the files hold
    stats = json.loads(paths.STATS_JSON.read_text())
    assert stats["by_category"] == {"unknown": 30} and stats["test_size"] == 8
    assert verify()["files"] == 30
    test = load_npz(paths.TEST_NPZ)
    assert test["labels"].tolist() == [1] * 4 + [0] * 4  # green/ then red/, label = position in id_classes
    assert json.loads(paths.VAE_METRICS.read_text())["applicable"] is False

    person = lambda row: own[row["file"]]  # noqa: E731 - what the person sees: the image file
    assert run_stage(init_state) == 0
    rows = queries_csv("r00").read_text().splitlines()
    assert rows[0].endswith("pool_index,file,guess,label") and len(rows) == 1 + 30  # random order, one by one
    for r, prev, quota in (("r00", None, 3), ("r01", "r00", 2), ("r02", "r01", 2)):
        args = ("--round", r) + (() if prev is None else ("--prev", prev))
        if r != "r00":
            assert run_stage(acquire, *args) == 0
        assert run_stage(annotate, *args) == 2 and "labels needed" in capsys.readouterr().err
        labeled = answer_round(r, person, quota)
        assert run_stage(annotate, *args) == 0 and run_stage(finetune, *args) == 0
        m = json.loads(paths.round_metrics(r, "annotate").read_text())
        assert m["examined"] == labeled and m["examined_id"] == quota and m["categories"] == "answered"
        assert 0 <= json.loads(paths.round_metrics(r, "finetune").read_text())["accuracy"] <= 1
    guesses = {line.split(",")[6] for line in queries_csv("r02").read_text().splitlines()[1:]}
    assert guesses and guesses <= {"red", "green", "non-iD"}  # the previous model's argmax, by name
    # r03 comes after the stopping point (7 labeled iD): nothing listed, nothing asked, nothing charged
    assert run_stage(acquire, "--round", "r03", "--prev", "r02") == 0
    assert queries_csv("r03").read_text().splitlines() == [queries_csv("r02").read_text().splitlines()[0]]
    assert run_stage(annotate, "--round", "r03", "--prev", "r02") == 0
    assert json.loads(paths.round_metrics("r03", "annotate").read_text())["finished"] is True
    assert run_stage(finetune, "--round", "r03", "--prev", "r02") == 0
    assert run_stage(report) == 0
    s = json.loads(paths.SUMMARY.read_text())
    assert s["labeled_id"] == 7 and s["target_reached"] and s["accuracy"] is not None
    assert s["labeled_ood"] + s["labeled_id"] == s["cost"]  # the folder has no ambiguous images
    assert s["labeled_ambiguous"] == 0


def test_greyscale_and_no_test_folder(own):
    Path("params.yaml").write_text(yaml.safe_dump(folder_params(channels=1, size=28, test=None)))
    for module in (fetch_data, build_pool):
        assert run_stage(module) == 0
    pool = load_npz(paths.POOL_NPZ)
    assert pool["images"].shape == (30, 28, 28) and len(load_npz(paths.TEST_NPZ)["labels"]) == 0


def test_folder_mistakes_are_named(own, tmp_path):
    cfg = config.load("params.yaml").folder
    bad = type(cfg)(images="own/missing", test=None, size=32, channels=3)
    with pytest.raises(DataError, match="folder.images = own/missing: no such folder"):
        fetch_folder(bad)
    (tmp_path / "own" / "images" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png: not a readable PNG/JPEG image"):
        fetch_folder(cfg)
    (tmp_path / "own" / "images" / "a" / "broken.png").unlink()
    picture("red", 1).save(tmp_path / "own" / "test" / "loose.png")
    with pytest.raises(DataError, match="loose.png is not in a class folder"):
        fetch_folder(cfg)
    (tmp_path / "own" / "test" / "loose.png").unlink()
    os.rename(tmp_path / "own" / "test" / "green", tmp_path / "own" / "test" / "gren")
    assert run_stage(fetch_data) == 0
    with pytest.raises(DataError, match=r"class folder\(s\) gren \(did you mean 'green'\?\)"):
        build_pool.main()


@pytest.mark.parametrize("change,message", [
    ({"oracle": "simulated"}, "has no ground truth for the simulated oracle: set oracle: file"),
    ({"folder": {"images": None}}, "needs folder.images"),
    ({"folder": {"size": 64}}, "folder.size = 64 with folder.channels = 3"),
    ({"data": {"raw_dir": "elsewhere"}}, r"folder.images = 'own/images' is not inside data.raw_dir = 'elsewhere'"),
    ({"folder": {"test": "../test"}}, r"folder.test = '../test' is not inside data.raw_dir = 'own'"),
    ({"pool": {"id_classes": None}}, "needs pool.id_classes"),
    ({"pool": {"id_classes": ["red", "ood"]}}, "'ood' is an answer of its own"),
])
def test_folder_params_are_checked(tmp_path, change, message):
    p = folder_params()
    for key, value in change.items():
        if isinstance(value, dict):
            p[key].update(value)
        else:
            p[key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    with pytest.raises(ConfigError, match=message):
        config.load(path)



@pytest.mark.parametrize("strategy", ["lfosa", "eaoa"])
def test_open_set_strategy_on_a_folder_pool_with_a_person(own, strategy):
    """The open-set strategies with the file oracle: r01's queries.csv lists every image not yet
    answered once, in the strategy's order, and the person's answers (grey = non-iD) train the model."""
    from src.ci.scripted_person import read_queries

    p = folder_params()
    p["strategy"] = strategy
    Path("params.yaml").write_text(yaml.safe_dump(p))
    for module in (fetch_data, train_vae, train_ensemble, make_ambiguous, build_pool, init_state):
        assert run_stage(module) == 0, module.__name__
    person = lambda row: own[row["file"]]  # noqa: E731
    assert run_stage(annotate, "--round", "r00") == 2
    answered = answer_round("r00", person, 3)
    assert run_stage(annotate, "--round", "r00") == 0 and run_stage(finetune, "--round", "r00") == 0
    args = ("--round", "r01", "--prev", "r00")
    assert run_stage(acquire, *args) == 0
    listed = [row["pool_index"] for row in read_queries("r01")]
    assert len(listed) == len(set(listed)) == 30 - answered
    assert run_stage(annotate, *args) == 2
    answer_round("r01", person, 2)
    assert run_stage(annotate, *args) == 0 and run_stage(finetune, *args) == 0
    assert json.loads(paths.round_metrics("r01", "acquire").read_text())["strategy"] == strategy
    assert json.loads(paths.round_metrics("r01", "annotate").read_text())["examined_id"] == 2
