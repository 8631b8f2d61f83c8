"""Aggregate the per-round metrics: summary (Table 2's columns), the cost-accuracy curve, a PNG."""
from __future__ import annotations

import csv
import io

from src.core import paths
from src.core.errors import DataError
from src.core.io import load_json

from src.report.budget import accuracy_at, auc_log_cost

CURVE_COLUMNS = ["round", "cost", "accuracy", "val_accuracy", "labeled_id", "labeled_ambiguous", "labeled_ood",
                 "id_precision"]

ROW_KEYS = ("round", "cost", "labeled_id", "labeled_ambiguous", "labeled_ood", "examined", "examined_id",
            "id_precision")


def collect(round_names: list[str], target_id: int | None = None) -> list[dict]:
    """One row per state (r00 first): cost and labels of the state, accuracy of the model trained on
    it - up to the first state with `target_id` labeled iD (the stopping rule); rounds after it
    record `finished` and are not rows."""
    rows = []
    for name in round_names:
        ann = load_json(paths.round_metrics(name, "annotate"), "round metrics")
        fin = load_json(paths.round_metrics(name, "finetune"), "round metrics")
        for part, rec in (("annotate", ann), ("finetune", fin)):
            if not isinstance(rec, dict):
                raise DataError(f"{paths.round_metrics(name, part)}: expected a JSON object, got "
                                f"{type(rec).__name__}. Rerun `dvc repro` (or `dvc repro -f` for that round).")
        if ann.get("finished") or fin.get("finished"):
            break
        missing = [f"{part} '{key}'" for part, rec, keys in (("annotate", ann, ROW_KEYS),
                                                               ("finetune", fin, ("accuracy",)))
                   for key in keys if key not in rec]
        if missing:
            raise DataError(f"report: round {name}'s metrics lack {', '.join(missing)} "
                            f"({paths.round_metrics(name, 'annotate').parent}): written by an older version or "
                            f"edited by hand. Rerun `dvc repro` (or `dvc repro -f` for that round).")
        val, acc = fin.get("val_accuracy"), fin["accuracy"]
        rows.append({"name": name, "round": ann["round"], "cost": ann["cost"],
                     "accuracy": None if acc is None else round(100.0 * acc, 3),
                     "val_accuracy": None if val is None else round(100.0 * val, 3),
                     **{k: ann[k] for k in ROW_KEYS[2:]},
                     **_seconds(name, fin, ann)})
        if target_id is not None and ann["labeled_id"] >= target_id:
            break
    return rows


def _seconds(name: str, fin: dict, ann: dict) -> dict:
    """Where a round's time went (columns of plots/rounds.csv); 0 for parts a strategy skips.
    The acquire columns of a row are the acquisition that produced this state."""
    acq_path = paths.round_metrics(name, "acquire")
    acq = load_json(acq_path, "round metrics") if acq_path.exists() else {}
    acq = acq.get("seconds", {}) if isinstance(acq, dict) else {}
    out = {f"seconds_{k}": acq.get(k, 0.0) for k in ("kmeans", "select")}
    out["seconds_annotate"] = ann.get("seconds", 0.0)
    out.update({f"seconds_{k}": (fin.get("seconds") or {}).get(k, 0.0)
                for k in ("representation", "train", "score_pool", "test")})
    return out


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
