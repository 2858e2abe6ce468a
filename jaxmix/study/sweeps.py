"""Batched studies: budget sweeps and importance (Pareto) sweeps (bootstrap uncertainty:
:mod:`jaxmix.study.bootstrap`).

Each study is one jitted, vmapped call per chunk over a batch axis that :func:`map_batched`
shards across all devices. New numbers of the same shapes never trace again.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.result import FitResult
from jaxmix.laws.registry import get_law
from jaxmix.optimization.constraints import constraints, importance_weights, needs_caps
from jaxmix.optimization.solve import select, solve
from jaxmix.status import InputError
from jaxmix.study.batch import chunk_bucket, chunk_size, map_batched


@functools.partial(jax.jit, static_argnames=("law_name", "capped", "restarts"))
def solve_many(params, budget, importance, lower, upper, keys, *, law_name, capped, restarts):
    """:func:`solve` vmapped over a leading batch axis of every argument."""

    def one(p, n, imp, lo, hi, key):
        return solve(p, n, imp, lo, hi, key, law_name=law_name, capped=capped, restarts=restarts)

    return jax.vmap(one)(params, budget, importance, lower, upper, keys)


@functools.partial(jax.jit, static_argnames="law_name")
def objective_many(params, weights, budget, importance, *, law_name):
    """``[B]`` objectives and ``[B, K]`` predicted losses of ``weights [B, K]`` under
    parameters batched ``[B, K]``."""
    law = get_law(law_name)
    pred = jax.vmap(law.predict_weights, in_axes=(0, 0, None))(params, weights, budget)
    return jnp.sum(jnp.where(importance > 0, importance * pred, 0.0), axis=-1), pred


class SweepResult(NamedTuple):
    """Optimal mixtures for a batch of problems (leading axis ``[B]``).

    Attributes:
      weights, predicted: ``[B, K]`` optimal weights and predicted losses.
      objective: ``[B]``. gap: ``[B]`` gradient-solver objective minus the exact optimum.
      status: ``[B, R]`` restart statuses.
    """

    weights: np.ndarray
    predicted: np.ndarray
    objective: np.ndarray
    gap: np.ndarray
    status: np.ndarray


def _dtype():
    return jnp.result_type(float)


def batched_solve(
    fit, budgets, importances, lowers, uppers, restarts, seed, chunk, progress, batched=False
):
    """Solve B problems; ``fit.params`` leaves are ``[K]`` (shared) or ``[B, K]`` (batched)."""
    b, k = importances.shape
    capped = needs_caps(lowers, uppers)
    dt = _dtype()
    params = jax.tree.map(
        lambda x: np.asarray(x, dt)
        if batched
        else np.broadcast_to(np.asarray(x, dt), (b,) + np.shape(x)),
        fit.params,
    )
    # Keys for a bucket of problems (one program for nearby b; the first b are the same).
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed), chunk_bucket(b)))[:b]
    batch = (
        params,
        budgets.astype(dt),
        importances.astype(dt),
        lowers.astype(dt),
        uppers.astype(dt),
        keys,
    )
    static = dict(law_name=fit.law, capped=capped, restarts=restarts)
    sol = map_batched(
        lambda x: aot.call(solve_many, "solve_many", *x, **static),
        batch,
        chunk=chunk,
        progress=progress,
    )
    weights, predicted, _ = select(sol)
    exact_ok = np.isfinite(sol.exact_objective)
    objective = np.sum(importances * predicted, axis=1)
    gap = np.where(exact_ok, sol.objective - sol.exact_objective, np.nan)
    return SweepResult(weights, predicted, objective, gap, sol.restart_status)


def prepare_batched_solve(fit, b: int, lower, upper, restarts: int, chunk=None) -> None:
    """Start compiling the program of ``batched_solve(fit, ...)`` for ``b`` problems with
    parameters batched like ``fit.params`` (leaves ``[K]``), bounds ``[K]``, in the
    background (:func:`jaxmix.aot.prepare`)."""
    dt = _dtype()
    c = chunk_size(b, chunk)
    k = np.shape(lower)[-1]
    zeros = lambda *shape: np.zeros((c,) + shape, dt)  # noqa: E731
    args = (
        jax.tree.map(lambda x: zeros(*np.shape(x)), fit.params),
        zeros(),
        zeros(k),
        zeros(k),
        zeros(k),
        np.zeros((c,) + np.shape(jax.random.PRNGKey(0)), np.uint32),
    )
    static = dict(law_name=fit.law, capped=needs_caps(lower, upper), restarts=restarts)
    aot.prepare(solve_many, "solve_many", *args, **static)


def _bounds(fit, budgets, kw):
    pairs = [constraints(fit, float(n), **kw) for n in budgets]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def sweep_budgets(
    fit: FitResult,
    budgets,
    importance=None,
    min_weight=None,
    max_weight=None,
    fix=None,
    available=None,
    max_epochs=1.0,
    restarts=8,
    seed=0,
    chunk=None,
    progress=None,
) -> SweepResult:
    """Optimal mixtures for every budget of ``budgets [B]`` in one batched call.

    >>> from jaxmix import from_params
    >>> fit = from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "ab"})
    >>> sweep_budgets(fit, [10.0, 100.0]).weights.round(3).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    budgets = np.asarray(budgets, dtype=float).reshape(-1)
    if budgets.size == 0 or not np.all(np.isfinite(budgets) & (budgets > 0)):
        raise InputError("budgets must be positive numbers")
    imp = importance_weights(fit, importance)
    kw = dict(
        min_weight=min_weight,
        max_weight=max_weight,
        fix=fix,
        available=available,
        max_epochs=max_epochs,
    )
    lowers, uppers = _bounds(fit, budgets, kw)
    imps = np.broadcast_to(imp, lowers.shape)
    return batched_solve(fit, budgets, imps, lowers, uppers, restarts, seed, chunk, progress)


def pareto(
    fit: FitResult,
    budget: float,
    pair: tuple,
    points: int = 11,
    restarts=8,
    seed=0,
    progress=None,
    **constraint_kw,
) -> tuple[np.ndarray, SweepResult]:
    """Trade-off between two domains: importances ``(2t, 2(1 - t))`` on ``pair`` (others 1)
    for ``t`` in ``linspace(0, 1, points)``. Returns ``(t [P], SweepResult)``."""
    a, b = pair
    for d in pair:
        if d not in fit.domains:
            raise InputError(f"between: unknown domain {d!r} (domains: {', '.join(fit.domains)})")
    if a == b or points < 2:
        raise InputError("between needs two different domains and points >= 2")
    t = np.linspace(0.0, 1.0, points)
    imps = np.ones((points, len(fit.domains)))
    imps[:, fit.domains.index(a)] = 2 * t
    imps[:, fit.domains.index(b)] = 2 * (1 - t)
    lower, upper = constraints(fit, budget, **constraint_kw)
    lowers, uppers = np.broadcast_to(lower, imps.shape), np.broadcast_to(upper, imps.shape)
    budgets = np.full(points, float(budget))
    return t, batched_solve(fit, budgets, imps, lowers, uppers, restarts, seed, None, progress)
