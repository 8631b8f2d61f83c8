"""The one validator of a params file: every field's declared rules (src/core/params_schema.py),
then the rules that relate several fields (CROSS_RULES), in order; the first broken rule is
raised as a ConfigError naming the file, the key, the value and what is allowed.

Types were checked as the file was read (src/core/config.py). The `strategy` name is checked by
the strategy registry (src/active/strategies.py) where a stage uses it, and by `python -m src.check`:
this module imports nothing from the layers above it. Code downstream trusts the values.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from src.core.errors import ConfigError
from src.core.params_schema import NATURAL, Params, class_names, is_rgb


def check_fields(section, path: str, prefix: str = "") -> None:
    """Every declared rule of every field of `section` and of its sub-sections (null passes: a field
    is null only where its type is Optional)."""
    for f in dataclasses.fields(section):
        value, key, rules = getattr(section, f.name), f"{prefix}{f.name}", f.metadata
        if dataclasses.is_dataclass(value):
            check_fields(value, path, f"{key}.")
            continue
        if value is None:
            continue
        if "check" in rules:
            rules["check"](value, key, path)
        if "rule" in rules:
            ok, allowed = rules["rule"]
            if not ok(value):
                raise ConfigError(f"{path}: {key} = {value!r} is out of range: allowed {allowed}.")
        if "choices" in rules and value not in rules["choices"]:
            note = f" ({rules['note']})" if "note" in rules else ""
            raise ConfigError(f"{path}: {key} = {value!r} is not one of {', '.join(rules['choices'])}{note}.")


# ---------------------------------------------------------------- cross-field rules
def networks_fit_the_images(params: Params, path: str) -> None:
    """The networks and augmentations must fit the benchmark's images: MixMNIST is greyscale 28x28
    (convnet, affine views); the natural benchmarks are RGB 32x32 (resnet, SimCLR views); a folder
    pool is either, by folder.channels. The one check of these three fields: any other word is
    refused here too, with the value to write."""
    natural = is_rgb(params)
    want = {("classifier", "arch"): "resnet" if natural else "convnet",
            ("contrastive", "arch"): "resnet" if natural else "convnet",
            ("contrastive", "augment"): "simclr" if natural else "affine"}
    for (section, key), value in want.items():
        have = getattr(getattr(params, section), key)
        if have != value:
            raise ConfigError(f"{path}: {section}.{key} = {have!r} does not fit benchmark "
                              f"{params.benchmark!r} ({'RGB 32x32' if natural else 'greyscale 28x28'} images): "
                              f"set it to {value!r}, or start from that benchmark's profile in configs/.")


def folder_pool_is_complete(params: Params, path: str) -> None:
    """A folder pool: its images folder, its class names, the oracle that can answer it, and a size
    the networks take (resnet: RGB 32x32; convnet: greyscale 28x28)."""
    if params.benchmark != "folder":
        return
    f = params.folder
    if not f.images:
        raise ConfigError(f"{path}: benchmark 'folder' needs folder.images, the folder of your unlabeled images.")
    if params.pool.id_classes is None or params.pool.ambiguous_classes is not None:
        raise ConfigError(f"{path}: benchmark 'folder' needs pool.id_classes, the names of your iD classes (what the "
                          f"annotator answers), and pool.ambiguous_classes: null.")
    raw = Path(params.data.raw_dir)
    for key in ("images", "test"):
        where = getattr(f, key)
        if where and raw.resolve() not in (Path(where).resolve(), *Path(where).resolve().parents):
            raise ConfigError(f"{path}: folder.{key} = {where!r} is not inside data.raw_dir = {str(raw)!r}, the folder "
                              f"DVC tracks as fetch_data's input (so changed images rerun it): set data.raw_dir "
                              f"to a folder that holds folder.images and folder.test (e.g. their parent).")
    if params.oracle != "file":
        raise ConfigError(f"{path}: benchmark 'folder' has no ground truth for the simulated oracle: set oracle: file "
                          f"(a person answers each round's queries).")
    size = 32 if f.channels == 3 else 28
    if f.size != size:
        raise ConfigError(f"{path}: folder.size = {f.size} with folder.channels = {f.channels}: the networks take "
                          f"{'RGB 32x32 (resnet)' if f.channels == 3 else 'greyscale 28x28 (convnet)'} images; "
                          f"set folder.size to {size}.")


def class_lists_fit_the_benchmark(params: Params, path: str) -> None:
    """The natural benchmarks name their iD and ambiguous classes; MixMNIST has no ambiguous classes
    (its ambiguous images are generated)."""
    pool = params.pool
    if params.benchmark == "folder":
        return
    lists = params.benchmark in NATURAL
    if (pool.ambiguous_classes is not None) != lists or (lists and pool.id_classes is None):
        raise ConfigError(f"{path}: pool.id_classes and pool.ambiguous_classes must be "
                          f"{'lists of class names' if lists else 'null'} for benchmark "
                          f"{params.benchmark!r}.")


def a_class_is_id_or_ambiguous(params: Params, path: str) -> None:
    pool = params.pool
    if pool.ambiguous_classes is not None:
        both = set(pool.id_classes) & set(pool.ambiguous_classes)
        if both:
            raise ConfigError(f"{path}: {', '.join(sorted(both))} in both pool.id_classes and "
                              f"pool.ambiguous_classes; a class is iD or ambiguous, not both.")


def num_classes_counts_the_names(params: Params, path: str) -> None:
    ids = params.pool.id_classes
    if ids is not None and len(ids) != params.active.num_classes:
        raise ConfigError(f"{path}: active.num_classes = {params.active.num_classes} but pool.id_classes "
                          f"names {len(ids)} classes; set num_classes to {len(ids)}.")


def distinct_votes_fit_the_ensemble(params: Params, path: str) -> None:
    amb, members = params.ambiguous, params.ensemble.members
    if not amb.min_distinct <= amb.max_distinct <= members:
        raise ConfigError(f"{path}: ambiguous.min_distinct = {amb.min_distinct} and max_distinct = "
                          f"{amb.max_distinct} must satisfy 1 <= min_distinct <= max_distinct <= "
                          f"ensemble.members ({members}).")


def class_names_are_not_answers(params: Params, path: str) -> None:
    """The file oracle's answers 'ambiguous' and 'ood' cannot also be iD class names."""
    clash = [n for n in class_names(params) if n in ("ambiguous", "ood")] if params.oracle == "file" else []
    if clash:
        raise ConfigError(f"{path}: pool.id_classes names {clash[0]!r}, but '{clash[0]}' is an answer of its own for "
                          f"the file oracle (a non-iD sample): rename the class.")


CROSS_RULES = (networks_fit_the_images, folder_pool_is_complete, class_lists_fit_the_benchmark,
               a_class_is_id_or_ambiguous, num_classes_counts_the_names, distinct_votes_fit_the_ensemble,
               class_names_are_not_answers)


def validate(params: Params, path: str) -> None:
    """Every field's rules, then every cross-field rule: the first one broken is raised."""
    check_fields(params, path)
    for rule in CROSS_RULES:
        rule(params, path)
