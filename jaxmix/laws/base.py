"""The law interface, and the helpers every law family shares.

A *law* predicts the validation loss of every domain from the data a run trained on. Fitting
and optimizing see a law only through this interface, so a new family is one new file plus a
``register`` call. Parameters are a NamedTuple of arrays with leading axis ``[K]`` (one row
per domain) in an unconstrained parametrization; the loss of domain i depends only on row i,
so fits are separable by domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax


class Law(NamedTuple):
    """A family of per-domain loss laws.

    Attributes:
      name: registry name, written to fit files (``"transfer"``).
      param_names: natural parameter names of one domain, as in fit files.
      predict_amounts: ``(params, amounts [K]) -> [K]`` losses of a run with those amounts.
      predict_weights: ``(params, weights [K], budget []) -> [K]`` losses at a mixture. For a
        ``separable`` law entry i depends on ``weights[i]`` alone (also off the simplex).
      predict_domain: ``(row, amounts [R, K], i) -> [R]`` losses of domain ``i`` in runs
        ``amounts``; ``row`` is row ``i`` of the parameters (scalar leaves).
      penalty: ``(row) -> []`` weak prior (negative log density) on a row fitted on amounts
        and losses of order one (see ``loss_fields``). It should be coercive in every
        unconstrained coordinate (grow without bound as any one does), so every fit has a
        finite minimizer; the joint fit weighs it against a residual term in units of the
        noise, so a standard deviation of 2-3 keeps it weak.
      separable: the objective is a sum of convex one-dimensional terms in ``weights[i]``,
        so the exact multiplier solver certifies the optimum.
      to_natural: ``params -> {name: [K]}``.
      from_natural: ``{name: [K]} -> params``; values must satisfy the law's constraints.
      unscale: ``(params, log_s) -> params``: turn parameters fitted on amounts divided by
        ``s`` into parameters for the raw amounts.
      init_grid: ``(amounts [R, K], losses [R, K], weights [R, K]) -> params [G, K]``:
        starting points for a fit on amounts of order one (weights: 0 where unobserved).
      check_natural: ``{name: float} -> str | None``: why one domain's natural values are
        invalid, or None (per-source values arrive as ``name:<source>`` keys).
      per_source: natural names whose values are ``[K, K-1]`` (one per other domain).
      convex: the predicted objective is convex in the weights, so a small Frank-Wolfe gap
        certifies the optimizer's answer.
      convex_with_repetition: the objective stays convex when each amount is replaced by a
        concave, increasing effective amount (repeated data): true when every loss is a convex
        non-increasing function of data that is concave in the amounts; false for laws of the
        proportions ``n / sum(n)``, which a concave map of the amounts does not keep linear.
      loss_fields: unconstrained fields that are logs of loss amplitudes: dividing a
        domain's losses by ``s`` shifts them by ``-log s`` and leaves the fit otherwise
        unchanged. The joint fit normalizes each domain's losses by their geometric mean.
    """

    name: str
    param_names: tuple
    predict_amounts: Callable
    predict_weights: Callable
    predict_domain: Callable
    penalty: Callable
    separable: bool
    to_natural: Callable
    from_natural: Callable
    unscale: Callable
    init_grid: Callable
    check_natural: Callable
    per_source: tuple = ()
    convex: bool = True
    convex_with_repetition: bool = False
    loss_fields: tuple = ()


def num_domains(params) -> int:
    """K, the number of domains of a parameter pytree (leading axis of its leaves)."""
    return jax.tree.leaves(params)[0].shape[0]


def row_names(law: Law, domains, i: int) -> tuple[str, ...]:
    """Natural parameter names of domain ``i``, per-source ones expanded.

    >>> from jaxmix import get_law
    >>> row_names(get_law("pairwise"), ("a", "b", "c"), 1)
    ('C', 'beta', 'E', 'k:a', 'k:c', 'alpha:a', 'alpha:c')
    """
    sources = [d for j, d in enumerate(domains) if j != i]
    out = [n for n in law.param_names if n not in law.per_source]
    for n in law.per_source:
        out += [f"{n}:{s}" for s in sources]
    return tuple(out)


def flat_field_names(params, domains, i: int) -> tuple[str, ...]:
    """Names of row ``i``'s unconstrained entries in ``ravel_pytree`` order (``log_k:b``)."""
    sources = [d for j, d in enumerate(domains) if j != i]
    out = []
    for field, leaf in zip(type(params)._fields, params):
        out += [field] if leaf.ndim == 1 else [f"{field}:{s}" for s in sources]
    return tuple(out)


def natural_rows(law: Law, values: dict, domains) -> dict:
    """``{domain: {name: float}}`` from ``to_natural`` arrays (``[K]`` or ``[K, K-1]``)."""
    out = {}
    for i, d in enumerate(domains):
        row = {n: float(values[n][i]) for n in law.param_names if n not in law.per_source}
        sources = [s for j, s in enumerate(domains) if j != i]
        for n in law.per_source:
            row.update({f"{n}:{s}": float(v) for s, v in zip(sources, values[n][i])})
        out[d] = row
    return out


def natural_columns(law: Law, rows: dict, domains) -> dict:
    """Inverse of :func:`natural_rows`: ``{name: [K] or [K][K-1] lists}``."""
    cols = {
        n: [float(rows[d][n]) for d in domains] for n in law.param_names if n not in law.per_source
    }
    for n in law.per_source:
        cols[n] = [[float(rows[d][f"{n}:{s}"]) for s in domains if s != d] for d in domains]
    return cols


def sources(k: int, i):
    """``[K-1]`` indices of the domains other than ``i`` (``i`` may be traced).

    >>> sources(4, 1).tolist()
    [0, 2, 3]
    """
    j = jax.numpy.arange(k - 1)
    return j + (j >= i)
