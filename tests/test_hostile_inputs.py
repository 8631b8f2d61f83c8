"""Files from collaborators are data: a round's labels file must be a file inside its round's folder,
error messages quote at most a short printable excerpt of any file, and numbers are plain digits.
The params file is read strictly: a key twice is refused (as DVC does), YAML's booleans are explained,
class names are checked."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from src.active.annotations import listed_queries, round_dir
from src.active.labels import LabelsError, read_labels
from src.active.strategies import Candidates
from src.core import config
from src.core.errors import ConfigError, DataError, excerpt
from tests.conftest import ROOT

SECRET = "API_TOKEN=" + "s3cr3t" * 40
NAMES = [str(k) for k in range(10)]


@pytest.fixture
def round_r01(tmp_path, monkeypatch):
    """annotations/r01/ of a 50-row pool whose first 10 candidates are listed, in one pass each."""
    monkeypatch.chdir(tmp_path)
    round_dir("r01").mkdir(parents=True)
    queries = listed_queries(Candidates.one_by_one(np.arange(10, 20)), 10, 100)
    return lambda: read_labels("r01", queries, np.full(50, -1, np.int32), NAMES)


def test_a_labels_file_linked_out_of_its_folder_is_refused_unread(round_r01, tmp_path):
    secret = tmp_path / "elsewhere" / "secrets.env"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    os.symlink(secret, "annotations/r01/labels.csv")
    with pytest.raises(DataError) as info:
        round_r01()
    msg = str(info.value)
    assert "annotations/r01/labels.csv: a link to" in msg and str(secret) in msg and "outside annotations/r01" in msg
    assert "s3cr3t" not in msg


def test_proc_self_environ_never_reaches_the_message(round_r01, monkeypatch):
    monkeypatch.setenv("PROJECT_TEST_TOKEN", SECRET)
    os.symlink("/proc/self/environ", "annotations/r01/labels.json")
    with pytest.raises(DataError) as info:
        round_r01()
    assert "labels.json: a link to" in str(info.value) and "s3cr3t" not in str(info.value)


def test_a_link_inside_the_round_folder_is_a_labels_file(round_r01):
    Path("annotations/r01/mine.csv").write_text("pool_index,label\n10,3\n")
    os.symlink("mine.csv", "annotations/r01/labels.csv")
    answers = round_r01()
    assert list(answers) == [10] and answers[10].label == 3


def test_a_fifo_is_not_read(round_r01):
    os.mkfifo("annotations/r01/labels.csv")  # reading it would block forever
    with pytest.raises(DataError, match="not a regular file"):
        round_r01()


@pytest.mark.parametrize("content, fragment", [
    (SECRET + "\n10,3\n", "the header '"),  # a first line that is not a header
    ("pool_index,label\n10," + "x" * 5000 + "\n", "label 'xxxx"),
    ("pool_index,label,round\n10,3," + "r" * 5000 + "\n", "round 'rrrr"),
    ("pool_index,label\n" + "9" * 5000 + ",3\n", "pool_index '9999"),
])
def test_messages_quote_a_short_excerpt_only(round_r01, content, fragment):
    Path("annotations/r01/labels.csv").write_text(content)
    with pytest.raises(LabelsError) as info:
        round_r01()
    msg = str(info.value)
    assert fragment in msg and len(msg) < 900 and "s3cr3t" * 8 not in msg and "x" * 100 not in msg


@pytest.mark.parametrize("index", ["1_0", "+10", "١٠", "10.0", "0x0a", "1e1"])
def test_a_pool_index_is_plain_digits(round_r01, index):
    Path("annotations/r01/labels.csv").write_text(f'pool_index,label\n"{index}",3\n')
    with pytest.raises(LabelsError, match="written with the digits 0-9 only"):
        round_r01()


def test_excerpt_is_short_and_printable():
    assert excerpt("abc") == "'abc'"
    shown = excerpt("a\x00b\x1b[2J" + "z" * 500)
    assert "\x00" not in shown and "\x1b" not in shown and "\\x00" in shown and "(507 characters)" in shown
    assert len(shown) < 80


# ---------------------------------------------------------------- the params file
def params_text(**replace) -> str:
    text = (ROOT / "params.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def load_text(tmp_path, text) -> config.Params:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return config.load(path)


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    text = params_text() + "seed: 3\n"
    first = text.splitlines().index(next(l for l in text.splitlines() if l.startswith("seed:"))) + 1
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert f"line {len(text.splitlines())}: key 'seed' is given twice" in str(info.value)
    assert f"(first at line {first})" in str(info.value)


def test_a_nested_key_given_twice_is_refused(tmp_path):
    text = params_text(**{"costs: {id: 1.0,": "costs: {id: 1.0, id: 3.0,"})
    with pytest.raises(ConfigError, match="key 'id' is given twice"):
        load_text(tmp_path, text)


def test_the_shipped_params_files_have_no_duplicate_keys():
    for path in [ROOT / "params.yaml", *sorted((ROOT / "configs").glob("*.yaml"))]:
        config.read_yaml(path.read_text(), path)


def test_yaml_tags_build_no_objects(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_text(tmp_path, "seed: !!python/object/apply:os.system ['touch pwned']\n")
    assert not Path("pwned").exists()


@pytest.mark.parametrize("word, key, choices", [
    ("no", "oracle", "simulated, file"), ("off", "benchmark", "mixmnist, standin"),
    ("yes", "strategy", "python -m src.check"),
])
def test_a_yaml_boolean_where_a_word_is_expected_is_explained(tmp_path, word, key, choices):
    text = params_text()
    line = next(l for l in text.splitlines() if l.startswith(f"{key}:"))
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text.replace(line, f"{key}: {word}", 1))
    msg = str(info.value)
    assert f"{key}: expected a string, got the boolean" in msg and "YAML 1.1 reads an unquoted yes, no" in msg
    assert choices in msg


def folder_params(tmp_path, id_classes) -> str:
    p = yaml.safe_load((ROOT / "configs" / "folder-example.yaml").read_text())
    p["pool"]["id_classes"] = id_classes
    p["active"]["num_classes"] = len(id_classes)
    return yaml.safe_dump(p)


@pytest.mark.parametrize("names, fragment", [
    ([" cat", "dog"], "has spaces around it"),
    (["cat", "dog "], "has spaces around it"),
    (["cat", False], "is the boolean false"),
    (["cat", 7], "is 7, not text"),
    (["cat", "c" * 101], "is 101 characters long (at most 100)"),
    (["cat", "do\tg"], "holds a control character"),
    (["cat", "cat"], "names 'cat' twice"),
])
def test_class_names_are_checked(tmp_path, names, fragment):
    with pytest.raises(ConfigError, match="pool.id_classes") as info:
        load_text(tmp_path, folder_params(tmp_path, names))
    assert fragment in str(info.value)
