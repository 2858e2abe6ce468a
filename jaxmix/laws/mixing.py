"""The ``mixing_law`` law: the Data Mixing Laws form (Ye et al., ICLR 2025) at a fixed budget.

    L_i = c_i + k_i * exp(sum_{j != i} t_ij * w_j),    w = n / sum(n).

The loss depends on the proportions only, not on the amount of data: fit it to runs of one
budget and optimize at that budget. Because the weights sum to one, a coefficient on w_i is
redundant (it shifts every t_ij and rescales k_i), so row i has no t_ii: K + 1 parameters,
all identified. With k_i > 0 the objective is convex in the weights (not separable); with
repeated data (proportions of effective amounts) it is not.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.laws.base import Law, sources


class MixingParams(NamedTuple):
    """Unconstrained parameters; ``t`` is ``[K, K-1]`` (row i over sources j != i).

    Attributes:
      log_c: ``[K]`` log of the loss floor c > 0.
      log_k: ``[K]`` log of the scale k > 0.
      t: ``[K, K-1]`` exponents t_ij (any sign: a source can help or hurt domain i).
    """

    log_c: jax.Array
    log_k: jax.Array
    t: jax.Array


def _loss(row: MixingParams, src_weights):
    """Losses ``[...]`` from the other domains' weights ``[..., K-1]`` (one row)."""
    return jnp.exp(row.log_c) + jnp.exp(row.log_k + jnp.sum(row.t * src_weights, axis=-1))


def predict_domain(row: MixingParams, amounts: jax.Array, i) -> jax.Array:
    """Losses ``[R]`` of domain ``i`` for runs ``amounts [R, K]`` (their proportions)."""
    w = amounts / jnp.sum(amounts, axis=1, keepdims=True)
    return _loss(row, w[:, sources(amounts.shape[1], i)])


def predict_weights(params: MixingParams, weights: jax.Array, budget) -> jax.Array:
    """Losses ``[K]`` at mixture ``weights [K]``; the budget is ignored (fixed-budget law).

    >>> p = from_natural(dict(c=[1.0, 1.0], k=[1.0, 1.0], t=[[0.0], [1.0]]))
    >>> [round(float(v), 4) for v in predict_weights(p, jnp.array([0.5, 0.5]), 10.0)]
    [2.0, 2.6487]
    """
    k = weights.shape[0]
    idx = jnp.stack([sources(k, i) for i in range(k)])  # [K, K-1]
    return jax.vmap(_loss)(params, weights[idx])


def predict_amounts(params: MixingParams, amounts: jax.Array) -> jax.Array:
    """Losses ``[K]`` of a run with ``amounts [K]`` (only their proportions matter)."""
    return predict_weights(params, amounts / jnp.sum(amounts), None)


def penalty(row: MixingParams) -> jax.Array:
    """``[]`` weak prior keeping t bounded along directions the runs leave flat, and the
    floor c and scale k (on losses normalized to order one) finite."""
    amp = 0.5 * (row.log_c / 3.0) ** 2 + 0.5 * (row.log_k / 3.0) ** 2
    return amp + jnp.sum(0.5 * (row.t / 5.0) ** 2)


def to_natural(params: MixingParams) -> dict:
    return {"c": jnp.exp(params.log_c), "k": jnp.exp(params.log_k), "t": params.t}


def from_natural(values: dict) -> MixingParams:
    return MixingParams(
        log_c=jnp.log(jnp.asarray(values["c"], dtype=float)),
        log_k=jnp.log(jnp.asarray(values["k"], dtype=float)),
        t=jnp.asarray(values["t"], dtype=float),
    )


def check_natural(values: dict) -> str | None:
    for name in ("c", "k"):
        if not values[name] > 0:
            return f"{name} must be > 0, got {values[name]!r}"
    return None


def unscale(params: MixingParams, log_s) -> MixingParams:
    """Proportions do not depend on the unit of the amounts: unchanged."""
    del log_s
    return params


_FLOOR = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)


def init_grid(amounts, losses, mask) -> MixingParams:
    """``[G, K]`` starts: for each floor ``c = f * min(L)``, ``log(L - c)`` is linear in the
    source weights, so (log k, t) come from one weighted least-squares solve per domain."""
    dtype = jnp.result_type(amounts)
    nk = amounts.shape[1]
    w_obs = jnp.asarray(mask, dtype)  # [R, K]
    seen = w_obs > 0
    ymin = jnp.min(jnp.where(seen, losses, jnp.inf), axis=0)  # [K]
    props = amounts / jnp.sum(amounts, axis=1, keepdims=True)

    def one(f, i):
        c = f * ymin[i]
        z = jnp.log(jnp.maximum(jnp.where(seen[:, i], losses[:, i], 1.0) - c, 1e-12))
        x = jnp.concatenate(
            [jnp.ones((amounts.shape[0], 1), dtype), props[:, sources(nk, i)]], axis=1
        )  # [R, K]
        wx = x * w_obs[:, i][:, None]
        gram = x.T @ wx + 1e-8 * jnp.eye(nk, dtype=dtype)
        coef = jnp.linalg.solve(gram, wx.T @ z)
        return jnp.log(jnp.maximum(c, 1e-6 * ymin[i])), coef[0], coef[1:]

    floors = jnp.asarray(np.array(_FLOOR), dtype)
    log_c, log_k, t = jax.vmap(lambda f: jax.vmap(lambda i: one(f, i))(jnp.arange(nk)))(floors)
    return MixingParams(log_c=log_c, log_k=log_k, t=t)


MIXING_LAW = Law(
    name="mixing_law",
    param_names=("c", "k", "t"),
    predict_amounts=predict_amounts,
    predict_weights=predict_weights,
    predict_domain=predict_domain,
    penalty=penalty,
    separable=False,
    to_natural=to_natural,
    from_natural=from_natural,
    unscale=unscale,
    init_grid=init_grid,
    check_natural=check_natural,
    per_source=("t",),
    convex=True,
    loss_fields=("log_c", "log_k"),
)
