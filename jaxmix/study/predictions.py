"""Predictions at given mixtures, with intervals: what ``jaxmix predict`` prints.

A combination fit (the default) keeps its fold fits; the spread of their predictions is a
grouped jackknife of the model's prediction at each mixture, and ``level`` intervals are
``prediction +- z se``. A single-law fit has no fold fits: its intervals are NaN.

>>> import jaxmix
>>> fit = jaxmix.from_params({"a": dict(C=1, k=0.5, alpha=0.5, beta=0.3, E=1),
...                           "b": dict(C=1, k=0.5, alpha=0.5, beta=0.3, E=1)})
>>> out = predict_mixtures(fit, [[0.5, 0.5], [0.9, 0.1]], 10.0)
>>> out.predicted.shape, bool(out.objective[0] < out.objective[1])
((2, 2), True)
"""

from __future__ import annotations

import statistics
from typing import NamedTuple

import numpy as np

from jaxmix.fitting.combined import stored_combination
from jaxmix.fitting.result import FitResult, predict
from jaxmix.fitting.stacking import fold_predictions
from jaxmix.optimization.constraints import importance_weights
from jaxmix.status import InputError


class MixturePredictions(NamedTuple):
    """The model's predictions at ``J`` mixtures.

    Attributes:
      domains: the fit's domains. level: the interval level.
      weights: ``[J, K]``; budget: ``[J]`` total amounts.
      predicted: ``[J, K]`` predicted losses; predicted_interval: ``[J, K, 2]``.
      objective: ``[J]`` importance-weighted sum; objective_interval: ``[J, 2]``.
    """

    domains: tuple
    level: float
    weights: np.ndarray
    budget: np.ndarray
    predicted: np.ndarray
    predicted_interval: np.ndarray
    objective: np.ndarray
    objective_interval: np.ndarray


def predict_mixtures(
    fit: FitResult, weights, budget, importance=None, level: float = 0.9
) -> MixturePredictions:
    """Predicted losses and objective of ``fit`` at ``weights [J, K]`` (rows sum to one)
    and ``budget`` (one number or ``[J]``), with ``level`` intervals from the fold fits.

    Args:
      fit: a :class:`FitResult` (a combination's fold fits give the intervals).
      weights: ``[J, K]`` mixtures. budget: total amount N, shared or per mixture.
      importance: ``{domain: weight}`` of the objective (default 1 each).
      level: interval level in (0, 1).
    """
    w = checked_mixtures(weights, len(fit.domains), level)
    n = np.broadcast_to(np.asarray(budget, float), (len(w),)).copy()
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise InputError("budget: must be > 0")
    imp = importance_weights(fit, importance)
    amounts = w * n[:, None]
    pred = np.asarray(predict(fit, amounts))
    obj = pred @ imp
    half, half_obj = _jackknife_halfwidths(fit, amounts, imp, level)
    return MixturePredictions(
        domains=tuple(fit.domains),
        level=level,
        weights=w,
        budget=n,
        predicted=pred,
        predicted_interval=np.stack([pred - half, pred + half], axis=-1),
        objective=obj,
        objective_interval=np.stack([obj - half_obj, obj + half_obj], axis=-1),
    )


def checked_mixtures(weights, k: int, level: float) -> np.ndarray:
    """``[J, K]`` the mixtures, after one-line errors for a bad ``level`` or mixture."""
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    w = np.atleast_2d(np.asarray(weights, float))
    if w.shape[1] != k:
        raise InputError(f"weights: {w.shape[1]} columns for {k} domains")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or np.any(np.abs(w.sum(axis=1) - 1) > 1e-6):
        raise InputError("weights: every mixture needs shares >= 0 that sum to 1")
    return w


def _jackknife_halfwidths(fit: FitResult, amounts, imp, level: float):
    """``([J, K], [J])`` half-widths ``z se`` of the grouped jackknife over the fold fits
    (NaN without them)."""
    stored = stored_combination(fit)
    nan = np.full(amounts.shape, np.nan), np.full(len(amounts), np.nan)
    if stored is None:
        return nan
    comb = stored[0]
    if comb.held.shape[0] < 2:
        return nan
    per_fold = fold_predictions(comb, len(fit.domains), amounts)  # [F, J, K]
    f = len(per_fold)
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    se = lambda x: np.sqrt((f - 1) / f * np.sum((x - x.mean(axis=0)) ** 2, axis=0))  # noqa: E731
    return z * se(per_fold), z * se(per_fold @ imp)
