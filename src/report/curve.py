"""Aggregate the per-round metrics: summary (Table 2's columns), the cost-accuracy curve, a PNG."""
from __future__ import annotations

import csv
import io
import json
import math

from src.core import paths
from src.core.errors import DataError, excerpt
from src.core.io import load_json

from src.report.budget import accuracy_at, auc_log_cost

CURVE_COLUMNS = ["round", "cost", "accuracy", "val_accuracy", "labeled_id", "labeled_ambiguous", "labeled_ood",
                 "id_precision"]

ROW_KEYS = (("round", "count"), ("cost", "amount"), ("labeled_id", "count"), ("labeled_ambiguous", "count"),
            ("labeled_ood", "count"), ("examined", "count"), ("examined_id", "count"), ("id_precision", "fraction"))


def collect(round_names: list[str], target_id: int | None = None) -> list[dict]:
    """One row per state (r00 first): cost and labels of the state, accuracy of the model trained on
    it - up to the first state with `target_id` labeled iD (the stopping rule); rounds after it
    record `finished` and are not rows. Every field read is checked (`_field`): a DataError names
    the file, the field and the value."""
    rows = []
    for name in round_names:
        ann, fin = _record(name, "annotate"), _record(name, "finetune")
        if _field(ann, name, "annotate", "finished", "flag", False) or \
                _field(fin, name, "finetune", "finished", "flag", False):
            break
        row = {"name": name, **{k: _field(ann, name, "annotate", k, kind) for k, kind in ROW_KEYS[:2]},
               **{k: _percent(_field(fin, name, "finetune", k, "fraction", *default))
                  for k, default in (("accuracy", ()), ("val_accuracy", (None,)))},
               **{k: _field(ann, name, "annotate", k, kind) for k, kind in ROW_KEYS[2:]}}
        rows.append({**row, **_seconds(name, fin, ann)})
        if target_id is not None and row["labeled_id"] >= target_id:
            break
    return rows


REWRITE = "The file was edited or written by another version: delete it and rerun `dvc repro`, which rebuilds it."
EXPECTED = {"count": "a whole number >= 0", "amount": "a number >= 0", "fraction": "a number from 0 to 1, or null",
            "flag": "true or false"}
_MISSING = object()


def _record(name: str, part: str) -> dict:
    path = paths.round_metrics(name, part)
    rec = load_json(path, "round metrics")
    if not isinstance(rec, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(rec).__name__}. {REWRITE}")
    return rec


def _field(rec: dict, name: str, part: str, key: str, kind: str, default=_MISSING, label: str = ""):
    """rec[key] (or `default` when absent) if it is of `kind` (EXPECTED); else a DataError."""
    value = rec.get(key, default)
    if not _fits(value, kind):
        shown = "missing" if value is _MISSING else excerpt(json.dumps(value))
        raise DataError(f"{paths.round_metrics(name, part)}: {part} '{label or key}' is {shown}; it must be "
                        f"{EXPECTED[kind]}. {REWRITE}")
    return value


def _fits(value, kind: str) -> bool:
    if kind == "flag" or isinstance(value, bool):
        return kind == "flag" and isinstance(value, bool)
    if value is None:
        return kind == "fraction"
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return False
    return {"count": isinstance(value, int), "fraction": value <= 1}.get(kind, True)


def _percent(fraction):
    return None if fraction is None else round(100.0 * fraction, 3)


def _seconds(name: str, fin: dict, ann: dict) -> dict:
    """Where a round's time went (columns of plots/rounds.csv); 0 for parts a strategy skips.
    The acquire columns of a row are the acquisition that produced this state."""
    acq = _record(name, "acquire") if paths.round_metrics(name, "acquire").exists() else {}
    out = {f"seconds_{k}": v for k, v in _timings(acq, name, "acquire", ("kmeans", "select")).items()}
    out["seconds_annotate"] = _field(ann, name, "annotate", "seconds", "amount", 0.0)
    out.update({f"seconds_{k}": v for k, v in _timings(fin, name, "finetune",
                                                       ("representation", "train", "score_pool", "test")).items()})
    return out


def _timings(rec: dict, name: str, part: str, keys: tuple) -> dict:
    """rec["seconds"][key] for each key (0.0 where absent; `seconds` itself may be absent or null)."""
    seconds = rec.get("seconds") or {}
    if not isinstance(seconds, dict):
        raise DataError(f"{paths.round_metrics(name, part)}: {part} 'seconds' is {excerpt(json.dumps(seconds))}; "
                        f"it must be an object of timings. {REWRITE}")
    return {k: _field(seconds, name, part, k, "amount", 0.0, f"seconds.{k}") for k in keys}


def _r(x, digits=3):
    return None if x is None else round(x, digits)


def summary(rows: list[dict], target_id: int, budgets: list, auc_range: list) -> dict:
    """Table 2: accuracy (%) and cumulative cost at the state that reached `target_id` labeled iD
    (or the last state, with target_reached false), cost per accuracy point; accuracy at fixed
    budgets and the normalised area under accuracy vs log cost (src/report/budget.py); the iD
    precision of all queries made by the strategy (stage 0 excluded). Validation accuracy is for
    tuning only and comes last."""
    last = rows[-1]
    queried = rows[1:]
    examined = sum(r["examined"] for r in queried)
    costs, accs = [r["cost"] for r in rows], [r["accuracy"] for r in rows]
    tested = all(a is not None for a in accs)  # a folder pool without a test folder has no accuracy
    out = {"accuracy": last["accuracy"], "cost": last["cost"],
           "cost_per_acc": round(last["cost"] / last["accuracy"], 4) if last["accuracy"] else None}
    for b in budgets:
        out[f"acc_at_{b:g}"] = _r(accuracy_at(costs, accs, b)) if tested else None
    out["auc_log_cost"] = _r(auc_log_cost(costs, accs, *auc_range)) if tested else None
    out.update({
        "id_precision": round(sum(r["examined_id"] for r in queried) / examined, 4) if examined else None,
        "labeled_id": last["labeled_id"], "labeled_ambiguous": last["labeled_ambiguous"],
        "labeled_ood": last["labeled_ood"], "rounds": len(queried),
        "target_id": target_id, "target_reached": last["labeled_id"] >= target_id})
    if all(r.get("val_accuracy") is not None for r in rows):
        val = [r["val_accuracy"] for r in rows]
        out["val_accuracy"] = last["val_accuracy"]
        out["val_auc_log_cost"] = _r(auc_log_cost(costs, val, *auc_range))
    return out


def to_csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def curve_figure(rows: list[dict], title: str, log_x: bool = True):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    shown = [r for r in rows if r["accuracy"] is not None]
    ax.plot([r["cost"] for r in shown], [r["accuracy"] for r in shown], marker="o", ms=3)
    if not shown:
        ax.text(0.5, 0.5, "no test set (folder.test: null)", ha="center", transform=ax.transAxes)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("annotation cost (samples examined)" + (", log scale" if log_x else ""))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
