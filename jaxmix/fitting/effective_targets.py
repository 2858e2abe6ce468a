"""Fit the ``effective_data`` target law (:mod:`jaxmix.laws.targets`) to standardized targets.

    y(w) = c + s * exp(b) * D(w)^(-alpha),    D(w) = sum_j pi_j * (w_j + EPS)^gamma,

with ``pi = softmax(a)`` (the transfer coefficients, normalized: ``b`` holds their scale),
``alpha = exp(log alpha)`` and ``gamma = sigmoid(logit gamma)`` in (0, 1). Each problem is
fitted by damped Newton with the Jacobian and the Hessian written out (a step costs
``O(R K^2 + R P^2)``), on ``0.5 * sum(residual^2) + 0.5 * ridge * |a|^2`` plus weak
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
FIRST_STEPS = 64  # the cap of the batch of every problem (about 90% converge within it)
MAX_STEPS = 300  # the cap of a compacted batch that finishes the rest
REFIT_ROUNDS = 3  # compacted batches at most (each restarts the damping: on an Olmix swarm
# 241 of 2,970 fits go on after the first cap, 4 after the second, none after the third)
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


def weighted_hessian(x, props, s, c):
    """``[K + 4, K + 4]``: ``sum_r c[r] * d2 pred[r] / dx2`` of :func:`prediction` at ``x``,
    written out (``O(R K^2)``, no nested differentiation): with ``G = s exp(b) D^-alpha``,
    ``d2 G = G (v v^T + d2 log G)``, ``log G = b - alpha log D``, and ``log D`` is a
    log-sum-exp in ``a + gamma log q``.

    >>> x = jnp.array([0.1, 0.2, -0.3, 0.4, 0.5, -0.5])
    >>> props = jnp.array([[0.2, 0.8], [0.7, 0.3]])
    >>> c = jnp.array([1.0, -2.0])
    >>> auto = jax.hessian(lambda v: c @ prediction(v, props, 1.0, 1.0)[0])(x)
    >>> bool(jnp.allclose(weighted_hessian(x, props, 1.0, c), auto, atol=1e-5))
    True
    """
    k = props.shape[1]
    alpha, gamma = jnp.exp(x[2]), jax.nn.sigmoid(x[3])
    g1 = gamma * (1 - gamma)  # d gamma / d logit
    ell = jnp.log(props + EPS)  # [R, K]
    pi = jax.nn.softmax(x[4:])
    terms = pi * jnp.exp(gamma * ell)
    d = jnp.sum(terms, axis=1)
    p = terms / d[:, None]  # [R, K]: softmax of a + gamma log q
    big_l = jnp.log(d)
    g = s * jnp.exp(x[1] - alpha * big_l)  # G, [R]
    m = jnp.sum(p * ell, axis=1)  # d log D / d gamma
    l_lg = m * g1
    l_a = p - pi  # [R, K]
    # v = d log G / dx (zero for u); d2 G = G (v v^T - alpha * M), M the Hessian-like block
    # [[L, dL^T], [dL, d2 L]] in (log alpha, (logit gamma, a)).
    v = jnp.concatenate([jnp.zeros_like(d)[:, None], jnp.ones_like(d)[:, None],
                         (-alpha * big_l)[:, None], (-alpha * l_lg)[:, None], -alpha * l_a],
                        axis=1)  # [R, P]
    dg = c * g  # [R]
    h = v.T @ (dg[:, None] * v)
    var = jnp.sum(p * (ell - m[:, None]) ** 2, axis=1)
    lgg = jnp.sum(dg * (var * g1**2 + m * g1 * (1 - 2 * gamma)))
    lga = g1 * ((dg[:, None] * p * (ell - m[:, None])).sum(axis=0))  # [K]
    laa = (jnp.diag(jnp.sum(dg[:, None] * p, axis=0)) - p.T @ (dg[:, None] * p)
           - jnp.sum(dg) * (jnp.diag(pi) - jnp.outer(pi, pi)))
    top = jnp.concatenate([jnp.sum(dg * big_l)[None], jnp.sum(dg * l_lg)[None],
                           (dg[:, None] * l_a).sum(axis=0)])  # (la, la), (la, lg), (la, a)
    block = jnp.zeros((k + 2, k + 2), h.dtype)
    block = block.at[0, :].set(top).at[:, 0].set(top)
    block = block.at[1, 1].set(lgg).at[1, 2:].set(lga).at[2:, 1].set(lga).at[2:, 2:].set(laa)
    h = h.at[2:, 2:].add(-alpha * block)
    u_term = -s * jnp.exp(x[0]) * jnp.sum(c)
    return h.at[0, 0].add(u_term)


def one_fit(props, y, w, s, ridge, start=None, max_steps: int = FIRST_STEPS):
    """Fit one standardized target ``y [R]`` with row weights ``w [R]`` (0: not used) from
    ``start [K + 4]`` (default: see below) in at most ``max_steps`` damped Newton steps;
    returns ``(x [K + 4], status)`` (see :func:`prediction`). The curvature is the exact
    Hessian (:func:`weighted_hessian`) where it is positive definite, else Gauss-Newton's:
    Gauss-Newton alone crawls where the residuals stay large (median 86 steps on an Olmix
    swarm, 9% at a 300-step cap; this: median 25, 0.2%)."""
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
        pred, jac = prediction(x, props, ext, s)
        h = jac.T @ (w[:, None] * jac) + jnp.diag(prior_h)
        he = h - weighted_hessian(x, props, s, w * (y - pred))
        pd = jnp.all(jnp.isfinite(jnp.linalg.cholesky(he)))
        return jnp.where(pd, he, h)

    # Start: floor one standard deviation past the extreme, uniform transfer, gamma 1/2,
    # and the scale that fits the mean log gap.
    z = jnp.log(jnp.maximum(s * (y - (ext - s)), 1e-6))
    log_d = jnp.log(jnp.mean((props + EPS) ** 0.5, axis=1))
    b0 = jnp.sum(w * (z + jnp.exp(LOG_ALPHA0) * log_d)) / jnp.maximum(jnp.sum(w), 1.0)
    x0 = jnp.concatenate([jnp.zeros(1, dt), b0[None], jnp.full(1, LOG_ALPHA0, dt),
                          jnp.zeros(k + 1, dt)])
    x0 = x0 if start is None else start
    res = minimize(loss, x0, max_steps=max_steps, gtol=1e-9,
                   hessian=curvature, rtol=1e-13, xtol=1e-10)
    return res.params, res.status


@partial(jax.jit, static_argnames=("batch", "max_steps"))
def fit_all(props, y, observed, signs, train, ridges, batch: int, max_steps: int = FIRST_STEPS):
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
        return one_fit(props, y[:, t_], obs[:, t_] * train[m_], signs[t_], ridges[s_],
                       max_steps=max_steps)

    x, status = jax.lax.map(one, (si, mi, ti), batch_size=batch)
    return x.reshape(n_s, n_m, n_t, -1), status.reshape(n_s, n_m, n_t)


@partial(jax.jit, static_argnames="batch")
def refit(props, y, observed, signs, train, ridges, index, starts, batch: int):
    """``(x [J, K + 4], status [J])``: the problems ``index [J, 3]`` (ridge, mask, target
    indices into the arguments of :func:`fit_all`) continued from ``starts [J, K + 4]`` for
    up to ``MAX_STEPS`` steps (the few that :func:`fit_all`'s cap left unconverged)."""
    y = jnp.where(observed, y, 0.0)
    obs = observed.astype(props.dtype)

    def one(args):
        (s_, m_, t_), x0 = args
        return one_fit(props, y[:, t_], obs[:, t_] * train[m_], signs[t_], ridges[s_], x0,
                       max_steps=MAX_STEPS)

    return jax.lax.map(one, ((index[:, 0], index[:, 1], index[:, 2]), starts),
                       batch_size=batch)


def fit_every(props, y, observed, signs, train, ridges, first_steps: int = FIRST_STEPS):
    """:func:`fit_all` on device arrays, then :func:`refit` on the problems its cap left
    unconverged, in compacted batches (padded to a power of 2, so that nearby counts share
    a program): a vmapped loop runs as long as its slowest member, so the long tail runs
    apart. Returns numpy ``(x [S, M, T, K + 4], status [S, M, T])``."""

    n = ridges.shape[0] * train.shape[0] * y.shape[1]
    x, status = jax.device_get(aot.call(
        fit_all, "target_fit_effective", props, y, observed, signs, train, ridges,
        batch=batch_size(props, n), max_steps=first_steps))
    x, status = np.array(x), np.array(status)
    for _ in range(REFIT_ROUNDS):
        bad = np.argwhere(status != 0)
        if not len(bad):
            break
        j = 2 ** int(np.ceil(np.log2(len(bad))))
        index = np.concatenate([bad, np.repeat(bad[:1], j - len(bad), axis=0)])
        xe, se = jax.device_get(aot.call(
            refit, "target_refit_effective", props, y, observed, signs, train, ridges,
            jnp.asarray(index, jnp.int32), jnp.asarray(x[tuple(index.T)], props.dtype),
            batch=batch_size(props, j)))
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
