"""After `dvc exp run -S strategy=ddu` in a real workspace (.ci/run): the run reached the stopping
rule with DDU's learner and density, and matches the committed grid run of seed 0.

    python -m tests.check_ddu_run results/mixmnist-quick
"""
import filecmp
import json
import sys
from pathlib import Path

import torch
import yaml

from src.core import paths


def main(folder: str) -> int:
    params = yaml.safe_load(Path("params.yaml").read_text())
    assert params["strategy"] == "ddu", params["strategy"]
    s = json.loads(paths.SUMMARY.read_text())
    assert s["target_reached"] and s["labeled_id"] >= s["target_id"], s
    assert torch.load(paths.model("r01"), weights_only=True)["learner"] == "ddu"
    acq = json.loads(paths.round_metrics("r01", "acquire").read_text())
    fin = json.loads(paths.round_metrics("r01", "finetune").read_text())
    assert acq["strategy"] == "ddu" and acq["density"]["classes"] >= params["active"]["num_classes"], acq
    assert fin["spectral_norm"]["max_sigma"] <= 1.01 * params["ddu"]["coeff"], fin
    print(f"ddu: target reached with {s['labeled_id']} labeled iD at cost {s['cost']}, accuracy {s['accuracy']}; "
          f"r01 density over {acq['density']['classes']} classes (jitter {acq['density']['jitter']:g}), "
          f"max sigma {fin['spectral_norm']['max_sigma']}")
    run = Path(folder) / "runs" / f"ddu-s{params['seed']}"
    same = all(filecmp.cmp(a, run / b, shallow=False) for a, b in ((paths.SUMMARY, "summary.json"),
                                                                     (paths.CURVE_CSV, "curve.csv")))
    if not same:
        print(f"WARNING: results differ from {run} (another CPU?)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
