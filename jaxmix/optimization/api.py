"""``optimize``: the mixture that minimizes the predicted objective of a fit at a budget,
with its certificate and warnings and, for the default combined fit, the decision against the
safe mixture. The solver is :mod:`.solve`; the bounds come from :mod:`.constraints`; the
certificate and the warnings from :mod:`.certify`; the decision from :mod:`.decision`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.combined import holdout_variant
from jaxmix.fitting.result import FitResult
from jaxmix.laws.registry import get_law
from jaxmix.laws.repetition import R_STAR
from jaxmix.optimization.certify import (
    certify,
    extrapolation_warnings,
    sensitivity_warnings,
    unit_warnings,
)
from jaxmix.optimization.constraints import (
    binding,
    constraints,
    importance_weights,
    needs_caps,
    repetition_notes,
    requested,
    unique_amounts,
)
from jaxmix.optimization.decision import decision_for, path_fraction
from jaxmix.optimization.solve import Solution, predictor, select, solve
from jaxmix.status import InputError


class Mixture(NamedTuple):
    """A recommended mixture and how it was obtained.

    Attributes:
      domains: K names. budget: total amount N.
      weights, amounts, predicted: ``[K]`` weights, ``weights * budget``, predicted losses.
      objective: ``sum(importance * predicted)``.
      importance, lower, upper: ``[K]`` the objective's weights and the bounds used.
      binding: K labels, ``"min"``, ``"max"``, ``"fixed"`` or ``""``.
      uniform_predicted: ``[K]`` predicted losses of the uniform mixture; uniform_objective.
      certificate: ``{"convex", "frank_wolfe_gap", "restarts", "restarts_at_best"}``, plus
        ``{"exact_weights", "exact_objective", "gap", "max_weight_diff"}`` for a separable
        law. ``convex`` is true only when the problem solved is convex (a law of the
        proportions with repeated data is not); then the Frank-Wolfe gap bounds the excess
        objective. Otherwise the gap only measures stationarity, and the mixture is the best
        of ``restarts`` local solutions (``restarts_at_best`` of them reached it).
      restart_status: ``[R]`` status of every restart; warnings: one-line messages.
      decision: for a combined fit with its fold fits, the decision against the safe
        mixture (:func:`jaxmix.optimization.decision.decision_for`): ``weights`` is then the
        recommendation (the optimum, part of the way to it, or the safe mixture) and
        ``decision["optimum"]`` the model's optimum. None otherwise.
      constraints: the bounds and availability as requested (``min_weight``, ``max_weight``,
        ``fix``, ``available``, ``max_epochs``, ``repetition``), so that the mixture can be
        re-solved at another budget with the same caps (``lower``/``upper`` hold only this
        budget's weights).
    """

    domains: tuple
    budget: float
    weights: np.ndarray
    amounts: np.ndarray
    predicted: np.ndarray
    objective: float
    importance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    binding: tuple
    uniform_predicted: np.ndarray
    uniform_objective: float
    certificate: dict | None
    restart_status: np.ndarray
    warnings: tuple = ()
    constraints: dict | None = None
    decision: dict | None = None


def optimize(
    fit: FitResult,
    budget: float,
    importance=None,
    min_weight=None,
    max_weight=None,
    fix=None,
    available=None,
    max_epochs: float | None = None,
    restarts: int = 8,
    seed: int = 0,
    repetition: bool = False,
    r_star: float = R_STAR,
    candidates=None,
) -> Mixture:
    """The mixture of ``budget`` (pilot units) minimizing the predicted objective.

    Args:
      fit: a :class:`FitResult` (from :func:`fit`, :func:`read_fit` or :func:`from_params`).
      budget: total amount N, in the unit of the pilot amounts.
      importance: ``{domain: weight}`` of each loss in the objective (default 1 each; one
        non-zero domain gives the domain-specific optimum).
      min_weight, max_weight, fix: ``{domain: weight}`` bounds.
      available: ``{domain: amount}`` of data that exists; with ``max_epochs`` (default 1)
        it caps ``w_i * budget <= max_epochs * available_i``.
      restarts, seed: random restarts of the gradient solver.
      repetition, r_star: treat ``available`` as unique data that may be repeated: amounts
        beyond it count as repetition-aware effective data (:func:`effective_amounts`)
        instead of being capped (unless ``max_epochs`` is also given).
      candidates: ``[J, K]`` shares: the answer is one of these mixtures (those within the
        bounds), the one the decision chooses against the safe mixture for a combined fit
        (``decision["candidate"]`` its row; None: the safe mixture kept), else the one with
        the lowest predicted objective. ``decision["optimum"]`` is still the free optimum.

    >>> from jaxmix import from_params
    >>> fit = from_params({"a": dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1),
    ...                    "b": dict(C=2, k=0.3, alpha=0.5, beta=0.3, E=1)})
    >>> m = optimize(fit, 10.0, max_weight={"b": 0.55})
    >>> [round(float(w), 3) for w in m.weights], m.binding
    ([0.45, 0.55], ('', 'max'))
    """
    law = get_law(fit.law)
    budget = _checked_budget(budget)
    given = dict(importance=importance, min_weight=min_weight, max_weight=max_weight, fix=fix,
                 available=available, max_epochs=max_epochs, restarts=restarts, seed=seed,
                 repetition=repetition, r_star=r_star)
    setup = _problem(fit, budget, **given)
    cands, rows = _checked_candidates(candidates, fit, setup)
    dt = jnp.result_type(float)
    params = jax.tree.map(lambda x: jnp.asarray(x, dt), fit.params)
    sol = _solve_compiled(fit, params, budget, setup, seed, restarts, r_star)
    weights, predicted, _ = select(sol)
    certificate, warnings = _warnings(law, fit, sol, setup, weights, predicted, budget, given)
    optimum = weights
    decision, weights, predicted = _decided(law, fit, params, budget, setup, weights, predicted,
                                            cands)
    if decision is not None and decision.get("candidate") is not None:
        decision["candidate"] = int(rows[decision["candidate"]])  # the caller's row
    move = 1.0 if decision is None else path_fraction(decision, fit.domains, weights)
    if cands is None:  # a candidate's weights do not move with the fit
        warnings += _sensitivity(fit, budget, given, optimum, weights, move)
    return _mixture(
        fit, budget, weights, predicted, setup, sol, certificate, warnings, decision, given
    )


def _decided(law, fit, params, budget, setup, weights, predicted, candidates=None):
    """``(decision, weights, predicted)``: for a combination with its fold fits, the
    decision against the safe mixture and the recommendation's weights and losses; else
    ``(None, weights, predicted)``: unchanged, or the candidate predicted best."""
    dt = jnp.result_type(float)
    losses = jax.vmap(predictor(law, params, jnp.asarray(budget, dt)))
    decision = None
    if setup.unique is None and "(" in fit.law:
        decision = decision_for(fit, weights, budget, setup.imp, setup.lower, setup.upper,
                                candidates)
    if decision is not None:
        weights = np.asarray([decision["weights"][d] for d in fit.domains])
    elif candidates is not None:
        pred = np.asarray(losses(jnp.asarray(candidates, dt)), dtype=float)
        weights = candidates[int(np.nanargmin(pred @ setup.imp))]
    else:
        return None, weights, predicted
    predicted = np.asarray(losses(jnp.asarray(weights[None], dt))[0], dtype=float)
    return decision, weights, predicted


def _checked_candidates(candidates, fit, setup):
    """``(shares [J', K], rows [J'])``: the candidates within the bounds and their rows,
    checked; ``(None, None)`` if none are given."""
    if candidates is None:
        return None, None
    c = np.asarray(candidates, float)
    k = len(fit.domains)
    if c.ndim != 2 or c.shape[1] != k or not len(c):
        raise InputError(f"candidates must be a [J, {k}] array of shares, got shape {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(np.abs(c.sum(axis=1) - 1) > 1e-6):
        raise InputError("candidates must be finite shares >= 0 that sum to 1 per row")
    if setup.unique is not None:
        raise InputError("candidates: not with repetition (the answer would not be checked "
                         "against the repeated data)")
    inside = np.all((c >= setup.lower - 1e-9) & (c <= setup.upper + 1e-9), axis=1)
    if not inside.any():
        raise InputError(f"none of the {len(c)} candidates is within the bounds")
    return c[inside], np.flatnonzero(inside)


def _warnings(law, fit, sol, setup, weights, predicted, budget, given):
    """``(certificate, warnings)`` of the solved mixture, warnings in the order shown."""
    certificate, warnings = certify(law, fit, sol, setup.unique is not None)
    if setup.unique is not None:
        warnings += repetition_notes(fit.domains, weights * budget, setup.unique, given["r_star"])
    if not (np.isfinite(float(sol.objective)) and np.all(np.isfinite(predicted))):
        raise InputError(
            f"the predicted losses at budget {budget:g} are not finite numbers (the fit's "
            "parameters or the budget overflow floating point); no mixture is recommended"
        )
    warnings = unit_warnings(fit, budget) + warnings
    warnings += extrapolation_warnings(fit, weights * budget)
    return certificate, warnings


def _sensitivity(fit, budget, given, optimum, weights, move: float) -> list[str]:
    """Whether the recommendation ``weights`` rests on the largest pilots: it moves by
    ``move`` times the change of the optimum when the fit leaves them out (``move``: how
    far the recommendation goes from the safe mixture toward ``optimum``; 0 keeps the safe
    mixture, which rests on no fit)."""
    held = (fit.diagnostics or {}).get("holdout_params")
    alt_params = holdout_variant(fit, held) if held else None
    if alt_params is None or move <= 0:
        return []
    try:  # the same problem, fitted without each domain's largest pilots
        alt = optimize(fit._replace(params=alt_params, diagnostics=None), budget, **given)
    except InputError:  # the hold-out fit overflows here: nothing to compare with
        return []
    return sensitivity_warnings(weights + move * (alt.weights - optimum), weights)


class _Problem(NamedTuple):
    """The checked inputs of one ``optimize`` call."""

    imp: np.ndarray  # [K] objective weights
    unique: np.ndarray | None  # [K] unique data per domain (repetition), or None
    caps: dict | None  # the availability that caps the weights
    epochs: float  # max epochs over the available data
    lower: np.ndarray  # [K] weight bounds
    upper: np.ndarray


def _checked_budget(budget) -> float:
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise InputError(f"budget must be a number, got {budget!r}") from None
    if not (np.isfinite(budget) and budget > 0):
        raise InputError(f"budget must be a positive number, got {budget}")
    return budget


def _problem(fit, budget, importance, min_weight, max_weight, fix, available, max_epochs,
             restarts, seed, repetition, r_star) -> _Problem:
    """Objective weights and bounds from the options, checked (in this order)."""
    imp = importance_weights(fit, importance)
    unique, caps = None, available
    if repetition:
        unique = unique_amounts(fit, available, r_star)
        caps = available if max_epochs is not None else None
    epochs = 1.0 if max_epochs is None else max_epochs
    lower, upper = constraints(fit, budget, min_weight, max_weight, fix, caps, epochs)
    if restarts < 1:
        raise InputError(f"restarts must be >= 1, got {restarts}")
    return _Problem(imp, unique, caps, epochs, lower, upper)


def _solve_compiled(fit, params, budget, setup: _Problem, seed, restarts, r_star) -> Solution:
    """The jitted :func:`solve`, through the export cache."""
    dt = jnp.result_type(float)
    unique = setup.unique
    return aot.call(
        solve,
        "solve",
        params,
        jnp.asarray(budget, dt),
        jnp.asarray(setup.imp, dt),
        jnp.asarray(setup.lower, dt),
        jnp.asarray(setup.upper, dt),
        jax.random.PRNGKey(seed),
        None if unique is None else jnp.asarray(unique, dt),
        None if unique is None else jnp.asarray(r_star, dt),
        law_name=fit.law,
        capped=needs_caps(setup.lower, setup.upper),
        restarts=restarts,
    )


def _mixture(fit, budget, weights, predicted, setup: _Problem, sol, certificate, warnings,
             decision, given) -> Mixture:
    imp = setup.imp
    uniform_pred = np.asarray(sol.uniform_predicted, dtype=float)
    return Mixture(
        domains=fit.domains,
        budget=budget,
        weights=weights,
        amounts=weights * budget,
        predicted=predicted,
        objective=float(np.sum(imp * predicted)),
        importance=imp,
        lower=setup.lower,
        upper=setup.upper,
        binding=binding(weights, setup.lower, setup.upper),
        uniform_predicted=uniform_pred,
        uniform_objective=float(np.sum(imp * uniform_pred)),
        certificate=certificate,
        restart_status=np.asarray(sol.restart_status),
        warnings=tuple(warnings),
        decision=decision,
        constraints=requested(
            min_weight=given["min_weight"],
            max_weight=given["max_weight"],
            fix=given["fix"],
            available=given["available"],
            max_epochs=None if not setup.caps else float(setup.epochs),
            repetition=bool(given["repetition"]),
            r_star=float(given["r_star"]) if given["repetition"] else None,
        ),
    )
