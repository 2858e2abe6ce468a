"""Repeated data: effective amounts when a domain's unique data is used more than once.

Muennighoff et al. (NeurIPS 2023, "Scaling Data-Constrained Language Models") model U
unique tokens seen for R repetitions beyond the first epoch as worth

    D' = U + U * R* * (1 - exp(-R / R*)),    R = n / U - 1,

so repeats are worth less and less (at most U * R* extra). Below one epoch D' = n. The map
is concave and increasing in n with slope 1 up to U. An objective stays convex under it only
when each loss is a convex non-increasing function of data concave in the amounts (the
``transfer``, ``broken`` and ``pairwise`` laws, ``Law.convex_with_repetition``). Laws of the
proportions (``mixing_law``, ``interference``) see ``D' / sum(D')``, which is not linear in
the weights, and lose convexity: their mixtures then report ``"convex": false``. An
optimizer that puts a large weight on a small domain pays for the repeats.
"""

from __future__ import annotations

import jax.numpy as jnp

R_STAR = 15.4  # Muennighoff et al.'s fitted R*_D for repeated data


def effective_amounts(amounts, unique, r_star=R_STAR):
    """Repetition-aware amounts ``[..., K]`` from raw ``amounts [..., K]``.

    Args:
      amounts: tokens (or examples) trained on per domain.
      unique: ``[K]`` unique data of each domain (``inf``: never repeats).
      r_star: ``[]`` or ``[K]`` decay constant R* of the value of repeats.

    >>> [round(float(x), 3) for x in effective_amounts(jnp.array([0.5, 2.0, 100.0]), 1.0)]
    [0.5, 1.968, 16.375]
    """
    unique = jnp.asarray(unique, jnp.result_type(amounts))
    finite = jnp.isfinite(unique)
    u = jnp.where(finite, unique, 1.0)
    repeats = jnp.maximum(amounts / u - 1.0, 0.0)
    worth = jnp.minimum(amounts, u) + u * r_star * (-jnp.expm1(-repeats / r_star))
    return jnp.where(finite, worth, amounts)
