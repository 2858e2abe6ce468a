"""The paper's ``transfer`` law (Li, Liu and Xing, ICML 2025).

Other domains' data counts as effective data of domain i with a sub-linear transfer:

    D_i = n_i + k_i * (N - n_i) ** alpha_i,    L_i = C_i * D_i ** (-beta_i) + E_i.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.laws.base import Law, own_and_others


class TransferParams(NamedTuple):
    """Unconstrained parameters of the transfer law; every field is ``[K]``.

    Attributes:
      log_C: log of the reducible-loss scale C > 0.
      log_k: log of the transfer coefficient k > 0.
      alpha_logit: logit of the transfer exponent alpha in [0, 1].
      log_beta: log of the data exponent beta > 0.
      log_E: log of the irreducible loss E > 0.
    """

    log_C: jax.Array
    log_k: jax.Array
    alpha_logit: jax.Array
    log_beta: jax.Array
    log_E: jax.Array


def tiny(x):
    return jnp.finfo(jnp.result_type(x)).tiny ** 0.5


def loss(row: TransferParams, amounts: jax.Array, i) -> jax.Array:
    """``[...]`` losses of domain ``i`` in runs ``amounts [..., K]`` (``row``: row ``i``).

    >>> row = TransferParams(*(jnp.log(jnp.asarray(v)) for v in (1.0, 0.5, 1.0, 0.3, 1.0)))
    >>> round(float(loss(row, jnp.array([1.0, 1.0]), 0)), 4)  # alpha = sigmoid(0) = 0.5
    1.8855
    """
    own, other = own_and_others(amounts, i)
    return effective_loss(row, own + transfer(row, other))


def transfer(row: TransferParams, other) -> jax.Array:
    """Effective data of one domain from the others' total: ``k * other ** alpha``."""
    alpha = jax.nn.sigmoid(row.alpha_logit)
    other = jnp.maximum(other, tiny(other))
    return jnp.exp(row.log_k + alpha * jnp.log(other))


def effective_loss(row: TransferParams, data) -> jax.Array:
    """``C * data ** (-beta) + E`` for effective data ``data``."""
    beta = jnp.exp(row.log_beta)
    return jnp.exp(row.log_C - beta * jnp.log(data)) + jnp.exp(row.log_E)


def transfer_fields(params) -> TransferParams:
    """The transfer law's fields of a law that extends it, taken by name."""
    return TransferParams(**{f: getattr(params, f) for f in TransferParams._fields})


PRIOR_MEAN = TransferParams(
    log_C=0.0, log_k=math.log(0.3), alpha_logit=0.0, log_beta=math.log(0.3), log_E=0.0
)
PRIOR_STD = TransferParams(log_C=3.0, log_k=3.0, alpha_logit=2.0, log_beta=2.0, log_E=3.0)


def penalty(params: TransferParams) -> jax.Array:
    """``[...]`` weak Gaussian prior (negative log density) on every unconstrained field.

    For amounts and losses normalized to order one (as the joint fit does): it keeps the
    directions the pilots leave flat (the k-alpha curve; the slide of the power law toward
    an exponential, C and beta -> inf; E -> 0) from drifting to degenerate values, so
    every fit has a finite minimizer.
    """
    terms = jax.tree.map(lambda p, m, s: 0.5 * ((p - m) / s) ** 2, params, PRIOR_MEAN, PRIOR_STD)
    return sum(jax.tree.leaves(terms))


def to_natural(params: TransferParams) -> dict:
    return {
        "C": jnp.exp(params.log_C),
        "k": jnp.exp(params.log_k),
        "alpha": jax.nn.sigmoid(params.alpha_logit),
        "beta": jnp.exp(params.log_beta),
        "E": jnp.exp(params.log_E),
    }


def from_natural(values: dict) -> TransferParams:
    """Unconstrained parameters from natural values (lists or ``[K]`` arrays)."""
    alpha = np.clip(np.asarray(values["alpha"], dtype=float), 1e-12, 1 - 1e-12)
    return TransferParams(
        log_C=jnp.log(jnp.asarray(values["C"], dtype=float)),
        log_k=jnp.log(jnp.asarray(values["k"], dtype=float)),
        alpha_logit=jnp.asarray(np.log(alpha) - np.log1p(-alpha)),
        log_beta=jnp.log(jnp.asarray(values["beta"], dtype=float)),
        log_E=jnp.log(jnp.asarray(values["E"], dtype=float)),
    )


def check_natural(values: dict) -> str | None:
    for name in ("C", "k", "beta", "E"):
        if not values[name] > 0:
            return f"{name} must be > 0, got {values[name]!r}"
    if not 0.0 <= values["alpha"] <= 1.0:
        return f"alpha must be in [0, 1], got {values['alpha']!r}"
    return None


def unscale(params: TransferParams, log_s) -> TransferParams:
    """Parameters for raw amounts from parameters fitted on ``amounts / s``."""
    alpha = jax.nn.sigmoid(params.alpha_logit)
    beta = jnp.exp(params.log_beta)
    return params._replace(
        log_C=params.log_C + beta * log_s, log_k=params.log_k + (1.0 - alpha) * log_s
    )


GRID_K = (0.03, 0.3, 1.0)
GRID_ALPHA = (0.15, 0.5, 0.85)
GRID_BETA = (0.02, 0.06, 0.2, 0.6)


def amplitudes(x, losses, mask):
    """Best positive ``(C, E)`` ``[G, K]`` of ``L = C x + E`` for features ``x [G, R, K]``.

    Weighted least squares (``mask [R, K]``: bool or observation weights), with E kept in
    ``(0, min L)`` and C refitted through the origin where E was clipped.
    """
    w = jnp.asarray(mask, x.dtype)
    mask = w > 0
    y = jnp.where(mask, losses, 0.0)
    cnt = jnp.sum(w, axis=0)  # [K]
    mx = jnp.sum(w * x, axis=1) / cnt  # [G, K]
    my = jnp.sum(w * y, axis=0) / cnt  # [K]
    cov = jnp.sum(w * (x - mx[:, None]) * (y - my)[None], axis=1)
    var = jnp.sum(w * (x - mx[:, None]) ** 2, axis=1)
    ymin = jnp.min(jnp.where(mask, losses, jnp.inf), axis=0)  # [K]
    c = jnp.maximum(cov / jnp.maximum(var, tiny(var)), 1e-6 * my)
    e = jnp.clip(my - c * mx, 1e-3 * ymin, 0.999 * ymin)
    c = jnp.maximum(
        jnp.sum(w * x * (y - e[:, None]), axis=1) / jnp.maximum(jnp.sum(w * x * x, axis=1), 1e-30),
        1e-6 * my,
    )
    return c, e


def init_grid(amounts, losses, mask) -> TransferParams:
    """``[G, K]`` starting points: a grid over (k, alpha, beta) with C, E by least squares.

    For fixed (k, alpha, beta) the law is linear in (C, E): L = C x + E with x = D^-beta,
    so each grid point gets its best amplitudes (variable projection), kept positive.
    """
    grid = np.array(list(itertools.product(GRID_K, GRID_ALPHA, GRID_BETA)))
    dtype = jnp.result_type(amounts)
    k, alpha, beta = (jnp.asarray(grid[:, j], dtype) for j in range(3))  # [G]
    other = jnp.sum(amounts, axis=1, keepdims=True) - amounts  # [R, K]
    d = (
        amounts[None]
        + k[:, None, None] * jnp.maximum(other, tiny(other))[None] ** alpha[:, None, None]
    )  # [G, R, K]
    c, e = amplitudes(d ** (-beta[:, None, None]), losses, mask)
    shape = c.shape
    return TransferParams(
        log_C=jnp.log(c),
        log_k=jnp.broadcast_to(jnp.log(k)[:, None], shape),
        alpha_logit=jnp.broadcast_to(jnp.log(alpha / (1 - alpha))[:, None], shape),
        log_beta=jnp.broadcast_to(jnp.log(beta)[:, None], shape),
        log_E=jnp.log(e),
    )


TRANSFER = Law(
    name="transfer",
    param_names=("C", "k", "alpha", "beta", "E"),
    loss=loss,
    penalty=penalty,
    separable=True,
    to_natural=to_natural,
    from_natural=from_natural,
    unscale=unscale,
    init_grid=init_grid,
    check_natural=check_natural,
    convex_with_repetition=True,
    loss_fields=("log_C", "log_E"),
)
