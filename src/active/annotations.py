"""The annotations/ folder: what a round lists for a person and what a person may answer
(docs/label-your-own-images.md). The person's answers are read by src/active/labels.py.

Per round, in annotations/rNN/ (r00 is stage 0):

    queries.csv  written by acquire@rNN (init for r00): every candidate of the round, in the order the
                 strategy examines them, pass by pass - columns round, query (1, 2, ... as numbered on the
                 sheets), pass, sheet, pool_index, file (the image's path under folder.images, for a
                 folder pool), guess (the model's argmax, where the strategy's model gives class
                 probabilities) and an empty label column
    sheets/      written with it: the contact sheets of the first `annotation.max_queries` queries (whole
                 passes), sheet_001.png, ..., each image numbered as `query`; index.txt says which
                 queries each sheet holds
    labels.csv   written by the person, never by the pipeline: a header with `pool_index` and `label`
                 (other columns, such as those of a copied queries.csv, are ignored; a `round` column
                 must name this round), one row per examined image; label = a class name of
                 `pool.id_classes` (MixMNIST: the digits 0-9), `ambiguous` or `ood`; rows with an
                 empty label are not examined. Label Studio's CSV export is such a file; its JSON
                 export may be saved as labels.json instead

The sheets after the first ones are drawn when the person reaches them, outside the round's folder
(no stage reads or writes them): `python -m src.active.sheets rNN` -> annotations/more_sheets/rNN/
(src/active/sheets.py), numbered as queries.csv's `sheet` column. Label Studio's import files:
`python -m src.active.label_studio rNN` -> annotations/label_studio/rNN/.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.active.strategies import Candidates
from src.core import paths
from src.core.config import INITIAL_STATE
from src.core.io import output_dir, save_text
from src.data.pool import AMBIGUOUS, OOD, load_pool

ANNOTATIONS = Path("annotations")
QUERY_COLUMNS = ("round", "query", "pass", "sheet", "pool_index", "file", "guess", "label")
NON_ID_ANSWERS = {"ambiguous": AMBIGUOUS, "ood": OOD}


def round_dir(round_name: str) -> Path:
    return ANNOTATIONS / round_name


def queries_csv(round_name: str) -> Path:
    return round_dir(round_name) / "queries.csv"


def sheets_dir(round_name: str) -> Path:
    return round_dir(round_name) / "sheets"


def more_sheets_dir(round_name: str) -> Path:
    """The sheets `python -m src.active.sheets` draws: outside the round's folder, which no stage owns."""
    return ANNOTATIONS / "more_sheets" / round_name


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


def answer_names(class_names: list[str]) -> list[str]:
    """What a person may answer: a class name of pool.id_classes, `ambiguous` or `ood`."""
    return list(class_names) + list(NON_ID_ANSWERS)


@dataclass(frozen=True)
class QueryList:
    """Candidates of a round as listed for a person (whole passes): queries.csv's rows."""

    order: np.ndarray  # (n,) pool indices in examination order
    passes: np.ndarray  # (n,) pass number from 0 (the candidates' batch, renumbered)
    sheets: np.ndarray  # (n,) contact sheet from 1
    complete: bool  # every candidate of the round is listed
    drawn: int = -1  # the first rows, which the ranking stage draws in sheets/ (-1: every row)

    def query_number(self) -> dict[int, int]:
        """pool index -> its 1-based query number."""
        return {int(i): q + 1 for q, i in enumerate(self.order)}

    def rows_of_pass(self, p: int) -> np.ndarray:
        return np.arange(np.searchsorted(self.passes, p), np.searchsorted(self.passes, p, side="right"))

    def pass_starts(self) -> np.ndarray:
        """The first row of each pass, pass 0 first."""
        return np.flatnonzero(np.r_[True, self.passes[1:] != self.passes[:-1]]) if len(self.order) else self.order

    def on_stage_sheets(self, sheet: int) -> bool:
        """Whether the ranking stage drew this sheet (in sheets/), or `python -m src.active.sheets` draws it."""
        drawn = len(self.order) if self.drawn < 0 else self.drawn
        return drawn > 0 and sheet <= int(self.sheets[drawn - 1])


def listed_queries(candidates: Candidates, max_queries: int, sheet_size: int) -> QueryList:
    """Whole passes until at least `max_queries` rows (all candidates if fewer); sheets hold whole
    passes, at most `sheet_size` images unless one pass is larger (it then has a sheet of its own)."""
    order, batch = np.asarray(candidates.order, np.int64), np.asarray(candidates.batch, np.int64)
    if len(order) > max_queries:
        last = batch[max_queries - 1]
        n = int(np.searchsorted(batch, last, side="right"))
    else:
        n = len(order)
    passes = np.unique(batch[:n], return_inverse=True)[1].astype(np.int64) if n else np.zeros(0, np.int64)
    return QueryList(order[:n], passes, _sheets(passes, sheet_size), n == len(order))


def all_queries(candidates: Candidates, max_queries: int, sheet_size: int) -> QueryList:
    """Every candidate, as queries.csv lists them: the first `max_queries` (whole passes) on the sheets
    the ranking stage draws, as listed_queries numbers them; the rest on sheets from the next number."""
    first = listed_queries(candidates, max_queries, sheet_size)
    n = len(first.order)
    rest = listed_queries(Candidates(candidates.order[n:], candidates.batch[n:]), len(candidates.order) - n,
                          sheet_size)
    after_pass, after_sheet = (int(first.passes[-1]) + 1, int(first.sheets[-1])) if n else (0, 0)
    return QueryList(np.concatenate([first.order, rest.order]),
                     np.concatenate([first.passes, rest.passes + after_pass]),
                     np.concatenate([first.sheets, rest.sheets + after_sheet]), True, n)


def _sheets(passes: np.ndarray, sheet_size: int) -> np.ndarray:
    """Sheet numbers from 1: passes in order, a pass never split, a new sheet when the next pass
    would overfill this one."""
    starts = np.flatnonzero(np.r_[True, passes[1:] != passes[:-1]]) if len(passes) else passes
    sizes = np.diff(np.r_[starts, len(passes)]).astype(np.int64)
    of_pass, sheet, used = [], 1, 0
    for size in sizes.tolist():
        if used and used + size > sheet_size:
            sheet, used = sheet + 1, 0
        of_pass.append(sheet)
        used += size
    return np.repeat(np.asarray(of_pass, np.int64), sizes)


def guesses(probs: np.ndarray | None, rows: np.ndarray, class_names: list[str]) -> list[str]:
    """The model's argmax per queried row: a class name, or `non-iD` for the auxiliary class K."""
    if probs is None:
        return [""] * len(rows)
    names = list(class_names) + ["non-iD"]
    return [names[k] for k in np.asarray(probs)[rows].argmax(1)]


def queried_pool(candidates: Candidates) -> dict:
    """What publish_queries reads of the pool: its images (and a folder pool's files); nothing when
    nothing is queried (a round after the stopping point reads no pool)."""
    if len(candidates.order) == 0:
        return {"images": np.zeros((0, 1, 1), np.uint8)}
    return load_pool(paths.POOL_NPZ, ("images",), files=True)


def publish_queries(round_name: str, candidates: Candidates, pool: dict, probs: np.ndarray | None,
                    class_names: list[str], cfg) -> QueryList:
    """Every candidate -> queries.csv; the first `annotation.max_queries` (whole passes) -> sheets/.
    `pool` holds `images` and, for a folder pool, `files`."""
    queries = all_queries(candidates, cfg.max_queries, cfg.sheet_size)
    write_queries(round_name, queries, pool.get("files"), guesses(probs, queries.order, class_names))
    out = output_dir(sheets_dir(round_name))  # a fresh folder; inside stage_outputs, replaced on success
    rows = np.arange(queries.drawn)
    index = draw_sheets(out, queries, rows, pool["images"][queries.order[rows]])
    # an index, also where nothing is listed (a round after the stopping point): DVC warns on empty folders
    save_text(out / "index.txt", "\n".join(index or [f"round {round_name}: no queries (nothing to examine)"]) + "\n")
    return queries


def write_queries(round_name: str, queries: QueryList, files: np.ndarray | None, guess: list[str]) -> None:
    """queries.csv: one line per query, in examination order."""
    lines = [",".join(QUERY_COLUMNS)]
    name = _csv_field(round_name)
    for q, (i, p, s) in enumerate(zip(queries.order.tolist(), queries.passes.tolist(), queries.sheets.tolist())):
        file = "" if files is None else _csv_field(files[i])
        lines.append(f"{name},{q + 1},{p},{s},{i},{file},{_csv_field(guess[q])},")
    save_text(queries_csv(round_name), "\n".join(lines) + "\n")


def draw_sheets(out: Path, queries: QueryList, rows: np.ndarray, images: np.ndarray) -> list[str]:
    """The contact sheets of `rows` (whole sheets; `images`: their pool images) into the folder `out`,
    named by sheet number -> one index line per sheet."""
    index = []
    rows = np.asarray(rows, np.int64)
    for s in np.unique(queries.sheets[rows]):
        on = np.flatnonzero(queries.sheets[rows] == s)
        numbers, first, last = rows[on] + 1, rows[on[0]], rows[on[-1]]
        contact_sheet(out / f"sheet_{int(s):03d}.png", images[on], numbers.tolist(),
                      queries.passes[rows[on]].tolist())
        index.append(f"sheet_{int(s):03d}.png: queries {first + 1}-{last + 1}, passes "
                     f"{int(queries.passes[first])}-{int(queries.passes[last])}")
    return index


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
