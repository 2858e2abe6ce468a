"""Will the fitted law carry from the pilots to the budget? Two checks on the pilots alone.

- Hold-out: refit without each domain's largest-amount pilot runs and predict them; an error
  far above the in-sample error means the law does not extrapolate in the direction the
  budget goes.
- Steepening: a domain whose measured loss falls clearly faster between its two largest
  pilot levels than the law fitted without them predicts is bending where the law does not
  ("clearly": by a ratio, and by more than the pilots' noise explains).
"""

from __future__ import annotations

import numpy as np

HOLDOUT_RATIO = 3.0  # extrapolation error this many times the in-sample error warns
HOLDOUT_FLOOR = 0.005  # ... and at least this relative error
STEEPENING_RATIO = 1.2  # measured |log-log slope| this many times the fitted one warns,
STEEPENING_Z = 3.0  # ... and this many standard errors of the measured slope beyond it


def _top_slope(values, own, levels) -> float:
    """Log-log slope of the mean of ``values`` between the two largest ``levels`` of ``own``."""
    at = [values[own == v].mean() for v in levels[-2:]]
    return float(np.diff(np.log(at))[0] / np.diff(np.log(levels[-2:]))[0])


def slope_se(noise: float, own, levels) -> float:
    """Standard error of :func:`_top_slope` from relative noise ``noise`` per run: each
    level's mean has ``noise / sqrt(runs)``, and the slope divides their log difference."""
    counts = [np.sum(own == v) for v in levels[-2:]]
    return float(noise * np.sqrt(sum(1.0 / c for c in counts)) / np.diff(np.log(levels[-2:]))[0])


def steepening(table, y, pred, base, noise=None) -> tuple[dict, list]:
    """Log-log slope of each domain's own-data curve (others at base) between its two
    largest pilot levels, measured (``y [R, K]``) and as predicted by ``pred [R, K]``
    (the law fitted without the largest pilots). It warns when the measured slope is
    steeper by ``STEEPENING_RATIO`` and by ``STEEPENING_Z`` of its standard errors under
    the pilots' relative ``noise [K]`` (None: the ratio alone)."""
    report, warnings = {}, []
    for i, d in enumerate(table.domains):
        others = [j for j in range(len(table.domains)) if j != i]
        rows = np.where(
            np.all(table.amounts[:, others] == base[others], axis=1) & np.isfinite(y[:, i])
        )[0]
        levels = np.unique(table.amounts[rows, i])
        if len(levels) < 3:
            continue
        own = table.amounts[rows, i]
        measured = _top_slope(y[rows, i], own, levels)
        fitted = _top_slope(pred[rows, i], own, levels)
        se = 0.0 if noise is None else slope_se(float(noise[i]), own, levels)
        report[d] = {"slope_measured": measured, "slope_fitted": fitted, "slope_se": se}
        beyond = abs(measured) - abs(fitted) > STEEPENING_Z * se
        if measured < 0 and abs(measured) > STEEPENING_RATIO * abs(fitted) and beyond:
            warnings.append(
                f"{d}: at the largest pilots the loss falls faster than the fitted law "
                f"(log-log slope {measured:.3g} against {fitted:.3g}, +/- {se:.2g} from "
                "the pilots' noise); the law will "
                "under-predict gains at a larger budget"
            )
    return report, warnings


def pilot_noise(residuals, params: int) -> np.ndarray:
    """``[K]`` relative noise per run of each domain: the rms of the fit's relative
    residuals ``[R, K]``, corrected for the ``params`` fitted per domain."""
    res = np.asarray(residuals, float)
    n = np.sum(np.isfinite(res), axis=0)
    rms = np.sqrt(np.nanmean(res**2, axis=0))
    return rms * np.sqrt(n / np.maximum(n - params, 1))


def holdout_rows(table) -> np.ndarray:
    """``[R]`` runs holding some domain's largest amount (above that domain's minimum)."""
    top = table.amounts.max(axis=0)
    low = table.amounts.min(axis=0)
    return np.any((table.amounts == top) & (top > low), axis=1)


def holdout_report(table, y, held, pred_held, residuals) -> tuple[dict, list]:
    """Per-domain error of predicting each domain's largest-amount runs from the others."""
    report, warnings = {}, []
    top = table.amounts.max(axis=0)
    for i, d in enumerate(table.domains):
        own = held & (table.amounts[:, i] == top[i]) & np.isfinite(y[:, i])
        if not own.any():
            continue
        err = float(np.mean(np.abs(pred_held[own, i] / y[own, i] - 1)))
        inside = float(np.sqrt(np.nanmean(residuals[:, i] ** 2)))
        report[d] = {
            "extrapolation_error": err,
            "interpolation_error": inside,
            "held_out_runs": [table.runs[r] for r in np.where(own)[0]],
        }
        if err > max(HOLDOUT_RATIO * inside, HOLDOUT_FLOOR):
            warnings.append(
                f"{d}: fitted without its largest pilots, the law misses them by "
                f"{100 * err:.2f}% (in-sample {100 * inside:.2f}%): it may not extrapolate "
                "to the budget"
            )
    return report, warnings
