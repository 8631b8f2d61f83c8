"""Stage acquire@rNN: the strategy ranks the unlabeled pool of state prev with model prev's outputs."""
import time

from src import config, paths
from src.active.state import ActiveState
from src.active.strategies import get
from src.errors import UserError
from src.io import load_npz, save_npz
from src.log import log
from src.seeding import rng


def main(params_path: str = "params.yaml", round_name: str = "r01", prev: str = "r00") -> None:
    p = config.load(params_path)
    strategy = get(p.strategy, quota=p.active.per_round_id, num_classes=p.active.num_classes)
    state = ActiveState.load(paths.state(prev))
    outputs = load_npz(paths.outputs(prev))
    missing = sorted(strategy.needs - set(outputs))
    if missing:
        raise UserError(f"strategy '{strategy.name}' needs model outputs {missing}, but "
                        f"{paths.outputs(prev)} holds only {sorted(outputs)}. The finetune stages of "
                        f"this version produce class probabilities only; choose random, "
                        f"least_confidence or entropy.")
    t0 = time.perf_counter()
    cands = strategy.rank(state, outputs, rng(p.seed, f"{round_name}-acquire"))
    save_npz(paths.candidates(round_name), order=cands.order, batch=cands.batch)
    log(f"{round_name}: {strategy.name} ranked {len(cands.order)} candidates in {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    from stages._cli import run

    run(main, __doc__)
