"""The file oracle: a person answers a round's queries in a CSV file (README, "Label your own images").

Per round, in annotations/rNN/ (r00 is stage 0):

    queries.csv  written by acquire@rNN (init for r00): the strategy's examination order, pass by pass -
                 columns round, query (1, 2, ... as numbered on the sheets), pass, sheet, pool_index, file
                 (the image's path under folder.images, for a folder pool), guess (the model's argmax,
                 where the strategy's model gives class probabilities) and an empty label column
    sheets/      contact sheets sheet_001.png, ...: whole passes, each image numbered as `query`
    labels.csv   written by the person, never by the pipeline: a header with `pool_index` and `label`
                 (other columns, such as those of a copied queries.csv, are ignored; a `round` column
                 must name this round), one row per examined image; label = a class name of
                 `pool.id_classes` (MixMNIST: the digits 0-9), `ambiguous` or `ood`; rows with an
                 empty label are not examined. Label Studio's CSV export is such a file; its JSON
                 export may be saved as labels.json instead (src/active/label_studio.py)

A pass is labeled whole and passes in order, as the simulated oracle examines them. The round
takes every labeled row (each is charged) once the labeled passes reach the iD quota; until then
the stage stops with `LabelsNeeded`, naming the file and the next pass. A wrong answer stops it
with `LabelsError`, naming the file, the line and the fix; nothing is written either way.
"""
from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.active.strategies import Candidates
from src.core.config import INITIAL_STATE, ROUND_NAME
from src.core.errors import UserError, excerpt
from src.core.io import inside, output_dir, save_text
from src.data.pool import AMBIGUOUS, ID, OOD

ANNOTATIONS = Path("annotations")
QUERY_COLUMNS = ("round", "query", "pass", "sheet", "pool_index", "file", "guess", "label")
NON_ID_ANSWERS = {"ambiguous": AMBIGUOUS, "ood": OOD}
PLAIN_DIGITS = re.compile(r"[0-9]+\Z")


def round_dir(round_name: str) -> Path:
    return ANNOTATIONS / round_name


def queries_csv(round_name: str) -> Path:
    return round_dir(round_name) / "queries.csv"


def sheets_dir(round_name: str) -> Path:
    return round_dir(round_name) / "sheets"


def labels_csv(round_name: str) -> Path:
    return round_dir(round_name) / "labels.csv"


def labels_json(round_name: str) -> Path:
    return round_dir(round_name) / "labels.json"


def labels_file(round_name: str) -> Path:
    """The labels file a round reads: Label Studio's JSON export if saved, else labels.csv."""
    return labels_json(round_name) if labels_json(round_name).exists() else labels_csv(round_name)


def ranking_stage(round_name: str) -> str:
    """The DVC stage that ranks a round's candidates and lists its queries: init for stage 0."""
    return "init" if round_name == INITIAL_STATE else f"acquire@{round_name}"


class LabelsError(UserError):
    """labels.csv holds an answer the round cannot take."""


class LabelsNeeded(UserError):
    """labels.csv does not yet answer enough of the round's queries: the person labels more, then reruns."""

    prefix = "labels needed"


@dataclass(frozen=True)
class QueryList:
    """The first `n` candidates of a round (whole passes): what queries.csv lists and a person can answer."""

    order: np.ndarray  # (n,) pool indices in examination order
    passes: np.ndarray  # (n,) pass number from 0 (the candidates' batch, renumbered)
    sheets: np.ndarray  # (n,) contact sheet from 1
    complete: bool  # every candidate of the round is listed

    def query_number(self) -> dict[int, int]:
        """pool index -> its 1-based query number."""
        return {int(i): q + 1 for q, i in enumerate(self.order)}

    def rows_of_pass(self, p: int) -> np.ndarray:
        return np.flatnonzero(self.passes == p)


def listed_queries(candidates: Candidates, max_queries: int, sheet_size: int) -> QueryList:
    """Whole passes until at least `max_queries` rows (all candidates if fewer); sheets hold whole
    passes, at most `sheet_size` images unless one pass is larger (it then has a sheet of its own)."""
    order, batch = np.asarray(candidates.order, np.int64), np.asarray(candidates.batch, np.int64)
    if len(order) > max_queries:
        last = batch[max_queries - 1]
        n = int(np.searchsorted(batch, last, side="right"))
    else:
        n = len(order)
    order, batch = order[:n], batch[:n]
    passes = np.unique(batch, return_inverse=True)[1].astype(np.int64) if n else np.zeros(0, np.int64)
    sheets = np.zeros(n, np.int64)
    sheet, used = 1, 0
    for p in range(int(passes.max()) + 1 if n else 0):
        rows = np.flatnonzero(passes == p)
        if used and used + len(rows) > sheet_size:
            sheet, used = sheet + 1, 0
        sheets[rows] = sheet
        used += len(rows)
    return QueryList(order, passes, sheets, n == len(candidates.order))


def guesses(probs: np.ndarray | None, rows: np.ndarray, class_names: list[str]) -> list[str]:
    """The model's argmax per queried row: a class name, or `non-iD` for the auxiliary class K."""
    if probs is None:
        return [""] * len(rows)
    names = list(class_names) + ["non-iD"]
    return [names[k] for k in np.asarray(probs)[rows].argmax(1)]


def publish_queries(round_name: str, candidates: Candidates, pool: dict, probs: np.ndarray | None,
                    class_names: list[str], cfg) -> QueryList:
    """The round's first queries (`annotation.max_queries`, whole passes) -> queries.csv and sheets/;
    `pool` holds `images` and, for a folder pool, `files`."""
    queries = listed_queries(candidates, cfg.max_queries, cfg.sheet_size)
    write_queries(round_name, queries, pool.get("files"), guesses(probs, queries.order, class_names),
                  pool["images"][queries.order])
    return queries


def write_queries(round_name: str, queries: QueryList, files: np.ndarray | None, guess: list[str],
                  images: np.ndarray) -> None:
    """queries.csv and one contact sheet per sheet number (images: the queried rows' pool images)."""
    lines = [",".join(QUERY_COLUMNS)]
    for q, (i, p, s) in enumerate(zip(queries.order, queries.passes, queries.sheets)):
        file = "" if files is None else str(files[i])
        lines.append(",".join(_csv_field(v) for v in (round_name, q + 1, int(p), int(s), int(i), file, guess[q], "")))
    save_text(queries_csv(round_name), "\n".join(lines) + "\n")
    out = output_dir(sheets_dir(round_name))  # a fresh folder; inside stage_outputs, replaced on success
    index = []
    for s in np.unique(queries.sheets):
        rows = np.flatnonzero(queries.sheets == s)
        contact_sheet(out / f"sheet_{int(s):03d}.png", images[rows], [q + 1 for q in rows],
                      [int(queries.passes[r]) for r in rows])
        index.append(f"sheet_{int(s):03d}.png: queries {rows[0] + 1}-{rows[-1] + 1}, passes "
                     f"{int(queries.passes[rows[0]])}-{int(queries.passes[rows[-1]])}")
    # an index, also where nothing is listed (a round after the stopping point): DVC warns on empty folders
    save_text(out / "index.txt", "\n".join(index or [f"round {round_name}: no queries (nothing to examine)"]) + "\n")


def _csv_field(value) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def contact_sheet(path: Path, images: np.ndarray, numbers: list[int], passes: list[int], cols: int = 10) -> None:
    """A PNG grid: each image enlarged to about 96 pixels with its query number (and pass) under it."""
    from PIL import Image, ImageDraw, ImageFont

    scale = max(1, 96 // max(images.shape[1:3]))
    h, w = images.shape[1] * scale, images.shape[2] * scale
    cols = min(cols, len(images))
    rows = -(-len(images) // cols)
    cell_w, cell_h = w + 8, h + 22
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for k, (img, num, p) in enumerate(zip(images, numbers, passes)):
        tile = Image.fromarray(img).convert("RGB").resize((w, h), Image.NEAREST)
        x, y = (k % cols) * cell_w + 4, (k // cols) * cell_h + 2
        sheet.paste(tile, (x, y))
        draw.text((x, y + h + 3), f"{num}  (pass {p})", fill="black", font=font)
    tmp = Path(path).with_suffix(".png.tmp")
    sheet.save(tmp, format="PNG")
    tmp.replace(path)


# ---------------------------------------------------------------- reading the person's answers
@dataclass(frozen=True)
class Answer:
    label: int  # class 0..K-1, or K for a non-iD answer
    category: int  # ID, AMBIGUOUS or OOD
    line: int  # line of labels.csv


def answer_names(class_names: list[str]) -> list[str]:
    return list(class_names) + list(NON_ID_ANSWERS)


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
        from src.active.label_studio import rows_from_export

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
    more = "" if queries.complete else (" (the round lists its first queries only: to label beyond them, raise "
                                        "annotation.max_queries)")
    return (f"{at}: pool index {index} is not among round {round_name}'s {len(queries.order)} queries "
            f"in {queries_csv(round_name)}{more}. Answer only the listed queries; remove the line.")


def _unknown_label(at: str, label: str, class_names: list[str]) -> str:
    names = answer_names(class_names)
    lower = {n.lower(): n for n in names}
    close = [lower[label.lower()]] if label.lower() in lower else difflib.get_close_matches(label, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(names) if len(names) <= 25 else ", ".join(names[:20]) + f", ... ({len(names)} in all)"
    return (f"{at}: label {excerpt(label)} is not an answer.{hint} An answer is a class name of "
            f"pool.id_classes, `ambiguous` (no single clear class) or `ood` (none of the classes): {shown}.")


# ---------------------------------------------------------------- the examination
def examined_by_answers(round_name: str, queries: QueryList, answers: dict, need_id: int,
                        class_names: list[str]) -> tuple[np.ndarray, bool, int]:
    """(examined pool indices in query order, quota met, labeled rows after the quota's pass).

    Passes are taken in order, each labeled whole, until `need_id` iD answers; the labeled rows of
    later passes were examined too and are taken (and charged). LabelsNeeded when the labeled
    passes stop short of the quota while listed queries remain."""
    found, p, last = 0, 0, int(queries.passes.max()) + 1 if len(queries.order) else 0
    while found < need_id and p < last:
        rows = queries.rows_of_pass(p)
        done = [int(queries.order[r]) in answers for r in rows]
        if not all(done):
            raise LabelsNeeded(_next_pass_message(round_name, queries, rows, done, found, need_id, answers,
                                                  class_names))
        found += sum(answers[int(queries.order[r])].category == ID for r in rows)
        p += 1
    if found < need_id and not queries.complete:
        raise LabelsNeeded(f"round {round_name}: every query listed in {queries_csv(round_name)} is labeled, with "
                           f"{found} iD answers of the {need_id} the round needs. Raise annotation.max_queries in "
                           f"params.yaml (e.g. to {2 * len(queries.order)}) and run `dvc repro`: "
                           f"{ranking_stage(round_name)} lists more queries in the same order, and your labels stay "
                           f"valid.")
    taken = set(int(i) for i in queries.order[queries.passes < p])
    extra = [int(i) for i in queries.order if int(i) in answers and int(i) not in taken]
    order = [int(i) for i in queries.order if int(i) in taken] + extra
    return np.asarray(order, np.int64), found >= need_id, len(extra)


def _next_pass_message(round_name: str, queries: QueryList, rows: np.ndarray, done: list[bool], found: int,
                       need_id: int, answers: dict, class_names: list[str]) -> str:
    p = int(queries.passes[rows[0]])
    path = labels_file(round_name)
    numbers = [int(r) + 1 for r in rows]
    span = f"query {numbers[0]}" if len(numbers) == 1 else f"queries {numbers[0]}-{numbers[-1]}"
    sheet = sheets_dir(round_name) / f"sheet_{int(queries.sheets[rows[0]]):03d}.png"
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
