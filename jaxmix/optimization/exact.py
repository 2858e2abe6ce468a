"""Exact optimum of a separable convex mixture objective: safeguarded Newton on the multiplier.

For ``F(w) = sum_i f_i(w_i)`` with convex ``f_i``, the KKT conditions give
``w_i(lam) = clip(root of f_i'(w) = -lam, lower_i, upper_i)``, and ``sum_i w_i(lam)`` falls as
``lam`` grows. Both searches (``lam`` for ``sum = 1``, each ``w_i`` for its marginal) are
Newton iterations kept inside a shrinking bracket (a step that leaves it bisects instead), so
they stop at a tolerance after a few steps where a fixed bisection needs thousands of
sequential evaluations, and never fail where bisection would succeed. The result is the
optimum to rounding; it certifies the gradient solver.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmix.optimization.roots import bracketed_newton


def marginals(fn, w):
    """``[K]`` diagonal derivatives ``f_i'(w_i)`` of a separable ``fn: [K] -> [K]``."""
    return jax.jvp(fn, (w,), (jnp.ones_like(w),))[1]


def _eps(x):
    return jnp.finfo(jnp.result_type(x)).eps


def solve_exact(fn, lower, upper, max_iter: int = 200):
    """Minimize ``sum(fn(w))`` on ``{lower <= w <= upper, sum(w) = 1}``; ``fn`` separable.

    Args:
      fn: ``[K] -> [K]`` per-domain objective terms, entry i convex in ``w[i]`` alone.
      lower, upper: ``[K]`` bounds with ``sum(lower) <= 1 <= sum(upper)``.
      max_iter: step cap of each of the two nested searches (:mod:`jaxmix.optimization.roots`; each
        stops at rounding level first, after a few steps where Newton works).

    Returns:
      ``(w [K], lam [])``: the optimal weights and the multiplier.

    >>> import jax.numpy as jnp
    >>> w, _ = solve_exact(lambda w: (w - jnp.array([0.5, 0.3, 0.1])) ** 2,
    ...                    jnp.zeros(3), jnp.ones(3))
    >>> [round(float(x), 4) for x in w]
    [0.5333, 0.3333, 0.1333]
    """
    eps = _eps(lower)
    big = jnp.finfo(lower.dtype).max ** 0.25

    def clean(d):
        return jnp.clip(jnp.nan_to_num(d, nan=big, posinf=big, neginf=-big), -big, big)

    def slopes(w):  # ([K] f_i'(w_i), [K] f_i''(w_i)) in one forward-over-forward pass
        return jax.jvp(lambda x: clean(marginals(fn, x)), (w,), (jnp.ones_like(w),))

    # Marginals just inside the bounds: at a bound itself autodiff can return a one-sided
    # derivative of the wrong sign (the transfer term's clipped (1 - w)^alpha at w = 1).
    inset = 4 * eps * (upper - lower)
    d_lower = clean(marginals(fn, lower + inset))
    d_upper = clean(marginals(fn, upper - inset))
    w_tol = eps * jnp.maximum(jnp.abs(upper), 1.0)

    weights_at = _weights_at(slopes, d_lower, d_upper, lower, upper, inset, w_tol, max_iter)
    w0, lam0, lam_lo, lam_hi, scale = _start(fn, lower, upper, d_lower, d_upper, eps, clean)
    k = lower.shape[0]
    excess = _excess(weights_at, slopes, lower, upper)

    # At lam_lo every weight sits at its upper bound, at lam_hi at its lower bound. The
    # multiplier's tolerance is relative to itself, not to that bracket: the bracket's ends
    # are marginals near the bounds, which can be orders of magnitude larger than the root.
    lam, lo, hi, (_, w_many, w_few), _ = bracketed_newton(
        excess, lam0, lam_lo, lam_hi, eps * scale, max_iter, (w0, upper, lower), 4 * k * eps,
        rtol=eps,
    )
    # The bracket's ends hold too much and too little weight; their convex combination that
    # sums to one is optimal (it also resolves flat terms, e.g. zero importance, whose
    # weights jump at one multiplier).
    return _combine_ends(w_many, w_few, lower, upper), lam


def _weights_at(slopes, d_lower, d_upper, lower, upper, inset, w_tol, max_iter):
    """``(lam, w0) -> [K]`` weights of multiplier ``lam`` (traced inside :func:`solve_exact`)."""

    def weights_at(lam, w0):
        """``[K]`` clip(root of f' = -lam): per coordinate, Newton inside its bracket."""
        at_lower = d_lower + lam >= 0  # rising from the start: stay at the lower bound
        at_upper = d_upper + lam <= 0  # still falling at the end: go to the upper bound

        def h(w, aux):
            d1, d2 = slopes(w)
            return d1 + lam, d2, aux

        start = jnp.clip(w0, lower + inset, upper - inset)  # never evaluate at a bound
        w, *_ = bracketed_newton(
            h, start, lower, upper, w_tol, max_iter, (), done=at_lower | at_upper
        )
        return jnp.where(at_lower, lower, jnp.where(at_upper, upper, w))

    return weights_at


def _start(fn, lower, upper, d_lower, d_upper, eps, clean):
    """``(w0, lam0, lam_lo, lam_hi, scale)``: the start of the multiplier search, its
    bracket, and the absolute floor of its tolerance."""
    lam_hi = jnp.max(-d_lower)  # every weight at its lower bound
    lam_lo = jnp.min(-d_upper)  # every weight at its upper bound
    # Start where the bounds' free room is shared in proportion: sum(w0) = 1.
    room = upper - lower
    w0 = lower + room * (1.0 - jnp.sum(lower)) / jnp.maximum(jnp.sum(room), eps)
    d0 = clean(marginals(fn, w0))
    lam0 = jnp.clip(-jnp.mean(d0), lam_lo, lam_hi)
    # Absolute floor of the multiplier's tolerance: the size of the marginals near the
    # answer, not of the bracket (a marginal next to w = 1 can be orders of magnitude larger).
    scale = jnp.maximum(jnp.mean(jnp.abs(d0)), jnp.finfo(eps).tiny)
    return w0, lam0, lam_lo, lam_hi, scale


def _excess(weights_at, slopes, lower, upper):
    """The function whose root in the multiplier makes the weights sum to one."""

    def excess(lam, aux):
        """``-(sum(w(lam)) - 1)`` (rises with lam), its derivative, and the weights at the
        bracket's ends: too much weight (``w_many``) and too little (``w_few``)."""
        w, w_many, w_few = aux
        w = weights_at(lam, w)
        s = jnp.sum(w) - 1.0
        w_many, w_few = jnp.where(s > 0, w, w_many), jnp.where(s > 0, w_few, w)
        _, d2 = slopes(w)
        free = (w > lower) & (w < upper) & (d2 > 0)
        ds = -jnp.sum(jnp.where(free, 1.0 / jnp.where(free, d2, 1.0), 0.0))
        return -s, -ds, (w, w_many, w_few)

    return excess


def _combine_ends(w_many, w_few, lower, upper):
    """The convex combination of the bracket's ends that sums to one, in the bounds."""
    s_many, s_few = jnp.sum(w_many), jnp.sum(w_few)
    t = jnp.where(s_many > s_few, (1.0 - s_few) / (s_many - s_few), 0.5)
    w = jnp.clip(w_few + jnp.clip(t, 0.0, 1.0) * (w_many - w_few), lower, upper)
    return w


def box_simplex_vertex(g, lower, upper):
    """``[K]`` minimizer of ``g @ v`` over ``{lower <= v <= upper, sum(v) = 1}``: start from
    ``lower`` and pour the remaining mass into the cheapest coordinates, each up to its cap.

    >>> import jax.numpy as jnp
    >>> v = box_simplex_vertex(jnp.array([3.0, 1.0, 2.0]), jnp.zeros(3), jnp.full(3, 0.6))
    >>> [round(float(x), 4) for x in v]
    [0.0, 0.6, 0.4]
    """
    order = jnp.argsort(g)
    room = (upper - lower)[order]
    before = jnp.cumsum(room) - room  # capacity of the cheaper coordinates
    fill = jnp.clip(1.0 - jnp.sum(lower) - before, 0.0, room)
    return lower + jnp.zeros_like(lower).at[order].set(fill)


def frank_wolfe_gap(fn, w, lower, upper):
    """``[]`` Frank-Wolfe gap ``grad F(w) @ (w - v)`` of ``F = sum(fn)`` at feasible ``w [K]``.

    For a convex ``F`` it bounds ``F(w) - min F`` over the box-constrained simplex, so a
    small gap certifies ``w`` without knowing the optimum (any law, separable or not).

    >>> import jax.numpy as jnp
    >>> fn = lambda w: (w - jnp.array([0.5, 0.3, 0.2])) ** 2
    >>> float(frank_wolfe_gap(fn, jnp.array([0.5, 0.3, 0.2]), jnp.zeros(3), jnp.ones(3)))
    0.0
    """
    g = jax.grad(lambda x: jnp.sum(fn(x)))(w)
    return jnp.dot(g, w - box_simplex_vertex(g, lower, upper))
