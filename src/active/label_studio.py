"""Label Studio round trip for the file oracle (optional; no server is needed here).

    python -m src.active.label_studio r01

writes annotations/label_studio/r01/: `tasks.json`, a Label Studio import file with one task per
query of the passes to label next (in query order: from the first pass the round's labels file
does not answer whole, `annotation.max_queries` queries in whole passes - with no labels yet, the
round's first queries; `data` = image, pool_index, query, pass, round; the model's guess as a
prediction, i.e. a pre-annotation), `config.xml`, the labeling interface (an image and one choice
among pool.id_classes, `ambiguous`, `ood`, named `label`), and, for a pool that is not a folder of
image files, `images/` with each of these queried images as a PNG. Images are referenced as Label
Studio local files (`/data/local-files/?d=<path>`): start Label Studio with
LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT set to
this repository's root. When the round needs more (labels needed: ... label pass N), save the
export as below and run the command again: tasks.json then holds the next passes' tasks, to
import into the same project.

Back: Label Studio's CSV export has the columns `pool_index` and `label` (and `round`), so saved
as annotations/r01/labels.csv it is the labels file as is; its JSON export saved as
annotations/r01/labels.json is read by src/active/labels.py (`rows_from_export`: one row per
task with an annotation). Both go through the same checks as a hand-written labels.csv.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from src.active.annotations import ANNOTATIONS, QueryList, answer_names, guesses
from src.active.labels import CHOICE, next_rows
from src.active.sheets import round_command, round_queries
from src.core import config, paths
from src.core.io import load_npz, save_text
from src.data.pool import load_pool


def export_dir(round_name: str) -> Path:
    return ANNOTATIONS / "label_studio" / round_name


def label_config(class_names: list[str]) -> str:
    choices = "\n".join(f'    <Choice value="{_xml(n)}"/>' for n in answer_names(class_names))
    return (f'<View>\n  <Image name="image" value="$image"/>\n  <Choices name="{CHOICE}" toName="image" '
            f'choice="single" showInline="true">\n{choices}\n  </Choices>\n</View>\n')


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def tasks(round_name: str, queries: QueryList, image_paths: list[str], guess: list[str],
          rows: np.ndarray | None = None) -> list[dict]:
    """One task per row of `rows` (default: every query), with its image path and the model's guess."""
    rows = np.arange(len(queries.order)) if rows is None else rows
    out = []
    for k, q in enumerate(rows.tolist()):
        task = {"data": {"image": f"/data/local-files/?d={image_paths[k]}", "pool_index": int(queries.order[q]),
                         "query": q + 1, "pass": int(queries.passes[q]), "round": round_name}}
        if guess[k] and guess[k] != "non-iD":
            task["predictions"] = [{"model_version": f"{round_name}-prev-model", "result": [
                {"from_name": CHOICE, "to_name": "image", "type": "choices", "value": {"choices": [guess[k]]}}]}]
        out.append(task)
    return out


def export(round_name: str, params_path: str = "params.yaml") -> tuple[Path, np.ndarray]:
    """The queries of the round's next passes as Label Studio import files (see the module
    docstring) -> (the folder, the query rows exported)."""
    p = config.load(params_path)
    prev, queries, answers = round_queries(round_name, p, params_path)
    rows = next_rows(queries, answers, p.annotation.max_queries)
    pool = load_pool(paths.POOL_NPZ, ("images",), files=True)
    probs = None
    if prev is not None and paths.outputs(prev).exists():
        probs = load_npz(paths.outputs(prev)).get("probs")
    out = export_dir(round_name)
    if "files" in pool:
        image_paths = [f"{Path(p.folder.images).as_posix()}/{pool['files'][i]}" for i in queries.order[rows]]
    else:
        from PIL import Image

        (out / "images").mkdir(parents=True, exist_ok=True)
        image_paths = []
        for q in rows.tolist():
            name = out / "images" / f"q{q + 1:04d}-pool{int(queries.order[q])}.png"
            Image.fromarray(pool["images"][queries.order[q]]).save(name)
            image_paths.append(name.as_posix())
    names = config.class_names(p)
    save_text(out / "tasks.json", json.dumps(tasks(round_name, queries, image_paths,
                                                   guesses(probs, queries.order[rows], names), rows), indent=1) + "\n")
    save_text(out / "config.xml", label_config(names))
    return out, rows


def export_and_say(round_name: str) -> list[str]:
    out, rows = export(round_name)
    which = f" (queries {rows[0] + 1}-{rows[-1] + 1})" if len(rows) else " (every listed query is labeled)"
    return [f"{out}/tasks.json: {len(rows)} tasks{which}; labeling interface {out}/config.xml"]


def main(argv=None) -> int:
    return round_command(__doc__, export_and_say, argv)


if __name__ == "__main__":
    sys.exit(main())
