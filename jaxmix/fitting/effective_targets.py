"""Fit the ``effective_data`` target law (:mod:`jaxmix.laws.targets`) to standardized targets.

    y(w) = c + s * exp(b) * D(w)^(-alpha),    D(w) = sum_j pi_j * (w_j + EPS)^gamma,

with ``pi = softmax(a)`` (the transfer coefficients, normalized: ``b`` holds their scale),
``alpha = exp(log alpha)`` and ``gamma = sigmoid(logit gamma)`` in (0, 1). Each problem is
fitted by damped Newton with Gauss-Newton curvature from the Jacobian written out (a step
costs ``O(R K + R P^2)``), on ``0.5 * sum(residual^2) + 0.5 * ridge * |a|^2`` plus weak
priors on the floor's distance from the observed extreme, the scale and the exponents.
Problems (ridge strengths x folds x targets) are vmapped in sequential batches that keep
the Jacobians' memory bounded.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.newton import minimize
from jaxmix.laws.targets import EPS, TargetParams

RIDGES = (0.01, 0.1, 1.0)  # ridge strengths on the log transfer coefficients
GN_STEPS = 300  # Gauss-Newton's cap; the fits it leaves unconverged go on with exact Newton
MAX_STEPS = 300  # exact Newton's cap
LOG_ALPHA0 = float(np.log(0.5))  # prior centre and start of the exponent of D
BATCH_ELEMENTS = 2**24  # bound on one batch's Jacobians (problems x R x P)


def prediction(x, props, ext, s):
    """``(pred [R], J [R, K + 4])``: one target's standardized prediction at ``props [R, K]``
    and its Jacobian in ``x [K + 4]`` = ``(u, b, log alpha, logit gamma, a [K])``, floor
    ``ext - s * exp(u)``.

    >>> x = jnp.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> pred, jac = prediction(x, jnp.array([[0.5, 0.5]]), 1.0, 1.0)
    >>> jac.shape
    (1, 6)
    """
    alpha, gamma = jnp.exp(x[2]), jax.nn.sigmoid(x[3])
    q = props + EPS
    pi = jax.nn.softmax(x[4:])
    qg = q**gamma  # [R, K]
    terms = pi * qg
    d = jnp.sum(terms, axis=1)
    sg = s * jnp.exp(x[1] - alpha * jnp.log(d))  # s * gap, [R]
    jac = jnp.concatenate([
        jnp.broadcast_to(-s * jnp.exp(x[0]), sg.shape)[:, None], sg[:, None],
        (-alpha * jnp.log(d) * sg)[:, None],
        (-alpha * sg / d * jnp.sum(terms * jnp.log(q), axis=1) * gamma * (1 - gamma))[:, None],
        (-alpha * sg / d)[:, None] * pi * (qg - d[:, None]),
    ], axis=1)
    return ext - s * jnp.exp(x[0]) + sg, jac


def one_fit(props, y, w, s, ridge, start=None, exact: bool = False):
    """Fit one standardized target ``y [R]`` with row weights ``w [R]`` (0: not used) from
    ``start [K + 4]`` (default: see below), by Gauss-Newton curvature (``exact``: the exact
    Hessian, slower per step but quadratic where large residuals make Gauss-Newton crawl);
    returns ``(x [K + 4], status)`` (see :func:`prediction`)."""
    ext = jnp.where(s > 0, jnp.min(jnp.where(w > 0, y, jnp.inf)),
                    jnp.max(jnp.where(w > 0, y, -jnp.inf)))
    k = props.shape[1]
    dt = props.dtype
    prior_h = jnp.concatenate([jnp.array([0.25, 0.01, 0.25, 0.25], dt), jnp.full(k, ridge)])

    def loss(x):
        r = y - prediction(x, props, ext, s)[0]
        prior = 0.5 * ((x[0] / 2.0) ** 2 + (x[1] / 10.0) ** 2
                       + ((x[2] - LOG_ALPHA0) / 2.0) ** 2 + (x[3] / 2.0) ** 2)
        return 0.5 * jnp.sum(w * r**2) + 0.5 * ridge * jnp.sum(x[4:] ** 2) + prior

    def curvature(x):
        jac = prediction(x, props, ext, s)[1]
        return jac.T @ (w[:, None] * jac) + jnp.diag(prior_h)

    # Start: floor one standard deviation past the extreme, uniform transfer, gamma 1/2,
    # and the scale that fits the mean log gap.
    z = jnp.log(jnp.maximum(s * (y - (ext - s)), 1e-6))
    log_d = jnp.log(jnp.mean((props + EPS) ** 0.5, axis=1))
    b0 = jnp.sum(w * (z + jnp.exp(LOG_ALPHA0) * log_d)) / jnp.maximum(jnp.sum(w), 1.0)
    x0 = jnp.concatenate([jnp.zeros(1, dt), b0[None], jnp.full(1, LOG_ALPHA0, dt),
                          jnp.zeros(k + 1, dt)])
    x0 = x0 if start is None else start
    res = minimize(loss, x0, max_steps=MAX_STEPS if exact else GN_STEPS, gtol=1e-9,
                   hessian=None if exact else curvature, rtol=1e-13, xtol=1e-10)
    return res.params, res.status


@partial(jax.jit, static_argnames="batch")
def fit_all(props, y, observed, signs, train, ridges, batch: int):
    """``(x [S, M, T, K + 4], status [S, M, T])`` for every ridge strength ``ridges [S]``,
    training mask ``train [M, R]`` and target (columns of ``y [R, T]``): ``S * M * T``
    problems, vmapped in sequential batches of ``batch``."""
    y = jnp.where(observed, y, 0.0)
    obs = observed.astype(props.dtype)
    n_s, n_m, n_t = ridges.shape[0], train.shape[0], y.shape[1]
    si, mi, ti = (a.ravel() for a in jnp.meshgrid(
        jnp.arange(n_s), jnp.arange(n_m), jnp.arange(n_t), indexing="ij"))

    def one(i):
        s_, m_, t_ = i
        return one_fit(props, y[:, t_], obs[:, t_] * train[m_], signs[t_], ridges[s_])

    x, status = jax.lax.map(one, (si, mi, ti), batch_size=batch)
    return x.reshape(n_s, n_m, n_t, -1), status.reshape(n_s, n_m, n_t)


@partial(jax.jit, static_argnames="batch")
def refit_exact(props, y, observed, signs, train, ridges, index, starts, batch: int):
    """``(x [J, K + 4], status [J])``: the problems ``index [J, 3]`` (ridge, mask, target
    indices into the arguments of :func:`fit_all`) again from ``starts [J, K + 4]``, with
    the exact Hessian (the few that Gauss-Newton left at the step cap)."""
    y = jnp.where(observed, y, 0.0)
    obs = observed.astype(props.dtype)

    def one(args):
        (s_, m_, t_), x0 = args
        return one_fit(props, y[:, t_], obs[:, t_] * train[m_], signs[t_], ridges[s_], x0,
                       exact=True)

    return jax.lax.map(one, ((index[:, 0], index[:, 1], index[:, 2]), starts),
                       batch_size=batch)


def fit_every(props, y, observed, signs, train, ridges):
    """:func:`fit_all` on device arrays, then :func:`refit_exact` on the problems it left
    unconverged (padded to a power of 2, so that nearby counts share a program); returns
    numpy ``(x [S, M, T, K + 4], status [S, M, T])``."""

    n = ridges.shape[0] * train.shape[0] * y.shape[1]
    x, status = jax.device_get(aot.call(
        fit_all, "target_fit_effective", props, y, observed, signs, train, ridges,
        batch=batch_size(props, n)))
    x, status = np.array(x), np.array(status)
    bad = np.argwhere(status != 0)
    if len(bad):
        j = 2 ** int(np.ceil(np.log2(len(bad))))
        index = np.concatenate([bad, np.repeat(bad[:1], j - len(bad), axis=0)])
        xe, se = jax.device_get(aot.call(
            refit_exact, "target_refit_effective", props, y, observed, signs, train, ridges,
            jnp.asarray(index, jnp.int32), jnp.asarray(x[tuple(index.T)], props.dtype),
            batch=max(1, batch_size(props, j) // 4)))
        x[tuple(bad.T)], status[tuple(bad.T)] = np.asarray(xe)[: len(bad)], se[: len(bad)]
    return x, status


def batch_size(props, problems: int) -> int:
    """Problems per vmapped batch of :func:`fit_all`: as many as keep their Jacobians
    (``R x P`` each) under ``BATCH_ELEMENTS``, a power of 2 (nearby tables share programs).

    >>> batch_size(np.zeros((13, 3)), 10)
    16
    """
    r, k = props.shape
    b = max(1, BATCH_ELEMENTS // (r * (k + 4) * 8))  # x8: the [R, K] terms of a step
    return int(min(2 ** int(np.floor(np.log2(b))), 2 ** int(np.ceil(np.log2(problems)))))


def standardized_params(x, ext, signs) -> TargetParams:
    """Standardized parameters (numpy) of ``x [..., T, K + 4]``, ``ext [..., T]``."""
    a = x[..., 4:] - x[..., 4:].max(axis=-1, keepdims=True)
    return TargetParams(
        floor=ext - signs * np.exp(x[..., 0]), log_scale=x[..., 1],
        theta=np.zeros_like(a), alpha=np.exp(x[..., 2]),
        gamma=1.0 / (1.0 + np.exp(-x[..., 3])),
        log_weight=a - np.log(np.exp(a).sum(axis=-1, keepdims=True)),
    )
