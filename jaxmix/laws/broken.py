"""The ``broken`` law: the transfer law's effective data with a smoothly broken power law.

    L_i = C_i * D_i ** (-beta_i) * (1 + D_i / B_i) ** (-gamma_i) + E_i,
    D_i = n_i + k_i * (N - n_i) ** alpha_i.

Below the break B the loss falls with log-log slope -beta, above it with -(beta + gamma):
a domain whose loss keeps falling faster beyond the pilots (Caballero et al. 2022, "Broken
Neural Scaling Laws", one break with unit sharpness) can bend where a single power law
cannot. With gamma -> 0 it is the transfer law. Both factors are log-convex in the weights
(``-log D`` and ``-log(1 + D/B)`` are convex for concave D), so the objective stays convex
and separable: the exact multiplier solver certifies it. Pilots that never reach the break
leave (gamma, B) undetermined, which the identifiability report says; ``jaxmix validate``
should pick this law only when held-out runs support it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmix.laws import transfer as transfer_law
from jaxmix.laws.base import Law, own_and_others


class BrokenParams(NamedTuple):
    """The transfer law's ``[K]`` fields plus ``log_gamma`` and ``log_B`` (``[K]``)."""

    log_C: jax.Array
    log_k: jax.Array
    alpha_logit: jax.Array
    log_beta: jax.Array
    log_E: jax.Array
    log_gamma: jax.Array
    log_B: jax.Array


def _base(p: BrokenParams) -> transfer_law.TransferParams:
    return transfer_law.transfer_fields(p)


def loss(row: BrokenParams, amounts: jax.Array, i) -> jax.Array:
    """``[...]`` losses of domain ``i`` in runs ``amounts [..., K]`` (``row``: row ``i``).

    >>> row = from_natural(dict(C=[1.0], k=[0.5], alpha=[0.5], beta=[0.3], E=[1.0],
    ...                         gamma=[0.5], B=[1.0]))
    >>> row = jax.tree.map(lambda x: x[0], row)
    >>> round(float(loss(row, jnp.array([1.0, 1.0]), 1)), 4)
    1.56
    """
    own, other = own_and_others(amounts, i)
    log_d = jnp.log(own + transfer_law.transfer(_base(row), other))
    bend = jnp.exp(row.log_gamma) * jnp.logaddexp(0.0, log_d - row.log_B)  # gamma log(1+D/B)
    return jnp.exp(row.log_C - jnp.exp(row.log_beta) * log_d - bend) + jnp.exp(row.log_E)


def penalty(row: BrokenParams) -> jax.Array:
    """The transfer law's weak prior plus one on gamma (around 0.1, wide) and one on the
    break B (around the pilots' normalized amounts, wide)."""
    gamma = 0.5 * ((row.log_gamma - math.log(0.1)) / 3.0) ** 2
    return transfer_law.penalty(_base(row)) + gamma + 0.5 * (row.log_B / 3.0) ** 2


def to_natural(params: BrokenParams) -> dict:
    return {
        **transfer_law.to_natural(_base(params)),
        "gamma": jnp.exp(params.log_gamma),
        "B": jnp.exp(params.log_B),
    }


def from_natural(values: dict) -> BrokenParams:
    return BrokenParams(
        **transfer_law.from_natural(values)._asdict(),
        log_gamma=jnp.log(jnp.asarray(values["gamma"], dtype=float)),
        log_B=jnp.log(jnp.asarray(values["B"], dtype=float)),
    )


def check_natural(values: dict) -> str | None:
    why = transfer_law.check_natural(values)
    for name in ("gamma", "B"):
        if why is None and not values[name] > 0:
            why = f"{name} must be > 0, got {values[name]!r}"
    return why


def unscale(params: BrokenParams, log_s) -> BrokenParams:
    """Raw-unit parameters: C also absorbs the break's scale, B is an amount."""
    base = transfer_law.unscale(_base(params), log_s)
    return BrokenParams(**base._asdict(), log_gamma=params.log_gamma, log_B=params.log_B + log_s)


_GRID_GAMMA = (0.1, 0.5)


def init_grid(amounts, losses, mask) -> BrokenParams:
    """The transfer grid, each point with a break at the largest pilot's effective data and
    a small or a large extra slope; (C, E) by variable projection."""
    base = transfer_law.init_grid(amounts, losses, mask)  # leaves [G, K]
    g, k = base.log_C.shape
    rows = jax.tree.map(lambda x: jnp.concatenate([x] * len(_GRID_GAMMA)), base)
    gamma = jnp.repeat(jnp.asarray(_GRID_GAMMA, amounts.dtype), g)[:, None] * jnp.ones((1, k))
    other = jnp.sum(amounts, axis=1, keepdims=True) - amounts  # [R, K]
    alpha = jax.nn.sigmoid(rows.alpha_logit)[:, None]  # [G', 1, K]
    tiny = transfer_law.tiny(other)
    d = amounts[None] + jnp.exp(rows.log_k)[:, None] * jnp.maximum(other, tiny)[None] ** alpha
    log_b = jnp.log(jnp.max(d, axis=1))  # [G', K]: the break at the largest pilot
    x = d ** (-jnp.exp(rows.log_beta)[:, None]) * (1 + d / jnp.exp(log_b)[:, None]) ** (
        -gamma[:, None]
    )
    c, e = transfer_law.amplitudes(x, losses, mask)
    return BrokenParams(
        log_C=jnp.log(c),
        log_k=rows.log_k,
        alpha_logit=rows.alpha_logit,
        log_beta=rows.log_beta,
        log_E=jnp.log(e),
        log_gamma=jnp.log(gamma),
        log_B=log_b,
    )


BROKEN = Law(
    name="broken",
    param_names=("C", "k", "alpha", "beta", "E", "gamma", "B"),
    loss=loss,
    penalty=penalty,
    separable=True,
    to_natural=to_natural,
    from_natural=from_natural,
    unscale=unscale,
    init_grid=init_grid,
    check_natural=check_natural,
    convex=True,
    convex_with_repetition=True,
    loss_fields=("log_C", "log_E"),
)
