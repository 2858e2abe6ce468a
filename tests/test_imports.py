"""The package's import graph: layers import only downward, no cycles, and no private name
crosses a subpackage.

Every module of ``jaxmix`` is parsed with ``ast`` (nothing is imported). An edge A -> B is any
``import``/``from ... import`` of B in A, at module level or inside a function (a lazy import
is still a dependency), so both rules count both kinds. ``from P import name`` is an edge to
the module ``P.name`` when that is a module, else to ``P``. Importing ``jaxmix.a.b`` also runs
the ``__init__`` files of ``jaxmix`` and ``jaxmix.a``; those implicit edges are not counted
(the top-level ``__init__`` re-exports the whole API, so every module would sit on a cycle
through it): the rule is that no module imports a package ``__init__`` explicitly when that
closes a cycle. A module's subpackage is its parent package (``jaxmix`` for top-level
modules); a ``_private`` name (one leading underscore, not a dunder) may be imported only
from a module of the same subpackage.
"""

from __future__ import annotations

import ast
from pathlib import Path

from layers import LAYERS, layer_of

import jaxmix

ROOT = Path(jaxmix.__file__).parent


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str, packages: set[str]) -> str:
    """The subpackage a module belongs to (a package's ``__init__`` belongs to itself)."""
    return module if module in packages else module.rpartition(".")[0]


def _resolve(importer: str, node: ast.ImportFrom, packages: set[str]) -> str:
    if not node.level:
        return node.module or ""
    base = importer if importer in packages else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


def imports(sources: dict[str, str], packages: set[str], top: str = "jaxmix"):
    """``[(importer, imported module, imported name or None, at module level)]`` for every
    import of a module of ``top`` in ``sources`` (``{module name: source text}``)."""
    out = []
    for name, text in sources.items():
        tree = ast.parse(text)
        module_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            level = id(node) in module_level
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == top or alias.name.startswith(top + "."):
                        out.append((name, alias.name, None, level))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, node, packages)
                if target != top and not target.startswith(top + "."):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in sources:
                        out.append((name, sub, None, level))
                    else:
                        out.append((name, target, alias.name, level))
    return out


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def private_crossings(found, packages: set[str]) -> list[str]:
    """``"importer: module.name"`` for each private name imported across subpackages."""
    out = []
    for importer, module, name, _ in found:
        if name is None:
            name, module = module.rpartition(".")[2], module.rpartition(".")[0]
        private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
        if private and package_of(importer, packages) != package_of(module, packages):
            out.append(f"{importer}: {module}.{name}")
    return out


def graph(found) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for importer, module, _, _ in found:
        if module != importer:
            edges.setdefault(importer, set()).add(module)
    return edges


def package_sources(root: Path = ROOT):
    files = sorted(root.rglob("*.py"))
    sources = {module_name(f, root): f.read_text() for f in files}
    packages = {module_name(f, root) for f in files if f.name == "__init__.py"}
    return sources, packages


def test_the_package_has_no_import_cycle():
    sources, packages = package_sources()
    cycle = find_cycle(graph(imports(sources, packages)))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_private_name_is_imported_from_another_subpackage():
    sources, packages = package_sources()
    assert private_crossings(imports(sources, packages), packages) == []


def test_the_checks_find_a_cycle_and_a_private_import():
    packages = {"jaxmix", "jaxmix.a", "jaxmix.b"}
    sources = {
        "jaxmix": "",
        "jaxmix.a": "",
        "jaxmix.b": "",
        "jaxmix.a.one": "from jaxmix.b.two import g\n",
        "jaxmix.a.three": "from jaxmix.a.one import _same_package_is_fine\n",
        "jaxmix.b.two": "def g():\n    from jaxmix.a import one  # lazy: still an edge\n",
        "jaxmix.b.four": (
            "import numpy\nfrom jaxmix.a.three import _helper\nfrom jaxmix import __version__\n"
        ),
    }
    found = imports(sources, packages)
    cycle = find_cycle(graph(found))
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"jaxmix.a.one", "jaxmix.b.two"}
    assert private_crossings(found, packages) == ["jaxmix.b.four: jaxmix.a.three._helper"]
    acyclic = dict(sources, **{"jaxmix.b.two": "def g():\n    pass\n"})
    assert find_cycle(graph(imports(acyclic, packages))) is None
    # A private module imported from another subpackage is a private name too.
    sources["jaxmix.b.five"] = "from jaxmix.a import _hidden\n"
    sources["jaxmix.a._hidden"] = ""
    crossings = private_crossings(imports(sources, packages), packages)
    assert "jaxmix.b.five: jaxmix.a._hidden" in crossings


def test_every_module_is_seen():
    sources, packages = package_sources()
    assert {"jaxmix", "jaxmix.laws.registry", "jaxmix.cli.main"} <= set(sources)
    assert {"jaxmix.laws", "jaxmix.fitting", "jaxmix.optimization"} <= packages
    assert len(imports(sources, packages)) > 50


def upward_imports(found, layers=LAYERS) -> list[str]:
    """``"importer -> module"`` for each import of a higher layer, or of a module no layer
    names (the rule: none)."""
    out = []
    for importer, module, _, _ in found:
        low, high = layer_of(module, layers), layer_of(importer, layers)
        if low is None or high is None or low > high:
            out.append(f"{importer} -> {module}")
    return sorted(set(out))


def test_every_layer_imports_only_its_own_and_those_below():
    sources, packages = package_sources()
    assert all(layer_of(m) is not None for m in sources), "a module in no layer"
    assert upward_imports(imports(sources, packages)) == []


def test_the_layer_rule_finds_an_upward_import():
    layers = (("low", ("jaxmix.a",)), ("high", ("jaxmix.b",)))
    packages = {"jaxmix.a", "jaxmix.b"}
    sources = {
        "jaxmix.a": "",
        "jaxmix.b": "",
        "jaxmix.b.two": "from jaxmix.a.one import f\n",
        "jaxmix.a.one": "def f():\n    from jaxmix.b import two  # lazy: still an edge\n",
        "jaxmix.a.three": "import jaxmix.c\n",
    }
    found = imports(sources, packages)
    assert upward_imports(found, layers) == [
        "jaxmix.a.one -> jaxmix.b.two",
        "jaxmix.a.three -> jaxmix.c",
    ]


MAX_MODULE_LINES = 400  # small files with one idea each; functions are kept short by review


def too_long(sources: dict[str, str]) -> list[str]:
    """Modules over MAX_MODULE_LINES lines."""
    return [
        f"module {name}: {src.count(chr(10))} lines"
        for name, src in sources.items()
        if src.count("\n") > MAX_MODULE_LINES
    ]


def test_modules_stay_small():
    sources, _ = package_sources()
    assert too_long(sources) == []
    assert too_long({"m": "x = 1\n" * (MAX_MODULE_LINES + 1)}) == [
        f"module m: {MAX_MODULE_LINES + 1} lines"
    ]
