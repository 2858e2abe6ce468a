"""The law interface, and the helpers every law family shares.

A *law* predicts the validation loss of every domain from the data a run trained on. Fitting
and optimizing see a law only through this interface, so a new family is one new file plus a
``register`` call. Parameters are a NamedTuple of arrays with leading axis ``[K]`` (one row
per domain) in an unconstrained parametrization; the loss of domain i depends only on row i,
so fits are separable by domain.

A law defines one forward function, ``loss(row, amounts, i)``; the loss of a run, of a
mixture at a budget and of one domain over many runs are derived from it
(:meth:`Law.predict_amounts`, :meth:`Law.predict_weights`, :meth:`Law.predict_domain`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Law(NamedTuple):
    """A family of per-domain loss laws.

    Attributes:
      name: registry name, written to fit files (``"transfer"``).
      param_names: natural parameter names of one domain, as in fit files.
      loss: ``(row, amounts [..., K], i) -> [...]``, the law itself: the loss of domain
        ``i`` in runs that trained on ``amounts`` of each domain; ``row`` is row ``i`` of
        the parameters (scalar leaves) and ``i`` may be traced.
      penalty: ``(row) -> []`` weak prior (negative log density) on a row fitted on amounts
        and losses of order one (see ``loss_fields``). It should be coercive in every
        unconstrained coordinate (grow without bound as any one does), so every fit has a
        finite minimizer; the joint fit weighs it against a residual term in units of the
        noise, so a standard deviation of 2-3 keeps it weak.
      separable: domain i's loss depends on a run only through its own amount and the
        total of the others (:func:`own_and_others`), so at a mixture it depends on
        ``weights[i]`` alone, also off the simplex; the objective is then a sum of convex
        one-dimensional terms and the exact multiplier solver certifies the optimum.
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
    loss: Callable
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

    def predict_domain(self, row, amounts: jax.Array, i) -> jax.Array:
        """``[R]`` losses of domain ``i`` in runs ``amounts [R, K]`` (``row``: its row)."""
        return self.loss(row, amounts, i)

    def predict_amounts(self, params, amounts: jax.Array) -> jax.Array:
        """``[K]`` losses of a run that trained on ``amounts [K]`` of each domain.

        >>> from jaxmix import get_law
        >>> law = get_law("transfer")
        >>> p = law.from_natural(dict(C=[1.0, 1.0], k=[0.5, 0.5], alpha=[0.5, 0.5],
        ...                           beta=[0.3, 0.3], E=[1.0, 1.0]))
        >>> [round(float(v), 4) for v in law.predict_amounts(p, jnp.array([1.0, 1.0]))]
        [1.8855, 1.8855]
        """
        k = amounts.shape[-1]
        return jax.vmap(lambda row, i: self.loss(row, amounts, i))(params, jnp.arange(k))

    def predict_weights(self, params, weights: jax.Array, budget) -> jax.Array:
        """``[K]`` losses at mixture ``weights [K]`` of a ``budget``: the run's amounts
        ``weights * budget``. For a ``separable`` law entry i sees domain i's share and the
        rest of the budget, ``(w_i B, (1 - w_i) B)``, so it depends on ``w_i`` alone."""
        if not self.separable:
            return self.predict_amounts(params, weights * budget)
        split = jnp.stack([weights * budget, (1.0 - weights) * budget], axis=-1)  # [K, 2]
        return jax.vmap(lambda row, a: self.loss(row, a, 0))(params, split)


def own_and_others(amounts: jax.Array, i):
    """``(own [...], others [...])``: domain ``i``'s amount in runs ``amounts [..., K]`` and
    the total of the other domains' (summed over them, not subtracted from the total).

    >>> [float(x) for x in own_and_others(jnp.array([1.0, 2.0, 4.0]), 1)]
    [2.0, 5.0]
    """
    k = amounts.shape[-1]
    own = jnp.take(amounts, i, axis=-1)
    others = jnp.sum(jnp.where(jnp.arange(k) == i, 0.0, amounts), axis=-1)
    return own, others


def source_proportions(amounts: jax.Array, i) -> jax.Array:
    """``[..., K-1]`` the other domains' proportions ``n_j / sum(n)`` in runs
    ``amounts [..., K]``, in the order of :func:`sources`.

    >>> source_proportions(jnp.array([1.0, 1.0, 2.0]), 0).tolist()
    [0.25, 0.5]
    """
    w = amounts / jnp.sum(amounts, axis=-1, keepdims=True)
    return jnp.take(w, sources(amounts.shape[-1], i), axis=-1)


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
