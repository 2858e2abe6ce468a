"""Shared pieces: metrics, timing, jaxmix law fits, and the peer methods (written here).

Every method is a function ``fit(train) -> predict`` timed by :func:`timed`; metrics compare
predictions with held-out observations. Nothing here is copied from a peer's code base.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, stats

import jaxmix

# ---------------------------------------------------------------------------------------------
# Metrics


def rel_error(pred, obs) -> float:
    """Mean of ``|pred / obs - 1|`` over observed entries (NaN if any prediction failed)."""
    pred, obs = np.asarray(pred, float), np.asarray(obs, float)
    seen = np.isfinite(obs)
    return float(np.mean(np.abs(pred[seen] / obs[seen] - 1.0)))


def spearman(pred, obs) -> float:
    """Spearman rank correlation of two vectors; 0 where the prediction is constant (it
    ranks nothing), NaN where it failed."""
    pred, obs = np.asarray(pred, float), np.asarray(obs, float)
    if not np.all(np.isfinite(pred)):
        return float("nan")
    if np.ptp(pred) == 0 or len(pred) < 2:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(pred, obs).statistic)


def spearman_cols(pred, obs) -> float:
    """Mean over columns (validation domains) of the per-column Spearman correlation."""
    pred, obs = np.asarray(pred, float), np.asarray(obs, float)
    return float(np.mean([spearman(pred[:, j], obs[:, j]) for j in range(obs.shape[1])]))


def regret_pct(pred_objective, obs_objective) -> float:
    """Observed objective of the candidate with the best (lowest) predicted objective, in %
    above the best observed objective among the same candidates."""
    pred, obs = np.asarray(pred_objective, float), np.asarray(obs_objective, float)
    if not np.all(np.isfinite(pred)):
        return float("nan")
    return float(100.0 * (obs[int(np.argmin(pred))] / np.min(obs) - 1.0))


def timed(fn: Callable, *args, **kwargs):
    """``(result, wall seconds)`` of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# jaxmix laws


def jaxmix_law(law: str, amounts, losses, domains=None):
    """Fit jaxmix law ``law`` to per-domain losses ``[R, K]`` (NaN: not observed) at
    ``amounts [R, K]``; returns ``(predict, info)`` with ``predict(amounts) -> [R', K]``.

    The public ``jaxmix.fit_joint`` needs a loss column for every training domain and every
    domain's amount to vary; where a data set has neither (RegMix: 4 of its 17 training
    domains have no validation loss; the SFT curves' constant "pretraining" domain), the
    same jitted fit is called one level down through ``jaxmix.joint_fit_arrays``.
    """
    amounts = np.asarray(amounts, float)
    losses = np.asarray(losses, float)
    k = amounts.shape[1]
    domains = tuple(domains) if domains is not None else tuple(f"d{j}" for j in range(k))
    mask = np.isfinite(losses)
    complete = bool(mask.any(axis=0).all() and (np.ptp(amounts, axis=0) > 0).all())
    if complete:
        table = jaxmix.PilotTable(
            domains=domains,
            runs=tuple(f"r{r}" for r in range(len(amounts))),
            amounts=amounts,
            losses={d: losses[:, j] for j, d in enumerate(domains)},
        )
        fit = jaxmix.fit_joint(table, law=law)
        route = "fit_joint"
    else:
        out = jaxmix.joint_fit_arrays(
            jnp.asarray(amounts),
            jnp.asarray(np.where(mask, losses, 1.0)),
            jnp.asarray(mask),
            law_name=law,
            diagnose=False,
        )
        out = jax.device_get(out)
        fit = jaxmix.FitResult(
            law=law, domains=domains, params=out.params, status=np.asarray(out.status)
        )
        route = "joint_fit_arrays"
    status = np.asarray(fit.status) if fit.status is not None else np.zeros(k, int)
    observed = mask.any(axis=0)
    info = {
        "route": route,
        "failed_domains": [d for d, s, o in zip(domains, status, observed) if o and int(s) != 0],
    }

    def predict(new_amounts):
        return np.asarray(jaxmix.predict(fit, np.asarray(new_amounts, float)))

    return predict, info


@functools.partial(jax.jit, static_argnames="law")
def _fit_batch(amounts, losses, mask, delta, *, law):
    def one(y, m):
        return jaxmix.joint_fit_arrays(amounts, y, m, delta, law_name=law, diagnose=False)

    return jax.vmap(one)(losses, mask)


def jaxmix_law_batched(law: str, amounts, losses, delta: float = 1e-3):
    """One jitted, vmapped jaxmix fit of many curves that share ``amounts [R, K]``:
    ``losses [B, R, K]`` (NaN: not observed), Huber ``delta`` on log residuals (jaxmix's
    default 1e-3). Returns ``predict(amounts) -> [B, R', K]`` and the ``[B, K]`` solver
    status."""
    amounts = np.asarray(amounts, float)
    losses = np.asarray(losses, float)
    mask = np.isfinite(losses)
    out = jax.device_get(
        _fit_batch(
            jnp.asarray(amounts),
            jnp.asarray(np.where(mask, losses, 1.0)),
            jnp.asarray(mask),
            jnp.asarray(delta),
            law=law,
        )
    )
    domains = tuple(f"d{j}" for j in range(amounts.shape[1]))

    def predict(new_amounts):
        preds = []
        for b in range(losses.shape[0]):
            params = jax.tree.map(lambda x: x[b], out.params)  # noqa: B023
            fit = jaxmix.FitResult(law=law, domains=domains, params=params)
            preds.append(np.asarray(jaxmix.predict(fit, np.asarray(new_amounts, float))))
        return np.stack(preds)

    return predict, np.asarray(out.status)


# ---------------------------------------------------------------------------------------------
# Peer regressions on mixture weights (RegMix's approach), written for this benchmark


def lgbm_params(n_train: int) -> dict:
    """LightGBM hyperparameters (native names), one set for every data set (stated in the
    README): 1000 rounds at learning rate 0.02, 15 leaves, bagging 0.8, feature fraction
    0.8, L2 regularization 1. ``min_data_in_leaf`` and ``min_data_in_bin`` shrink with the
    number of training runs so that trees can split at all on 4 or 20 runs.
    """
    return dict(
        objective="regression",
        learning_rate=0.02,
        num_leaves=15,
        min_data_in_leaf=max(2, min(20, n_train // 10)),
        min_data_in_bin=1 if n_train < 100 else 3,
        bagging_fraction=0.8,
        bagging_freq=1,
        feature_fraction=0.8,
        lambda_l2=1.0,
        seed=0,
        deterministic=True,
        force_row_wise=True,
        num_threads=1,
        verbose=-1,
    )


LGBM_ROUNDS = 1000


def lgbm_fit(x_train, y_train):
    """One LightGBM regressor per output column on features ``x [R, F]``; returns
    ``predict(x) -> [R', K]``."""
    import lightgbm

    x_train, y_train = np.asarray(x_train, float), np.asarray(y_train, float)
    models = []
    for j in range(y_train.shape[1]):
        seen = np.isfinite(y_train[:, j])
        if not seen.any():
            models.append(None)
            continue
        params = lgbm_params(int(seen.sum()))
        data = lightgbm.Dataset(x_train[seen], y_train[seen, j], params=params)
        models.append(lightgbm.train(params, data, num_boost_round=LGBM_ROUNDS))

    def predict(x):
        x = np.asarray(x, float)
        nan = np.full(len(x), np.nan)
        return np.stack([nan if m is None else m.predict(x) for m in models], axis=1)

    return predict


def linear_fit(x_train, y_train, ridge: float = 1e-6):
    """Least squares with intercept per output column (a tiny ridge keeps it defined when
    the features sum to one); returns ``predict(x) -> [R', K]``."""
    x_train, y_train = np.asarray(x_train, float), np.asarray(y_train, float)
    mu = x_train.mean(axis=0)
    xc = x_train - mu
    coefs, intercepts = [], []
    for j in range(y_train.shape[1]):
        seen = np.isfinite(y_train[:, j])
        if not seen.any():
            coefs.append(np.full(xc.shape[1], np.nan))
            intercepts.append(np.nan)
            continue
        a, y = xc[seen], y_train[seen, j]
        coef = np.linalg.solve(a.T @ a + ridge * len(y) * np.eye(a.shape[1]), a.T @ (y - y.mean()))
        coefs.append(coef)
        intercepts.append(y.mean())
    coefs, intercepts = np.stack(coefs, axis=1), np.asarray(intercepts)

    def predict(x):
        return (np.asarray(x, float) - mu) @ coefs + intercepts

    return predict


# ---------------------------------------------------------------------------------------------
# Curve fits for single-domain scaling laws (peer forms; scipy least squares, log residuals)


def fit_curve(
    model: Callable, y, starts, lower=None, upper=None, polish: int = 3
) -> tuple[np.ndarray, float]:
    """Least squares on ``log(model(theta)) - log(y)``: score every start, polish the best
    ``polish`` with scipy's trust-region solver; the best theta and its sum of squares.
    ``model(theta) -> [n]`` predictions at the training points."""
    y = np.asarray(y, float)
    lo = np.full(len(starts[0]), -np.inf) if lower is None else np.asarray(lower, float)
    hi = np.full(len(starts[0]), np.inf) if upper is None else np.asarray(upper, float)

    def resid(theta):
        pred = model(theta)
        with np.errstate(all="ignore"):
            r = np.log(np.maximum(pred, 1e-300)) - np.log(y)
        return np.where(np.isfinite(r), r, 1e3)

    starts = [np.clip(np.asarray(s, float), lo + 1e-9, hi - 1e-9) for s in starts]
    scores = [float(np.sum(resid(s) ** 2)) for s in starts]
    best, best_cost = None, np.inf
    for i in np.argsort(scores)[:polish]:
        res = optimize.least_squares(resid, starts[i], bounds=(lo, hi), method="trf")
        if res.cost < best_cost:
            best, best_cost = res.x, res.cost
    return best, float(2 * best_cost)


def amplitudes(x, y) -> tuple[float, float]:
    """``(C, E)`` of ``y ~ C x + E`` by least squares, kept positive (variable projection
    for starting points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    a = np.stack([x, np.ones_like(x)], axis=1)
    (c, e), *_ = np.linalg.lstsq(a, y, rcond=None)
    e = float(np.clip(e, 1e-3 * y.min(), 0.999 * y.min()))
    c = float(max(np.sum(x * (y - e)) / max(np.sum(x * x), 1e-300), 1e-8))
    return c, e
