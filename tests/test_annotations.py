"""The file oracle's parts on hand-made queries: which queries a round lists, how labels.csv is read
(every bad answer refused with the file, the line and the fix), and how the examination is cut."""
import numpy as np
import pytest

from src.active.annotations import (QueryList, all_queries, labels_csv, listed_queries, publish_queries, queries_csv,
                                    sheets_dir)
from src.active.labels import LabelsError, LabelsNeeded, examined_by_answers, next_rows, read_labels
from src.active.oracle import annotate_from_answers
from src.active.state import ActiveState
from src.active.strategies import Candidates
from src.core.config import ActiveConfig
from src.data.pool import AMBIGUOUS, ID, OOD

NAMES = ["cat", "dog"]
# passes: 0 = (5, 3), 1 = (8, 1, 9), 2 = (0,)
CANDS = Candidates(np.array([5, 3, 8, 1, 9, 0]), np.array([4, 4, 7, 7, 7, 9]))
PREV = np.full(12, -1, np.int32)
PREV[7] = 0  # labeled at stage 0


def queries(max_queries=100, sheet_size=50) -> QueryList:
    return listed_queries(CANDS, max_queries, sheet_size)


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels_csv("r01").parent.mkdir(parents=True)
    return tmp_path


def write(text, round_name="r01"):
    labels_csv(round_name).write_bytes(text.encode() if isinstance(text, str) else text)


def test_listed_queries_cut_at_whole_passes_and_group_sheets():
    q = queries(max_queries=3)
    assert q.order.tolist() == [5, 3, 8, 1, 9] and q.passes.tolist() == [0, 0, 1, 1, 1] and not q.complete
    assert queries(max_queries=6).complete and queries(max_queries=2).order.tolist() == [5, 3]
    assert queries(sheet_size=4).sheets.tolist() == [1, 1, 2, 2, 2, 2]  # whole passes per sheet
    assert queries(sheet_size=1).sheets.tolist() == [1, 1, 2, 2, 2, 3]  # a larger pass: a sheet of its own
    one = listed_queries(Candidates.one_by_one(np.arange(7)), 100, 3)
    assert one.sheets.tolist() == [1, 1, 1, 2, 2, 2, 3] and one.passes.tolist() == list(range(7))


def test_publish_writes_csv_and_numbered_sheets(here):
    images = np.random.default_rng(0).integers(0, 255, (12, 28, 28), dtype=np.uint8)
    probs = np.eye(3)[np.arange(12) % 3]
    publish_queries("r01", CANDS, {"images": images}, probs, NAMES, type("A", (), {"max_queries": 4, "sheet_size": 2}))
    lines = queries_csv("r01").read_text().splitlines()
    assert lines[0] == "round,query,pass,sheet,pool_index,file,guess,label"
    # every candidate listed (issue 25: the listing follows the need); the first 4 queries' passes on the sheets
    assert lines[1:] == ["r01,1,0,1,5,,non-iD,", "r01,2,0,1,3,,cat,", "r01,3,1,2,8,,non-iD,",
                         "r01,4,1,2,1,,dog,", "r01,5,1,2,9,,cat,", "r01,6,2,3,0,,cat,"]
    sheets = sorted(p.name for p in sheets_dir("r01").iterdir())
    assert sheets == ["index.txt", "sheet_001.png", "sheet_002.png"]
    assert (sheets_dir("r01") / "index.txt").read_text().splitlines() == [
        "sheet_001.png: queries 1-2, passes 0-0", "sheet_002.png: queries 3-5, passes 1-1"]
    from PIL import Image

    with Image.open(sheets_dir("r01") / "sheet_002.png") as im:
        assert im.size[0] == 3 * (84 + 8)  # three images of the pass, enlarged 3x
    publish_queries("r01", Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64)), {"images": images[:0]}, None,
                    NAMES, type("A", (), {"max_queries": 4, "sheet_size": 2}))
    assert [p.name for p in sheets_dir("r01").iterdir()] == ["index.txt"]  # never an empty folder (DVC warns)
    assert queries_csv("r01").read_text() == lines[0] + "\n"


BAD = [
    ("", ["is empty", "pool_index"]),
    ("index,answer\n5,cat\n", ["line 1", "lacks pool_index and label"]),
    ("pool_index,label\n5,cat,extra\n", ["line 2", "3 fields but the header has 2"]),
    ("pool_index,label\nfive,cat\n", ["line 2", "'five' is not a whole number"]),
    ("pool_index,label\n5,cat\n99,dog\n", ["line 3", "pool_index '99' is not an index of the pool (0..11)"]),
    ("pool_index,label\n2,cat\n", ["line 2", "pool index 2 is not among round r01's 6 queries"]),
    ("pool_index,label\n7,cat\n", ["line 2", "was labeled before this round", "another round's labels file"]),
    ("pool_index,label\n5,cat\n3,dog\n5,ood\n", ["lines 2 and 4", "pool index 5 (query 1) is labeled twice"]),
    ("pool_index,label\n5,ambigous\n", ["line 2", "'ambigous' is not an answer", "Did you mean 'ambiguous'?"]),
    ("pool_index,label\n5,Cat\n", ["line 2", "Did you mean 'cat'?", "cat, dog, ambiguous, ood"]),
    ("round,pool_index,label\nr02,5,cat\n", ["line 2", "round 'r02'", "annotations/r02/labels.csv"]),
    (b"pool_index,label\n5,\xff\n", ["not UTF-8"]),
    ('pool_index,label\n5,"cat\n', ["not a readable CSV"]),
]


@pytest.mark.parametrize("text,expected", BAD, ids=[e[1][-1] for e in BAD])
def test_bad_answers_name_the_file_the_line_and_the_fix(here, text, expected):
    write(text)
    with pytest.raises(LabelsError) as err:
        read_labels("r01", queries(), PREV, NAMES)
    message = str(err.value)
    assert str(labels_csv("r01")) in message
    for part in expected:
        assert part in message, message


def test_good_answers_are_read(here):
    write("round,query,pass,sheet,pool_index,file,guess,label\n"
          "r01,1,0,1,5,,cat,cat\n\n r01,2,0,1,3,,dog, ood \nr01,3,1,1,8,,cat,\n"
          "r01,1,0,1,5,,cat,cat\n")  # blank line, spaces, an unlabeled row, a repeated identical answer
    answers = read_labels("r01", queries(), PREV, NAMES)
    assert {i: (a.label, a.category) for i, a in answers.items()} == {5: (0, ID), 3: (2, OOD)}
    assert read_labels("r02", queries(), PREV, NAMES) == {}  # no file yet: no answers


def answers_for(labels: dict):
    from src.active.labels import Answer

    cat = {"cat": (0, ID), "dog": (1, ID), "ambiguous": (2, AMBIGUOUS), "ood": (2, OOD)}
    return {i: Answer(*cat[name], line=0) for i, name in labels.items()}


def test_examination_stops_for_missing_labels(here):
    with pytest.raises(LabelsNeeded, match=r"annotations/r01/labels.csv is not written yet. Next: label pass 0 "
                                           r"\(queries 1-2, annotations/r01/sheets/sheet_001.png\)"):
        examined_by_answers("r01", queries(), {}, 1, NAMES)
    with pytest.raises(LabelsNeeded, match=r"pass 0 is half-labeled: queries 1-2 form one pass.*query 2 has no label"):
        examined_by_answers("r01", queries(), answers_for({5: "cat"}), 1, NAMES)
    with pytest.raises(LabelsNeeded, match=r"1 iD answers of the 2 .*label pass 1 \(queries 3-5"):
        examined_by_answers("r01", queries(), answers_for({5: "cat", 3: "ood"}), 2, NAMES)
    with pytest.raises(LabelsNeeded, match=r"pass 0 has no labels but later passes do"):
        examined_by_answers("r01", queries(), answers_for({8: "cat", 1: "dog", 9: "ood"}), 2, NAMES)


def test_examination_takes_whole_passes_to_the_quota_and_every_later_label():
    exact = answers_for({5: "cat", 3: "ood", 8: "ambiguous", 1: "dog", 9: "ood"})
    examined, met, extra = examined_by_answers("r01", queries(), exact, 2, NAMES)
    assert examined.tolist() == [5, 3, 8, 1, 9] and met and extra == 0
    more = answers_for({5: "cat", 3: "dog", 8: "ambiguous", 0: "ood"})  # quota met in pass 0; 8 and 0 looked at too
    examined, met, extra = examined_by_answers("r01", queries(), more, 2, NAMES)
    assert examined.tolist() == [5, 3, 8, 0] and met and extra == 2


def test_labels_beyond_the_drawn_sheets_need_no_params_edit(here):
    """Replaces the old stop at the end of the listing ("raise annotation.max_queries"): every
    candidate is listed, the sheets beyond the ranking stage's are named with the command that draws
    them, and labeling on completes the round."""
    listed = all_queries(CANDS, 3, 50)  # the ranking stage draws passes 0-1 (5 queries) on sheet 1
    assert listed.complete and listed.drawn == 5 and listed.sheets.tolist() == [1, 1, 1, 1, 1, 2]
    few = answers_for({5: "ood", 3: "ood", 8: "ood", 1: "ood", 9: "cat"})
    with pytest.raises(LabelsNeeded, match=r"1 iD answers of the 2 .*label pass 2 \(query 6, annotations/more_sheets/"
                                           r"r01/sheet_002.png, drawn by `python -m src.active.sheets r01`\)"):
        examined_by_answers("r01", listed, few, 2, NAMES)
    assert next_rows(listed, few, 3).tolist() == [5] and next_rows(listed, {}, 3).tolist() == [0, 1, 2, 3, 4]
    examined, met, _ = examined_by_answers("r01", listed, {**few, **answers_for({0: "dog"})}, 2, NAMES)
    assert examined.tolist() == [5, 3, 8, 1, 9, 0] and met
    with pytest.raises(ValueError, match="whole examination order"):  # a cut listing is never examined
        examined_by_answers("r01", queries(max_queries=3), few, 2, NAMES)


def test_listed_queries_run_out():
    few = answers_for({5: "ood", 3: "ood", 8: "ood", 1: "ood", 9: "cat"})
    examined, met, _ = examined_by_answers("r01", queries(), {**few, **answers_for({0: "ood"})}, 2, NAMES)
    assert examined.tolist() == [5, 3, 8, 1, 9, 0] and not met  # every candidate examined: the round falls short


def test_a_whole_pool_one_by_one_is_listed_and_examined_fast():
    """The file oracle's stage 0 for the baselines lists the whole pool one by one (30,000 passes on
    the default profile): listing, reading the examination and cutting it stay linear."""
    import time

    order = np.random.default_rng(0).permutation(30000)
    t0 = time.perf_counter()
    listed = all_queries(Candidates.one_by_one(order), 100, 50)
    answers = answers_for({int(i): ("cat" if i % 3 else "ood") for i in order[:200]})
    examined, met, extra = examined_by_answers("r00", listed, answers, 100, NAMES)
    assert met and len(examined) == 150 + extra and extra == 50 and listed.sheets[-1] == 600
    assert next_rows(listed, answers, 100).tolist() == list(range(200, 300))
    assert time.perf_counter() - t0 < 5


def test_cost_is_charged_by_the_answered_category():
    cfg = ActiveConfig(2, 1, 2, 10, {"id": 1.0, "ambiguous": 2.0, "ood": 5.0}, 1.0)
    answers = answers_for({5: "cat", 3: "ood", 8: "ambiguous", 1: "dog"})
    state = ActiveState.empty(12, "fp", answers=True)
    new, m = annotate_from_answers(state, np.array([5, 3, 8, 1]), answers, cfg, 1, 2)
    assert new.cost == 1 + 5 + 2 + 1 and m["examined"] == 4 and m["quota_met"] and m["categories"] == "answered"
    assert (m["examined_id"], m["examined_ambiguous"], m["examined_ood"]) == (2, 1, 1)
    assert new.labels[[5, 3, 8, 1]].tolist() == [0, 2, 2, 1] and new.answers[[5, 3, 8, 1]].tolist() == [0, 2, 1, 0]
    new.validate("state", 2, 12)
    with pytest.raises(ValueError, match="answers are given exactly when"):
        ActiveState.empty(12).with_labels(np.array([1]), np.array([0]), 1.0, 1, np.array([0]))


# ---------------------------------------------------------------- Label Studio's formats
def test_label_studio_tasks_and_config():
    from xml.etree import ElementTree

    from src.active.label_studio import label_config, tasks

    q = queries(max_queries=2)
    made = tasks("r01", q, ["own/images/a.png", "own/images/b.png"], ["dog", "non-iD"])
    assert made[0] == {"data": {"image": "/data/local-files/?d=own/images/a.png", "pool_index": 5, "query": 1,
                                "pass": 0, "round": "r01"},
                       "predictions": [{"model_version": "r01-prev-model", "result": [
                           {"from_name": "label", "to_name": "image", "type": "choices",
                            "value": {"choices": ["dog"]}}]}]}
    assert "predictions" not in made[1]  # the auxiliary class is no answer to pre-fill
    view = ElementTree.fromstring(label_config(["cat", "a&b"]))
    choices = view.find("Choices")
    assert choices.get("name") == "label" and choices.get("toName") == view.find("Image").get("name")
    assert [c.get("value") for c in choices] == ["cat", "a&b", "ambiguous", "ood"]


EXPORT = """[
 {"id": 11, "data": {"image": "/data/local-files/?d=x.png", "pool_index": 5, "query": 1, "round": "r01"},
  "annotations": [{"id": 1, "was_cancelled": false, "result": [{"value": {"choices": ["cat"]}, "id": "a1",
   "from_name": "label", "to_name": "image", "type": "choices", "origin": "manual"}]}], "predictions": []},
 {"id": 12, "data": {"image": "/data/local-files/?d=y.png", "pool_index": 3, "query": 2, "round": "r01"},
  "annotations": [{"id": 2, "was_cancelled": false, "result": [{"value": {"choices": ["ood"]}, "id": "a2",
   "from_name": "label", "to_name": "image", "type": "choices", "origin": "prediction-changed"}]}]},
 {"id": 13, "data": {"image": "/data/local-files/?d=z.png", "pool_index": 8, "query": 3, "round": "r01"},
  "annotations": [{"id": 3, "was_cancelled": true, "result": []}]}
]"""


def test_label_studio_exports_are_labels_files(here):
    from src.active.annotations import labels_json

    labels_json("r01").write_text(EXPORT)
    answers = read_labels("r01", queries(), PREV, NAMES)
    assert {i: (a.label, a.category) for i, a in answers.items()} == {5: (0, ID), 3: (2, OOD)}
    labels_json("r01").write_text(EXPORT.replace('"choices": ["cat"]', '"choices": ["lion"]'))
    with pytest.raises(LabelsError, match=r"labels.json, task 1: label 'lion' is not an answer"):
        read_labels("r01", queries(), PREV, NAMES)
    write("pool_index,label\n5,cat\n")
    with pytest.raises(LabelsError, match="both labels.csv and labels.json"):
        read_labels("r01", queries(), PREV, NAMES)
    labels_json("r01").unlink()
    # Label Studio's CSV export: the data fields, the choice named `label`, and its own columns
    write("annotation_id,annotator,created_at,id,image,label,lead_time,pass,pool_index,query,round,updated_at\n"
          "1,1,2026-11-30T02:00:00Z,11,/data/local-files/?d=x.png,cat,2.1,0,5,1,r01,2026-11-30T02:00:00Z\n"
          "2,1,2026-11-30T02:00:05Z,12,/data/local-files/?d=y.png,ood,1.0,0,3,2,r01,2026-11-30T02:00:05Z\n")
    assert {i: a.category for i, a in read_labels("r01", queries(), PREV, NAMES).items()} == {5: ID, 3: OOD}
