"""jaxmix's layers, bottom to top, and a tracer of the calls that cross them.

A module belongs to the first layer that names it or a package above it. A layer imports only
its own layer and those below (``tests/test_imports.py``); at run time a lower layer calls a
higher one only through a function it was handed (the export cache tracing the program it is
given, a minimizer calling its objective), never by name (``tests/test_layers.py``).

Run it to see the calls of one command, e.g.::

    python tests/layers.py run jaxmix/examples/sft_pilots.csv -o /tmp/m.json
"""

from __future__ import annotations

import collections
import functools
import sys
from pathlib import Path

LAYERS = (
    ("core", ("jaxmix.status", "jaxmix.version", "jaxmix.table", "jaxmix.objective",
              "jaxmix.compiles")),
    ("laws", ("jaxmix.laws",)),
    ("programs", ("jaxmix.aot", "jaxmix.cache")),
    ("fitting", ("jaxmix.fitting",)),
    ("optimization", ("jaxmix.optimization",)),
    ("study", ("jaxmix.study",)),
    ("io", ("jaxmix.io",)),
    ("report", ("jaxmix.report",)),
    ("cli", ("jaxmix.cli",)),
    ("api", ("jaxmix", "jaxmix.warmup", "jaxmix.__main__")),
)


def layer_of(module: str, layers=LAYERS) -> int | None:
    """Index of ``module``'s layer in ``layers`` (None when no layer names it).

    >>> layer_of("jaxmix.fitting.newton"), layer_of("jaxmix"), layer_of("jaxmix.other")
    (3, 9, None)
    """
    for i, (_, prefixes) in enumerate(layers):
        for p in prefixes:
            if module == p or (p != "jaxmix" and module.startswith(p + ".")):
                return i
    return None


def _holds(obj, code, depth: int = 0) -> bool:
    """Whether ``obj`` is, wraps (partial, ``__wrapped__``, closure) the function ``code``."""
    if depth > 4 or obj is None:
        return False
    if getattr(obj, "__code__", None) is code:
        return True
    if isinstance(obj, functools.partial):
        return _holds(obj.func, code, depth + 1) or any(
            _holds(a, code, depth + 1) for a in obj.args
        )
    if _holds(getattr(obj, "__wrapped__", None), code, depth + 1):
        return True
    cells = getattr(obj, "__closure__", None) or ()
    return any(_holds(_contents(c), code, depth + 1) for c in cells)


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


class Crossings:
    """Calls into jaxmix during :meth:`trace`, and those that climb a layer.

    Attributes:
      calls: how many calls entered a jaxmix function.
      handed: ``Counter[(caller, callee)]`` of climbs through a function the caller was given.
      by_name: the same for every other climb (the rule: none).
    """

    def __init__(self, root: Path):
        self.root = root.parent
        self.calls = 0
        self.handed = collections.Counter()
        self.by_name = collections.Counter()
        self._modules = {}

    def module(self, filename: str) -> str | None:
        if filename not in self._modules:
            name = None
            path = Path(filename)
            if path.is_relative_to(self.root / "jaxmix"):
                parts = list(path.relative_to(self.root).with_suffix("").parts)
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            self._modules[filename] = name
        return self._modules[filename]

    def _on_call(self, frame, event, arg):
        if event != "call" or (callee := self.module(frame.f_code.co_filename)) is None:
            return
        self.calls += 1
        caller = frame.f_back
        while caller is not None and self.module(caller.f_code.co_filename) is None:
            caller = caller.f_back
        if caller is None:
            return
        above = self.module(caller.f_code.co_filename)
        if layer_of(callee) <= layer_of(above):
            return
        key = (f"{above}.{caller.f_code.co_name}", f"{callee}.{frame.f_code.co_name}")
        given = any(_holds(v, frame.f_code) for v in caller.f_locals.values())
        (self.handed if given else self.by_name)[key] += 1

    def trace(self, fn, *args):
        """``fn(*args)`` with every call into jaxmix recorded; returns its result."""
        previous = sys.getprofile()
        sys.setprofile(self._on_call)
        try:
            return fn(*args)
        finally:
            sys.setprofile(previous)

    def table(self) -> str:
        lines = [f"calls into jaxmix: {self.calls}"]
        for label, counts in (
            ("through a handed function", self.handed),
            ("by name", self.by_name),
        ):
            lines.append(f"climbs {label}: {sum(counts.values())}")
            lines += [f"  {n:4d}  {a} -> {b}" for (a, b), n in counts.most_common()]
        return "\n".join(lines)


if __name__ == "__main__":
    import jaxmix
    from jaxmix.cli.main import main

    crossings = Crossings(Path(jaxmix.__file__).parent)
    code = crossings.trace(main, sys.argv[1:])
    print(crossings.table())
    sys.exit(code)
