"""Logits -> mixture weights on the simplex, with per-domain lower and upper bounds.

Without caps a weight vector is ``lower + (1 - sum(lower)) * softmax(z)``. With caps it is
``lower + (upper - lower) * sigmoid(z + tau)`` where the scalar ``tau(z)`` makes the weights
sum to one: every point strictly inside the capped simplex is reached, and a fixed domain
(``lower == upper``) stays fixed. ``tau`` is found by safeguarded Newton iterations (a few
steps to rounding level, where a fixed bisection took 80 sequential evaluations inside every
objective and Hessian evaluation), then two differentiable Newton steps from the
stopped-gradient root give the implicit-function derivatives.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmix.optimization.roots import bracketed_newton


def softmax_weights(z, lower):
    """``[K]`` weights ``lower + (1 - sum(lower)) * softmax(z)``."""
    return lower + (1.0 - jnp.sum(lower)) * jax.nn.softmax(z)


def _capped_sum(z, tau, lower, upper):
    return jnp.sum(lower + (upper - lower) * jax.nn.sigmoid(z + tau)) - 1.0


def _tau(zs, lower, upper, max_iter: int):
    """``[]`` root of ``_capped_sum(zs, tau) = 0`` (it rises in ``tau``) by bracketed Newton
    (:mod:`jaxmix.optimization.roots`), stopping at rounding level."""
    eps = jnp.finfo(zs.dtype).eps
    width = 40.0 if zs.dtype == jnp.float32 else 60.0
    lo, hi = -jnp.max(zs) - width, -jnp.min(zs) + width
    room = upper - lower
    # Where the sigmoids are small they are exponentials: a softmax-like start.
    log_room = jnp.where(room > 0, jnp.log(jnp.where(room > 0, room, 1.0)), -jnp.inf)
    start = jnp.log(jnp.maximum(1.0 - jnp.sum(lower), jnp.finfo(zs.dtype).tiny)) - (
        jax.nn.logsumexp(zs + log_room)
    )
    start = jnp.clip(jnp.nan_to_num(start, nan=0.0), lo, hi)

    def excess(tau, aux):
        s = jax.nn.sigmoid(zs + tau)
        return _capped_sum(zs, tau, lower, upper), jnp.sum(room * s * (1 - s)), aux

    tol = eps * jnp.maximum(jnp.maximum(jnp.abs(lo), jnp.abs(hi)), 1.0)
    k = zs.shape[0]
    return bracketed_newton(excess, start, lo, hi, tol, max_iter, (), 2 * k * eps)[0]


def capped_weights(z, lower, upper, max_iter: int = 200):
    """``[K]`` weights in ``{lower <= w <= upper, sum(w) = 1}``.

    Needs ``sum(lower) <= 1 <= sum(upper)``. ``max_iter`` caps the root search for the shift
    (it stops at rounding level after a few Newton steps; bisection alone needs about 60).

    >>> import jax.numpy as jnp
    >>> w = capped_weights(jnp.zeros(3), jnp.zeros(3), jnp.array([0.2, 1.0, 1.0]))
    >>> bool(abs(w.sum() - 1) < 1e-6), bool(w[0] <= 0.2)
    (True, True)
    """
    stop = jax.lax.stop_gradient
    tau = stop(_tau(stop(z), stop(lower), stop(upper), max_iter))
    for _ in range(2):  # Newton steps carry d tau / d z (and most of the curvature)
        g = _capped_sum(z, tau, lower, upper)
        s = jax.nn.sigmoid(z + tau)
        slope = jnp.sum((upper - lower) * s * (1 - s))
        tau = tau - g / jnp.maximum(slope, jnp.finfo(z.dtype).tiny)
    return lower + (upper - lower) * jax.nn.sigmoid(z + tau)


def weights_from_logits(z, lower, upper, capped: bool):
    """``[K]`` weights from logits ``z [K]``; ``capped`` (static) selects the map."""
    return capped_weights(z, lower, upper) if capped else softmax_weights(z, lower)
