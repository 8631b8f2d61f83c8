"""Files that come from a person or a collaborator are checked before they are used: a folder pool's
images (links out of the folder, decompression bombs, long class names), a Label Studio export of
the wrong JSON types, a round's metrics JSON with NaN, strings or booleans where numbers belong."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.active.annotations import labels_csv, labels_json
from src.active.labels import LabelsError, read_labels, rows_from_export
from src.core.config import FolderConfig
from src.core.errors import DataError
from src.data.folder import fetch_folder, list_images
from src.data.standin import _decode
from tests.test_annotations import NAMES, PREV, queries


def png(path: Path, size=(12, 10), colour=(200, 40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def own(tmp_path, monkeypatch):
    """own/images (3 PNGs, one nested) and own/test/<class>/ (2 PNGs); a picture outside both."""
    monkeypatch.chdir(tmp_path)
    for rel in ("a.png", "b.png", "sub/c.png"):
        png(tmp_path / "own" / "images" / rel)
    for rel in ("red/0.png", "green/0.png"):
        png(tmp_path / "own" / "test" / rel)
    png(tmp_path / "elsewhere" / "secret.png")
    return tmp_path


def cfg(test=None) -> FolderConfig:
    return FolderConfig(images="own/images", test=test, size=8, channels=3)


# ---------------------------------------------------------------- folder pool: links
def test_an_image_linked_out_of_the_folder_is_refused(own):
    link = own / "own" / "images" / "sub" / "link.png"
    link.symlink_to(own / "elsewhere" / "secret.png")
    with pytest.raises(DataError, match=r"own/images/sub/link.png: a link to .*elsewhere/secret.png, outside "
                                        r"own/images"):
        fetch_folder(cfg())


def test_a_test_image_linked_out_of_the_test_folder_is_refused(own):
    (own / "own" / "test" / "red" / "1.png").symlink_to(own / "elsewhere" / "secret.png")
    with pytest.raises(DataError, match=r"red/1.png: a link to .*secret.png, outside own/test"):
        fetch_folder(cfg(test="own/test"))


def test_a_link_to_an_image_inside_the_folder_is_read(own):
    (own / "own" / "images" / "again.png").symlink_to(own / "own" / "images" / "sub" / "c.png")
    source, _, manifest = fetch_folder(cfg())
    assert source["files"].tolist() == ["a.png", "again.png", "b.png", "sub/c.png"] and manifest["images"] == 4


def test_the_folder_itself_may_be_a_link(own):
    (own / "linked").symlink_to(own / "own" / "images")
    assert [p.name for p in list_images(Path("linked"))] == ["a.png", "b.png", "c.png"]


def test_linked_subfolders_neither_escape_nor_loop(own):
    out = own / "own" / "images" / "out"
    out.symlink_to(own / "elsewhere", target_is_directory=True)
    with pytest.raises(DataError, match=r"images/out: a link to .*elsewhere, outside own/images"):
        fetch_folder(cfg())
    out.unlink()
    (own / "own" / "images" / "sub" / "loop").symlink_to(own / "own" / "images", target_is_directory=True)
    (own / "own" / "images" / "twice").symlink_to(own / "own" / "images" / "sub", target_is_directory=True)
    assert fetch_folder(cfg())[0]["files"].tolist() == ["a.png", "b.png", "sub/c.png"]  # each image once


def test_an_image_name_that_is_no_regular_file_is_refused(own):
    os.mkfifo(own / "own" / "images" / "fifo.png")
    with pytest.raises(DataError, match="fifo.png: not a regular file"):
        fetch_folder(cfg())


# ---------------------------------------------------------------- decompression bombs
@pytest.mark.parametrize("pixels", [150, 300])  # 400 > 2 x 150: Pillow raises; 400 in 300..600: it only warns
def test_a_decompression_bomb_in_the_folder_is_refused(own, monkeypatch, pixels):
    png(own / "own" / "images" / "bomb.png", size=(20, 20))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pixels)
    with pytest.raises(DataError, match=rf"images/bomb.png: 400 pixels, more than Pillow's limit of {pixels} "
                                        r"pixels .*decompression bomb.* downscale"):
        fetch_folder(cfg())


def test_a_decompression_bomb_in_an_archive_is_refused(monkeypatch):
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, format="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(DataError, match=r"x.tar.gz:train/cat/1.png: 400 pixels, more than Pillow's limit"):
        _decode(buf.getvalue(), "x.tar.gz:train/cat/1.png")


def test_a_bomb_in_the_notmnist_archive_counts_as_broken(monkeypatch):
    import tarfile

    from src.data.raw import notmnist_from_tar

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, size in (("A/ok.png", (28, 28)), ("B/bomb.png", (200, 200))):
            buf = io.BytesIO()
            Image.new("L", size).save(buf, format="PNG")
            info = tarfile.TarInfo(f"notMNIST_small/{name}")
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    images, labels, broken = notmnist_from_tar(out.getvalue())
    assert len(images) == 1 and broken == 1


def test_a_file_of_another_format_named_png_is_unreadable(own):
    Image.new("RGB", (8, 8)).save(own / "own" / "images" / "gif.png", format="GIF")
    with pytest.raises(DataError, match="gif.png: not a readable PNG/JPEG image"):
        fetch_folder(cfg())


# ---------------------------------------------------------------- test folder class names
def test_long_class_names_round_trip_unchanged(own):
    name = "a-very-long-class-name-" + "x" * 57
    assert len(name) == 80
    png(own / "own" / "test" / name / "0.png")
    source = fetch_folder(cfg(test="own/test"))[0]
    assert sorted(set(source["test_classes"].tolist())) == sorted([name, "green", "red"])
    assert fetch_folder(cfg())[0]["test_classes"].shape == (0,)


# ---------------------------------------------------------------- Label Studio exports
def task(n=1, pool_index=5, annotations=None, data=None):
    ann = [{"was_cancelled": False, "result": [{"from_name": "label", "value": {"choices": ["cat"]}}]}]
    return {"id": n, "data": data if data is not None else {"pool_index": pool_index, "round": "r01"},
            "annotations": ann if annotations is None else annotations}


def result(**fields):
    return [{"result": [{"from_name": "label", **fields}]}]


WRONG_TYPES = [
    ("task_not_object", [1, 2], "the task must be an object, is a list"),
    ("data_not_object", task(data=["pool_index", 5]), "data must be an object, is a list"),
    ("annotations_not_list", task(annotations={"result": []}), "annotations must be a list, is an object"),
    ("annotation_not_object", task(annotations=["cat"]), r"annotations\[0\] must be an object, is a string"),
    ("cancelled_not_bool", task(annotations=[{"was_cancelled": "no", "result": []}]),
     r"annotations\[0\].was_cancelled must be true or false or null, is a string \('no'\)"),
    ("result_not_list", task(annotations=[{"result": "cat"}]),
     r"annotations\[0\].result must be a list, is a string \('cat'\)"),
    ("result_not_object", task(annotations=[{"result": [7]}]),
     r"annotations\[0\].result\[0\] must be an object, is a number \('7'\)"),
    ("value_not_object", task(annotations=result(value="cat")),
     r"annotations\[0\].result\[0\].value must be an object, is a string"),
    ("choices_not_list", task(annotations=result(value={"choices": "cat"})),
     r"annotations\[0\].result\[0\].value.choices must be a list, is a string"),
    ("choice_not_string", task(annotations=result(value={"choices": [3]})),
     r"annotations\[0\].result\[0\].value.choices\[0\] must be a string, is a number"),
    ("two_choices", task(annotations=result(value={"choices": ["cat", "dog"]})),
     r"annotations\[0\].result\[0\].value.choices holds 2 answers"),
    ("round_not_string", task(data={"pool_index": 5, "round": ["r01"]}), "data.round must be a string or null"),
]


@pytest.mark.parametrize("exported, expected", [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES])
def test_wrong_json_types_name_the_task_and_the_field(exported, expected):
    tasks = [task(1), exported]
    with pytest.raises(LabelsError, match=rf"labels.json, task 2: {expected}.*(JSON export unchanged|one answer)"):
        rows_from_export(json.dumps(tasks), Path("labels.json"))


def test_a_well_typed_export_still_reads():
    tasks = [task(1), task(2, "3", annotations=[]), task(3, 8, [{"was_cancelled": None, "result": [
        {"from_name": "other", "value": "free text"}, {"from_name": "label", "value": {"choices": []}}]}])]
    assert rows_from_export(json.dumps(tasks), Path("x"))[1] == [(1, ["5", "cat", "r01"]), (2, ["3", "", "r01"]),
                                                                 (3, ["8", "", "r01"])]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels_csv("r01").parent.mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize("pool_index", [1.0, True, [1], {"i": 1}, "1_000", "1.0", "٣", None])
def test_a_pool_index_that_is_no_whole_number_is_refused(here, pool_index):
    """1.0, true, [1] or "1_000" never become pool index 1 (or 1000): rows_from_export refuses them."""
    labels_json("r01").write_text(json.dumps([task(1, pool_index)]))
    with pytest.raises(LabelsError, match=r"labels.json, task 1: data.pool_index must be a whole number"):
        read_labels("r01", queries(), PREV, NAMES)


def test_a_pool_index_as_a_digit_string_is_read(here):
    labels_json("r01").write_text(json.dumps([task(1, "5")]))
    assert list(read_labels("r01", queries(), PREV, NAMES)) == [5]


@pytest.mark.parametrize("text", ["1" * 5000, "[" * 100000])
def test_json_that_python_cannot_hold_is_not_valid_json(text):
    with pytest.raises(LabelsError, match="labels.json: not valid JSON"):
        rows_from_export(text, Path("labels.json"))


# ---------------------------------------------------------------- round metrics
ANNOTATE = {"round": 0, "cost": 10.0, "examined": 10, "labeled_id": 6, "examined_id": 6, "labeled_ambiguous": 2,
            "labeled_ood": 2, "id_precision": 0.6, "seconds": 0.01}
FINETUNE = {"round": 0, "accuracy": 0.5, "val_accuracy": None, "seconds": {"train": 1.0}}


def metrics(tmp_path, monkeypatch, annotate=None, finetune=None, text=None):
    from src.core import paths

    monkeypatch.chdir(tmp_path)
    paths.round_metrics("r00", "annotate").parent.mkdir(parents=True, exist_ok=True)
    paths.round_metrics("r00", "annotate").write_text(text or json.dumps({**ANNOTATE, **(annotate or {})}))
    paths.round_metrics("r00", "finetune").write_text(json.dumps({**FINETUNE, **(finetune or {})}))


def test_good_metrics_are_collected(tmp_path, monkeypatch):
    from src.report.curve import collect

    metrics(tmp_path, monkeypatch)
    row = collect(["r00"])[0]
    assert (row["cost"], row["accuracy"], row["val_accuracy"], row["seconds_train"]) == (10.0, 50.0, None, 1.0)
    metrics(tmp_path, monkeypatch, finetune={"accuracy": None, "seconds": None})  # no test folder: null
    assert collect(["r00"])[0]["accuracy"] is None


BAD_METRICS = [
    ("nan_cost", {"text": json.dumps(ANNOTATE).replace("10.0", "NaN")}, r"r00_annotate.json: 'cost' is NaN"),
    ("infinite_cost", {"text": json.dumps(ANNOTATE).replace("10.0", "1e999")}, r"'cost' is Infinity"),
    ("nan_accuracy", {"finetune": {"accuracy": float("nan")}}, r"r00_finetune.json: 'accuracy' is NaN"),
    ("string_cost", {"annotate": {"cost": "abc"}}, r"r00_annotate.json: annotate 'cost' is '\"abc\"'; it must be "
                                                    r"a number >= 0"),
    ("bool_cost", {"annotate": {"cost": True}}, r"r00_annotate.json: annotate 'cost' is 'true'"),
    ("missing_cost", {"annotate": {"cost": None}}, r"annotate 'cost' is 'null'"),
    ("float_count", {"annotate": {"labeled_id": 6.5}}, r"annotate 'labeled_id' is '6.5'; it must be a whole number"),
    ("negative_count", {"annotate": {"examined": -1}}, r"annotate 'examined' is '-1'"),
    ("accuracy_over_one", {"finetune": {"accuracy": 93.5}}, r"finetune 'accuracy' is '93.5'; it must be a number "
                                                             r"from 0 to 1, or null"),
    ("accuracy_string", {"finetune": {"val_accuracy": "0.9"}}, r"finetune 'val_accuracy' is '\"0.9\"'"),
    ("seconds_not_object", {"finetune": {"seconds": [1]}}, r"finetune 'seconds' is '\[1\]'"),
    ("seconds_string", {"finetune": {"seconds": {"train": "1s"}}}, r"finetune 'seconds.train' is '\"1s\"'"),
    ("finished_string", {"annotate": {"finished": "no"}}, r"annotate 'finished' is '\"no\"'; it must be true or "
                                                           r"false"),
]


@pytest.mark.parametrize("edit, expected", [c[1:] for c in BAD_METRICS], ids=[c[0] for c in BAD_METRICS])
def test_bad_metrics_name_the_file_the_field_and_the_fix(tmp_path, monkeypatch, edit, expected):
    from src.report.curve import collect

    metrics(tmp_path, monkeypatch, **edit)
    with pytest.raises(DataError, match=rf"{expected}.*(delete it and rerun `dvc repro`|Delete it and rerun)"):
        collect(["r00"])


def test_a_missing_key_is_named(tmp_path, monkeypatch):
    from src.report.curve import collect

    metrics(tmp_path, monkeypatch, text=json.dumps({k: v for k, v in ANNOTATE.items() if k != "cost"}))
    with pytest.raises(DataError, match=r"r00_annotate.json: annotate 'cost' is missing; it must be a number >= 0. "
                                        r"The file was edited or written by another version"):
        collect(["r00"])
