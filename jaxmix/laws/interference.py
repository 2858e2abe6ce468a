"""The ``interference`` law: the paper's transfer law times a signed mixture factor.

    L_i = (C_i * D_i ** (-beta_i) + E_i) * exp(sum_{j != i} g_ij * w_j),
    D_i = n_i + k_i * (N - n_i) ** alpha_i,    w = n / N.

The transfer law only lets other domains help (k_i > 0). Real SFT mixtures also interfere:
more arithmetic can raise the loss on code. ``g_ij`` (any sign) is the Data Mixing Laws
exponent of source j on domain i, so the law nests ``transfer`` (g = 0). It reaches only a
subfamily of the ``mixing_law`` ``c + k exp(t . w)``: as C -> 0 it tends to
``E exp(g . w)``, the mixing law with floor c = 0; a mixing law with a positive floor is not
a member. Both factors are log-convex in the weights (``-beta log D`` is convex for concave
D; constants and ``exp`` of a linear map are log-convex), so their product — the objective —
is convex on the simplex: the Frank-Wolfe gap certifies it. With repeated data the weights
in the factor become proportions of effective amounts and convexity is lost (see
:mod:`jaxmix.laws.repetition`). Row i has 5 + (K - 1) parameters.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmix.laws import transfer as transfer_law
from jaxmix.laws.base import Law, source_proportions


class InterferenceParams(NamedTuple):
    """The transfer law's ``[K]`` fields plus ``g [K, K-1]`` (row i over sources j != i)."""

    log_C: jax.Array
    log_k: jax.Array
    alpha_logit: jax.Array
    log_beta: jax.Array
    log_E: jax.Array
    g: jax.Array


def _base(row: InterferenceParams) -> transfer_law.TransferParams:
    return transfer_law.transfer_fields(row)


def loss(row: InterferenceParams, amounts: jax.Array, i) -> jax.Array:
    """``[...]`` losses of domain ``i`` in runs ``amounts [..., K]``: the transfer law's
    times ``exp(g . w)`` over the other domains' proportions (``row``: row ``i``).

    >>> p = from_natural(dict(C=[1.0, 1.0], k=[0.5, 0.5], alpha=[0.5, 0.5], beta=[0.3, 0.3],
    ...                       E=[1.0, 1.0], g=[[0.0], [0.2]]))
    >>> row = jax.tree.map(lambda x: x[1], p)
    >>> round(float(loss(row, jnp.array([1.0, 1.0]), 1)), 4)
    2.0838
    """
    factor = jnp.exp(jnp.sum(row.g * source_proportions(amounts, i), axis=-1))
    return transfer_law.loss(_base(row), amounts, i) * factor


def penalty(row: InterferenceParams) -> jax.Array:
    """``[]`` the transfer law's weak prior plus a weak one on g (std 5)."""
    return transfer_law.penalty(_base(row)) + jnp.sum(0.5 * (row.g / 5.0) ** 2)


def to_natural(params: InterferenceParams) -> dict:
    return {**transfer_law.to_natural(_base(params)), "g": params.g}


def from_natural(values: dict) -> InterferenceParams:
    return InterferenceParams(
        **transfer_law.from_natural(values)._asdict(), g=jnp.asarray(values["g"], dtype=float)
    )


def check_natural(values: dict) -> str | None:
    return transfer_law.check_natural(values)


def unscale(params: InterferenceParams, log_s) -> InterferenceParams:
    """Only the transfer part depends on the unit of the amounts."""
    return InterferenceParams(**transfer_law.unscale(_base(params), log_s)._asdict(), g=params.g)


def init_grid(amounts, losses, mask) -> InterferenceParams:
    """The transfer law's grid with g = 0 (no interference) at every start."""
    base = transfer_law.init_grid(amounts, losses, mask)
    g, k = base.log_C.shape
    return InterferenceParams(**base._asdict(), g=jnp.zeros((g, k, k - 1), base.log_C.dtype))


INTERFERENCE = Law(
    name="interference",
    param_names=("C", "k", "alpha", "beta", "E", "g"),
    loss=loss,
    penalty=penalty,
    separable=False,
    to_natural=to_natural,
    from_natural=from_natural,
    unscale=unscale,
    init_grid=init_grid,
    check_natural=check_natural,
    per_source=("g",),
    convex=True,
    loss_fields=("log_C", "log_E"),
)
