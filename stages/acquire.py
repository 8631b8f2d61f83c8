"""Stage acquire@rNN: the strategy ranks the unlabeled pool of state prev with model prev's pool
outputs (class probabilities; for the CL strategies, features of the representation model).

When state prev already holds `active.target_id` labeled iD (the stopping rule), nothing is
ranked: the candidates file is empty and the metrics say `finished` (src/active/stopping.py). The
candidates file records the round it is for and the digest of state prev, which annotate checks.
Every candidate is listed for a person in annotations/rNN/queries.csv, and the first
`annotation.max_queries` (whole passes) drawn on contact sheets in annotations/rNN/sheets/,
whichever the oracle: the file oracle's annotator answers them (src/active/annotations.py)."""
from src.active.annotations import publish_queries, queried_pool, queries_csv, sheets_dir
from src.active.candidates import rank_round, save_candidates
from src.active.integrity import check_round_args, load_state
from src.active.strategies import from_params
from src.core import config, paths
from src.core.io import save_json, stage_outputs


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str = "r00") -> None:
    p = config.load(params_path)
    check_round_args("acquire", round_name, prev, p.rounds, params_path)
    strategy = from_params(p)
    state = load_state(prev, p)
    with stage_outputs(paths.candidates(round_name), paths.round_metrics(round_name, "acquire"),
                       queries_csv(round_name), sheets_dir(round_name)):
        cands, probs, metrics = rank_round(round_name, prev, state, strategy, p)  # none after the stopping point
        save_candidates(round_name, prev, state, cands)
        publish_queries(round_name, cands, queried_pool(cands), probs, config.class_names(p), p.annotation)
        save_json(paths.round_metrics(round_name, "acquire"), metrics)


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
