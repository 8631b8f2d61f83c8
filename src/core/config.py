"""params.yaml -> frozen dataclasses, one per section (src/core/params_schema.py).

Every key is required and every key must be known: a misspelt or missing key is an error
that names the file, the section and the valid keys. Values are type-checked as they are read
(YAML reads `1e-3` as a string; float fields accept it), then every field's declared rules and
the cross-field rules are checked (src/core/params_check.py).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from pathlib import Path

import yaml

from src.core.errors import ConfigError, excerpt
from src.core.params_check import validate
from src.core.params_rules import (COST_KEYS, INITIAL_STATE, MAX_CLASS_NAME, ROUND_NAME,  # noqa: F401 - the API
                                   check_class_names, check_rounds)
from src.core.params_schema import (BENCHMARKS, NATURAL, NOT_GENERATED, NOT_MNIST, ORACLES,  # noqa: F401 - the API
                                    PRECISIONS, ActiveConfig, AmbiguousConfig, AnnotationConfig, ClassifierConfig,
                                    CLClassifierConfig, ClusterConfig, ContrastiveConfig, DataConfig, DDUConfig,
                                    EnsembleConfig, FolderConfig, Params, PoolConfig, ReportConfig, VAEConfig,
                                    class_names, is_rgb, not_applicable_reason)


def _choices_hint(rules) -> str:
    """'The choices: a, b. ' for a field with a fixed set of values (or a hint at them)."""
    named = rules.get("choices") or rules.get("hint")
    if not named:
        return ""
    return f"The choices: {named if isinstance(named, str) else ', '.join(named)}. "


def _unknown(where: str, key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{where}: unknown key '{key}'.{hint} Valid keys: {', '.join(valid)}.")


def _coerce(where: str, value, annotation, rules):
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[X]
        inner = [a for a in typing.get_args(annotation) if a is not type(None)][0]
        return None if value is None else _coerce(where, value, inner, rules)
    if annotation in (float, int) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected {'a number' if annotation is float else 'an integer'}, got the "
                          f"boolean {str(value).lower()} (YAML 1.1 reads an unquoted yes, no, on, off, true or false "
                          f"as a boolean): write a number.")
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}.") from None
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}.")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}.")
        return value
    if annotation is str:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got the boolean {str(value).lower()}: YAML 1.1 reads an "
                              f"unquoted yes, no, on, off, true or false as a boolean. {_choices_hint(rules)}"
                              f"Quote a word that is meant as text (e.g. \"no\").")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}. {_choices_hint(rules)}")
        return value
    if annotation is dict:
        if not isinstance(value, dict) or not value:
            raise ConfigError(f"{where}: expected a non-empty mapping, got {value!r}.")
        return dict(value)
    if annotation is list:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: expected a non-empty list, got {value!r}.")
        return list(value)
    raise AssertionError(f"unsupported annotation {annotation}")


def _build(cls, raw, where: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(raw).__name__}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = list(fields)
    for key in raw:
        if key not in names:
            raise _unknown(where, str(key), names)
    missing = [n for n in names if n not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}. "
                          f"Copy them from params.yaml or configs/paper-mixmnist.yaml.")
    values = {}
    for name in names:
        sub = f"{where}.{name}"
        if dataclasses.is_dataclass(hints[name]):
            values[name] = _build(hints[name], raw[name], sub)
        else:
            values[name] = _coerce(sub, raw[name], hints[name], fields[name].metadata)
    return cls(**values)



class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader, but a key given twice in one mapping is an error (as DVC's parser makes it),
    not silently the last one: `seed` twice would run one seed under `dvc repro` and refuse under
    DVC, and a stage run directly would use another value than the one a reader sees first."""


class _DuplicateKey(Exception):
    def __init__(self, key, first: int, again: int):
        super().__init__(key, first, again)
        self.key, self.first, self.again = key, first, again


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # an unhashable key: the constructor below reports it as YAML does
        if key in lines:
            raise _DuplicateKey(key, lines[key], key_node.start_mark.line + 1)
        lines[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(text: str, where) -> object:
    """The project's one reader of its params files (params.yaml, configs/, a results folder's copy):
    YAML's safe subset (no tags that build objects), and a duplicate key refused with both lines."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a safe loader (SafeLoader's constructors)
    except _DuplicateKey as dup:
        raise ConfigError(f"{where}, line {dup.again}: key {excerpt(dup.key)} is given twice in the same mapping "
                          f"(first at line {dup.first}). YAML keeps one of them silently and DVC refuses the file: "
                          f"delete one of the two lines.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None


def load(path: str | Path = "params.yaml") -> Params:
    """Read and validate a whole params file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found. Run from the repository root, "
                          f"or copy configs/paper-mixmnist.yaml to params.yaml.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not readable as UTF-8 text ({type(exc).__name__}); save it as UTF-8.") from None
    raw = read_yaml(text, path)
    params = _build(Params, raw or {}, str(path))
    validate(params, str(path))
    return params


def to_dict(section) -> dict:
    return dataclasses.asdict(section)


def dumps(section) -> str:
    return json.dumps(to_dict(section), indent=2, sort_keys=True)

