"""Joint fit: every domain's law against its loss in every pilot run.

Unlike the reference procedure, domain i sees runs where the *other* domains' amounts vary
(perturbations of domain j), which is what identifies its transfer parameters. The fit is
separable by domain, so each (restart, domain) pair is an independent L-BFGS problem on one
row of the parameters; restarts are chosen per domain.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxmix._identify import Identifiability, domain_residuals, identifiability
from jaxmix._laws import get_law
from jaxmix._newton import minimize

STRATEGIES = ("screen", "vmap", "map")


class JointFit(NamedTuple):
    """Output of :func:`joint_fit_arrays` (one problem; leading axes as noted).

    Attributes:
      params: law parameters, leaves ``[K]``, for the amounts as given (not normalized).
      objective: ``[K]`` summed Huber loss of the chosen restart.
      status: ``[K]`` int32 solver status of the chosen restart.
      restart_objective: ``[S, K]`` final objective of every polished start.
      restart_status: ``[S, K]`` status of every polished start.
      identifiability: :class:`Identifiability` at the fitted parameters (None when the
        fit was called with ``diagnose=False``, as batched bootstrap refits are).
    """

    params: object
    objective: jax.Array
    status: jax.Array
    restart_objective: jax.Array
    restart_status: jax.Array
    identifiability: Identifiability


def domain_objective(law, amounts, losses, weights, delta, prior, i):
    """``row -> []``: summed Huber loss of domain ``i``'s log residuals plus the law's prior.

    The prior is weighted by ``prior * delta**2``: on the scale of a residual of size delta,
    so it decides only along directions the pilots leave flat.
    """
    fn = domain_residuals(law, amounts, losses, weights > 0, i)

    def objective(row):
        fit = jnp.sum(weights[:, i] * optax.losses.huber_loss(fn(row), delta=delta))
        return fit + prior * delta**2 * law.penalty(row)

    return objective


def domain_curvature(law, amounts, losses, weights, delta, prior, i):
    """``row -> [P, P]``: majorizing Gauss-Newton curvature of :func:`domain_objective`.

    The Huber loss is bounded above by the quadratic with weight ``min(1, delta / |r|)``
    at each residual (the IRLS weight), so ``J^T diag(w) J`` is a curvature whose damped
    Newton steps keep descending where the exact Hessian of the linear part is zero.
    """
    fn = domain_residuals(law, amounts, losses, weights > 0, i)

    def curvature(row):
        flat, unravel = ravel_pytree(row)
        r = fn(row)
        jac = jax.jacfwd(lambda v: fn(unravel(v)))(flat)  # [R, P]
        irls = weights[:, i] * jnp.minimum(1.0, delta / jnp.maximum(jnp.abs(r), 1e-300))
        prior_h = jax.hessian(lambda v: law.penalty(unravel(v)))(flat)
        return jac.T @ (irls[:, None] * jac) + prior * delta**2 * prior_h

    return curvature


def _take(x, idx):
    """``x [G, K, ...]`` at rows ``idx [S, K]`` per domain (per-source leaves included)."""
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=0)


def log_scale(amounts):
    """``[]`` log of the geometric mean of the positive entries of ``amounts`` (the unit
    fits are normalized by; zero amounts, a domain left out of a run, are skipped)."""
    pos = amounts > 0
    logs = jnp.log(jnp.where(pos, amounts, 1.0))
    return jnp.sum(jnp.where(pos, logs, 0.0)) / jnp.maximum(jnp.sum(pos), 1)


@functools.partial(
    jax.jit, static_argnames=("law_name", "strategy", "polish", "max_steps", "diagnose")
)
def joint_fit_arrays(
    amounts,
    losses,
    mask,
    delta=1e-3,
    prior=0.0,
    tol=1e-10,
    *,
    law_name: str = "transfer",
    strategy: str = "screen",
    polish: int = 4,
    max_steps: int = 300,
    diagnose: bool = True,
) -> JointFit:
    """Fit a law to ``losses [R, K]`` observed (``mask [R, K]``) at ``amounts [R, K]``.

    ``mask`` is boolean, or non-negative observation weights (bootstrap counts): each
    run's Huber term is multiplied by its weight.

    Amounts are normalized internally by their geometric mean, so tokens or millions of
    tokens give the same fit. ``strategy`` picks the multi-start scheme: ``"screen"`` scores
    the law's starting grid and polishes the best ``polish`` per domain (vmapped);
    ``"vmap"`` polishes every grid point at once; ``"map"`` polishes them one after another
    with ``lax.map`` (no vmapped while-loop waits for its slowest member). ``prior`` scales
    the law's weak prior (0 gives the plain summed Huber fit).

    >>> import jax.numpy as jnp
    >>> from jaxmix import from_params, predict, plan
    >>> true = from_params({d: dict(C=1, k=0.3, alpha=0.6, beta=0.4, E=1) for d in "abc"})
    >>> a = jnp.asarray(plan("abc", 1.0).amounts)
    >>> out = joint_fit_arrays(a, predict(true, a), jnp.ones(a.shape, bool))
    >>> out.status.tolist()
    [0, 0, 0]
    """
    law = get_law(law_name)
    weights = jnp.asarray(mask, amounts.dtype)
    mask = weights > 0
    log_s = log_scale(amounts)
    scaled = amounts / jnp.exp(log_s)
    k = amounts.shape[1]
    grid = law.init_grid(scaled, losses, weights)  # leaves [G, K]

    def objective(i):
        return domain_objective(law, scaled, losses, weights, delta, prior, i)

    def curvature(i):
        return domain_curvature(law, scaled, losses, weights, delta, prior, i)

    def score(params):  # [K] objective of every domain at a full parameter set
        return jax.vmap(lambda i: objective(i)(jax.tree.map(lambda x: x[i], params)))(jnp.arange(k))

    if strategy == "screen":
        scores = jax.vmap(score)(grid)  # [G, K]
        scores = jnp.where(jnp.isfinite(scores), scores, jnp.inf)
        order = jnp.argsort(scores, axis=0)[:polish]  # [S, K]
        starts = jax.tree.map(lambda g: _take(g, order), grid)
    else:
        starts = grid

    def solve(start):  # start leaves [K] -> polished rows [K]
        def one(i):
            row0 = jax.tree.map(lambda x: x[i], start)
            return minimize(objective(i), row0, max_steps, tol, hessian=curvature(i))

        return jax.vmap(one)(jnp.arange(k))

    if strategy == "map":
        res = jax.lax.map(solve, starts)
    else:
        res = jax.vmap(solve)(starts)
    obj = jnp.where(jnp.isfinite(res.value), res.value, jnp.inf)  # [S, K]
    best = jnp.argmin(obj, axis=0)  # [K]
    pick = lambda x: _take(x, best[None])[0]  # noqa: E731
    params = jax.tree.map(pick, res.params)
    ident = identifiability(law, params, scaled, losses, mask) if diagnose else None
    return JointFit(
        params=law.unscale(params, log_s),
        objective=pick(res.value),
        status=pick(res.status),
        restart_objective=res.value,
        restart_status=res.status,
        identifiability=ident,
    )


@functools.partial(
    jax.jit, static_argnames=("law_name", "strategy", "polish", "max_steps", "diagnose")
)
def fit_many(
    amounts,
    losses,
    weights,
    delta,
    prior,
    *,
    law_name,
    strategy,
    polish,
    max_steps=300,
    diagnose=True,
):
    """:func:`joint_fit_arrays` at shared ``amounts [R, K]``, vmapped over ``losses [B, R, K]``
    and observation ``weights [B, R, K]`` (bootstrap counts times the observed mask)."""

    def one(y, w):
        return joint_fit_arrays(
            amounts,
            y,
            w,
            delta,
            prior,
            law_name=law_name,
            strategy=strategy,
            polish=polish,
            max_steps=max_steps,
            diagnose=diagnose,
        )

    return jax.vmap(one)(losses, weights)
