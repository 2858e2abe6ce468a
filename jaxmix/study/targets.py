"""A mixture for targets that are not training domains (benchmark scores, aggregate losses).

:func:`recommend_targets` fits the target law to every target of the objective
(:mod:`jaxmix.fitting.targets`) and chooses between the law's optimum (or the given
candidate mixtures) and the best observed run (:mod:`jaxmix.optimization.targets`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxmix.fitting.targets import TargetFit, describe_status, fit_targets
from jaxmix.objective import Objective, parse_objective
from jaxmix.optimization.targets import TargetChoice, choose
from jaxmix.status import InputError
from jaxmix.table import PilotTable

BUDGET_RTOL = 0.05  # runs whose totals differ more than this are not one fixed-budget swarm


class TargetRecommendation(NamedTuple):
    """The fit, the choice, and the warnings of a target objective.

    Attributes:
      fit: :class:`~jaxmix.fitting.targets.TargetFit`; choice:
        :class:`~jaxmix.optimization.targets.TargetChoice`; warnings: plain sentences.
    """

    fit: TargetFit
    choice: TargetChoice
    warnings: tuple


def recommend_targets(
    table: PilotTable, objective: str | Objective | None = None, candidates=None, seed: int = 0,
    names=None,
) -> TargetRecommendation:
    """Recommend a mixture for ``objective`` (``--objective`` text or an :class:`Objective`;
    default: the table's only target) from a fixed-budget table of runs.

    ``candidates [J, K]``: mixture weights to choose among (with the best observed run);
    ``names``: their names.

    >>> rng = np.random.default_rng(1)
    >>> w = rng.dirichlet(np.ones(3), 20)
    >>> acc = 0.7 - 0.4 * np.exp(-3.0 * w[:, 2]) + 0.002 * rng.standard_normal(20)
    >>> t = PilotTable(("a", "b", "c"), tuple(map(str, range(20))), 1e6 * w, {},
    ...                scores={"acc": acc})
    >>> rec = recommend_targets(t, "score:acc")
    >>> rec.choice.action in ("move", "shrink", "keep"), round(float(rec.choice.weights.sum()), 9)
    (True, 1.0)
    """
    if not isinstance(objective, Objective):
        objective = parse_objective(objective, table.targets())  # no domains: never None
    totals = table.amounts.sum(axis=1)
    warnings = []
    if totals.max() > (1 + BUDGET_RTOL) * totals.min():
        warnings.append(
            f"the runs' totals range from {totals.min():g} to {totals.max():g}: the target law "
            "depends on the shares only, so it treats them as one budget"
        )
    if candidates is not None:
        candidates = np.asarray(candidates, float)
        if candidates.ndim != 2 or candidates.shape[1] != len(table.domains):
            raise InputError(
                f"candidates need one share per domain ({len(table.domains)}), got shape "
                f"{candidates.shape}"
            )
        candidates = candidates / candidates.sum(axis=1, keepdims=True)
    fit = fit_targets(table, objective, seed=seed)
    choice = choose(fit, candidates, names=names)
    warnings += describe_status(fit)
    if choice.status != 0:
        warnings.append(f"the law's optimum is not certified (Frank-Wolfe gap {choice.fw_gap:.1e} "
                        "after the step cap)")
    return TargetRecommendation(fit, choice, tuple(warnings))
