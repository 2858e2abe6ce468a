"""A Gaussian process on what the law misses: the relative residuals of runs at the budget.

The laws are the prior mean; where runs at the budget exist, their relative residuals
``r = y / f - 1`` (observed objective against the combined fit's prediction) are modelled as
a zero-mean Gaussian process over the mixture weights, with a Matern 5/2 kernel
``s^2 m(|(w - w') / l|) + s^2 rho [w = w']`` with one length scale per domain (``l [K]``).
A grid over a shared length scale and the noise ratio ``rho`` starts a gradient search of
the marginal likelihood (optax Adam on the log scales, one compiled call; ``s^2`` in closed
form; a weak log-normal prior keeps the scales of domains the runs do not inform moderate).
Where the law is right the residuals are noise and the process stays near zero; where it is
wrong (a swarm the laws do not describe), the process learns the correction, as Bayesian
optimization would.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

LENGTHS = np.geomspace(0.05, 3.0, 14)  # length scales tried (L2 distance in weight units)
NOISE = (1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0)  # noise variance / signal variance
MIN_RUNS = 3  # fewer residuals: no process (the law alone)
STEPS = 300  # Adam steps of the per-domain length scales
PRIOR_SD = 1.5  # sd of the log-normal prior on each length scale, around the grid's best


class ResidualGP(NamedTuple):
    """A fitted process: training inputs ``x [n, K]``, ``alpha = A^-1 r [n]``, the Cholesky
    factor ``chol [n, n]`` of ``A = m(X, X) + rho I``, ``scale`` s^2, ``length`` ``[K]``
    per-domain length scales, ``noise`` rho."""

    x: np.ndarray
    alpha: np.ndarray
    chol: np.ndarray
    scale: float
    length: np.ndarray
    noise: float


def matern52(a, b, length) -> np.ndarray:
    """``[N, M]`` Matern 5/2 correlation between the rows of ``a [N, K]`` and ``b [M, K]``,
    distances scaled by ``length`` (a number or ``[K]``).

    >>> float(matern52(np.zeros((1, 2)), np.zeros((1, 2)), 1.0)[0, 0])
    1.0
    """
    a, b = np.asarray(a, float) / length, np.asarray(b, float) / length
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2), 0.0))
    s5 = np.sqrt(5.0) * d
    return (1.0 + s5 + 5.0 / 3.0 * d**2) * np.exp(-s5)


def _factor(x, r, length, noise):
    """``(nll, (alpha, chol, scale))`` of the process with these scales, or ``(inf, None)``."""
    n = len(r)
    a = matern52(x, x, length) + noise * np.eye(n)
    try:
        chol = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return np.inf, None
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, r))
    scale = max(float(r @ alpha) / n, 1e-30)
    nll = 0.5 * n * np.log(scale) + np.log(np.diag(chol)).sum()
    return nll, (alpha, chol, scale)


def _jnp_nll(log_len, log_noise, x, r, mask, center):
    """Negative log marginal likelihood (``s^2`` profiled out) plus the scales' prior; padded
    rows (``mask`` 0) are an identity block with zero residual, so they add nothing."""
    z = x / jnp.exp(log_len)
    d2 = jnp.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=2)
    d = jnp.sqrt(d2 + 1e-12)
    s5 = jnp.sqrt(5.0) * d
    m = (1.0 + s5 + 5.0 / 3.0 * d2) * jnp.exp(-s5)
    pair = mask[:, None] * mask[None, :]
    a = m * pair + jnp.diag(jnp.exp(log_noise) * mask + (1.0 - mask) + 1e-9)
    chol = jnp.linalg.cholesky(a)
    alpha = jax.scipy.linalg.cho_solve((chol, True), r)
    n = jnp.sum(mask)
    nll = 0.5 * n * jnp.log(jnp.maximum(r @ alpha / n, 1e-30)) + jnp.sum(jnp.log(jnp.diag(chol)))
    prior = 0.5 * jnp.sum(((log_len - center) / PRIOR_SD) ** 2)
    return nll + prior


@functools.partial(jax.jit, static_argnames="steps")
def _ard_search(log_len, log_noise, x, r, mask, *, steps: int):
    """``(log lengths [K], log noise)`` after ``steps`` Adam steps from the grid's best."""
    opt = optax.adam(0.05)
    center = log_len
    params = (log_len, log_noise)
    state = opt.init(params)
    grad = jax.grad(lambda p: _jnp_nll(p[0], p[1], x, r, mask, center))

    def step(carry, _):
        p, s = carry
        g = grad(p)
        g = jax.tree.map(lambda v: jnp.where(jnp.isfinite(v), v, 0.0), g)
        upd, s = opt.update(g, s, p)
        p = optax.apply_updates(p, upd)
        p = (jnp.clip(p[0], jnp.log(1e-2), jnp.log(1e2)), jnp.clip(p[1], jnp.log(1e-6), 2.0))
        return (p, s), None

    (params, _), _ = jax.lax.scan(step, (params, state), None, length=steps)
    return params


def _per_domain_lengths(x, r, length: float, noise: float):
    """The grid's shared ``length`` refined to per-domain scales (compiled once per padded
    size); None where the search does not improve the likelihood."""
    from jaxmix.study.batch import chunk_bucket

    n, k = x.shape
    size = chunk_bucket(n)
    dt = jnp.result_type(float)
    xp = np.zeros((size, k))
    xp[:n] = x
    rp = np.zeros(size)
    rp[:n] = r
    mask = (np.arange(size) < n).astype(float)
    log_len, log_noise = jax.device_get(
        _ard_search(
            jnp.full(k, np.log(length), dt),
            jnp.asarray(np.log(noise), dt),
            jnp.asarray(xp, dt),
            jnp.asarray(rp, dt),
            jnp.asarray(mask, dt),
            steps=STEPS,
        )
    )
    if not (np.all(np.isfinite(log_len)) and np.isfinite(log_noise)):
        return None
    return np.exp(np.asarray(log_len, float)), float(np.exp(log_noise))


def fit_residual_gp(x, r) -> ResidualGP | None:
    """The process on residuals ``r [n]`` at mixtures ``x [n, K]``, or None with fewer than
    ``MIN_RUNS`` finite residuals.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.dirichlet(np.ones(3), 30); r = 0.01 * np.sin(6 * x[:, 0])
    >>> gp = fit_residual_gp(x, r)
    >>> m, _ = gp_posterior(gp, x[:5])
    >>> bool(np.max(np.abs(m - r[:5])) < 1e-3)
    True
    """
    x, r = np.asarray(x, float), np.asarray(r, float)
    ok = np.isfinite(r) & np.all(np.isfinite(x), axis=1)
    x, r = x[ok], r[ok]
    if len(r) < MIN_RUNS:
        return None
    best = (np.inf, None, None, None)
    for length in LENGTHS:
        for noise in NOISE:
            nll, got = _factor(x, r, length, noise)
            if nll < best[0]:
                best = (nll, got, length, noise)
    if best[1] is None:
        return None
    nll, got, length, noise = best
    length = np.full(x.shape[1], length)
    ard = _per_domain_lengths(x, r, float(length[0]), noise)
    if ard is not None:
        nll2, got2 = _factor(x, r, ard[0], ard[1])
        prior = 0.5 * np.sum((np.log(ard[0] / length) / PRIOR_SD) ** 2)
        if nll2 + prior < nll:
            got, length, noise = got2, ard[0], ard[1]
    alpha, chol, scale = got
    return ResidualGP(x, alpha, chol, scale, length, float(noise))


def gp_posterior(gp: ResidualGP, points) -> tuple[np.ndarray, np.ndarray]:
    """``(mean [J], cov [J, J])`` of the residual at ``points [J, K]`` (noise-free)."""
    points = np.asarray(points, float)
    ks = matern52(points, gp.x, gp.length)  # [J, n]
    mean = ks @ gp.alpha
    v = np.linalg.solve(gp.chol, ks.T)  # [n, J]
    cov = gp.scale * (matern52(points, points, gp.length) - v.T @ v)
    return mean, cov


def gp_sampler(gp: ResidualGP, points):
    """``(mean [J], draw(n, rng) -> [n, J])``: the posterior mean of the residual at
    ``points [J, K]`` and joint draws of it, the covariance factored once."""
    mean, cov = gp_posterior(gp, points)
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    root = vecs * np.sqrt(np.maximum(vals, 0.0))

    def draw(n: int, rng) -> np.ndarray:
        return mean[None] + rng.standard_normal((n, len(mean))) @ root.T

    return mean, draw


def gp_draws(gp: ResidualGP, points, draws: int, rng) -> np.ndarray:
    """``[S, J]`` joint draws of the residual at ``points [J, K]``."""
    return gp_sampler(gp, points)[1](draws, rng)
