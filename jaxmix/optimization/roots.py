"""Bracketed (safeguarded) Newton root search for increasing functions, elementwise.

A Newton step is taken only inside the current bracket, else the bracket is bisected. A tiny
Newton step does not stop the search by itself (near a singularity Newton creeps): it is
followed by a probe just past the predicted root, and the search stops when the bracket
around the root is that small. A probe that does not cross the root bisects next. So the
search ends at a tolerance after a few steps where Newton works, and never does worse than
about twice the bisection count where it does not.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class RootSearch(NamedTuple):
    """Loop state of :func:`bracketed_newton` (arrays of ``x0``'s shape unless noted).

    Attributes:
      x: the point evaluated next. lo, hi: the brackets.
      aux: the carried pytree of ``fn``.
      probing: the last step was a probe just past a tiny Newton step.
      done: elements that stopped. steps: ``[]`` steps taken.
    """

    x: jax.Array
    lo: jax.Array
    hi: jax.Array
    aux: object
    probing: jax.Array
    done: jax.Array
    steps: jax.Array


def bracketed_newton(fn, x0, lo, hi, tol, max_iter, aux, htol=0.0, done=None, rtol=0.0):
    """Roots of an increasing ``fn`` in ``[lo, hi]``, elementwise over ``x0``'s shape.

    Args:
      fn: ``(x, aux) -> (h, dh, aux)``: the values, their derivatives and a carried pytree
        (e.g. a warm start); ``h(lo) <= 0 <= h(hi)``.
      x0, lo, hi: starting point and bracket (same shape; ``lo <= x0 <= hi``).
      tol: bracket width at which an element stops (array or scalar); ``rtol * |x|`` is
        added to it, so a root far smaller than the bracket is still found to rounding.
      max_iter: step cap (int or traced integer).
      aux: initial carried pytree. htol: ``|h| <= htol`` also stops an element.
      done: elements that need no search (their ``x0`` is returned).

    Returns:
      ``(x, lo, hi, aux, steps)``: the last evaluated points, the brackets, the carried
      pytree and the number of steps taken.
    """
    done = jnp.zeros(jnp.shape(x0), bool) if done is None else done

    def cond(state: RootSearch):
        return ~jnp.all(state.done) & (state.steps < max_iter)

    def body(state: RootSearch) -> RootSearch:
        x, lo, hi, aux, probing, done, it = state
        h, dh, aux = fn(x, aux)
        lo, hi = jnp.where(done | (h >= 0), lo, x), jnp.where(done | (h <= 0), hi, x)
        tol_x = tol + rtol * jnp.abs(x)
        step = -h / dh
        newton = x + step
        ok = (dh > 0) & jnp.isfinite(newton) & (newton > lo) & (newton < hi) & ~probing
        probe = x + jnp.sign(step) * 2 * tol_x
        small = ok & (jnp.abs(step) <= tol_x) & (probe > lo) & (probe < hi)
        nxt = jnp.where(small, probe, jnp.where(ok, newton, 0.5 * (lo + hi)))
        stop = done | (hi - lo <= 4 * tol_x) | (jnp.abs(h) <= htol)
        return RootSearch(jnp.where(stop, x, nxt), lo, hi, aux, small, stop, it + 1)

    state = RootSearch(x0, lo, hi, aux, jnp.zeros(jnp.shape(x0), bool), done, 0)
    out = jax.lax.while_loop(cond, body, state)
    return out.x, out.lo, out.hi, out.aux, out.steps
