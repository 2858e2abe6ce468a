"""A mixture for targets that are not training domains (benchmark scores, aggregate losses).

:func:`recommend_targets` fits the target law to every target of the objective
(:mod:`jaxmix.fitting.targets`) and chooses between the law's optimum (or the given
candidate mixtures) and the best observed run (:mod:`jaxmix.optimization.targets`).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from jaxmix.fitting.targets import TargetFit, describe_status, fit_targets
from jaxmix.objective import Objective, parse_objective
from jaxmix.optimization.targets import (
    TargetChoice,
    best_run,
    choose,
    covered_by_runs,
    evaluate,
    gains,
    jackknife_se,
    p_beats,
)
from jaxmix.status import InputError
from jaxmix.study.predictions import checked_mixtures
from jaxmix.table import PilotTable

BUDGET_RTOL = 0.05  # runs whose totals differ more than this are not one fixed-budget swarm


def as_objective(table: PilotTable, objective) -> Objective:
    """``objective`` as an :class:`Objective` of ``table``'s targets (``--objective`` text,
    None for the table's only target, or an Objective, returned as it is)."""
    if isinstance(objective, Objective):
        return objective
    return parse_objective(objective, table.targets())  # no domains: never None


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
    names=None, near=None, strength: float = 0.0,
) -> TargetRecommendation:
    """Recommend a mixture for ``objective`` (``--objective`` text or an :class:`Objective`;
    default: the table's only target) from a fixed-budget table of runs.

    ``candidates [J, K]``: mixture weights to choose among (with the best observed run);
    ``names``: their names. ``strength > 0``: stay near the mixture ``near [K]`` (default
    uniform) with the penalty ``strength * KL(w || near)`` on the optimum.

    >>> rng = np.random.default_rng(1)
    >>> w = rng.dirichlet(np.ones(3), 20)
    >>> acc = 0.7 - 0.4 * np.exp(-3.0 * w[:, 2]) + 0.002 * rng.standard_normal(20)
    >>> t = PilotTable(("a", "b", "c"), tuple(map(str, range(20))), 1e6 * w, {},
    ...                scores={"acc": acc})
    >>> rec = recommend_targets(t, "score:acc")
    >>> rec.choice.action in ("move", "shrink", "keep"), round(float(rec.choice.weights.sum()), 9)
    (True, 1.0)
    """
    objective = as_objective(table, objective)
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
    choice = choose(fit, candidates, names=names, near=near, strength=strength)
    warnings += describe_status(fit)
    if choice.status != 0:
        warnings.append(f"the law's optimum is not certified (Frank-Wolfe gap {choice.fw_gap:.1e} "
                        "after the step cap)")
    return TargetRecommendation(fit, choice, tuple(warnings))


class TargetPredictions(NamedTuple):
    """A target fit's predictions at given mixtures (``J`` mixtures, ``T`` targets).

    Attributes:
      columns: the ``T`` target columns; level: the intervals' level; weights: ``[J, K]``.
      predicted: ``[J, T]``; predicted_interval: ``[J, T, 2]`` (the fold fits' spread and the
        target's out-of-fold error); objective: ``[J]``; objective_interval: ``[J, 2]``.
      gain: ``[J]`` predicted objective decrease over the best observed run; gain_se: its
        standard error (as the decision uses it); p_beats: ``[J]`` P(gain > 0).
      covered: ``[J]`` no share beyond the runs' largest (+``COVER_SLACK``).
    """

    columns: tuple
    level: float
    weights: np.ndarray
    predicted: np.ndarray
    predicted_interval: np.ndarray
    objective: np.ndarray
    objective_interval: np.ndarray
    gain: np.ndarray
    gain_se: np.ndarray
    p_beats: np.ndarray
    covered: np.ndarray


def predict_targets(fit: TargetFit, weights, level: float = 0.9) -> TargetPredictions:
    """Predicted targets and objective of a target fit at mixtures ``weights [J, K]``.

    >>> rng = np.random.default_rng(1)
    >>> w = rng.dirichlet(np.ones(3), 20)
    >>> acc = 0.7 - 0.4 * np.exp(-3.0 * w[:, 2]) + 0.002 * rng.standard_normal(20)
    >>> t = PilotTable(("a", "b", "c"), tuple(map(str, range(20))), 1e6 * w, {},
    ...                scores={"acc": acc})
    >>> fit = fit_targets(t, parse_objective("score:acc", t.targets()))
    >>> p = predict_targets(fit, [[0.2, 0.2, 0.6], [0.9, 0.1, 0.0]])
    >>> bool(p.predicted[0, 0] > p.predicted[1, 0]), p.predicted_interval.shape
    (True, (2, 1, 2))
    """
    w = checked_mixtures(weights, len(fit.domains), level)
    ref = fit.weights[best_run(fit)]
    f_full, f_folds, pred, pred_folds = evaluate(fit, np.vstack([ref[None], w]))
    g, se = gains(fit, f_full, f_folds)
    q = NormalDist().inv_cdf(0.5 + level / 2)
    half = q * np.sqrt(jackknife_se(pred_folds[:, 1:]) ** 2 + fit.cv_rmse**2)
    err = fit.objective_rmse if np.isfinite(fit.objective_rmse) else 0.0
    half_obj = q * np.sqrt(jackknife_se(f_folds[:, 1:]) ** 2 + err**2)
    obj = f_full[1:]
    return TargetPredictions(
        columns=fit.objective.columns, level=level, weights=w, predicted=pred[1:],
        predicted_interval=np.stack([pred[1:] - half, pred[1:] + half], axis=-1),
        objective=obj, objective_interval=np.stack([obj - half_obj, obj + half_obj], axis=-1),
        gain=g, gain_se=se, p_beats=p_beats(g, se),
        covered=covered_by_runs(fit, w),
    )
