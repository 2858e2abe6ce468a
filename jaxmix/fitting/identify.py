"""Which parameter directions do the pilots determine? A Jacobian (Gauss-Newton) analysis.

For each domain, the residuals of the fitted law are linearized in the unconstrained
parameters: ``J [R, P]``. A right singular vector whose singular value is tiny next to the
largest is a direction the pilots cannot see (``unidentified``: for the paper's design, the
k-alpha curve); one whose standard error ``sigma / s`` is large is ``weak``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.laws.base import flat_field_names

UNIDENTIFIED_RTOL = 1e-6  # relative singular value below which a direction is invisible
WEAK_STD = 0.5  # standard error (unconstrained units) above which a direction is weak


class Identifiability(NamedTuple):
    """Per-domain linearized identifiability; leading axis ``[K]``.

    Attributes:
      singular_values: ``[K, P]`` singular values of the residual Jacobian, descending.
      directions: ``[K, P, P]`` right singular vectors (row j pairs with value j).
      sigma: ``[K]`` residual standard deviation (NaN when runs <= parameters).
      std_error: ``[K, P]`` standard error of each unconstrained parameter (pseudo-inverse).
    """

    singular_values: jax.Array
    directions: jax.Array
    sigma: jax.Array
    std_error: jax.Array


def domain_residuals(law, amounts, losses, mask, i):
    """``row -> [R]`` log residuals of domain ``i`` (zero where not observed)."""
    y = jnp.where(mask[:, i], losses[:, i], 1.0)

    def fn(row):
        pred = law.predict_domain(row, amounts, i)
        return jnp.where(mask[:, i], jnp.log(pred) - jnp.log(y), 0.0)

    return fn


def identifiability(law, params, amounts, losses, mask) -> Identifiability:
    """Linearized identifiability of every domain at ``params`` (leaves ``[K]``)."""
    k = amounts.shape[1]

    def one(i):
        row = jax.tree.map(lambda leaf: leaf[i], params)
        fn = domain_residuals(law, amounts, losses, mask, i)
        flat, unravel = jax.flatten_util.ravel_pytree(row)
        r = fn(row)
        jac = jax.jacfwd(lambda v: fn(unravel(v)))(flat)  # [R, P]
        _, s, vt = jnp.linalg.svd(jac, full_matrices=False)
        n, p = jnp.sum(mask[:, i]), flat.shape[0]
        sigma = jnp.where(n > p, jnp.sqrt(jnp.sum(r**2) / jnp.maximum(n - p, 1)), jnp.nan)
        tiny = s[0] * UNIDENTIFIED_RTOL
        inv = jnp.where(s > tiny, 1.0 / jnp.where(s > tiny, s, 1.0), jnp.inf)
        se = sigma * jnp.sqrt(jnp.sum((vt * inv[:, None]) ** 2, axis=0))
        return s, vt, sigma, se

    s, vt, sigma, se = jax.vmap(one)(jnp.arange(k))
    return Identifiability(s, vt, sigma, se)


@functools.partial(jax.jit, static_argnames="law_name")
def identifiability_by_name(
    params, amounts, losses, mask, log_scale, *, law_name: str
) -> Identifiability:
    """Jitted :func:`identifiability` of a registered law at raw-unit ``params``, evaluated on
    ``amounts / exp(log_scale)`` (normalized amounts condition the Jacobian)."""
    from jaxmix.laws.registry import get_law

    law = get_law(law_name)
    scaled = law.unscale(params, -log_scale)
    return identifiability(law, scaled, amounts / jnp.exp(log_scale), losses, mask)


def describe(ident: Identifiability, params, domains: tuple) -> tuple[dict, list]:
    """JSON-ready report and warning lines from an :class:`Identifiability` of ``params``
    (whose unconstrained entry names label the directions)."""
    s, vt = np.asarray(ident.singular_values), np.asarray(ident.directions)
    sigma = np.asarray(ident.sigma)
    report, warnings = {}, []
    for i, d in enumerate(domains):
        names = flat_field_names(params, domains, i)
        dirs = []
        for j in range(s.shape[1]):
            rel = s[i, j] / s[i, 0] if s[i, 0] > 0 else 0.0
            std = sigma[i] / s[i, j] if s[i, j] > 0 else np.inf
            kind = (
                "unidentified"
                if rel < UNIDENTIFIED_RTOL
                else ("weak" if np.isfinite(std) and std > WEAK_STD else None)
            )
            if kind is None:
                continue
            vec = {n: round(float(v), 4) for n, v in zip(names, vt[i, j]) if abs(v) > 0.05}
            dirs.append(
                {
                    "kind": kind,
                    "relative_singular_value": float(rel),
                    "std_error": float(std) if np.isfinite(std) else None,
                    "vector": vec,
                }
            )
            warnings.append(
                f"{d}: the pilots do not {'determine' if kind == 'unidentified' else 'pin down'}"
                f" the direction {vec} ({kind}; relative singular value {rel:.1e})"
            )
        report[d] = {
            "relative_singular_values": [float(v / s[i, 0]) if s[i, 0] > 0 else 0.0 for v in s[i]],
            "residual_std": None if not np.isfinite(sigma[i]) else float(sigma[i]),
            "std_error": {
                n: (float(v) if np.isfinite(v) else None)
                for n, v in zip(names, np.asarray(ident.std_error)[i])
            },
            "directions": dirs,
        }
    return report, warnings
