"""The laws of a target that is not a training domain, one form for both families:

    y_t(w) = c_t + s_t * exp(b_t + theta_t . w) * D_t(w)^(-alpha_t),
    D_t(w) = sum_j exp(a_tj) * (w_j + EPS)^gamma_t,          w = n / sum(n) [K],

with s_t = +1 for a loss (it falls toward the floor c_t) and s_t = -1 for a score (it rises
toward the ceiling c_t). Two families (:data:`LAWS`):

- ``mixing_law`` (``alpha = 0``): the Data Mixing Laws form, every domain's share moves the
  log gap linearly through its own ``theta_tj`` (any sign);
- ``effective_data`` (``theta = 0``): the fine-tuning scaling law in effective data, every
  domain's data transfers to the target with its own coefficient ``exp(a_tj)`` and a
  sub-linear exponent ``gamma_t`` in (0, 1]; diminishing returns in every share.

Both depend on the proportions only, so they describe runs of one budget (a fixed-budget
swarm). For the objective ``F(w) = sum_t a_t s_t y_t(w) = const + sum_t a_t gap_t(w)``
(``a_t > 0``) is convex in the weights (``log gap_t`` is linear plus ``-alpha log`` of a
concave function): its minimizer on the simplex is certified by a small Frank-Wolfe gap.
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
      alpha: ``[T]`` >= 0, exponent of the effective data (0: the mixing law).
      gamma: ``[T]`` in (0, 1], exponent of each share in the effective data.
      log_weight: ``[T, K]`` a_tj, log transfer coefficient of each domain.
    """

    floor: jax.Array
    log_scale: jax.Array
    theta: jax.Array
    alpha: jax.Array
    gamma: jax.Array
    log_weight: jax.Array


LAWS = ("mixing_law", "effective_data")  # the families, by index
EPS = 1e-3  # share offset in the effective data: finite slopes where a share is 0


def mixing_law_params(floor, log_scale, theta) -> TargetParams:
    """The ``mixing_law`` member: ``alpha = 0`` (``gamma`` and ``log_weight`` unused)."""
    floor = jnp.asarray(floor)
    return TargetParams(floor, jnp.asarray(log_scale), jnp.asarray(theta),
                        jnp.zeros_like(floor), jnp.ones_like(floor),
                        jnp.zeros_like(jnp.asarray(theta)))


def log_gap(params: TargetParams, weights) -> jax.Array:
    """``[..., T]`` log of each target's distance to its floor at ``weights [..., K]``."""
    d = jnp.exp(params.log_weight) * (weights[..., None, :] + EPS) ** params.gamma[:, None]
    return (params.log_scale + weights @ params.theta.T
            - params.alpha * jnp.log(jnp.sum(d, axis=-1)))


def predict(params: TargetParams, signs, weights) -> jax.Array:
    """``[..., T]`` targets at mixtures ``weights [..., K]``; ``signs [T]``: +1 loss, -1 score.

    >>> p = mixing_law_params(jnp.array([1.0]), jnp.array([0.0]), jnp.array([[0.0, 1.0]]))
    >>> round(float(predict(p, jnp.array([1.0]), jnp.array([0.5, 0.5]))[0]), 4)  # 1+e^0.5
    2.6487
    """
    return params.floor + signs * jnp.exp(log_gap(params, weights))


def objective(params: TargetParams, signs, coef, weights) -> jax.Array:
    """``[...]`` objective ``sum_t coef_t * sign_t * y_t`` at ``weights [..., K]`` (lower is
    better; ``coef [T] > 0``)."""
    return predict(params, signs, weights) @ (coef * signs)


def objective_gradient(params: TargetParams, signs, coef, weights) -> jax.Array:
    """``[K]`` gradient of :func:`objective` at one mixture ``weights [K]``."""
    return jax.grad(lambda w: objective(params, signs, coef, w))(weights)
