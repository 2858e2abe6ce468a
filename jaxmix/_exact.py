"""Exact optimum of a separable convex mixture objective: bisection on the multiplier.

For ``F(w) = sum_i f_i(w_i)`` with convex ``f_i``, the KKT conditions give
``w_i(lam) = clip(root of f_i'(w) = -lam, lower_i, upper_i)``, and ``sum_i w_i(lam)`` falls as
``lam`` grows; bisection on ``lam`` for ``sum = 1`` (each ``w_i`` itself by bisection) gives
the optimum to machine precision. It certifies the gradient solver.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def marginals(fn, w):
    """``[K]`` diagonal derivatives ``f_i'(w_i)`` of a separable ``fn: [K] -> [K]``."""
    return jax.jvp(fn, (w,), (jnp.ones_like(w),))[1]


def solve_exact(fn, lower, upper, iters: int = 64):
    """Minimize ``sum(fn(w))`` on ``{lower <= w <= upper, sum(w) = 1}``; ``fn`` separable.

    Args:
      fn: ``[K] -> [K]`` per-domain objective terms, entry i convex in ``w[i]`` alone.
      lower, upper: ``[K]`` bounds with ``sum(lower) <= 1 <= sum(upper)``.
      iters: bisection steps of each of the two nested searches.

    Returns:
      ``(w [K], lam [])``: the optimal weights and the multiplier.

    >>> import jax.numpy as jnp
    >>> w, _ = solve_exact(lambda w: (w - jnp.array([0.5, 0.3, 0.1])) ** 2,
    ...                    jnp.zeros(3), jnp.ones(3))
    >>> [round(float(x), 4) for x in w]
    [0.5333, 0.3333, 0.1333]
    """
    big = jnp.finfo(lower.dtype).max ** 0.25

    def clean(d):
        return jnp.clip(jnp.nan_to_num(d, nan=big, posinf=big, neginf=-big), -big, big)

    def weights_at(lam):
        def step(_, b):
            lo, hi = b
            mid = 0.5 * (lo + hi)
            rising = clean(marginals(fn, mid)) + lam > 0
            return jnp.where(rising, lo, mid), jnp.where(rising, mid, hi)

        lo, hi = jax.lax.fori_loop(0, iters, step, (lower, upper))
        return 0.5 * (lo + hi)

    lam_hi = jnp.max(-clean(marginals(fn, lower)))  # every weight at its lower bound
    lam_lo = jnp.min(-clean(marginals(fn, upper)))  # every weight at its upper bound

    def outer(_, b):
        lo, hi = b
        mid = 0.5 * (lo + hi)
        over = jnp.sum(weights_at(mid)) > 1.0  # too much weight: raise the multiplier
        return jnp.where(over, mid, lo), jnp.where(over, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 2 * iters, outer, (lam_lo, lam_hi))
    # The bracket's ends hold too much and too little weight; their convex combination that
    # sums to one is optimal (it also resolves flat terms, e.g. zero importance).
    w_many, w_few = weights_at(lo), weights_at(hi)
    s_many, s_few = jnp.sum(w_many), jnp.sum(w_few)
    t = jnp.where(s_many > s_few, (1.0 - s_few) / (s_many - s_few), 0.5)
    w = jnp.clip(w_few + jnp.clip(t, 0.0, 1.0) * (w_many - w_few), lower, upper)
    return w, 0.5 * (lo + hi)


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
