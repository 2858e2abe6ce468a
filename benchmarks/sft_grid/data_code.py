"""Code domain: Python standard-library functions as instruction -> response pairs.

Instruction: the signature and the first line of the docstring.
Response: the function body after the docstring, dedented.
Source: the `.py` files of the running interpreter's standard library
(top level and one package level; tests, idlelib and lib2to3 excluded).
"""

import ast
import sysconfig
import textwrap
from pathlib import Path

SKIP = ("test", "idlelib", "lib2to3", "site-packages", "ensurepip", "turtledemo")


def stdlib_files() -> list[Path]:
    """Sorted standard-library source files used by the code domain."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py")) + sorted(root.glob("*/*.py"))
    return [f for f in files if not any(s in f.relative_to(root).parts[0] for s in SKIP)]


def _pairs_from_source(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines()
    out = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef) or len(node.body) < 2:
            continue
        doc = ast.get_docstring(node)
        if not doc or not doc.strip():
            continue
        first = doc.strip().splitlines()[0].strip()
        body = textwrap.dedent("\n".join(lines[node.body[1].lineno - 1 : node.end_lineno]))
        if len(body) < 16:
            continue
        out.append((f"def {node.name}({ast.unparse(node.args)}): {first}", body))
    return out


def code_pairs(files: list[Path] | None = None) -> list[tuple[str, str]]:
    """All (instruction, response) pairs of `files` (default: stdlib_files()), in order."""
    pairs = []
    for f in stdlib_files() if files is None else files:
        try:
            pairs += _pairs_from_source(f.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
    return pairs
