"""The pilot table, the type every layer works on, and the paper's perturbation design.

A :class:`PilotTable` is plain data (tuples and numpy arrays): fitting, optimization and the
studies take one; ``jaxmix.io.pilots`` reads, validates and writes them as files.
"""

from __future__ import annotations

import math
from fractions import Fraction
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from jaxmix.status import InputError

DEFAULT_MULTIPLIERS = (Fraction(1, 3), Fraction(1, 2), Fraction(2), Fraction(3))
NO_SCORES = MappingProxyType({})


class PilotTable(NamedTuple):
    """Pilot fine-tuning runs: how much of each domain they saw and the losses measured.

    Attributes:
      domains: the K training domains, in column order.
      runs: ``R`` run ids.
      amounts: ``[R, K]`` float64 amount of each domain in each run (one unit for the table).
      losses: ``{name: [R] float64}`` per ``loss:<name>`` column; NaN where not measured.
      seeds: ``[R]`` int64 replicate seeds, or None when the table has no ``seed`` column.
      path: the file the table came from, for error messages, or None.
      rows: ``R`` row numbers in that file (CSV line or JSON record number).
      scores: ``{name: [R] float64}`` per ``score:<name>`` column (higher is better); NaN
        where not measured.
    """

    domains: tuple
    runs: tuple
    amounts: np.ndarray
    losses: dict
    seeds: np.ndarray | None = None
    path: str | None = None
    rows: tuple = ()
    scores: dict = NO_SCORES

    def targets(self) -> dict:
        """``{"loss:<name>" or "score:<name>": [R]}``: every measured target, losses first."""
        out = {f"loss:{n}": v for n, v in self.losses.items()}
        out.update({f"score:{n}": v for n, v in self.scores.items()})
        return out

    def domain_losses(self) -> np.ndarray:
        """``[R, K]`` per-domain losses ``loss:<domain>`` (NaN where missing or no column)."""
        nan = np.full(len(self.runs), np.nan)
        return np.stack([self.losses.get(d, nan) for d in self.domains], axis=1)

    def row_of(self, r: int):
        return self.rows[r] if self.rows else r + 2


def _multiplier_name(m) -> str:
    """``2`` -> ``"2"``, ``1/3`` -> ``"1of3"`` (no ``/``: run names become folder names)."""
    m = Fraction(m)
    return str(m.numerator) if m.denominator == 1 else f"{m.numerator}of{m.denominator}"


def plan(domains, base: float, multipliers=DEFAULT_MULTIPLIERS) -> PilotTable:
    """The 1 + len(multipliers) * K perturbation design of the paper, losses left empty.

    Run ``base`` has ``base`` of every domain; run ``<d>x<m>`` has ``m * base`` of domain d
    and ``base`` of the others, with a fraction ``p/q`` written ``<p>of<q>`` so that a run
    name is also a valid folder name (tables with older names such as ``ifx1/3`` still read).
    A whole ``base`` of at least 100 (examples, tokens) gives whole amounts (rounded to the
    nearest unit).

    >>> t = plan(["if", "math", "code"], 660000)
    >>> len(t.runs), t.runs[1], t.amounts[1].tolist()
    (13, 'ifx1of3', [220000.0, 660000.0, 660000.0])
    """
    domains = tuple(str(d).strip() for d in domains)
    if len(domains) < 2 or any(not d for d in domains) or len(set(domains)) != len(domains):
        raise InputError(f"need at least 2 distinct, non-empty domain names, got {list(domains)}")
    if not (math.isfinite(base) and base > 0):
        raise InputError(f"base amount must be a positive number, got {base}")
    integral = float(base).is_integer() and base >= 100
    runs, amounts = ["base"], [[float(base)] * len(domains)]
    for i, d in enumerate(domains):
        for m in multipliers:
            row = [float(base)] * len(domains)
            row[i] = float(round(base * m)) if integral else float(base * m)
            if row[i] <= 0:
                raise InputError(f"multiplier {m} of base {base} rounds to zero")
            runs.append(f"{d}x{_multiplier_name(m)}")
            amounts.append(row)
    nan = np.full(len(runs), np.nan)
    return PilotTable(
        domains=domains,
        runs=tuple(runs),
        amounts=np.asarray(amounts),
        losses={d: nan.copy() for d in domains},
    )


def whole_amounts(weights, budget: float) -> np.ndarray:
    """``[K]`` whole amounts summing to ``budget`` (largest remainder).

    >>> whole_amounts(np.array([0.5, 0.25, 0.25]), 10).tolist()
    [5.0, 3.0, 2.0]
    """
    raw = np.asarray(weights, float) * budget
    out = np.floor(raw)
    for i in np.argsort(-(raw - out), kind="stable")[: int(round(budget - out.sum()))]:
        out[i] += 1
    return out
