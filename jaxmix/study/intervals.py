"""Bootstrap intervals of the mixture that is recommended, for any fit (the default
combination included): one interval and one probability per mixture.

The pilots are resampled and the fit's law refitted (a combination's largest member,
:func:`jaxmix.fitting.combined.refit_law`, from the full fit the combination made of it:
:func:`jaxmix.fitting.combined.member_fit`). Each replicate moves
the recommendation by its own optimum's deviation from the full-data optimum, scaled by how
far the recommendation goes from the safe mixture toward the model's optimum (the whole
deviation for a move, none for keep). So ``weights_interval`` is the interval of the weights
the user is told to train, and the optimum's own interval is ``optimum_weights_interval``
when they differ. With a decision, ``p_beats_uniform`` is the decision's probability.
"""

from __future__ import annotations

import numpy as np

from jaxmix.fitting.checks import measured_runs
from jaxmix.fitting.combined import member_fit, refit_law
from jaxmix.fitting.result import FitResult
from jaxmix.fitting.single import fit_law
from jaxmix.optimization.decision import path_fraction
from jaxmix.status import InputError
from jaxmix.study.bootstrap import (
    _baseline_weights,
    _objectives_at,
    _study,
    prepare_replicates,
    replicates,
)
from jaxmix.table import PilotTable


def _fraction(mixture) -> float:
    return path_fraction(mixture.decision, mixture.domains, mixture.weights)


def _moved(center, deviation, lower, upper) -> np.ndarray:
    """``[B, K]`` ``center + deviation`` kept inside the bounds and on the simplex."""
    w = np.clip(center[None] + deviation, lower, upper)
    return w / w.sum(axis=1, keepdims=True)


def recommendation_intervals(
    table: PilotTable,
    fit: FitResult,
    mixture,
    n: int,
    seed: int = 0,
    level: float = 0.9,
    baseline=None,
    progress=None,
    strategy: str = "screen",
    **optimize_kw,
) -> dict:
    """The bootstrap study (the keys ``run --bootstrap`` adds to a mixture file) of
    ``mixture``, the recommendation :func:`optimize` made from ``fit`` (see the module).

    Args:
      table, fit: the pilots (per-domain losses) and their joint fit.
      mixture: ``optimize(fit, budget, **optimize_kw)``.
      n, seed, level, baseline, progress: as :func:`bootstrap`.
      strategy: the multi-start scheme of a combination's member fit (its own extrapolation
        check is skipped: the member's mixture is not the one recommended).
    """
    if fit.method != "joint":
        raise InputError("the bootstrap needs per-domain losses (the joint fit)")
    if n < 2:
        raise InputError(f"n: the bootstrap needs at least 2 resamples, got {n}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    law = refit_law(fit)
    member = _member(table, fit, strategy)
    reps = replicates(
        table, mixture.budget, n, seed, law, progress=progress, fit=member, **optimize_kw
    )
    deviation = reps.weights - np.asarray(reps.mixture.weights)[None]  # [B, K], NaN rows kept
    lower, upper = np.asarray(mixture.lower), np.asarray(mixture.upper)
    rec = _moved(np.asarray(mixture.weights), _fraction(mixture) * deviation, lower, upper)
    imp = np.asarray(mixture.importance)
    f_rec, pred_rec = _objectives_at(reps.params, rec, mixture.budget, imp, law, n)
    base_w = _baseline_weights(fit, baseline)
    f_base, _ = _objectives_at(reps.params, base_w, mixture.budget, imp, law, n)
    study = _study(
        table, reps._replace(weights=rec), pred_rec, f_rec, f_base, n, seed, level, baseline, base_w
    )
    study["bootstrap"]["law"] = law
    return {**study, **_decision_keys(mixture, deviation, level, baseline)}


def _member(table: PilotTable, fit: FitResult, strategy: str, fit_again: bool = True):
    """The fit whose law the bootstrap refits: ``fit``, or a combination's member (kept
    in the fit; a fit file of an earlier jaxmix lacks it: fitted again, or None without
    ``fit_again``)."""
    law = refit_law(fit)
    if law == fit.law:
        return fit
    member = member_fit(fit, measured_runs(table)[0], strategy)
    if member is None and fit_again:
        member = fit_law(
            table, method="joint", law=law, strategy=strategy, check_extrapolation=False
        )
    return member


def prepare_intervals(
    table: PilotTable, fit: FitResult, budget: float, n: int, strategy="screen", **optimize_kw
) -> None:
    """Start compiling the programs of :func:`recommendation_intervals` in the background,
    so that the recommendation itself (``optimize``) is found meanwhile."""
    member = _member(table, fit, strategy, fit_again=False) if fit.method == "joint" else None
    if member is not None and n >= 2:
        prepare_replicates(table, member, n, budget, **optimize_kw)


def _decision_keys(mixture, deviation, level: float, baseline) -> dict:
    """With a decision: the optimum's own interval (when it is not what is recommended) and
    the decision's probability of beating uniform (one probability per mixture)."""
    dec = mixture.decision
    if not dec:
        return {}
    out = {}
    if _fraction(mixture) < 1:
        opt = np.array([dec["optimum"][d] for d in mixture.domains])
        w = _moved(opt, deviation, np.asarray(mixture.lower), np.asarray(mixture.upper))
        q = np.nanquantile(w, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out["optimum_weights_interval"] = {
            d: [float(q[0, i]), float(q[1, i])] for i, d in enumerate(mixture.domains)
        }
    if baseline is None:
        out["p_beats_uniform"] = dec["p_beats_uniform"]
    return out
