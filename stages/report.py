"""Stage report: per-round metrics -> metrics/summary.json, plots/curve.csv (Figure 4), curve.png,
and the last round's model -> models/classifier.pt (the final classifier; dvc.yaml's artifact).

Rows end at the first state with `active.target_id` labeled iD (the paper's stopping rule); a
chain too short to reach it is reported with `target_reached: false` and a warning."""
from src.core import config, paths
from src.core.config import INITIAL_STATE
from src.core.io import copy_file, save_figure, save_json, save_text, stage_outputs
from src.core.log import log
from src.report.curve import CURVE_COLUMNS, collect, curve_figure, summary, to_csv

BENCHMARK_TITLES = {"mixmnist": "MixMNIST", "standin": "MixCIFAR stand-in", "mixcifar60": "MixCIFAR60",
                    "folder": "folder pool"}


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    rows = collect([INITIAL_STATE, *p.rounds], p.active.target_id)
    result = summary(rows, p.active.target_id, p.report.budgets, p.report.auc_range)
    last = [INITIAL_STATE, *p.rounds][-1]  # finished rounds keep their prev's model: the final one
    with stage_outputs(paths.SUMMARY, paths.CURVE_CSV, paths.ROUNDS_CSV, paths.CURVE_PNG, paths.FINAL_MODEL):
        copy_file(paths.model(last), paths.FINAL_MODEL)
        save_text(paths.CURVE_CSV, to_csv(rows, CURVE_COLUMNS))
        save_text(paths.ROUNDS_CSV, to_csv(rows, list(rows[0])))
        save_figure(paths.CURVE_PNG, curve_figure(rows, f"{BENCHMARK_TITLES.get(p.benchmark, p.benchmark)}, "
                                                        f"{p.strategy} (seed {p.seed})"))
        save_json(paths.SUMMARY, result)
    acc = "-" if result["accuracy"] is None else f"{result['accuracy']:.2f}%"
    log(f"{p.strategy}: accuracy {acc} at cost {result['cost']:g} "
        f"(cost/acc {result['cost_per_acc']}) with {result['labeled_id']} labeled iD after "
        f"{result['rounds']} rounds; iD precision {result['id_precision']}")
    if not result["target_reached"]:
        log(f"WARNING: the chain ended at {rows[-1]['name']} with {result['labeled_id']} labeled iD, short of "
            f"active.target_id = {p.active.target_id}: Table 2's row is not at the stopping point. Add "
            f"entries to `rounds` in {params_path} (or lower active.target_id) and rerun `dvc repro`.")


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
