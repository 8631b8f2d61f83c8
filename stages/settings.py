"""Stage settings: params.yaml + the code and prepared data the rounds read -> runs/settings/<kind>.json.

One small file per kind of round stage (init, annotate, acquire, finetune, report) with the
params that kind reads, the md5 of each code file it runs and of each data file it reads
(src/core/settings.py, KINDS). The round stages depend on their kind's file instead of listing
params sections and code folders themselves: their dvc.lock entries stay a few dozen lines, and
DVC still reruns exactly the stages whose inputs changed. The params file is validated here,
so a bad value stops the run before any round."""
from src.core import config
from src.core.io import save_text, stage_outputs
from src.core.log import log
from src.core.settings import KINDS, dumps, resolve, settings_file


def main(params_path: str = "params.yaml") -> None:
    p = config.load(params_path)
    resolved = {kind: resolve(p, kind) for kind in KINDS}
    with stage_outputs(*(settings_file(kind) for kind in KINDS)):
        for kind, content in resolved.items():
            save_text(settings_file(kind), dumps(content))
    log("settings: " + ", ".join(f"{kind} ({len(r['params'])} params, {len(r['code'])} code files)"
                                  for kind, r in resolved.items()))


if __name__ == "__main__":
    from src.core.cli import run

    run(main, __doc__)
