"""The fitted model: a law, its parameters for K named domains, and how well it fits."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.laws.base import natural_columns, natural_rows
from jaxmix.laws.registry import get_law
from jaxmix.status import Status


class FitResult(NamedTuple):
    """A fitted (or hand-written) loss model.

    Attributes:
      law: registry name of the law family (``"transfer"``).
      domains: the K domain names; ``params`` rows follow this order.
      params: the law's unconstrained parameter NamedTuple, leaves ``[K]``, for amounts in
        the pilot table's unit.
      method: ``"joint"``, ``"reference"`` or ``"given"`` (written by hand).
      target: the loss column fitted (``"loss:<domain>"`` per domain, or an aggregate).
      status: ``[K]`` int32 solver :class:`Status` of each domain's best restart.
      objective: ``[K]`` summed Huber loss of each domain at ``params``.
      residuals: ``[R, K]`` relative residuals ``pred / observed - 1`` on the pilot runs
        used by the fit (NaN where a domain was not fitted on a run), or None.
      amount_range: ``[K, 2]`` smallest and largest own amount of each domain in the pilots.
      diagnostics: JSON-ready dict: identifiability per domain, restarts, dropped terms.
      warnings: tuple of one-line messages for the user.
      at_bound: ``{domain: {param: "low" | "high"}}`` parameters of the joint fit held by
        the law's weak prior at the edge of their range (2.5 prior standard deviations or
        more from its centre: E -> 0, alpha -> 0 or 1, beta -> inf, ...) rather than
        determined by the pilots; an empty dict per domain when none, None when unknown.
    """

    law: str
    domains: tuple
    params: object
    method: str = "given"
    target: str | None = None
    status: np.ndarray | None = None
    objective: np.ndarray | None = None
    residuals: np.ndarray | None = None
    amount_range: np.ndarray | None = None
    diagnostics: dict | None = None
    warnings: tuple = ()
    at_bound: dict | None = None

    def converged_share(self) -> float | None:
        """Share of domains whose fit ended with SUCCESS (None for a hand-written fit)."""
        if self.status is None:
            return None
        return float(np.mean(np.asarray(self.status) == 0))

    def natural(self) -> dict:
        """``{domain: {param: float}}`` in the law's natural parameters."""
        values = jax.device_get(_natural(self.params, law_name=self.law))
        return natural_rows(get_law(self.law), values, self.domains)


@functools.partial(jax.jit, static_argnames="law_name")
def _natural(params, *, law_name: str) -> dict:
    return get_law(law_name).to_natural(params)


@functools.partial(jax.jit, static_argnames="law_name")
def predict_params(params, amounts, *, law_name: str):
    return jax.vmap(get_law(law_name).predict_amounts, in_axes=(None, 0))(params, amounts)


def from_params(params: dict, law: str = "transfer", domains=None) -> FitResult:
    """A :class:`FitResult` from published natural parameters ``{domain: {name: value}}``.

    >>> fit = from_params({"a": dict(C=1, k=0.5, alpha=0.5, beta=0.3, E=1),
    ...                    "b": dict(C=1, k=0.5, alpha=0.5, beta=0.3, E=1)})
    >>> fit.domains
    ('a', 'b')
    """
    spec = get_law(law)
    domains = tuple(domains) if domains is not None else tuple(params)
    cols = natural_columns(spec, params, domains)
    return FitResult(law=law, domains=domains, params=spec.from_natural(cols))


def predict(fit: FitResult, amounts) -> jax.Array:
    """Predicted losses ``[..., K]`` for runs with ``amounts [..., K]`` (pilot units).

    >>> fit = from_params({"a": dict(C=1, k=0.5, alpha=0.5, beta=0.3, E=1),
    ...                    "b": dict(C=1, k=0.5, alpha=0.5, beta=0.3, E=1)})
    >>> [[round(float(v), 4) for v in r] for r in predict(fit, [[1.0, 1.0]])]
    [[1.8855, 1.8855]]
    """
    amounts = np.asarray(amounts, dtype=jnp.result_type(float))
    params = jax.tree.map(lambda x: jnp.asarray(x, amounts.dtype), fit.params)
    flat = amounts.reshape(-1, amounts.shape[-1])
    rows = flat.shape[0]
    # Rows padded to a power of two (at least 8) with copies of a real row: one compile
    # serves every table up to that size instead of one per number of rows.
    size = max(8, 1 << max(rows - 1, 0).bit_length())
    fill = flat[:1] if rows else np.ones((1, flat.shape[1]), flat.dtype)
    pad = np.broadcast_to(fill, (size - rows, flat.shape[1]))
    out = predict_params(params, np.concatenate([flat, pad]), law_name=fit.law)[:rows]
    return out.reshape(amounts.shape)


def status_warnings(domains, status) -> list[str]:
    """One warning per domain whose solver did not succeed."""
    return [
        f"{d}: fit {Status.describe(s)}"
        for d, s in zip(domains, np.asarray(status))
        if int(s) != Status.SUCCESS
    ]


def amount_range(table) -> np.ndarray:
    """``[K, 2]`` smallest and largest pilot amount of each domain."""
    return np.stack([table.amounts.min(axis=0), table.amounts.max(axis=0)], axis=1)
