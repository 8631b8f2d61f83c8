"""Table 2, built once for both of its views: the DVC-experiment view (src/report/table2.py,
`python -m src.report.table2`) and the results-folder view (src/report/results.py, `python -m
src.report.results FOLDER`).

Here: the paper's Table 2 numbers, which runs are averaged together (`setting_of`: every param
but strategy and seed, runs recorded before a param existed read with ADDED_PARAMS), the cells
(`fmt`: mean ± sample std), the row order (the paper's, by setting) and `table_lines`, which lays
out a Markdown table of one row per (strategy, setting) from the columns a view chooses, with the
paper's Acc., Cost and Cost/Acc. beside them.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

REQUIRED = ("accuracy", "cost", "cost_per_acc", "id_precision")  # the metrics of every run Table 2 shows
PAPER_MIXMNIST = {  # Table 2 of the paper: Acc., Cost, Cost/Acc.
    "random": ("Random", 93.84, 440, 4.69),
    "least_confidence": ("Least Confidence", 96.80, 6582, 68.00),
    "entropy": ("Entropy", 93.89, 32738, 348.68),
    "random_cl": ("Random (CL)", 96.07, 420, 4.37),
    "distance_cl": ("Distance (CL)", 96.65, 406, 4.20),
}
PAPER_MIXCIFAR60 = {  # Table 2 of the paper, MixCIFAR60 (ResNet-18, 60,000-image pool)
    "random": ("Random", 67.95, 39270, 577.92),
    "least_confidence": ("Least Confidence", 69.90, 42676, 610.53),
    "entropy": ("Entropy", 70.43, 42678, 605.96),
    "ddu": ("DDU", 67.38, 32162, 477.32),
    "random_cl": ("Random (CL)", 68.38, 34560, 505.41),
    "distance_cl": ("Distance (CL)", 66.38, 27891, 420.17),
}


# strategies without a row in a paper table (DDU on MixMNIST; LfOSA and EAOA are not in the paper: '-')
LABELS = {"ddu": "DDU", "lfosa": "LfOSA", "eaoa": "EAOA"}


def display_name(strategy: str) -> str:
    """A strategy's name in tables, figures and claims: the paper's where it has one."""
    row = PAPER_MIXCIFAR60.get(strategy) or PAPER_MIXMNIST.get(strategy)
    return row[0] if row else LABELS.get(strategy, strategy)
# params sections that only one strategy reads: left out of the shared setting (so the `lfosa` and
# `eaoa` sections, issue 26, need no ADDED_PARAMS entry: older runs of every strategy keep their
# setting), and a suffix on that strategy's own rows
OWN_SECTIONS = {"ddu": ("ddu",), "lfosa": ("lfosa",), "eaoa": ("eaoa",)}


# Params added after runs were recorded, each with the value that does what the code did before the
# key existed (the natural-image benchmarks' switch): a run's params.yaml without the key is read as
# having this value, so runs recorded before and after the key of one profile group together.
ADDED_PARAMS = {"benchmark": "mixmnist", "pool.id_classes": None, "pool.ambiguous_classes": None,
                "classifier.arch": "convnet", "classifier.blocks": [2, 2, 2, 2], "classifier.optimizer": "adam",
                "classifier.momentum": 0.0, "classifier.augment": "none", "contrastive.arch": "convnet",
                "contrastive.blocks": [2, 2, 2, 2], "contrastive.augment": "affine",
                "cl_classifier.optimizer": "adam", "cl_classifier.momentum": 0.0, "cl_classifier.augment": "none",
                # issue 12: the oracle and what a round lists for a person (no effect on simulated results)
                "oracle": "simulated", "folder": {"images": None, "test": None, "size": 32, "channels": 3},
                "annotation": {"max_queries": 100, "sheet_size": 50},
                # issue 24: the networks' precision (every run before it computed in fp32)
                "precision": "fp32",
                # issue 24: torch.compile of the training steps (every run before it ran eager)
                "compile": False,
                # issue 26: DDU's -mod network (every DDU run before it used ReLU and 1x1-conv shortcuts)
                "ddu.mod": False,
                # issue 27: Distance(CL)'s excluded clusters (every run before it used the paper's rule)
                "cluster.exclude": "most",
                # issue 27: the affine augmentation's translation (every run before it translated nothing)
                "contrastive.translate": 0.0}


def with_added_params(params: dict) -> dict:
    """`params` with every absent key of ADDED_PARAMS filled in (a copy; present keys win)."""
    out = json.loads(json.dumps(params))
    for dotted, value in ADDED_PARAMS.items():
        *parents, key = dotted.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and key not in node:
            node[key] = value
    return out


def setting_of(params: dict) -> str:
    """Which runs may be averaged together: a short hash of every param but strategy, seed and the
    sections only some strategy reads, so the runs of every strategy under one profile share it
    (also runs made before such a section or an ADDED_PARAMS key existed); a strategy's own
    sections add a suffix ("3f2a1c+9b0e"), so two DDU settings are never averaged together."""
    own = {name for names in OWN_SECTIONS.values() for name in names}
    params = with_added_params(params)
    rest = {k: v for k, v in params.items() if k not in ("strategy", "seed") and k not in own}
    setting = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:6]
    mine = {k: params[k] for k in OWN_SECTIONS.get(params.get("strategy"), ()) if k in params}
    suffix = hashlib.sha256(json.dumps(mine, sort_keys=True).encode()).hexdigest()[:4] if mine else ""
    return setting + ("+" + suffix if suffix else "")


def needs_setting_label(keys) -> bool:
    """Rows must name their params setting when the table mixes profiles or two settings of one strategy."""
    keys = list(keys)
    return len({s.split("+")[0] for _, s in keys}) > 1 or len({k for k, _ in keys}) < len(keys)


def paper_rows(benchmark: str | None) -> tuple[dict, str]:
    """The paper's Table 2 rows to print beside a benchmark's runs, and which benchmark they are:
    MixCIFAR60's for MixCIFAR60 and its offline stand-in, MixMNIST's otherwise."""
    if benchmark in ("standin", "mixcifar60"):
        return PAPER_MIXCIFAR60, "MixCIFAR60"
    return PAPER_MIXMNIST, "MixMNIST"


def fmt(values, digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {float(np.std(values, ddof=1)):,.{digits}f}"


def mean_std(header: str, key: str, digits: int, of=None) -> tuple:
    """A column: mean ± std over a group's runs of the metric `key` of `of(run)` (the run itself
    when `of` is None)."""
    return header, lambda runs: fmt([(of(r) if of else r).get(key) for r in runs], digits)


AT_THE_STOP = (("Acc. (%)", "accuracy", 2), ("Cost", "cost", 0), ("Cost/Acc.", "cost_per_acc", 2))
ID_PRECISION = ("iD precision", "id_precision", 3)


def ordered(groups: dict) -> dict:
    """`groups` ((strategy, setting) -> runs) in table order: by setting, then the paper's row
    order (DDU included), then any other strategy by name."""
    rank = {s: i for i, s in enumerate(PAPER_MIXCIFAR60)}
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][1].split("+")[0], rank.get(kv[0][0], len(rank)), kv[0])))


def table_lines(groups: dict, columns: list[tuple], paper_of) -> list[str]:
    """Table 2's Markdown lines: the header, then a row per (strategy, setting) of `groups`, in
    `ordered` order: the strategy's name (with its params setting when the table mixes settings),
    a cell per (header, cell) of `columns` (cell(runs) -> text), then the paper's numbers for the
    strategy from `paper_of(runs)` (a PAPER_* table; "-" where it has no row)."""
    head = ["Acquisition", *(h for h, _ in columns), "paper Acc.", "paper Cost", "paper Cost/Acc."]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    labelled = needs_setting_label(groups)
    for (strategy, setting), runs in ordered(groups).items():
        label, p_acc, p_cost, p_cpa = paper_of(runs).get(strategy, (LABELS.get(strategy, strategy), None, None, None))
        if labelled:  # several param settings: say which row is which
            label = f"{label} [params {setting}]"
        paper = [f"{p_acc:.2f}", f"{p_cost:,}", f"{p_cpa:.2f}"] if p_acc is not None else ["-", "-", "-"]
        lines.append("| " + " | ".join([label, *(cell(runs) for _, cell in columns), *paper]) + " |")
    return lines
