"""The rules a params field declares beside its type (src/core/params_schema.py), in one vocabulary.

    epochs: int = param(COUNT)                          # a range rule: (check, "allowed" in words)
    optimizer: str = param(choices=("adam", "sgd"))     # a fixed set of values
    id_classes: Optional[list] = param(check=check_class_names)  # a check that words its own message

src/core/params_check.py applies every declared rule to every field (null passes where the field
is Optional) and then the cross-field rules; nothing else re-checks a value. A range rule that
fails reads "<file>: <key> = <value> is out of range: allowed <words>."
"""
from __future__ import annotations

import dataclasses
import math
import re

from src.core.errors import ConfigError, excerpt

INITIAL_STATE = "r00"
COST_KEYS = ("id", "ambiguous", "ood")
ROUND_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_CLASS_NAME = 100  # characters: a name is shown on contact sheets, in CSV columns and folder names


def param(rule=None, *, choices=None, check=None, hint=None, note=None):
    """A required params field and its rules (a dataclasses.field without a default).

    rule: (check(value) -> bool, "allowed" in words), e.g. COUNT or between(0, 1);
    choices: the allowed values of a word; note: said after them when a value is not one;
    hint: the values named where a word is mistyped, when a cross-field rule picks the value (the
    benchmark picks the networks) or no list is known here (the strategy names): a tuple or words;
    check: check(value, dotted_key, path) raising ConfigError with its own message."""
    meta = {"rule": rule, "choices": choices, "check": check, "hint": hint, "note": note}
    return dataclasses.field(metadata={k: v for k, v in meta.items() if v is not None})


# ---------------------------------------------------------------- range rules
# Every int, float, list and mapping field declares one (tests/test_config.py checks it, so a new
# param cannot skip range checking).
def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def at_least(lo):
    return (lambda v: _num(v) and v >= lo), f">= {lo}"


def above(lo):
    return (lambda v: _num(v) and v > lo), f"> {lo} and finite"


def between(lo, hi, hi_open=False):
    return ((lambda v: _num(v) and lo <= v and (v < hi if hi_open else v <= hi)),
            f"in [{lo}, {hi}{')' if hi_open else ']'}")


def _milestones(v) -> bool:
    return (isinstance(v, list) and all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in v)
            and v == sorted(set(v)))


def _scale(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_num(s) for s in v) and 0 < v[0] <= v[1]


def _costs(v) -> bool:
    return isinstance(v, dict) and set(v) == set(COST_KEYS) and all(_num(c) and c >= 0 for c in v.values())


def _budgets(v) -> bool:
    return isinstance(v, list) and all(_num(b) and b > 0 for b in v)


def _auc_range(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_num(b) for b in v) and 0 < v[0] < v[1]


def _archs(v) -> bool:
    return isinstance(v, list) and all(isinstance(a, str) and a for a in v)


def _blocks(v) -> bool:
    return isinstance(v, list) and all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in v)


SEED = at_least(0)
COUNT = at_least(1)  # a count where zero is meaningless
RATE = above(0)  # learning rates, temperatures, factors
PENALTY = at_least(0)  # weight decay, degrees of augmentation
SHARE = between(0, 1)  # mixing weights, accuracies, quantiles
SMOOTHING = between(0, 1, hi_open=True)
MOMENTUM = between(0, 1, hi_open=True)
BLOCKS = (_blocks, "a list of block counts >= 1, one per stage (ResNet-18: [2, 2, 2, 2])")
MILESTONES = (_milestones, "a list of increasing epoch numbers >= 1")
SCALE = (_scale, "[low, high] with 0 < low <= high")
COSTS = (_costs, f"a mapping of exactly {', '.join(COST_KEYS)} to finite numbers >= 0")
BUDGETS = (_budgets, "a list of annotation costs > 0")
AUC_RANGE = (_auc_range, "[low, high] costs with 0 < low < high")
ARCHS = (_archs, "a non-empty list of architecture names")
CHANNELS = ((lambda v: v in (1, 3)), "1 (greyscale) or 3 (RGB)")


# ---------------------------------------------------------------- checks with their own messages
def check_class_names(names, key: str, path) -> None:
    """Class names are what a person types and what test folders are called: text (not a YAML boolean or
    number), without surrounding spaces or control characters, at most MAX_CLASS_NAME characters, distinct."""
    if not isinstance(names, list) or not names:
        raise ConfigError(f"{path}: {key} must be a non-empty list of class names, got {excerpt(names)}.")
    for i, name in enumerate(names):
        at = f"{path}: {key}[{i}]"
        if isinstance(name, bool):
            raise ConfigError(f"{at} is the boolean {str(name).lower()}: YAML 1.1 reads an unquoted yes, no, on, "
                              f"off, true or false as a boolean; quote the class name (e.g. \"no\").")
        if not isinstance(name, str):
            raise ConfigError(f"{at} is {name!r}, not text; quote it (e.g. \"{name}\").")
        if not name.strip():
            raise ConfigError(f"{at} is empty; give the class a name.")
        if name != name.strip():
            raise ConfigError(f"{at} = {excerpt(name)} has spaces around it: nobody could type that answer, and a "
                              f"test folder of that name would not match it. Write {excerpt(name.strip())}.")
        if not name.isprintable():
            raise ConfigError(f"{at} = {excerpt(name)} holds a control character (tab, newline...); remove it.")
        if len(name) > MAX_CLASS_NAME:
            raise ConfigError(f"{at} is {len(name)} characters long (at most {MAX_CLASS_NAME}); shorten it (and the "
                              f"test folder of that class).")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{path}: {key} names {excerpt(dup[0])} twice; each class once.")


def check_rounds(rounds: dict, key: str, where: str) -> None:
    """Rounds must form one chain r00 -> first -> ... -> last, each naming its predecessor.

    DVC parses the round table (dvc.yaml's foreach) before any stage runs, so some mistakes reach
    DVC's own wording first; `python -m src.check` runs this check alone (README maps DVC's
    messages to these)."""
    expected_prev = INITIAL_STATE
    names = [str(n) for n in rounds]
    for name, spec in rounds.items():
        entry = f"{where}: {key}.{name}"
        if not isinstance(name, str) or not ROUND_NAME.match(name):
            raise ConfigError(f"{entry}: a round name must be letters, digits, '-' or '_' (e.g. r01); "
                              f"got {name!r}.")
        if name == INITIAL_STATE:
            raise ConfigError(f"{entry}: '{INITIAL_STATE}' is the initial state (stage 0, written by the init "
                              f"stage), not a round; start the table with r01: {{prev: {INITIAL_STATE}}}.")
        if not isinstance(spec, dict) or set(spec) != {"prev"}:
            raise ConfigError(f"{entry}: expected {{prev: <previous round>}}, got {spec!r}; write it as "
                              f"{name}: {{prev: {expected_prev}}}.")
        prev = spec["prev"]
        if prev != expected_prev:
            why = ("is null" if prev is None else
                   f"names a round listed after it (a cycle)" if str(prev) in names[names.index(name):] else
                   f"is '{prev}'")
            raise ConfigError(
                f"{entry}: prev {why} but the round before it is '{expected_prev}'. The chain must be "
                f"{INITIAL_STATE} -> first round -> ... in order: write {name}: {{prev: {expected_prev}}} "
                f"(each round continues from the one listed above it).")
        expected_prev = name
