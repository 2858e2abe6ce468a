"""The per-domain MAP objective of the joint fit and its pieces: Huber loss of the log
residuals in noise units plus the law's weak prior (:func:`domain_objective`), its curvature
for the Newton solver, the inner refinement of the loss amplitudes, the robust noise
threshold, and the unit normalizations of amounts and losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxmix.fitting.identify import domain_residuals

HUBER_K = 1.345  # Huber threshold in units of the noise sigma (95% efficiency at a Gaussian)
MAD_SIGMA = 1.4826  # sigma of a Gaussian per median absolute deviation
DELTA_FLOOR = 1e-4  # smallest automatic Huber threshold (log residual, ~0.01%)
CURVATURE = "hybrid"  # "gn": IRLS majorizer only; "hybrid": exact Hessian where PD
AMPLITUDE_STEPS = 3  # inner Newton steps on the amplitudes per trial point (0: off)


def domain_objective(law, amounts, losses, weights, delta, prior, i):
    """``row -> []``: summed Huber loss of domain ``i``'s log residuals in noise units,
    ``sum w * huber(r, delta) / sigma**2`` with ``sigma = delta / 1.345`` (a Gaussian
    negative log-likelihood where ``|r| <= delta``), plus ``prior`` times the law's prior.

    In noise units the prior acts on the loss scale: weight 1 makes it a proper MAP
    estimate, where it decides only along directions the pilots leave flat.
    """
    fn = domain_residuals(law, amounts, losses, weights > 0, i)
    inv_var = (HUBER_K / delta) ** 2

    def objective(row):
        fit = jnp.sum(weights[:, i] * optax.losses.huber_loss(fn(row), delta=delta))
        return inv_var * fit + prior * law.penalty(row)

    return objective


def domain_curvature(law, amounts, losses, weights, delta, prior, i):
    """``row -> [P, P]``: majorizing Gauss-Newton curvature of :func:`domain_objective`.

    The Huber loss is bounded above by the quadratic with weight ``min(1, delta / |r|)``
    at each residual (the IRLS weight), so ``J^T diag(w) J`` is a curvature whose damped
    Newton steps keep descending where the exact Hessian of the linear part is zero.
    """
    fn = domain_residuals(law, amounts, losses, weights > 0, i)
    inv_var = (HUBER_K / delta) ** 2
    objective = domain_objective(law, amounts, losses, weights, delta, prior, i)

    def curvature(row):
        flat, unravel = ravel_pytree(row)
        r = fn(row)
        jac = jax.jacfwd(lambda v: fn(unravel(v)))(flat)  # [R, P]
        irls = weights[:, i] * jnp.minimum(1.0, delta / jnp.maximum(jnp.abs(r), 1e-300))
        prior_h = jax.hessian(lambda v: law.penalty(unravel(v)))(flat)
        gn = inv_var * (jac.T @ (irls[:, None] * jac)) + prior * prior_h
        if CURVATURE == "gn":
            return gn
        # The exact Hessian where it is positive definite (Newton's quadratic convergence
        # near a minimum with non-zero residuals), else the majorizer.
        exact = jax.hessian(lambda v: objective(unravel(v)))(flat)
        pd = jnp.all(jnp.isfinite(jnp.linalg.cholesky(exact)))
        return jnp.where(pd, exact, gn)

    return curvature


def amplitude_refine(law, objective, row, steps=AMPLITUDE_STEPS):
    """``v -> v`` on flattened rows: ``steps`` damped Newton steps on the law's amplitude
    coordinates (``loss_fields``, e.g. log C and log E) with the others fixed, each kept only
    where it lowers ``objective``. The amplitudes enter the prediction linearly, so this
    nearly solves for them (variable projection) and removes the steepest, most curved
    directions from the outer Newton iteration. Identity for laws without amplitudes."""
    flat, unravel = ravel_pytree(row)
    marks = [np.full(np.size(x), f in law.loss_fields) for f, x in zip(row._fields, row)]
    idx = np.flatnonzero(np.concatenate(marks))  # static: from the shapes only
    if idx.size == 0 or steps == 0:
        return None
    f = lambda v: objective(unravel(v))  # noqa: E731

    def body(_, v):
        sub = lambda a: f(v.at[idx].set(a))  # noqa: E731
        a = v[idx]
        f0, g = jax.value_and_grad(sub)(a)
        h = jax.hessian(sub)(a)
        h = h + 1e-9 * (1.0 + jnp.abs(jnp.diag(h))) * jnp.eye(idx.size, dtype=v.dtype)
        step = jnp.linalg.solve(h, -g)
        a_new = a + step
        ok = jnp.all(jnp.isfinite(step)) & (sub(a_new) < f0)
        return v.at[idx].set(jnp.where(ok, a_new, a))

    return lambda v: jax.lax.fori_loop(0, steps, body, v)


def take_rows(x, idx):
    """``x [G, K, ...]`` at rows ``idx [S, K]`` per domain (per-source leaves included)."""
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=0)


def log_scale(amounts, rows=None):
    """``[]`` log of the geometric mean of the positive entries of ``amounts`` (the unit
    fits are normalized by; zero amounts, a domain left out of a run, are skipped), over
    the runs where ``rows [R]`` is True (all by default): a fit without a run is then the
    same as one with the run's weight at zero."""
    pos = amounts > 0
    if rows is not None:
        pos = pos & rows[:, None]
    logs = jnp.log(jnp.where(pos, amounts, 1.0))
    return jnp.sum(jnp.where(pos, logs, 0.0)) / jnp.maximum(jnp.sum(pos), 1)


def log_loss_scale(losses, mask):
    """``[K]`` log of the geometric mean of each domain's observed losses."""
    logs = jnp.where(mask, jnp.log(jnp.where(mask, losses, 1.0)), 0.0)
    return jnp.sum(logs, axis=0) / jnp.maximum(jnp.sum(mask, axis=0), 1)


def shift_loss(law, params, log_sy):
    """Parameters for losses multiplied by ``exp(log_sy) [K]`` (the law's amplitudes)."""
    return params._replace(**{f: getattr(params, f) + log_sy for f in law.loss_fields})


def robust_delta(residuals, mask, floor=DELTA_FLOOR):
    """``[K]`` automatic Huber threshold: ``1.345 * 1.4826 * median |r|`` of each domain's
    observed log residuals ``[R, K]`` (a MAD estimate of the noise about zero), floored
    at ``DELTA_FLOOR``."""
    a = jnp.where(mask, jnp.abs(residuals), jnp.inf)
    srt = jnp.sort(a, axis=0)
    n = jnp.sum(mask, axis=0)
    lo = jnp.take_along_axis(srt, ((n - 1) // 2)[None], axis=0)[0]
    hi = jnp.take_along_axis(srt, (n // 2)[None], axis=0)[0]
    return jnp.maximum(HUBER_K * MAD_SIGMA * 0.5 * (lo + hi), floor)


def prior_z(law, row):
    """``[P]`` distance of each flattened coordinate from the prior's centre in prior
    standard deviations, ``grad / sqrt(diag hess)`` of the penalty (exact for a
    separable Gaussian; 0 where the prior is flat)."""
    flat, unravel = ravel_pytree(row)
    pen = lambda v: law.penalty(unravel(v))  # noqa: E731
    g = jax.grad(pen)(flat)
    h = jnp.diag(jax.hessian(pen)(flat))
    return jnp.where(h > 0, g / jnp.sqrt(jnp.where(h > 0, h, 1.0)), 0.0)
