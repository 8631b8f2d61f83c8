"""Stage finetune@rNN: train on the labeled pool of state rNN -> model, pool outputs, test accuracy.

Pool outputs (runs/outputs/rNN.npz) are what the next acquire reads: `probs` (K + 1 softmax) for
the baselines, `features` (clustering features of the representation model) for the CL strategies.

The learner family follows from the strategy (src/active/learners.py): baselines train a three-conv
net from scratch; the CL strategies continue the representation model of round prev (of
`pretrain` for r00, which has no --prev) on both pools, then finetune its encoder + a linear
K + 1 head as the classifier. The round's training: src/active/finetuning.py.

Accuracy is measured on the test set (reported) and on the validation split (for tuning only).
A round after the stopping point (state rNN is its prev state unchanged) trains nothing: the model
file is prev's, the outputs and metrics say `finished` (src/active/stopping.py). State rNN must
continue state prev (check_successor) and cost what its new labels cost (check_cost); the four
outputs, the DVCLive folder included, appear together or not at all (stage_outputs).

Under torchrun (`torchrun --nproc_per_node N -m stages.finetune --round rNN --prev rMM`) every rank
runs the CL learners' contrastive continuation (data-parallel, src/contrastive/train.py) and the
ranks other than 0 stop after it; rank 0 alone finetunes the classifier, scores the pool and the
test and validation sets, and writes the outputs. A learner without a data-parallel part (the
baselines, DDU) and a finished round leave everything to rank 0.
"""
from src.active.finetuning import train_round
from src.active.integrity import check_round_args, load_prev_state, load_state
from src.core import config, live, paths, ranks
from src.core.io import stage_outputs
from src.data.pool import pool_fingerprint


def main(params_path: str = "params.yaml", round_name: str = "r00", prev: str | None = None) -> None:
    p = config.load(params_path)
    check_round_args("finetune", round_name, prev, p.rounds, params_path)
    state = load_state(round_name, p, pool_fingerprint(paths.POOL_NPZ))
    prev_state = load_prev_state(prev, round_name, state, p)  # None for r00; state rNN must continue it
    # live/rounds/rNN is an output like the others: all four appear when the stage succeeds; rank 0 writes
    with stage_outputs(paths.model(round_name), paths.outputs(round_name), paths.round_metrics(round_name, "finetune"),
                       live.live_dir(f"rounds/{round_name}"), enabled=ranks.is_main()):
        train_round(round_name, prev, state, prev_state, p)


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
