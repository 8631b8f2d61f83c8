"""Label Studio round trip for the file oracle (optional; no server is needed here).

    python -m src.active.label_studio r01

writes annotations/label_studio/r01/: `tasks.json`, a Label Studio import file (one task per
listed query, in query order: `data` = image, pool_index, query, pass, round; the model's guess as
a prediction, i.e. a pre-annotation), `config.xml`, the labeling interface (an image and one
choice among pool.id_classes, `ambiguous`, `ood`, named `label`), and, for a pool that is not a
folder of image files, `images/` with each queried image as a PNG. Images are referenced as Label
Studio local files (`/data/local-files/?d=<path>`): start Label Studio with
LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT set to
this repository's root.

Back: Label Studio's CSV export has the columns `pool_index` and `label` (and `round`), so saved
as annotations/r01/labels.csv it is the labels file as is; its JSON export saved as
annotations/r01/labels.json is read by `rows_from_export` (one row per task with an annotation).
Both go through the same checks as a hand-written labels.csv.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from src.active.annotations import ANNOTATIONS, answer_names, guesses, listed_queries
from src.core.errors import UserError, excerpt
from src.core.io import save_text

CHOICE = "label"  # the <Choices> name: Label Studio's CSV export names its column after it


def export_dir(round_name: str) -> Path:
    return ANNOTATIONS / "label_studio" / round_name


def label_config(class_names: list[str]) -> str:
    choices = "\n".join(f'    <Choice value="{_xml(n)}"/>' for n in answer_names(class_names))
    return (f'<View>\n  <Image name="image" value="$image"/>\n  <Choices name="{CHOICE}" toName="image" '
            f'choice="single" showInline="true">\n{choices}\n  </Choices>\n</View>\n')


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def tasks(round_name: str, queries, image_paths: list[str], guess: list[str]) -> list[dict]:
    out = []
    for q, (i, p) in enumerate(zip(queries.order, queries.passes)):
        task = {"data": {"image": f"/data/local-files/?d={image_paths[q]}", "pool_index": int(i), "query": q + 1,
                         "pass": int(p), "round": round_name}}
        if guess[q] and guess[q] != "non-iD":
            task["predictions"] = [{"model_version": f"{round_name}-prev-model", "result": [
                {"from_name": CHOICE, "to_name": "image", "type": "choices", "value": {"choices": [guess[q]]}}]}]
        out.append(task)
    return out


def export(round_name: str, params_path: str = "params.yaml") -> Path:
    """The round's listed queries as Label Studio import files (see the module docstring)."""
    from src.active.loop import load_candidates, load_state, stage0_state
    from src.core import config, paths
    from src.core.io import load_npz
    from src.data.pool import load_pool

    p = config.load(params_path)
    prev = None if round_name == config.INITIAL_STATE else p.rounds.get(round_name, {}).get("prev")
    if round_name != config.INITIAL_STATE and prev is None:
        raise UserError(f"{round_name} is not a round of {params_path}.")
    if prev is None:
        state = stage0_state(load_pool(paths.POOL_NPZ, ("category",)), p)
    else:
        state = load_state(prev, p)
    cands = load_candidates(round_name, prev or "", state)
    queries = listed_queries(cands, p.annotation.max_queries, p.annotation.sheet_size)
    pool = load_pool(paths.POOL_NPZ, ("images",), files=True)
    probs = None
    if prev is not None and paths.outputs(prev).exists():
        probs = load_npz(paths.outputs(prev)).get("probs")
    out = export_dir(round_name)
    if "files" in pool:
        image_paths = [f"{Path(p.folder.images).as_posix()}/{pool['files'][i]}" for i in queries.order]
    else:
        from PIL import Image

        (out / "images").mkdir(parents=True, exist_ok=True)
        image_paths = []
        for q, i in enumerate(queries.order):
            name = out / "images" / f"q{q + 1:04d}-pool{int(i)}.png"
            Image.fromarray(pool["images"][i]).save(name)
            image_paths.append(name.as_posix())
    names = config.class_names(p)
    save_text(out / "tasks.json", json.dumps(tasks(round_name, queries, image_paths,
                                                   guesses(probs, queries.order, names)), indent=1) + "\n")
    save_text(out / "config.xml", label_config(names))
    return out


def rows_from_export(text: str, path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Label Studio's JSON export -> (header, [(task number, row)]) as labels.csv would give them:
    pool_index, label, round; a task without an annotation (or a cancelled one) has an empty label.
    Every field read must have the JSON type Label Studio writes: LabelsError naming the task and field."""
    from src.active.annotations import LabelsError

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
    from src.active.annotations import LabelsError

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
    return [_pool_index(data["pool_index"], at), label, round_name or ""]


def _choice(res, at: str, field: str) -> str:
    """The answer of one result of the `label` choice ("" if none); other results are ignored."""
    from src.active.annotations import LabelsError

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


def _pool_index(value, at: str) -> str:
    """An integer (not true/false, not 1.0) or a string of digits, as its decimal string."""
    from src.active.annotations import LabelsError

    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return value.strip()
    raise LabelsError(f"{at}: data.pool_index must be a whole number (the pool index of the query), is "
                      f"{_kind(value)}. Import the tasks made by `python -m src.active.label_studio` unchanged "
                      f"(they carry it) and save Label Studio's JSON export unchanged.")


def _typed(value, types, at: str, field: str):
    """`value`, if it has one of the JSON `types`; else a LabelsError naming the field."""
    from src.active.annotations import LabelsError

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


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        out = export(args[0])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = len(json.loads((out / "tasks.json").read_text()))
    print(f"{out}/tasks.json: {n} tasks; labeling interface {out}/config.xml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
