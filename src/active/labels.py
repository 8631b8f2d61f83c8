"""The person's answers (oracle: file): a round's labels file read and checked, and the passes it
examines (docs/label-your-own-images.md; the files: src/active/annotations.py).

A pass is labeled whole and passes in order, as the simulated oracle examines them. The round
takes every labeled row (each is charged) once the labeled passes reach the iD quota; until then
the stage stops with `LabelsNeeded`, naming the file and the next pass (and its contact sheet). A
wrong answer stops it with `LabelsError`, naming the file, the line (or Label Studio task) and the
fix; nothing is written either way. labels.json, Label Studio's JSON export, is read into the rows
labels.csv would give (`rows_from_export`), then checked the same way.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.active.annotations import (NON_ID_ANSWERS, QueryList, answer_names, labels_csv, labels_file, labels_json,
                                    more_sheets_dir, queries_csv, round_dir, sheets_dir)
from src.core.config import ROUND_NAME
from src.core.errors import UserError, excerpt
from src.core.io import inside
from src.data.pool import ID

PLAIN_DIGITS = re.compile(r"[0-9]+\Z")
CHOICE = "label"  # Label Studio's <Choices> name (label_studio.py): its CSV export names its column after it


class LabelsError(UserError):
    """labels.csv holds an answer the round cannot take."""


class LabelsNeeded(UserError):
    """labels.csv does not yet answer enough of the round's queries: the person labels more, then reruns."""

    prefix = "labels needed"


@dataclass(frozen=True)
class Answer:
    label: int  # class 0..K-1, or K for a non-iD answer
    category: int  # ID, AMBIGUOUS or OOD
    line: int  # line of labels.csv


def read_labels(round_name: str, queries: QueryList, prev_acquired: np.ndarray, class_names: list[str]) -> dict:
    """labels.csv (or Label Studio's JSON export saved as labels.json) -> {pool index: Answer} for
    every labeled row; LabelsError on anything the round cannot take (the message names the file,
    the line or task, and the fix). No file yet is no answer yet."""
    path, jpath = labels_csv(round_name), labels_json(round_name)
    for f in (path, jpath):  # a link out of the round's folder is refused before anything is read
        if f.is_symlink() or f.exists():
            inside(f, round_dir(round_name), "labels file")
    if path.exists() and jpath.exists():
        raise LabelsError(f"{round_dir(round_name)}: holds both labels.csv and labels.json; keep the one with your "
                          f"answers and delete the other.")
    if jpath.exists():
        path, unit = jpath, "task"
        header, rows = rows_from_export(_text(jpath), jpath)
    elif path.exists():
        unit = "line"
        header, rows = _csv_rows(path, _text(path), round_name)
    else:
        return {}
    k = len(class_names)
    valid = {name: (c, ID) for c, name in enumerate(class_names)}
    valid.update({name: (k, cat) for name, cat in NON_ID_ANSWERS.items()})
    queried = queries.query_number()
    col = {c: header.index(c) for c in ("pool_index", "label", "round") if c in header}
    answers: dict[int, Answer] = {}
    for line, row in rows:
        at = f"{path}, {unit} {line}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise LabelsError(f"{at}: {len(row)} fields but the header has {len(header)}. Each line needs one "
                              f"value per column (quote a value that contains a comma).")
        label = row[col["label"]].strip()
        if not label:
            continue  # listed but not examined
        if "round" in col and row[col["round"]].strip() not in ("", round_name):
            other = row[col["round"]].strip()
            where = f"in {labels_csv(other)}" if ROUND_NAME.match(other) and len(other) <= 20 else "in that round's folder"
            raise LabelsError(f"{at}: round {excerpt(other)}, but this is round {round_name}'s labels file: that "
                              f"round's labels belong {where}.")
        index = _pool_index(at, row[col["pool_index"]].strip(), len(prev_acquired))
        if index not in queried:
            raise LabelsError(_not_queried(at, index, round_name, queries, prev_acquired))
        if label not in valid:
            raise LabelsError(_unknown_label(at, label, class_names))
        lab, cat = valid[label]
        if index in answers:
            first = answers[index]
            if (first.label, first.category) != (lab, cat):
                raise LabelsError(f"{path}, {unit}s {first.line} and {line}: pool index {index} (query "
                                  f"{queried[index]}) is labeled twice, differently; keep one of the two.")
            continue
        answers[index] = Answer(lab, cat, line)
    return answers


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelsError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8.") from None


def _csv_rows(path: Path, text: str, round_name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not text.strip():
        raise LabelsError(f"{path}: the file is empty. Its first line must be a header with the columns pool_index "
                          f"and label (e.g. `pool_index,label`); or delete the file until you label.")
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise LabelsError(f"{path}: not a readable CSV file ({exc}). Save it as comma-separated values.") from None
    missing = [c for c in ("pool_index", "label") if c not in header]
    if missing:
        semicolons = "; the values must be separated by commas, not semicolons" if ";" in text[:200] else ""
        raise LabelsError(f"{path}, line 1: the header {excerpt(','.join(header))} lacks {' and '.join(missing)}. The first "
                          f"line must name the columns, with at least pool_index and label (copying "
                          f"{queries_csv(round_name)} gives the right header){semicolons}.")
    return header, rows


def _pool_index(at: str, text: str, n: int) -> int:
    if not PLAIN_DIGITS.match(text):  # int() would also take '1_000', '+5', ' 7' and non-ASCII digits
        raise LabelsError(f"{at}: pool_index {excerpt(text)} is not a whole number written with the digits 0-9 only. "
                          f"Copy the pool_index of the query from queries.csv.")
    index = int(text) if len(text) <= 18 else n  # (a longer one is out of range; int() refuses > 4300 digits)
    if not 0 <= index < n:
        raise LabelsError(f"{at}: pool_index {excerpt(text)} is not an index of the pool (0..{n - 1}). Copy the "
                          f"pool_index of the query from queries.csv.")
    return index


def _not_queried(at: str, index: int, round_name: str, queries: QueryList, prev_acquired: np.ndarray) -> str:
    if prev_acquired[index] != -1:
        return (f"{at}: pool index {index} was labeled before this round (in the state's round "
                f"{int(prev_acquired[index])}), so round {round_name} did not query it: is this another round's "
                f"labels file? Remove the line (each round's answers go in that round's folder).")
    return (f"{at}: pool index {index} is not among round {round_name}'s {len(queries.order)} queries "
            f"in {queries_csv(round_name)}. Answer only the listed queries; remove the line.")


def _unknown_label(at: str, label: str, class_names: list[str]) -> str:
    names = answer_names(class_names)
    lower = {n.lower(): n for n in names}
    close = [lower[label.lower()]] if label.lower() in lower else difflib.get_close_matches(label, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(names) if len(names) <= 25 else ", ".join(names[:20]) + f", ... ({len(names)} in all)"
    return (f"{at}: label {excerpt(label)} is not an answer.{hint} An answer is a class name of "
            f"pool.id_classes, `ambiguous` (no single clear class) or `ood` (none of the classes): {shown}.")


# ---------------------------------------------------------------- Label Studio's JSON export
def rows_from_export(text: str, path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Label Studio's JSON export -> (header, [(task number, row)]) as labels.csv would give them:
    pool_index, label, round; a task without an annotation (or a cancelled one) has an empty label.
    Every field read must have the JSON type Label Studio writes: LabelsError naming the task and field."""
    try:
        exported = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, an integer of over 4300 digits, deep nesting
        raise LabelsError(f"{path}: not valid JSON ({excerpt(exc, 120)}); {EXPORT_FIX}") from None
    if not isinstance(exported, list):
        raise LabelsError(f"{path}: a Label Studio JSON export is a list of tasks; this file holds "
                          f"{_kind(exported)}. {EXPORT_FIX}")
    return ["pool_index", "label", "round"], [(n, _task_row(task, f"{path}, task {n}"))
                                              for n, task in enumerate(exported, start=1)]


EXPORT_FIX = ("Save Label Studio's JSON export unchanged, of the tasks made by `python -m src.active.label_studio "
              "<round>`.")


def _task_row(task, at: str) -> list[str]:
    """One task -> [pool_index, label, round] (strings, as a labels.csv line)."""
    data = _typed(_typed(task, dict, at, "the task").get("data", {}), dict, at, "data")
    if "pool_index" not in data:
        raise LabelsError(f"{at}: no data.pool_index: import the tasks made by "
                          f"`python -m src.active.label_studio` (they carry it).")
    label = ""
    for a, ann in enumerate(_typed(task.get("annotations", []), list, at, "annotations")):
        field = f"annotations[{a}]"
        ann = _typed(ann, dict, at, field)
        if _typed(ann.get("was_cancelled", False), (bool, type(None)), at, f"{field}.was_cancelled"):
            continue
        for r, res in enumerate(_typed(ann.get("result", []), list, at, f"{field}.result")):
            label = _choice(res, at, f"{field}.result[{r}]") or label
    round_name = _typed(data.get("round", ""), (str, type(None)), at, "data.round")
    return [_task_pool_index(data["pool_index"], at), label, round_name or ""]


def _choice(res, at: str, field: str) -> str:
    """The answer of one result of the `label` choice ("" if none); other results are ignored."""
    if _typed(res, dict, at, field).get("from_name") != CHOICE:
        return ""
    choices = _typed(_typed(res.get("value", {}), dict, at, f"{field}.value").get("choices", []), list, at,
                     f"{field}.value.choices")
    for c, choice in enumerate(choices):
        _typed(choice, str, at, f"{field}.value.choices[{c}]")
    if len(choices) > 1:
        raise LabelsError(f"{at}: {field}.value.choices holds {len(choices)} answers, but an image takes one "
                          f"(config.xml: choice=\"single\"). Keep one answer for the task in Label Studio and "
                          f"export again.")
    return choices[0] if choices else ""


def _task_pool_index(value, at: str) -> str:
    """An integer (not true/false, not 1.0) or a string of digits, as its decimal string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return value.strip()
    raise LabelsError(f"{at}: data.pool_index must be a whole number (the pool index of the query), is "
                      f"{_kind(value)}. Import the tasks made by `python -m src.active.label_studio` unchanged "
                      f"(they carry it) and save Label Studio's JSON export unchanged.")


def _typed(value, types, at: str, field: str):
    """`value`, if it has one of the JSON `types`; else a LabelsError naming the field."""
    if isinstance(value, types) and not (isinstance(value, bool) and bool not in _tuple(types)):
        return value
    expected = " or ".join(_KINDS[t] for t in _tuple(types))
    raise LabelsError(f"{at}: {field} must be {expected}, is {_kind(value)}. {EXPORT_FIX}")


def _tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a whole number",
          float: "a number", type(None): "null"}  # what a field must be
_FOUND = {**_KINDS, bool: "a boolean", int: "a number"}  # what it is


def _kind(value) -> str:
    """`value`'s JSON type and a short quote of it, for a message."""
    if value is None:
        return "null"
    name = next((k for t, k in _FOUND.items() if type(value) is t), type(value).__name__)
    return f"{name} ({excerpt(value if isinstance(value, str) else json.dumps(value))})"


# ---------------------------------------------------------------- the examination
def examined_by_answers(round_name: str, queries: QueryList, answers: dict, need_id: int,
                        class_names: list[str]) -> tuple[np.ndarray, bool, int]:
    """(examined pool indices in query order, quota met, labeled rows after the quota's pass).

    `queries` is the round's whole examination order, as queries.csv lists it (all_queries). Passes
    are taken in order, each labeled whole, until `need_id` iD answers; the labeled rows of later
    passes were examined too and are taken (and charged). LabelsNeeded while the labeled passes stop
    short of the quota and a pass is left; with every pass labeled the round has examined every
    candidate, and falls short of its quota."""
    if not queries.complete:
        raise ValueError("examined_by_answers: the round's whole examination order is needed (all_queries)")
    answered = _answered(queries, answers)
    found_id = answered.copy()
    found_id[answered] = [answers[i].category == ID for i in queries.order[answered].tolist()]
    starts = queries.pass_starts()
    whole = np.logical_and.reduceat(answered, starts) if len(starts) else answered
    ids = np.add.reduceat(found_id.astype(np.int64), starts) if len(starts) else found_id
    found, p = 0, 0
    while found < need_id and p < len(starts):
        if not whole[p]:
            rows = queries.rows_of_pass(p)
            raise LabelsNeeded(_next_pass_message(round_name, queries, rows, answered[rows].tolist(), found, need_id,
                                                  answers, class_names))
        found += int(ids[p])
        p += 1
    taken = queries.passes < p
    order = queries.order[taken].tolist() + queries.order[answered & ~taken].tolist()
    return np.asarray(order, np.int64), found >= need_id, int((answered & ~taken).sum())


def _answered(queries: QueryList, answers: dict) -> np.ndarray:
    """Per listed row: whether the labels file answers it."""
    return np.fromiter((i in answers for i in queries.order.tolist()), bool, len(queries.order))


def next_rows(queries: QueryList, answers: dict, size: int) -> np.ndarray:
    """The rows a person labels next: from the first pass not answered whole, whole passes until at
    least `size` rows (none once every listed pass is answered)."""
    starts = queries.pass_starts()
    answered = _answered(queries, answers)
    open_passes = np.flatnonzero(~np.logical_and.reduceat(answered, starts)) if len(starts) else starts
    if not len(open_passes):
        return np.zeros(0, np.int64)
    start, n = int(starts[open_passes[0]]), len(queries.order)
    end = n if start + size >= n else int(np.searchsorted(queries.passes, queries.passes[start + size - 1], "right"))
    return np.arange(start, end)


def sheet_file(round_name: str, queries: QueryList, sheet: int) -> str:
    """Where a person sees contact sheet `sheet`: in sheets/ (the ranking stage drew it), else in
    annotations/more_sheets/ once `python -m src.active.sheets` has drawn it."""
    name = f"sheet_{sheet:03d}.png"
    if queries.on_stage_sheets(sheet):
        return str(sheets_dir(round_name) / name)
    path = more_sheets_dir(round_name) / name
    return str(path) if path.exists() else f"{path}, drawn by `python -m src.active.sheets {round_name}`"


def _next_pass_message(round_name: str, queries: QueryList, rows: np.ndarray, done: list[bool], found: int,
                       need_id: int, answers: dict, class_names: list[str]) -> str:
    p = int(queries.passes[rows[0]])
    path = labels_file(round_name)
    numbers = [int(r) + 1 for r in rows]
    span = f"query {numbers[0]}" if len(numbers) == 1 else f"queries {numbers[0]}-{numbers[-1]}"
    sheet = sheet_file(round_name, queries, int(queries.sheets[rows[0]]))
    if any(done):
        missing = [n for n, d in zip(numbers, done) if not d]
        state = (f"pass {p} is half-labeled: {span} form one pass, labeled whole, and quer"
                 f"{'y' if len(missing) == 1 else 'ies'} {', '.join(map(str, missing[:12]))}"
                 f"{' ...' if len(missing) > 12 else ''} {'has' if len(missing) == 1 else 'have'} no label yet")
    elif not answers:
        state = f"{path} {'has no labels' if path.exists() else 'is not written'} yet"
    elif any(int(i) in answers for i in queries.order[queries.passes > p]):
        state = (f"pass {p} has no labels but later passes do: passes are examined in order, as listed, so "
                 f"label pass {p} before them")
    else:
        state = f"the labels so far give {found} iD answers of the {need_id} the round needs"
    how = "" if answers else (
        f" Start from a copy of the queries (`cp {queries_csv(round_name)} {path}`) and fill in the label "
        f"column - or write lines `pool_index,label` - with one of: {', '.join(class_names[:10])}"
        f"{', ...' if len(class_names) > 10 else ''}, {', '.join(NON_ID_ANSWERS)}. Label passes in order, each "
        f"whole, until {need_id} iD.")
    return (f"round {round_name}: {state}. Next: label pass {p} ({span}, {sheet}) in {path}, then run `dvc repro` "
            f"again.{how}")
