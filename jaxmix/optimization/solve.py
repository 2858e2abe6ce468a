"""``solve``: the jitted multi-restart descent on the simplex (softmax or capped logits,
Adam screening then damped Newton), with the exact multiplier solution of a separable law and
the Frank-Wolfe gap at the answer; :func:`select` keeps the lower-objective solver."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmix.fitting.newton import minimize
from jaxmix.laws.registry import get_law
from jaxmix.laws.repetition import effective_amounts
from jaxmix.optimization.exact import frank_wolfe_gap, solve_exact
from jaxmix.optimization.simplex import weights_from_logits


class Solution(NamedTuple):
    """Output of :func:`solve` (one problem).

    Attributes:
      weights: ``[K]`` weights of the best restart of the gradient solver.
      objective: ``[]`` objective at ``weights``.
      restart_weights: ``[R, K]`` and ``restart_objective`` ``[R]``: every restart.
      restart_status: ``[R]`` int32 status of every restart.
      exact_weights: ``[K]`` the multiplier solution (NaN when the law is not separable).
      exact_objective: ``[]`` objective at ``exact_weights``.
      predicted, exact_predicted, uniform_predicted: ``[K]`` predicted losses at ``weights``,
        ``exact_weights`` and the uniform mixture.
      fw_gap: ``[]`` Frank-Wolfe gap at ``weights``: for a convex law a bound on how far
        their objective is above the optimum.
    """

    weights: jax.Array
    objective: jax.Array
    restart_weights: jax.Array
    restart_objective: jax.Array
    restart_status: jax.Array
    exact_weights: jax.Array
    exact_objective: jax.Array
    predicted: jax.Array
    exact_predicted: jax.Array
    uniform_predicted: jax.Array
    fw_gap: jax.Array


def convex_problem(law, repetition: bool) -> bool:
    """Whether the mixture objective of ``law`` is convex on the constraint set: the law's
    claim, kept with repeated data only by laws of concave effective data.

    >>> convex_problem(get_law("mixing_law"), False), convex_problem(get_law("mixing_law"), True)
    (True, False)
    """
    return law.convex and (not repetition or law.convex_with_repetition)


def predictor(law, params, budget, unique=None, r_star=None):
    """``[K] -> [K]`` predicted losses at a weight vector; with ``unique [K]`` the amounts
    ``w * budget`` count as repetition-aware effective data (see :mod:`jaxmix.laws.repetition`)."""
    if unique is None:
        return lambda w: law.predict_weights(params, w, budget)
    return lambda w: law.predict_amounts(params, effective_amounts(w * budget, unique, r_star))


def objective_terms(law, params, budget, importance, unique=None, r_star=None):
    """``[K] -> [K]`` importance-weighted predicted losses at a weight vector."""
    predict = predictor(law, params, budget, unique, r_star)
    return lambda w: importance * predict(w)


@functools.partial(
    jax.jit, static_argnames=("law_name", "capped", "restarts", "screen_steps", "max_steps")
)
def solve(
    params,
    budget,
    importance,
    lower,
    upper,
    key,
    unique=None,
    r_star=None,
    *,
    law_name: str = "transfer",
    capped: bool = False,
    restarts: int = 8,
    screen_steps: int = 100,
    max_steps: int = 100,
) -> Solution:
    """Minimize ``sum(importance * L(w))`` over weights with ``lower <= w <= upper``.

    Args:
      params: the law's parameters, leaves ``[K]``.
      budget: ``[]`` total amount N (the pilots' unit).
      importance: ``[K]`` non-negative weight of each domain's loss.
      lower, upper: ``[K]`` bounds, ``sum(lower) <= 1 <= sum(upper)``.
      key: PRNG key (typed or raw ``uint32[2]``) of the random restarts; restart 0
        starts from uniform logits.
      unique, r_star: optional ``[K]`` unique data per domain and ``[]`` R*: repeated data
        counts as effective data (the objective is then not separable).
      law_name, capped, restarts, screen_steps, max_steps: static; ``capped`` must be True
        when an upper bound is below ``lower + (1 - sum(lower))``.

    >>> import jax, jax.numpy as jnp
    >>> from jaxmix import from_params
    >>> fit = from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "ab"})
    >>> s = solve(fit.params, 10.0, jnp.ones(2), jnp.zeros(2), jnp.ones(2), jax.random.key(0))
    >>> [round(float(w), 4) for w in s.weights]
    [0.5, 0.5]
    """
    law = get_law(law_name)
    k = lower.shape[0]
    dtype = lower.dtype
    terms = objective_terms(law, params, budget, importance, unique, r_star)

    def f(z):
        return jnp.sum(terms(weights_from_logits(z, lower, upper, capped)))

    res = _descend(f, key, restarts, k, dtype, screen_steps, max_steps)
    w_all = jax.vmap(lambda z: weights_from_logits(z, lower, upper, capped))(res.params)
    obj = jnp.where(jnp.isfinite(res.value), res.value, jnp.inf)
    best = jnp.argmin(obj)
    w_exact, f_exact = _exact(law, terms, lower, upper, unique)
    predict = predictor(law, params, budget, unique, r_star)
    return Solution(
        w_all[best], res.value[best], w_all, res.value, res.status, w_exact, f_exact,
        predict(w_all[best]), predict(w_exact), predict(jnp.full((k,), 1.0 / k, dtype)),
        frank_wolfe_gap(terms, w_all[best], lower, upper),
    )  # fmt: skip


def _descend(f, key, restarts: int, k: int, dtype, screen_steps: int, max_steps: int):
    """Every restart (restart 0 from uniform logits, the others random): Adam screening
    steps, then the damped Newton minimizer; a batched ``MinimizeResult`` (traced)."""
    z0 = jax.random.normal(key, (restarts, k), dtype) * 1.5
    z0 = z0.at[0].set(0.0)
    adam = optax.adam(0.1)

    def screen(z):
        def step(carry, _):
            z, state = carry
            g = jax.grad(f)(z)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            updates, state = adam.update(g, state)
            return (optax.apply_updates(z, updates), state), None

        (z, _), _ = jax.lax.scan(step, (z, adam.init(z)), None, length=screen_steps)
        return z

    z1 = jax.vmap(screen)(z0)
    # Converged once an accepted step is within sqrt(eps) of the iterate and the value within
    # a few ulps (Newton's next error is then at rounding level); without the test a restart
    # at the optimum only stops after ~24 rejected steps, or never where rounding-level ties
    # keep resetting the damping.
    eps = float(jnp.finfo(dtype).eps)
    return jax.vmap(lambda z: minimize(f, z, max_steps, 0.0, rtol=16 * eps,
                                       xtol=eps**0.5))(z1)


def _exact(law, terms, lower, upper, unique):
    """``(weights [K], objective [])`` of the exact multiplier solver for a separable law
    without repetition, else NaN (traced)."""
    k = lower.shape[0]
    dtype = lower.dtype
    if law.separable and unique is None:
        w_exact, _ = solve_exact(terms, lower, upper)
        return w_exact, jnp.sum(terms(w_exact))
    return jnp.full((k,), jnp.nan, dtype), jnp.asarray(jnp.nan, dtype)


def select(sol: Solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, predicted, use_exact) of the lower-objective solver per problem; works on
    one :class:`Solution` or a batch of them (leading axes)."""
    exact = np.asarray(sol.exact_objective)
    grad = np.asarray(sol.objective)
    # Objectives within a few rounding units are a tie, and the exact solution wins it: in
    # float32 the gradient solver's objective can be lower by rounding alone.
    tol = 16 * np.finfo(exact.dtype).eps * np.maximum(1.0, np.abs(exact))
    use_exact = np.isfinite(exact) & ~(grad < exact - np.where(np.isfinite(tol), tol, 0.0))
    pick = lambda a, b: np.where(use_exact[..., None], a, b)  # noqa: E731
    weights = pick(np.asarray(sol.exact_weights), np.asarray(sol.weights))
    predicted = pick(np.asarray(sol.exact_predicted), np.asarray(sol.predicted))
    return weights.astype(float), predicted.astype(float), use_exact
