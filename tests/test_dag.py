"""dvc.yaml, src/core/paths.py and params.yaml agree, and the DAG has the designed shape."""
import importlib
import json
from pathlib import Path

import yaml

from src.active.annotations import labels_csv, queries_csv, sheets_dir
from src.core import paths, settings
from src.core.live import live_dir
from tests.conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def expand(raw: dict, rounds: dict) -> dict:
    """dvc.yaml stages with foreach expanded over `rounds`, as DVC does."""
    out = {}
    for name, stage in raw.items():
        if "foreach" in stage:
            assert stage["foreach"] == "${rounds}"
            for key, item in rounds.items():
                text = json.dumps(stage["do"]).replace("${key}", key).replace("${item.prev}", item["prev"])
                out[f"{name}@{key}"] = json.loads(text)
        else:
            out[name] = stage
    return out


DVC = expand(json.loads(json.dumps(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
                        .replace("${data.raw_dir}", PARAMS["data"]["raw_dir"])), PARAMS["rounds"])


def _paths(entries):
    return {e if isinstance(e, str) else next(iter(e)) for e in entries or []}


def outs(stage):
    return set().union(*(_paths(DVC[stage].get(k)) for k in ("outs", "metrics", "plots")))


def feeds(a, b) -> bool:
    """a writes what b reads: the same path, or one inside the other (a folder dep or a folder out)."""
    deps = _paths(DVC[b].get("deps"))
    return any(o == d or o.startswith(d.rstrip("/") + "/") or d.startswith(o.rstrip("/") + "/")
               for o in outs(a) for d in deps)


EDGES = {(a, b) for a in DVC for b in DVC if a != b and feeds(a, b)}
DATA = ["fetch_data", "train_vae", "train_ensemble", "make_ambiguous", "build_pool"]


def test_data_dag_shape():
    data_edges = {(a, b) for a, b in EDGES if a in DATA and b in DATA}
    assert data_edges == {("fetch_data", "train_vae"), ("fetch_data", "train_ensemble"),
                          ("fetch_data", "make_ambiguous"), ("fetch_data", "build_pool"),
                          ("train_vae", "make_ambiguous"), ("train_ensemble", "make_ambiguous"),
                          ("make_ambiguous", "build_pool")}


def test_raw_files_are_a_dvc_dependency():
    """Replacing a raw file reruns fetch_data (no `-f`): the raw folder is its dependency, and no
    other stage reads it."""
    raw = PARAMS["data"]["raw_dir"]
    assert [s for s in DVC if raw in _paths(DVC[s]["deps"])] == ["fetch_data"]
    assert "${data.raw_dir}" in (ROOT / "dvc.yaml").read_text()


KIND = {"init": "init", "annotate_r00": "annotate", "finetune_r00": "finetune", "report": "report",
        **{f"{kind}@{key}": kind for kind in ("acquire", "annotate", "finetune") for key in PARAMS["rounds"]}}


def settings_code(stage: str) -> list[str]:
    """The code a stage runs that its kind's settings file covers (src/core/settings.py)."""
    kind = KIND.get(stage)
    if kind is None or str(settings.settings_file(kind)) not in _paths(DVC[stage]["deps"]):
        return []
    return settings.KINDS[kind]["code"]


def test_rounds_chain():
    assert {("build_pool", "settings"), ("init", "annotate_r00"), ("annotate_r00", "finetune_r00")} <= EDGES
    assert {("settings", stage) for stage in KIND} <= EDGES
    assert ("init", "finetune_r00") not in EDGES  # stage 0 reaches training through its annotation
    for key, item in PARAMS["rounds"].items():
        prev = item["prev"]
        made_state = "annotate_r00" if prev == "r00" else f"annotate@{prev}"
        trained = "finetune_r00" if prev == "r00" else f"finetune@{prev}"
        assert {(made_state, trained), (trained, f"acquire@{key}"), (f"acquire@{key}", f"annotate@{key}"),
                (f"annotate@{key}", f"finetune@{key}"), (f"finetune@{key}", "report"),
                (f"annotate@{key}", "report")} <= EDGES, key
        # State prev reaches acquire and annotate through files that record its digest, and the
        # next finetune through state key, which carries it (test_state_prev_is_recorded_downstream)
        assert (made_state, f"acquire@{key}") not in EDGES and (made_state, f"annotate@{key}") not in EDGES


def test_representation_feeds_every_round():
    """pretrain -> init and finetune_r00; each round's acquire reads the previous round's pool
    outputs and its finetune the previous round's model (the CL methods continue its
    representation model)."""
    assert {("build_pool", "pretrain"), ("pretrain", "init"), ("pretrain", "finetune_r00")} <= EDGES
    for key, item in PARAMS["rounds"].items():
        trained = "finetune_r00" if item["prev"] == "r00" else f"finetune@{item['prev']}"
        assert {(trained, f"acquire@{key}"), (trained, f"finetune@{key}")} <= EDGES, key
    for stage in ("init", "finetune_r00", *(f"finetune@{k}" for k in PARAMS["rounds"])):
        assert str(settings.settings_file(KIND[stage])) in _paths(DVC[stage]["deps"]), stage
        assert "strategy" in settings.KINDS[KIND[stage]]["params"], stage  # the strategy decides the model


def test_declared_paths_match_src_paths():
    declared = set().union(*(outs(s) for s in DVC))
    constants = {str(v) for k, v in vars(paths).items() if k.isupper() and isinstance(v, Path) and v.suffix}
    constants |= {str(paths.pool_grid_png(c)) for c in ("id", "ambiguous", "ood")}
    constants |= {str(live_dir(n)) for n in ("vae", "ensemble", "pretrain")}
    constants |= {str(settings.SETTINGS_DIR)}
    for r in ["r00", *PARAMS["rounds"]]:
        constants |= {str(live_dir(f"rounds/{r}"))}
        constants |= {str(paths.model(r)), str(paths.outputs(r)), str(paths.round_metrics(r, "finetune"))}
        constants |= {str(paths.state(r)), str(paths.round_metrics(r, "annotate"))}
        constants |= {str(paths.candidates(r)), str(queries_csv(r)), str(sheets_dir(r))}
        if r != "r00":
            constants |= {str(paths.round_metrics(r, "acquire"))}
    assert declared == constants


def test_annotate_reads_its_round_folder_only():
    """annotate depends on its round's folder of annotations (the queries and the person's labels),
    which that round's acquire (init for r00) creates: the folder always exists when DVC checks the
    dependency, and no stage writes labels.csv."""
    for key in ["r00", *PARAMS["rounds"]]:
        stage = "annotate_r00" if key == "r00" else f"annotate@{key}"
        maker = "init" if key == "r00" else f"acquire@{key}"
        folder = str(queries_csv(key).parent)
        assert folder in _paths(DVC[stage]["deps"]), stage
        generated = {str(queries_csv(key)), str(sheets_dir(key))}
        assert generated <= outs(maker), key
        assert {o for s in DVC for o in outs(s) if o.startswith(folder + "/")} == generated, key
        assert not any(str(labels_csv(key)) in outs(s) for s in DVC)


def test_stage_scripts_and_params_exist():
    for name, stage in DVC.items():
        module = stage["cmd"].split("python -m ")[1].split()[0]
        assert importlib.import_module(module).main
        script = f"{module.replace('.', '/')}.py"
        covering = _paths(stage["deps"]) | set(settings_code(name))
        assert any(script == d or script.startswith(d + "/") for d in covering), name
        for section in stage.get("params", []):
            top, _, key = section.partition(".")
            assert top in PARAMS and (not key or key in PARAMS[top]), f"{name}: params {section} missing"
        for dep in _paths(stage["deps"]) - {PARAMS["data"]["raw_dir"]}:  # raw: linked or downloaded
            assert (ROOT / dep).exists() or any(feeds(s, name) for s in DVC), (name, dep)


def test_only_the_aggregate_is_a_dvc_metric():
    metric_files = set().union(*(_paths(DVC[s].get("metrics")) for s in DVC))
    assert not any(m.startswith("runs/") for m in metric_files) and "metrics/summary.json" in metric_files


def import_tree(module: str, seen: set | None = None) -> set[str]:
    """Files of the project modules `module` imports, directly or not (imports inside functions
    included), as paths relative to the repository root; empty __init__.py files are left out."""
    import ast

    seen = set() if seen is None else seen

    def file_of(name: str) -> Path | None:
        base = ROOT / name.replace(".", "/")
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    path = file_of(module)
    if path is None or path in seen:
        return set()
    seen.add(path)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    out = {str(path.relative_to(ROOT))} if path.read_text().strip() or path.name != "__init__.py" else set()
    for name in names:
        if name.split(".")[0] in ("src", "stages") and file_of(name) is not None:
            out |= import_tree(name, seen)
    return out


def test_code_deps_cover_each_stage_import_tree():
    """An edit to any module a stage runs makes DVC rerun the stage: no stale cached outputs."""
    missing = {}
    for name, stage in DVC.items():
        module = stage["cmd"].split()[2]
        deps = [d.rstrip("/") for d in _paths(stage.get("deps")) | set(settings_code(name))]
        uncovered = sorted(f for f in import_tree(module)
                           if not any(f == d or f.startswith(d + "/") for d in deps))
        if uncovered:
            missing[name] = uncovered
    assert missing == {}


def test_artifacts_are_cached_stage_outputs():
    """`dvc artifacts get` fetches an artifact from the DVC remote: each is one stage's cached output."""
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    assert set(artifacts) == {"representation", "classifier"}
    assert artifacts["representation"]["path"] == str(paths.PRETRAIN_PT)
    assert artifacts["classifier"]["path"] == str(paths.FINAL_MODEL)
    for name, art in artifacts.items():
        producers = [s for s in DVC if art["path"] in _paths(DVC[s].get("outs"))]
        assert len(producers) == 1 and art["type"] == "model", name
        assert art["path"] in DVC[producers[0]]["outs"], f"{name}: cache: false would keep it out of the remote"


def test_pretrain_is_saved_to_the_run_cache():
    """DVC saves a run to its run cache only when none of the stage's plain outputs is `cache:
    false` (dvc/stage/__init__.py, Stage.run): pretrain, which machines share through `dvc push
    --run-cache`, must have none."""
    for entry in DVC["pretrain"]["outs"]:
        assert isinstance(entry, str) or next(iter(entry.values())).get("cache", True), entry


def test_dvclive_folders_are_outputs_and_their_metrics_declared():
    """Each training stage owns its live/ folder; `dvc exp show` lists the top-level metrics."""
    top = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for stage, name in (("train_vae", "vae"), ("train_ensemble", "ensemble"), ("pretrain", "pretrain"),
                        ("finetune_r00", "rounds/r00"), *((f"finetune@{r}", f"rounds/{r}") for r in PARAMS["rounds"])):
        assert str(live_dir(name)) in outs(stage), stage
    assert {f"live/{n}/metrics.json" for n in ("vae", "ensemble", "pretrain")} <= set(top["metrics"])


def test_settings_stage_declares_what_each_kind_reads():
    """dvc.yaml's settings stage owns the union of KINDS (params, code, prepared data) and writes
    one file per kind; every round stage depends on its kind's file and lists no params of its own."""
    stage = DVC["settings"]
    assert sorted(stage["params"]) == sorted(settings.all_params())
    deps = _paths(stage["deps"])
    for path in ("stages/settings.py", *settings.all_code(), *settings.all_data()):
        assert any(path == d or path.startswith(d + "/") for d in deps), path
    assert _paths(stage["outs"]) == {str(settings.SETTINGS_DIR)}
    for name, kind in KIND.items():
        files = [d for d in _paths(DVC[name]["deps"]) if d.startswith(str(settings.SETTINGS_DIR))]
        assert files == [str(settings.settings_file(kind))], name
        assert "params" not in DVC[name], name
    for other in set(DVC) - set(KIND) - {"settings"}:
        assert not any(d.startswith(str(settings.SETTINGS_DIR)) for d in _paths(DVC[other]["deps"])), other
    for kind, spec in settings.KINDS.items():  # each entry names a real param
        for key in spec["params"]:
            value = PARAMS
            for part in key.split("."):
                assert part in value, (kind, key)
                value = value[part]
