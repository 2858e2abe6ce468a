"""The law of a target that is not a training domain: the Data Mixing Laws form per target.

    y_t(w) = c_t + s_t * exp(b_t + theta_t . w),    w = n / sum(n) [K],

with s_t = +1 for a loss (it falls toward the floor c_t) and s_t = -1 for a score (it rises
toward the ceiling c_t). Every domain's share moves every target through its own coefficient
``theta_tj`` (any sign). The law depends on the proportions only, so it describes runs of one
budget (a fixed-budget swarm).

For the objective ``F(w) = sum_t a_t s_t y_t(w) = const + sum_t a_t exp(b_t + theta_t . w)``
(``a_t > 0``) is convex in the weights: its minimizer on the simplex is certified by a small
Frank-Wolfe gap.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class TargetParams(NamedTuple):
    """Parameters of T targets over K domains (in the targets' own units).

    Attributes:
      floor: ``[T]`` c_t, the value the target approaches (a loss floor, a score ceiling).
      log_scale: ``[T]`` b_t.
      theta: ``[T, K]`` effect of each domain's share on the log gap to the floor.
    """

    floor: jax.Array
    log_scale: jax.Array
    theta: jax.Array


def predict(params: TargetParams, signs, weights) -> jax.Array:
    """``[..., T]`` targets at mixtures ``weights [..., K]``; ``signs [T]``: +1 loss, -1 score.

    >>> p = TargetParams(jnp.array([1.0]), jnp.array([0.0]), jnp.array([[0.0, 1.0]]))
    >>> round(float(predict(p, jnp.array([1.0]), jnp.array([0.5, 0.5]))[0]), 4)  # 1+e^0.5
    2.6487
    """
    gap = jnp.exp(params.log_scale + weights @ params.theta.T)
    return params.floor + signs * gap


def objective(params: TargetParams, signs, coef, weights) -> jax.Array:
    """``[...]`` objective ``sum_t coef_t * sign_t * y_t`` at ``weights [..., K]`` (lower is
    better; ``coef [T] > 0``)."""
    return predict(params, signs, weights) @ (coef * signs)


def objective_gradient(params: TargetParams, signs, coef, weights) -> jax.Array:
    """``[K]`` gradient of :func:`objective` at one mixture ``weights [K]``."""
    return jax.grad(lambda w: objective(params, signs, coef, w))(weights)
