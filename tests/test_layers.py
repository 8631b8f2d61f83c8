"""The package layers hold: no import cycle between project modules, no import that runs up the
layers, and no import of another module's private (`_x`) names.

Layers, lowest first (a module may import its own package and any lower layer; packages on one
layer do not import each other):

    0 src.core
    1 src.data, src.models
    2 src.generate, src.contrastive
    3 src.active
    4 src.report
    5 stages, bench, src.check, src.ci  (runnables on top)

Every import counts, at module level or inside a function: a lazy import still makes the graph.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("src", "stages", "bench")
LAYERS = {
    "src.core": 0,
    "src.data": 1, "src.models": 1,
    "src.generate": 2, "src.contrastive": 2,
    "src.active": 3,
    "src.report": 4,
    "stages": 5, "bench": 5, "src.check": 5, "src.ci": 5,
}


def find_modules(root: Path, tops=SCANNED) -> dict[str, Path]:
    """Dotted module name -> file, for every .py below the `tops` folders of `root`."""
    modules = {}
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from ... import` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, str | None]]:
    """(imported project module, line, private name or None) for every import in `path`.

    `from a.b import c` counts as importing a.b.c when that is a module, else a.b (c then is a
    name of a.b, private when it starts with `_`). `m._x` on a name bound to an imported project
    module counts as a private name of it too."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found, bound = [], {}

    def project(name):
        """The longest project module that `name` is or lies in (None outside the project)."""
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in modules:
                return ".".join(parts[:n])
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = project(alias.name)
                if target is None:
                    continue
                found.append((target, node.lineno, None))
                if alias.asname and target == alias.name:
                    bound[alias.asname] = target
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in modules:
                    found.append((full, node.lineno, None))
                    bound[alias.asname or alias.name] = full
                elif base in modules:
                    private = alias.name if _private(alias.name) else None
                    found.append((base, node.lineno, private))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bound and _private(node.attr)):
            found.append((bound[node.value.id], node.lineno, node.attr))
    return [(target, line, private) for target, line, private in found if target != module]


def layer_of(module: str, layers=LAYERS) -> tuple[str, int] | None:
    """(package, layer) of the longest entry of `layers` that `module` is or lies in."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in layers:
            return name, layers[name]
    return None


def build_graph(root: Path, tops=SCANNED):
    modules = find_modules(root, tops)
    graph = {m: {} for m in modules}  # importer -> {imported: [(line, private)]}
    for module, path in modules.items():
        for target, line, private in imports_of(module, path, modules):
            graph[module].setdefault(target, []).append((line, private))
    return modules, graph


def find_cycles(graph: dict) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), each as a
    closed path a -> b -> ... -> a."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for component in components:
        start = min(component)
        # shortest way back to `start` inside the component (breadth first)
        previous, frontier, end = {start: None}, [start], None
        while frontier and end is None:
            following = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w == start:
                        end = v
                        break
                    if w in component and w not in previous:
                        previous[w] = v
                        following.append(w)
                if end is not None:
                    break
            frontier = following
        path, v = [], end
        while v is not None:
            path.append(v)
            v = previous[v]
        cycles.append(path[::-1] + [start])
    return sorted(cycles)


def upward_imports(graph: dict, layers=LAYERS) -> list[str]:
    problems = []
    for importer, targets in sorted(graph.items()):
        own = layer_of(importer, layers)
        for target, uses in sorted(targets.items()):
            their = layer_of(target, layers)
            if own is None or their is None:
                problems.append(f"{importer} -> {target}: a module outside the layers {sorted(layers)}")
            elif own[0] != their[0] and their[1] >= own[1]:
                problems.append(f"{importer} (line {uses[0][0]}, {own[0]}: layer {own[1]}) imports "
                                f"{target} ({their[0]}: layer {their[1]})")
    return problems


def private_imports(graph: dict) -> list[str]:
    return [f"{importer} (line {line}) uses private name {private} of {target}"
            for importer, targets in sorted(graph.items())
            for target, uses in sorted(targets.items())
            for line, private in sorted(uses, key=lambda use: use[0]) if private]


# --- the project --------------------------------------------------------------------------------

def test_no_import_cycles():
    _, graph = build_graph(ROOT)
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_upward_imports():
    _, graph = build_graph(ROOT)
    problems = upward_imports(graph)
    assert not problems, "imports that run up (or across) the layers:\n" + "\n".join(problems)


def test_no_private_names_across_modules():
    _, graph = build_graph(ROOT)
    problems = private_imports(graph)
    assert not problems, "private names used from another module:\n" + "\n".join(problems)


def test_every_module_has_a_layer():
    modules = find_modules(ROOT)
    assert modules, "no modules found"
    assert [m for m in modules if m != "src" and layer_of(m) is None] == []


# --- the checker itself, on a planted package ------------------------------------------------------

def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_finds_a_planted_cycle_through_a_lazy_import(tmp_path):
    _plant(tmp_path, {
        "src/__init__.py": "",
        "src/core/__init__.py": "",
        "src/core/a.py": "from src.core import b\n",
        "src/core/b.py": "def f():\n    from .c import g\n",   # lazy and relative: still an edge
        "src/core/c.py": "import src.core.a\n",
        "src/core/d.py": "from src.core.a import x\n",          # imports a, outside the cycle
    })
    _, graph = build_graph(tmp_path, ("src",))
    assert find_cycles(graph) == [["src.core.a", "src.core.b", "src.core.c", "src.core.a"]]


def test_checker_finds_upward_and_sideways_imports(tmp_path):
    _plant(tmp_path, {
        "src/__init__.py": "",
        "src/core/__init__.py": "",
        "src/core/low.py": "X = 1\n",
        "src/data/__init__.py": "",
        "src/data/verify.py": "from src.generate.ambiguous import rule\nfrom src.core.low import X\n",
        "src/models/__init__.py": "",
        "src/models/net.py": "from src.data import verify\n",
        "src/generate/__init__.py": "",
        "src/generate/ambiguous.py": "from src.data.verify import check\n",
    })
    _, graph = build_graph(tmp_path, ("src",))
    problems = upward_imports(graph)
    assert problems == [
        "src.data.verify (line 1, src.data: layer 1) imports src.generate.ambiguous (src.generate: layer 2)",
        "src.models.net (line 1, src.models: layer 1) imports src.data.verify (src.data: layer 1)",
    ]
    assert find_cycles(graph) == [["src.data.verify", "src.generate.ambiguous", "src.data.verify"]]


def test_checker_finds_private_names(tmp_path):
    _plant(tmp_path, {
        "src/__init__.py": "",
        "src/report/__init__.py": "",
        "src/report/table2.py": "def _fmt(x):\n    return x\n",
        "src/report/results.py": "from src.report.table2 import _fmt\n",
        "src/report/tune.py": "from src.report import table2\nprint(table2._fmt(1), table2.__name__)\n",
        "src/report/fine.py": "from src.report.table2 import __doc__\n",
    })
    _, graph = build_graph(tmp_path, ("src",))
    assert private_imports(graph) == [
        "src.report.results (line 1) uses private name _fmt of src.report.table2",
        "src.report.tune (line 2) uses private name _fmt of src.report.table2",
    ]
