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

from jaxmix.laws.base import Law, source_proportions, sources


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


def loss(row: MixingParams, amounts: jax.Array, i) -> jax.Array:
    """``[...]`` losses of domain ``i`` in runs ``amounts [..., K]`` (only their
    proportions matter; ``row``: row ``i``).

    >>> law_row = MixingParams(log_c=jnp.array(0.0), log_k=jnp.array(0.0), t=jnp.array([1.0]))
    >>> round(float(loss(law_row, jnp.array([5.0, 5.0]), 1)), 4)  # 1 + exp(1 * 0.5)
    2.6487
    """
    src = source_proportions(amounts, i)
    return jnp.exp(row.log_c) + jnp.exp(row.log_k + jnp.sum(row.t * src, axis=-1))


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
    loss=loss,
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
