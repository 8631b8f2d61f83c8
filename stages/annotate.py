"""Stage annotate@rNN (annotate_r00 for stage 0): the oracle examines candidates until the round's
iD quota -> state rNN.

The oracle is params' (src/active/oracle.py): simulated, the pool's ground truth answers; file, the
person's answers in annotations/rNN/labels.csv (src/active/labels.py) - while they do not reach the
quota the stage stops with a message naming the next pass to label, and writes nothing.

After the stopping point (state prev holds `active.target_id` labeled iD) nothing is examined or
charged: state rNN is state prev unchanged and the metrics say `finished` (src/active/stopping.py).
The candidates must have been ranked for this round from this very state prev (load_candidates
checks)."""
from src.active.candidates import load_candidates
from src.active.integrity import check_round_args, round_index, state_before
from src.active.oracle import oracle_for
from src.core import config, paths
from src.core.io import save_json, stage_outputs
from src.data.pool import load_pool


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str | None = None) -> None:
    p = config.load(params_path)
    check_round_args("annotate", round_name, prev, p.rounds, params_path)
    pool = load_pool(paths.POOL_NPZ, ("category", "label"), p.active.num_classes)
    oracle = oracle_for(p, pool)
    state, quota = state_before(round_name, prev, p, pool, oracle)  # stage 0: nothing labeled, quota init_id
    cands = load_candidates(round_name, prev or "", state)
    new, metrics = oracle.annotate(round_name, state, cands, quota, round_index(round_name, p.rounds))
    with stage_outputs(paths.state(round_name), paths.round_metrics(round_name, "annotate")):
        new.save(paths.state(round_name))
        save_json(paths.round_metrics(round_name, "annotate"), metrics)


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
