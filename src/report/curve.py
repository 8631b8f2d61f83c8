"""Aggregate the per-round metrics: summary (Table 2's columns), the cost-accuracy curve, a PNG."""
from __future__ import annotations

import csv
import io
import json

from src import paths
from src.errors import DataError

CURVE_COLUMNS = ["round", "cost", "accuracy", "labeled_id", "labeled_ambiguous", "labeled_ood", "id_precision"]


def collect(round_names: list[str]) -> list[dict]:
    """One row per state (r00 first): cost and labels of the state, accuracy of the model trained on it."""
    rows = []
    for name in round_names:
        try:
            ann = json.loads(paths.round_metrics(name, "annotate").read_text())
            fin = json.loads(paths.round_metrics(name, "finetune").read_text())
        except FileNotFoundError as exc:
            raise DataError(f"report: {exc.filename} is missing; run `dvc repro` to finish the rounds.") from None
        rows.append({"name": name, "round": ann["round"], "cost": ann["cost"],
                     "accuracy": round(100.0 * fin["accuracy"], 3),
                     **{k: ann[k] for k in ("labeled_id", "labeled_ambiguous", "labeled_ood",
                                            "examined", "examined_id", "id_precision")},
                     "seconds_train": fin["seconds"]["train"], "seconds_score_pool": fin["seconds"]["score_pool"],
                     "seconds_test": fin["seconds"]["test"], "seconds_annotate": ann.get("seconds", 0.0)})
    return rows


def summary(rows: list[dict]) -> dict:
    """Table 2: accuracy (%) and cumulative cost at the last stage, cost per accuracy point; plus
    the iD precision of all queries made by the strategy (stage 0 excluded)."""
    last = rows[-1]
    queried = rows[1:]
    examined = sum(r["examined"] for r in queried)
    return {"accuracy": last["accuracy"], "cost": last["cost"],
            "cost_per_acc": round(last["cost"] / last["accuracy"], 4) if last["accuracy"] else None,
            "id_precision": round(sum(r["examined_id"] for r in queried) / examined, 4) if examined else None,
            "labeled_id": last["labeled_id"], "labeled_ambiguous": last["labeled_ambiguous"],
            "labeled_ood": last["labeled_ood"], "rounds": len(queried)}


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
    ax.plot([r["cost"] for r in rows], [r["accuracy"] for r in rows], marker="o", ms=3)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("annotation cost (samples examined)" + (", log scale" if log_x else ""))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
