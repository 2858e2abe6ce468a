"""Budget-aware pilot design: a few runs nearer the budget, and what the pilots cost.

The paper's 1 + 4K pilots sit at a fraction of the budget, so the fitted law extrapolates.
``near_budget`` adds runs at ``fraction * budget``: the base mixture, then the base mixture
with one domain doubled (for the first ``runs - 1`` domains). Costs are counted in
full-budget runs (training compute grows with the amount of data a run sees), next to a
grid search over the 1/8 lattice (one full-budget run per mixture and seed).
"""

from __future__ import annotations

import itertools

import numpy as np

from jaxmix.status import InputError
from jaxmix.table import PilotTable, whole_amounts


def near_budget(table: PilotTable, budget: float, runs: int = 2, fraction: float = 0.5):
    """``table`` plus ``runs`` runs at ``fraction * budget`` (losses empty).

    >>> from jaxmix import plan
    >>> t = near_budget(plan(["a", "b", "c"], 100), 1500, runs=2)
    >>> t.runs[-2:], t.amounts[-1].tolist()
    (('near_base', 'near_ax2'), [375.0, 188.0, 187.0])
    """
    k = len(table.domains)
    if not (np.isfinite(budget) and budget > 0):
        raise InputError(f"--budget must be a positive number, got {budget}")
    if not 1 <= runs <= k + 1:
        raise InputError(f"--near-runs must be between 1 and {k + 1}, got {runs}")
    if not 0 < fraction <= 1:
        raise InputError(f"--near-fraction must be in (0, 1], got {fraction}")
    base = np.asarray(table.amounts[0], float)  # the design's base run
    total = fraction * budget
    names, rows = ["near_base"], [base]
    for i, d in enumerate(table.domains[: runs - 1]):
        row = base.copy()
        row[i] *= 2
        names.append(f"near_{d}x2")
        rows.append(row)
    integral = bool(np.all(np.mod(table.amounts, 1) == 0)) and float(total).is_integer()
    amounts = np.array([whole_amounts(r / r.sum(), total) if integral else r / r.sum() * total
                        for r in rows])  # fmt: skip
    losses = {n: np.concatenate([v, np.full(len(names), np.nan)]) for n, v in table.losses.items()}
    return table._replace(
        runs=table.runs + tuple(names),
        amounts=np.vstack([table.amounts, amounts]),
        losses=losses,
    )


def lattice_size(k: int, steps: int = 8, lo: int = 1, hi: int = 6) -> int:
    """Mixtures on the ``1/steps`` lattice with every weight in ``[lo, hi] / steps``.

    >>> lattice_size(3)
    21
    """
    return sum(
        1 for c in itertools.product(range(lo, hi + 1), repeat=k - 1) if lo <= steps - sum(c) <= hi
    )


def pilot_cost(table: PilotTable, budget: float) -> float:
    """Total data the pilot runs train on, in full-budget runs."""
    return float(table.amounts.sum() / budget)
