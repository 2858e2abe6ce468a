"""The ``pairwise`` law: every source domain transfers with its own coefficient and exponent.

    D_i = n_i + sum_{j != i} k_ij * n_j ** alpha_ij,    L_i = C_i * D_i ** (-beta_i) + E_i.

The paper's ``transfer`` law is the special case where all sources share one (k, alpha) and
are pooled before the power. Each row has 3 + 2 (K - 1) parameters; the 1 + 4K design
varies each source domain on its own, which is what identifies (k_ij, alpha_ij) when every
domain's loss is measured in every run. The objective is convex in the weights (D_i is
concave, x ** -beta convex and decreasing) but not separable, so the optimizer's answer is
certified by its Frank-Wolfe gap rather than the exact multiplier solver.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.laws import transfer as transfer_law
from jaxmix.laws.base import Law, sources
from jaxmix.laws.transfer import GRID_ALPHA, GRID_BETA, GRID_K, amplitudes, tiny, unscale


class PairwiseParams(NamedTuple):
    """Unconstrained parameters; ``[K]`` leaves except the per-source ``[K, K-1]`` ones.

    Attributes:
      log_C: ``[K]`` log of C > 0.
      log_k: ``[K, K-1]`` log of k_ij > 0, row i over the sources j != i in domain order.
      alpha_logit: ``[K, K-1]`` logit of alpha_ij in [0, 1].
      log_beta: ``[K]`` log of beta > 0.
      log_E: ``[K]`` log of E > 0.
    """

    log_C: jax.Array
    log_k: jax.Array
    alpha_logit: jax.Array
    log_beta: jax.Array
    log_E: jax.Array


def loss(row: PairwiseParams, amounts: jax.Array, i) -> jax.Array:
    """``[...]`` losses of domain ``i`` in runs ``amounts [..., K]`` (``row``: row ``i``).

    >>> p = from_natural(dict(C=[1.0, 1.0], beta=[0.3, 0.3], E=[1.0, 1.0],
    ...                       k=[[0.5], [0.5]], alpha=[[0.5], [0.5]]))
    >>> row = jax.tree.map(lambda x: x[0], p)
    >>> round(float(loss(row, jnp.array([1.0, 1.0]), 0)), 4)
    1.8855
    """
    own = jnp.take(amounts, i, axis=-1)
    src = jnp.take(amounts, sources(amounts.shape[-1], i), axis=-1)  # [..., K-1]
    alpha = jax.nn.sigmoid(row.alpha_logit)
    src = jnp.maximum(src, tiny(src))
    transfer = jnp.sum(jnp.exp(row.log_k + alpha * jnp.log(src)), axis=-1)
    log_d = jnp.log(own + transfer)
    return jnp.exp(row.log_C - jnp.exp(row.log_beta) * log_d) + jnp.exp(row.log_E)


def penalty(row: PairwiseParams) -> jax.Array:
    """``[]`` weak Gaussian prior on every field of one row (as in ``transfer``)."""
    mean, std = transfer_law.PRIOR_MEAN, transfer_law.PRIOR_STD
    return sum(
        jnp.sum(0.5 * ((getattr(row, f) - getattr(mean, f)) / getattr(std, f)) ** 2)
        for f in PairwiseParams._fields
    )


def to_natural(params: PairwiseParams) -> dict:
    """Natural values; the fields are the transfer law's, per source where it has ``[K]``."""
    return transfer_law.to_natural(transfer_law.transfer_fields(params))


def from_natural(values: dict) -> PairwiseParams:
    """Unconstrained parameters from natural values (``k``, ``alpha``: ``[K][K-1]``)."""
    return PairwiseParams(**transfer_law.from_natural(values)._asdict())


def check_natural(values: dict) -> str | None:
    for name, v in values.items():
        base = name.split(":")[0]
        if base in ("C", "k", "beta", "E") and not v > 0:
            return f"{name} must be > 0, got {v!r}"
        if base == "alpha" and not 0.0 <= v <= 1.0:
            return f"{name} must be in [0, 1], got {v!r}"
    return None


def init_grid(amounts, losses, mask) -> PairwiseParams:
    """``[G, K]`` (and ``[G, K, K-1]``) starts: the ``transfer`` grid with one (k, alpha)
    shared by all sources, and (C, E) by variable projection."""
    grid = np.array(list(itertools.product(GRID_K, GRID_ALPHA, GRID_BETA)))
    dtype = jnp.result_type(amounts)
    k, alpha, beta = (jnp.asarray(grid[:, j], dtype) for j in range(3))  # [G]
    nk = amounts.shape[1]
    idx = jnp.stack([sources(nk, i) for i in range(nk)])  # [K, K-1]
    src = jnp.maximum(amounts[:, idx], tiny(amounts))  # [R, K, K-1]
    pooled = jnp.sum(src[None] ** alpha[:, None, None, None], axis=-1)  # [G, R, K]
    d = amounts[None] + k[:, None, None] * pooled
    c, e = amplitudes(d ** (-beta[:, None, None]), losses, mask)
    g = c.shape[0]
    per_source = lambda v: jnp.broadcast_to(v[:, None, None], (g, nk, nk - 1))  # noqa: E731
    per_row = lambda v: jnp.broadcast_to(v[:, None], (g, nk))  # noqa: E731
    return PairwiseParams(
        log_C=jnp.log(c),
        log_k=per_source(jnp.log(k)),
        alpha_logit=per_source(jnp.log(alpha / (1 - alpha))),
        log_beta=per_row(jnp.log(beta)),
        log_E=jnp.log(e),
    )


PAIRWISE = Law(
    name="pairwise",
    param_names=("C", "beta", "E", "k", "alpha"),
    loss=loss,
    penalty=penalty,
    separable=False,
    to_natural=to_natural,
    from_natural=from_natural,
    unscale=unscale,
    init_grid=init_grid,
    check_natural=check_natural,
    per_source=("k", "alpha"),
    convex=True,
    convex_with_repetition=True,
    loss_fields=("log_C", "log_E"),
)
