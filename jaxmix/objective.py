"""What a mixture optimizes: a weighted set of the table's targets.

``--objective COLUMN[=WEIGHT],...`` names ``loss:<name>`` targets (minimized) and
``score:<name>`` targets (maximized); a column may be a pattern (``'loss:*'``,
``'score:mmlu_*'``) that takes every matching target with the given weight. The objective
is ``sum_t weight_t * sign_t * y_t`` with sign +1 for a loss and -1 for a score, minimized.

Without a specification the objective is the paper's (the mean of ``loss:<domain>`` over the
domains) when every domain has its loss column, else the table's only target, else an
:class:`InputError` listing the targets to choose from.
"""

from __future__ import annotations

import fnmatch
import math
from typing import NamedTuple

import numpy as np

from jaxmix.status import InputError


class Objective(NamedTuple):
    """A weighted sum of targets to minimize.

    Attributes:
      columns: ``T`` target columns (``"loss:total"``, ``"score:gsm8k"``).
      weights: ``[T]`` positive weights, as given (not normalized).
      signs: ``[T]`` +1 for a loss (lower is better), -1 for a score (higher is better).
    """

    columns: tuple
    weights: np.ndarray
    signs: np.ndarray

    def value(self, targets) -> np.ndarray:
        """``[...]`` objective of target values ``targets [..., T]`` (lower is better)."""
        return np.asarray(targets, float) @ (self.weights * self.signs)

    def is_domain_losses(self, domains) -> bool:
        """Whether every column is ``loss:<domain>`` of one of ``domains``: the paper's
        per-domain objective with these weights as importances."""
        return all(c.startswith("loss:") and c[5:] in domains for c in self.columns)

    def spec(self) -> str:
        """The objective as ``--objective`` text (round trip).

        >>> parse_objective("score:a=2,loss:b", {"score:a": 0, "loss:b": 0}).spec()
        'score:a=2,loss:b=1'
        """
        return ",".join(f"{c}={w:g}" for c, w in zip(self.columns, self.weights))


def _sign(column: str) -> float:
    return 1.0 if column.startswith("loss:") else -1.0


def parse_objective(spec: str | None, targets, domains=()) -> Objective | None:
    """The objective named by ``spec`` over ``targets`` (the table's target columns).

    Returns None without ``spec`` when every domain has a ``loss:<domain>`` column (the
    paper's objective, which the per-domain laws optimize); else the only target.

    >>> obj = parse_objective("score:*=2,loss:total", ["score:gsm8k", "score:ifeval", "loss:total"])
    >>> obj.columns, obj.weights.tolist(), obj.signs.tolist()
    (('score:gsm8k', 'score:ifeval', 'loss:total'), [2.0, 2.0, 1.0], [-1.0, -1.0, 1.0])
    """
    targets = list(targets)
    if spec is None or not str(spec).strip():
        if domains and all(f"loss:{d}" in targets for d in domains):
            return None
        if len(targets) == 1:
            return Objective((targets[0],), np.ones(1), np.array([_sign(targets[0])]))
        raise InputError(
            "the table's targets are not one loss:<domain> per domain: choose the objective "
            f"with --objective from {', '.join(targets)}"
        )
    columns, weights = [], []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            raise InputError(f"--objective {spec!r} has an empty entry")
        name, _, w = part.partition("=")
        name = name.strip()
        weight = _weight(w, part) if _ else 1.0
        if not name.startswith(("loss:", "score:")):
            raise InputError(
                f"--objective entry {name!r} is not a loss:<name> or score:<name> column"
            )
        matched = fnmatch.filter(targets, name) if any(ch in name for ch in "*?[") else (
            [name] if name in targets else []
        )
        if not matched:
            raise InputError(
                f"--objective {name!r} names no column of the table (targets: "
                f"{', '.join(targets) or 'none'})"
            )
        for col in matched:
            if col in columns:
                raise InputError(f"--objective names {col} twice")
            columns.append(col)
            weights.append(weight)
    return Objective(
        tuple(columns), np.asarray(weights, float), np.array([_sign(c) for c in columns])
    )


def _weight(text: str, part: str) -> float:
    try:
        w = float(text)
    except ValueError:
        raise InputError(f"--objective {part!r}: the weight {text.strip()!r} is not a number") \
            from None
    if not (math.isfinite(w) and w > 0):
        raise InputError(f"--objective {part!r}: the weight must be > 0")
    return w
