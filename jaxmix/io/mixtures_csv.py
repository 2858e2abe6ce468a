"""Tables of mixtures (CSV): the input of ``jaxmix predict``, and its output.

Input: one mixture per row, an optional ``name`` column, and either a ``w:<domain>``
column (shares that sum to one within ``SHARE_SUM_TOL``; rounded shares are renormalized)
or an ``n:<domain>`` column (amounts, whose row sum is the budget) for every domain of the
fit; nothing else.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
>>> _ = path.write_text("name,w:a,w:b\\nhalf,0.5,0.5\\nmostly a,0.9,0.1\\n")
>>> names, weights, budgets = read_mixture_table(path, ("a", "b"))
>>> names, weights.tolist(), budgets
(('half', 'mostly a'), [[0.5, 0.5], [0.9, 0.1]], None)
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from jaxmix.io.pilots import decode_text
from jaxmix.status import InputError

SHARE_SUM_TOL = 1e-4  # w: shares written with 6 decimals over many domains still pass


def read_mixture_table(path, domains) -> tuple[tuple, np.ndarray, np.ndarray | None]:
    """``(names, weights [J, K], budgets [J] or None)`` of a mixture table, validated
    completely (file, line and column in every error); budgets come from ``n:`` columns."""
    try:
        text = decode_text(Path(path).read_bytes(), path)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError("empty file: expected a header with w:<domain> or n:<domain>", path, 1)
    header = [c.strip() for c in rows[0]]
    kind = _kind(header, domains, path)
    cols = [header.index(f"{kind}:{d}") for d in domains]
    name_col = header.index("name") if "name" in header else None
    names, values = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{len(row)} fields, the header has {len(header)}", path, line)
        values.append([_share(row[c], path, line, header[c]) for c in cols])
        names.append(row[name_col].strip() if name_col is not None else f"mixture {len(names) + 1}")
        total = sum(values[-1])
        if kind == "w" and abs(total - 1.0) > SHARE_SUM_TOL:
            raise InputError(f"the shares sum to {total:.10g}, not 1 (+/- {SHARE_SUM_TOL:g})",
                             path, line)
        if kind == "n" and not total > 0:
            raise InputError("the amounts sum to 0", path, line)
    if not values:
        raise InputError("no mixture rows", path)
    a = np.asarray(values, float)
    if kind == "w":
        return tuple(names), a / a.sum(axis=1, keepdims=True), None
    budgets = a.sum(axis=1)
    return tuple(names), a / budgets[:, None], budgets


def _kind(header, domains, path) -> str:
    """``"w"`` or ``"n"``: which columns give the mixtures (checked against the domains)."""
    seen = {p for p in ("w", "n") if any(c.startswith(p + ":") for c in header)}
    if len(seen) != 1:
        raise InputError(
            "give every mixture as w:<domain> shares or as n:<domain> amounts, not "
            + ("both" if seen else "neither"),
            path,
            1,
        )
    kind = seen.pop()
    for c in header:
        if c == "name":
            continue
        if not c.startswith(kind + ":"):
            raise InputError(f"unknown column (expected name or {kind}:<domain>)", path, 1, c)
        if c[2:] not in domains:
            raise InputError(f"unknown domain (the fit's: {', '.join(domains)})", path, 1, c)
    missing = [d for d in domains if f"{kind}:{d}" not in header]
    if missing:
        raise InputError(f"no {kind}: column for {', '.join(missing)}", path, 1)
    if len(set(header)) != len(header):
        raise InputError("a column appears twice", path, 1)
    return kind


def _share(text: str, path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"not a number: {text.strip()!r}", path, line, column) from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"must be a finite number >= 0, got {text.strip()}", path, line, column)
    return value


def predictions_csv(names, out) -> str:
    """The text of ``jaxmix predict``'s output: per mixture its name, budget, shares,
    predicted losses with their interval, and the objective with its interval."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    lo, hi = f"lo{round(100 * out.level)}", f"hi{round(100 * out.level)}"
    header = ["name", "budget"] + [f"w:{d}" for d in out.domains]
    for d in out.domains:
        header += [f"loss:{d}", f"loss:{d}:{lo}", f"loss:{d}:{hi}"]
    writer.writerow(header + ["objective", f"objective:{lo}", f"objective:{hi}"])
    fmt = lambda x: "" if not np.isfinite(x) else f"{x:.10g}"  # noqa: E731
    for j, name in enumerate(names):
        cells = [name, fmt(out.budget[j])] + [fmt(x) for x in out.weights[j]]
        for i in range(len(out.domains)):
            cells += [fmt(out.predicted[j, i])] + [fmt(x) for x in out.predicted_interval[j, i]]
        cells += [fmt(out.objective[j])] + [fmt(x) for x in out.objective_interval[j]]
        writer.writerow(cells)
    return buf.getvalue()
