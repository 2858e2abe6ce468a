"""Logits -> mixture weights on the simplex, with per-domain lower and upper bounds.

Without caps a weight vector is ``lower + (1 - sum(lower)) * softmax(z)``. With caps it is
``lower + (upper - lower) * sigmoid(z + tau)`` where the scalar ``tau(z)`` makes the weights
sum to one: every point strictly inside the capped simplex is reached, and a fixed domain
(``lower == upper``) stays fixed. ``tau`` is found by bisection, then two differentiable Newton
steps from the stopped-gradient root give the implicit-function derivatives.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def softmax_weights(z, lower):
    """``[K]`` weights ``lower + (1 - sum(lower)) * softmax(z)``."""
    return lower + (1.0 - jnp.sum(lower)) * jax.nn.softmax(z)


def _capped_sum(z, tau, lower, upper):
    return jnp.sum(lower + (upper - lower) * jax.nn.sigmoid(z + tau)) - 1.0


def capped_weights(z, lower, upper, iters: int = 80):
    """``[K]`` weights in ``{lower <= w <= upper, sum(w) = 1}``.

    Needs ``sum(lower) <= 1 <= sum(upper)``.

    >>> import jax.numpy as jnp
    >>> w = capped_weights(jnp.zeros(3), jnp.zeros(3), jnp.array([0.2, 1.0, 1.0]))
    >>> bool(abs(w.sum() - 1) < 1e-6), bool(w[0] <= 0.2)
    (True, True)
    """
    zs = jax.lax.stop_gradient(z)
    width = 40.0 if z.dtype == jnp.float32 else 60.0
    lo, hi = -jnp.max(zs) - width, -jnp.min(zs) + width

    def step(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        below = _capped_sum(zs, mid, lower, upper) < 0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, step, (lo, hi))
    tau = jax.lax.stop_gradient(0.5 * (lo + hi))
    for _ in range(2):  # Newton steps carry d tau / d z (and most of the curvature)
        g = _capped_sum(z, tau, lower, upper)
        s = jax.nn.sigmoid(z + tau)
        slope = jnp.sum((upper - lower) * s * (1 - s))
        tau = tau - g / jnp.maximum(slope, jnp.finfo(z.dtype).tiny)
    return lower + (upper - lower) * jax.nn.sigmoid(z + tau)


def weights_from_logits(z, lower, upper, capped: bool):
    """``[K]`` weights from logits ``z [K]``; ``capped`` (static) selects the map."""
    return capped_weights(z, lower, upper) if capped else softmax_weights(z, lower)
