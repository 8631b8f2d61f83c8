"""After `dvc exp run -S strategy=ddu` in a real workspace (.ci/run): the run reached the stopping
rule with DDU's learner and density, and matches the committed grid run of its seed - entirely
when the params are the run's, else (a shorter chain: only `active.target_id` differs) round by
round up to the earlier stop.

    python -m src.ci.ddu_run results/mixmnist-quick
"""
import json
import sys
from pathlib import Path

import torch
import yaml

from src.core import paths
from src.report.table2_rows import OWN_SECTIONS, with_added_params


def _ddu_reads(params: dict) -> dict:
    """`params` without the sections only other strategies read (added later, e.g. `lfosa`)."""
    others = {s for name, own in OWN_SECTIONS.items() if name != "ddu" for s in own}
    return {k: v for k, v in params.items() if k not in others}


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
    committed = _ddu_reads(with_added_params(yaml.safe_load((run / "params.yaml").read_text())))  # keys added since
    params = _ddu_reads(params)
    curve = paths.CURVE_CSV.read_text().splitlines()
    if params == committed:
        same = paths.SUMMARY.read_bytes() == (run / "summary.json").read_bytes() and \
            curve == (run / "curve.csv").read_text().splitlines()
        what = "summary.json and curve.csv"
    else:
        committed["active"]["target_id"] = params["active"]["target_id"]
        assert params == committed, f"params differ from {run}/params.yaml beyond active.target_id"
        same = curve == (run / "curve.csv").read_text().splitlines()[:len(curve)]
        what = f"the first {len(curve) - 1} rows of curve.csv (a shorter chain)"
    print(f"{what} {'identical to' if same else 'WARNING: differ from'} {run}" + ("" if same else " (another CPU?)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
