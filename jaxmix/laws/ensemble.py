"""Combinations of law families as one law: ``ensemble(transfer+mixing_law)``.

A combination predicts ``sum_m a_m L_m``, row by row (``stack [K, M]``); its members are
registered laws. :mod:`jaxmix.fitting.stacking` chooses the weights ``a``; the registry
builds the law of a combination name on first use (:func:`jaxmix.laws.registry.get_law`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmix.laws.base import Law

ENSEMBLE = "ensemble"


class EnsembleParams(NamedTuple):
    """Parameters of a combination: ``stack [K, M]`` (rows sum to one) and each member's
    parameter pytree (leaves ``[K, ...]``)."""

    stack: jax.Array
    members: tuple


def ensemble_name(members) -> str:
    """Registry name of a combination, e.g. ``ensemble(transfer+mixing_law)``."""
    return f"{ENSEMBLE}({'+'.join(members)})"


def member_names(name: str) -> tuple[str, ...]:
    """Inverse of :func:`ensemble_name`."""
    return tuple(name[len(ENSEMBLE) + 1 : -1].split("+"))


def is_ensemble(name: str) -> bool:
    return name.startswith(ENSEMBLE + "(") and name.endswith(")")


def _unsupported(*_):
    raise NotImplementedError("a law combination is fitted by jaxmix.fit, not refitted directly")


def ensemble_law(name: str, laws: Sequence[Law]) -> Law:
    """Build the :class:`Law` of a combination of ``laws`` (the members named in ``name``, in
    order; its optimum is certified by the Frank-Wolfe gap: convex members give a convex
    objective)."""

    def loss(row, amounts, i):
        out = [law.loss(p, amounts, i) for law, p in zip(laws, row.members)]
        return jnp.stack(out, axis=-1) @ row.stack

    return Law(
        name=name,
        param_names=(),
        loss=loss,
        penalty=lambda row: 0.0,
        separable=False,
        to_natural=lambda params: {},
        from_natural=_unsupported,
        unscale=_unsupported,
        init_grid=_unsupported,
        check_natural=lambda row: None,
        convex=all(law.convex for law in laws),
        convex_with_repetition=all(law.convex_with_repetition for law in laws),
    )
