"""Fit the target laws (:mod:`jaxmix.laws.targets`) to a table's targets, with fold fits.

Each target is standardized (its mean and standard deviation over the runs), then fitted by
both families: the ``mixing_law`` by damped Newton on ``0.5 * sum(residual^2) + 0.5 *
ridge * |theta|^2`` plus weak priors on the floor's distance from the observed extreme and on
the scale; the ``effective_data`` law as in :mod:`jaxmix.fitting.effective_targets`. The
family and its ridge strength are chosen per target by the out-of-fold error over groups of
runs that share a mixture (leave one mixture out up to 16 mixtures, else 8-fold). Every
target, fold and ridge strength of a family is one problem of one compiled call; the fold
fits of the chosen pair are kept for the decision's uncertainty.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting import effective_targets as eff
from jaxmix.fitting.newton import minimize
from jaxmix.fitting.stacking import cv_masks, proportion_groups
from jaxmix.laws.targets import EPS, TargetParams
from jaxmix.objective import Objective
from jaxmix.status import InputError, Status
from jaxmix.table import PilotTable

RIDGES = (0.001, 0.01, 0.1, 1.0, 10.0)  # ridge strengths on theta, standardized targets
MAX_STEPS = 300


class TargetFit(NamedTuple):
    """The target law fitted to a table, with one fit per held-out fold.

    Attributes:
      domains: ``K`` domain names; objective: what is optimized (``T`` targets).
      params: ``TargetParams`` of the ``T`` targets, fitted on every run.
      fold_params: ``TargetParams`` with leaves ``[F, T, ...]``, each fold's runs held out.
      held: ``[F, R]`` held-out masks of the folds.
      ridge: ``[T]`` chosen ridge strength; cv_rmse: ``[T]`` out-of-fold RMSE (target units).
      law: ``[T]`` index into :data:`~jaxmix.laws.targets.LAWS` of each target's family.
      status: ``[T]`` :class:`Status` of the full fits; fold_status: ``[F, T]``.
      weights: ``[R, K]`` the runs' mixtures; values: ``[R, T]`` their targets (NaN: missing).
      budget: the runs' median total amount.
      diff_rmse: out-of-fold RMSE of the predicted objective difference between a held-out
        run and the best observed run (objective units): how well the law ranks runs.
      objective_rmse: out-of-fold RMSE of the predicted objective of a held-out run.
    """

    domains: tuple
    objective: Objective
    params: TargetParams
    fold_params: TargetParams
    held: np.ndarray
    ridge: np.ndarray
    cv_rmse: np.ndarray
    law: np.ndarray
    status: np.ndarray
    fold_status: np.ndarray
    weights: np.ndarray
    values: np.ndarray
    budget: float
    diff_rmse: float
    objective_rmse: float


def _one_fit(props, y, w, s, ridge):
    """Fit one standardized target ``y [R]`` with row weights ``w [R]`` (0: not used);
    returns ``(x [K + 2], status)``, ``x = (u, b, theta)``, floor ``ext - s * exp(u)``."""
    ext = jnp.where(s > 0, jnp.min(jnp.where(w > 0, y, jnp.inf)),
                    jnp.max(jnp.where(w > 0, y, -jnp.inf)))
    k = props.shape[1]

    def unpack(x):
        return ext - s * jnp.exp(x[0]), x[1], x[2:]

    def loss(x):
        c, b, th = unpack(x)
        r = y - (c + s * jnp.exp(b + props @ th))
        prior = 0.5 * (x[0] / 2.0) ** 2 + 0.5 * (b / 10.0) ** 2
        return 0.5 * jnp.sum(w * r**2) + 0.5 * ridge * jnp.sum(th**2) + prior

    # Start: floor one standard deviation past the extreme, then log(s (y - c)) is linear in
    # the shares: one ridge solve for (b, theta).
    z = jnp.log(jnp.maximum(s * (y - (ext - s)), 1e-6))
    x = jnp.concatenate([jnp.ones((props.shape[0], 1), props.dtype), props], axis=1)
    reg = jnp.diag(jnp.concatenate([jnp.full(1, 1e-6), jnp.full(k, ridge)]).astype(props.dtype))
    coef = jnp.linalg.solve(x.T @ (w[:, None] * x) + reg, x.T @ (w * z))
    x0 = jnp.concatenate([jnp.zeros(1, props.dtype), coef])
    res = minimize(loss, x0, max_steps=MAX_STEPS, gtol=1e-9, rtol=1e-13, xtol=1e-10)
    return res.params, res.status


@jax.jit
def _fit_all(props, y, observed, signs, train, ridges):
    """``(x [S, M, T, K + 2], status [S, M, T])`` for every ridge strength ``ridges [S]``,
    training mask ``train [M, R]`` and target (columns of ``y [R, T]``)."""
    y = jnp.where(observed, y, 0.0)

    def per_target(m, ridge):
        return jax.vmap(lambda yt, ot, s: _one_fit(props, yt, ot * m, s, ridge),
                        in_axes=(1, 1, 0))(y, observed.astype(props.dtype), signs)

    return jax.vmap(lambda r: jax.vmap(lambda m: per_target(m, r))(train))(ridges)


def _mixing_params(x, ext, signs) -> TargetParams:
    """Standardized ``mixing_law`` parameters (numpy) of ``x [..., T, K + 2]``."""
    one = np.ones_like(x[..., 0])
    return TargetParams(floor=ext - signs * np.exp(x[..., 0]), log_scale=x[..., 1],
                        theta=x[..., 2:], alpha=0.0 * one, gamma=one,
                        log_weight=np.zeros_like(x[..., 2:]))


def _natural(p: TargetParams, mean, sd) -> TargetParams:
    """Standardized parameters -> target units (the gap scales by ``sd``)."""
    return p._replace(floor=mean + sd * p.floor, log_scale=p.log_scale + np.log(sd))


def _predict_std(p: TargetParams, props, signs):
    """``[..., R, T]`` predictions of parameters with leaves ``[..., T]`` / ``[..., T, K]`` at
    ``props [R, K]`` (a target at a time: the effective data is ``[..., R, K]``)."""
    out = []
    for t in range(p.floor.shape[-1]):
        lg = p.log_scale[..., t, None] + np.einsum("rk,...k->...r", props, p.theta[..., t, :])
        if np.any(p.alpha[..., t] != 0):
            d = np.exp(p.log_weight[..., t, None, :]) * (props + EPS) ** p.gamma[..., t, None,
                                                                                 None]
            lg = lg - p.alpha[..., t, None] * np.log(d.sum(axis=-1))
        out.append(p.floor[..., t, None] + signs[t] * np.exp(lg))
    return np.stack(out, axis=-1)


def _fit_families(props, ys, observed, signs, train):
    """``(params, status [S, M, T], ridges [S], laws [S])``: standardized parameters with
    leaves ``[S, M, T, ...]`` of every family and ridge strength (``S`` pairs)."""
    dt = jnp.result_type(float)
    args = (jnp.asarray(props, dt), jnp.asarray(np.nan_to_num(ys), dt), jnp.asarray(observed),
            jnp.asarray(signs, dt), jnp.asarray(train, dt))
    x, status = jax.device_get(aot.call(_fit_all, "target_fit", *args,
                                        jnp.asarray(RIDGES, dt)))
    xe, status_e = eff.fit_every(*args, jnp.asarray(eff.RIDGES, dt))
    ext = _extremes(ys, observed, train, signs)[None]  # [1, M, T]
    mix = _mixing_params(np.asarray(x, float), ext, signs)
    eff_p = eff.standardized_params(np.asarray(xe, float), ext, signs)
    params = TargetParams(*(np.concatenate([a, b]) for a, b in zip(mix, eff_p)))
    laws = np.repeat([0, 1], [len(RIDGES), len(eff.RIDGES)])
    return (params, np.concatenate([np.asarray(status), np.asarray(status_e)]),
            np.concatenate([RIDGES, eff.RIDGES]), laws)


def fit_targets(table: PilotTable, objective: Objective, seed: int = 0) -> TargetFit:
    """Fit the target law to the objective's targets of ``table``.

    >>> from jaxmix.objective import parse_objective
    >>> rng = np.random.default_rng(0)
    >>> w = rng.dirichlet(np.ones(3), 24)
    >>> score = 0.8 - 0.5 * np.exp(-2.0 * w[:, 0])
    >>> table = PilotTable(("a", "b", "c"), tuple(f"r{i}" for i in range(24)), 100 * w, {},
    ...                    scores={"acc": score})
    >>> fit = fit_targets(table, parse_objective("score:acc", table.targets()))
    >>> bool(np.all(fit.status == 0)), bool(fit.cv_rmse[0] < 0.05 * np.std(score))
    (True, True)
    """
    targets = table.targets()
    y = np.stack([np.asarray(targets[c], float) for c in objective.columns], axis=1)
    observed = np.isfinite(y)
    _check_counts(table, objective, observed)
    props = table.amounts / table.amounts.sum(axis=1, keepdims=True)
    mean = np.nanmean(y, axis=0)
    sd = np.nanstd(y, axis=0)
    sd = np.where(sd > 0, sd, np.maximum(np.abs(mean), 1.0))
    ys = (y - mean) / sd
    held = cv_masks(proportion_groups(table.amounts), seed)  # [F, R]
    train = np.concatenate([np.ones((1, len(table.runs))), 1.0 - held], axis=0)
    signs = objective.signs
    std, status, ridges, laws = _fit_families(props, ys, observed, signs, train)
    pred = _predict_std(std, props, signs)  # [S, M, R, T]
    err = np.where(held[None, :, :, None] & observed[None, None], pred[:, 1:] - ys, 0.0)
    n = np.maximum((held[:, :, None] & observed[None]).sum(axis=(0, 1)), 1)
    cv_mse = (err**2).sum(axis=(1, 2)) / n  # [S, T]
    pick = np.argmin(np.where(np.isfinite(cv_mse), cv_mse, np.inf), axis=0)  # [T]
    t = np.arange(len(signs))
    chosen_status = status[pick, :, t]  # [T, M]
    nat = _natural(TargetParams(*(np.moveaxis(v[pick, :, t], 0, 1) for v in std)), mean, sd)
    held_pred = mean + sd * np.moveaxis(pred[pick, :, :, t], 0, -1)  # [M, R, T]
    return TargetFit(
        domains=table.domains,
        objective=objective,
        params=TargetParams(*(np.asarray(v[0]) for v in nat)),
        fold_params=TargetParams(*(np.asarray(v[1:]) for v in nat)),
        held=held,
        ridge=ridges[pick],
        law=laws[pick],
        cv_rmse=np.sqrt(cv_mse[pick, t]) * sd,
        status=chosen_status[:, 0],
        fold_status=chosen_status[:, 1:].T,
        weights=props,
        values=y,
        budget=float(np.median(table.amounts.sum(axis=1))),
        diff_rmse=_difference_rmse(objective, held_pred[1:], y, held),
        objective_rmse=_objective_rmse(objective, held_pred[1:], y, held),
    )


def _difference_rmse(objective: Objective, pred, y, held) -> float:
    """Out-of-fold RMSE of ``F(best run) - F(run)`` over held-out runs (``pred [F, R, T]``
    the fold fits' targets, ``y [R, T]`` the observed ones, ``held [F, R]``)."""
    f_obs = objective.value(np.where(np.isfinite(y), y, np.nan))
    if not np.isfinite(f_obs).any():
        return float("nan")
    best = int(np.nanargmin(f_obs))
    f_pred = objective.value(pred)  # [F, R]
    err = (f_pred[:, best : best + 1] - f_pred) - (f_obs[best] - f_obs)[None]
    use = held & np.isfinite(err) & (np.arange(len(f_obs)) != best)[None]
    return float(np.sqrt(np.mean(err[use] ** 2))) if use.any() else float("nan")


def _objective_rmse(objective: Objective, pred, y, held) -> float:
    """Out-of-fold RMSE of the objective of held-out runs (``pred [F, R, T]``)."""
    err = objective.value(pred) - objective.value(np.where(np.isfinite(y), y, np.nan))[None]
    use = held & np.isfinite(err)
    return float(np.sqrt(np.mean(err[use] ** 2))) if use.any() else float("nan")


def _extremes(ys, observed, train, signs):
    """``[M, T]`` each training set's extreme of each target (min for a loss, max for a
    score), as in :func:`_one_fit`."""
    use = (train[:, :, None] > 0) & observed[None]
    lo = np.min(np.where(use, ys[None], np.inf), axis=1)
    hi = np.max(np.where(use, ys[None], -np.inf), axis=1)
    return np.where(signs > 0, lo, hi)


def _check_counts(table: PilotTable, objective: Objective, observed) -> None:
    """Each target needs runs of at least 4 distinct mixtures (for the folds); else a
    one-line error. The ridge prior keeps the K + 2 parameters stable from fewer runs."""
    groups = proportion_groups(table.amounts)
    for j, col in enumerate(objective.columns):
        n = int(observed[:, j].sum())
        mixtures = len(np.unique(groups[observed[:, j]]))
        if mixtures < 4:
            raise InputError(
                f"the target laws need runs of at least 4 distinct "
                f"mixtures with {col} measured; the table has {mixtures} ({n} runs)",
                table.path, column=col,
            )


def describe_status(fit: TargetFit) -> list[str]:
    """Warnings for targets whose full fit did not converge."""
    return [
        f"{col}: the target law's fit {Status.describe(int(s))}"
        for col, s in zip(fit.objective.columns, fit.status)
        if int(s) != Status.SUCCESS
    ]
