"""Stacking the law families: fit every candidate law on cross-validation folds of the
pilots and weigh them by out-of-fold error.

Every candidate law is refitted on cross-validation folds of the pilots (leave-one-mixture-out,
or k-fold on large swarms), all folds of one law in one batched call (``fit_many`` vmapped
over observation weights, as ``validate`` does). The out-of-fold predictions choose
non-negative stacking weights that sum to one (least squares on relative errors, over the
simplex). The combination predicts ``sum_m a_m L_m(w)``: a convex combination of convex laws,
so its objective is convex and the Frank-Wolfe gap certifies the optimum. It is a law like
any other (:mod:`jaxmix.laws.ensemble`).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.batched import fit_weighted, prepare_weighted
from jaxmix.fitting.result import predict_params
from jaxmix.laws.base import row_names
from jaxmix.laws.ensemble import EnsembleParams, ensemble_name
from jaxmix.laws.registry import ensure_registered, get_law

DEFAULT_LAWS = ("transfer", "mixing_law", "interference")
LOO_MAX = 16  # leave-one-mixture-out up to this many mixtures, else k-fold
KFOLD = 8
MIN_STACK = 1e-3  # members below this stacking weight are dropped


class Combination(NamedTuple):
    """Out-of-fold fits of the candidate laws and their stacking weights.

    Attributes:
      laws: names of the laws that could be fitted (the members, before pruning).
      stack: ``[M]`` stacking weights over ``laws`` (sum to one).
      params: per law, the parameter pytree of the full fit (leaves ``[K, ...]``).
      fold_params: per law, the parameters of every fold fit (leaves ``[F, K, ...]``).
      held: ``[F, R]`` held-out runs of each fold.
      oof: ``[M, R, K]`` each law's out-of-fold predictions.
      cv_error: ``[M]`` each law's mean out-of-fold relative error; combined_error: the
        combination's.
      status: ``[M, F + 1, K]`` solver status (index 0: the full fit).
      skipped: ``{law: why}`` for laws with too few runs.
      diff_err: held-out error of the predicted objective difference between two pilots,
        relative to the objective, per unit of total-variation distance between them.
      delta: per law, ``[K]`` Huber thresholds of the full fit (empty when not known), so
        that a member can be refitted under the same thresholds (the bootstrap).
    """

    laws: tuple
    stack: np.ndarray
    params: tuple
    fold_params: tuple
    held: np.ndarray
    oof: np.ndarray
    cv_error: np.ndarray
    combined_error: float
    status: np.ndarray
    skipped: dict
    diff_err: float = 0.0
    delta: tuple = ()


def proportion_groups(amounts) -> np.ndarray:
    """``[R]`` group ids: runs with the same proportions (replicates, checkpoints) share one."""
    w = amounts / amounts.sum(axis=1, keepdims=True)
    _, ids = np.unique(np.round(w, 9), axis=0, return_inverse=True)
    return ids.reshape(-1)


def cv_masks(groups, seed: int = 0) -> np.ndarray:
    """``[F, R]`` held-out masks: leave one group out (up to ``LOO_MAX`` groups), else
    ``KFOLD``-fold over groups."""
    n = int(groups.max()) + 1
    if n <= LOO_MAX:
        return np.stack([groups == g for g in range(n)])
    order = np.random.default_rng(seed).permutation(n)
    assign = np.empty(n, int)
    assign[order] = np.arange(n) % KFOLD
    return np.stack([assign[groups] == f for f in range(KFOLD)])


def fold_weights(y, masks) -> np.ndarray:
    """``[F+1, R, K]`` observation weights: every observed run (row 0), then each fold's
    (``masks [F, R]``: True = held out)."""
    seen = np.isfinite(y)
    masks = np.concatenate([np.zeros((1, len(y)), bool), masks])
    return (seen[None] & ~masks[:, :, None]).astype(float)


def _fold_inputs(y, masks, delta):
    """``(losses, weights [F+1, R, K], threshold)`` of the fold fits (:func:`fold_fits`)."""
    weights = fold_weights(y, masks)
    losses = np.broadcast_to(np.where(np.isfinite(y), y, 1.0), weights.shape)
    return losses, weights, 0.0 if delta is None else delta  # 0: the fit's robust threshold


def fold_fits(amounts, y, law_name, masks, delta=None, prior=1.0, given=None):
    """Fit ``law_name`` with the runs of each mask held out (``masks [F, R]``; row 0 of the
    result is the fit on every run). Returns ``(params [F+1, ...], status [F+1, K],
    predictions [F+1, R, K], thresholds [F+1, K])``. ``given``: those fits, already made
    (``(params, status, thresholds)``, leading axis ``[F+1]``, fitted on
    :func:`fold_weights`), only predicted here."""
    dt = jnp.result_type(float)
    if given is None:
        out = fit_weighted(amounts, *_fold_inputs(y, masks, delta), prior, law_name=law_name)
        given = (out.params, out.status, out.delta)
    params, status, thresholds = given
    pred = np.asarray(
        aot.call(
            _predict_many, "predict_many", params, jnp.asarray(amounts, dt), law_name=law_name
        )
    )
    return params, np.asarray(status), pred, np.asarray(thresholds)


def prepare_fold_fits(amounts, y, laws, masks=None, delta=None, prior=1.0) -> None:
    """Start compiling the fold fits of every law in ``laws`` that the folds leave enough
    runs to fit (``masks``: default :func:`cv_masks` of the proportions), each in the
    background while the next is traced (:func:`jaxmix.aot.prepare`)."""
    amounts, y = np.asarray(amounts, float), np.asarray(y, float)
    masks = cv_masks(proportion_groups(amounts)) if masks is None else masks
    for name in laws:
        if _too_few(name, y, masks) is None:
            prepare_weighted(amounts, *_fold_inputs(y, masks, delta), prior, law_name=name)


def _too_few(name: str, y, held) -> str | None:
    """Why a fold of ``held [F, R]`` leaves too few runs to fit ``name``, or None."""
    seen = np.isfinite(y)
    k = y.shape[1]
    need = len(row_names(get_law(name), tuple(f"d{j}" for j in range(k)), 0))
    counts = (seen[None] & ~held[:, :, None]).sum(axis=1)  # [F, K]
    if np.any(counts[:, seen.any(axis=0)] < need):
        return f"a fold leaves fewer than {need} runs for some domain"
    return None


@functools.partial(jax.jit, static_argnames="law_name")
def _predict_many(params, amounts, *, law_name):
    return jax.vmap(functools.partial(predict_params, law_name=law_name), in_axes=(0, None))(
        params, amounts
    )


def simplex_lsq(a, b, steps: int = 2000) -> np.ndarray:
    """``argmin ||a x - b||^2`` over the probability simplex (accelerated projected
    gradient; ``a [N, M]``)."""
    m = a.shape[1]
    x = np.full(m, 1.0 / m)
    if m == 1:
        return x
    h = a.T @ a
    g0 = a.T @ b
    lip = max(np.linalg.eigvalsh(h).max(), 1e-300)
    y, t = x.copy(), 1.0
    for _ in range(steps):
        x_new = _project(y - (h @ y - g0) / lip)
        t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        y = x_new + (t - 1) / t_new * (x_new - x)
        if np.max(np.abs(x_new - x)) < 1e-12:
            x = x_new
            break
        x, t = x_new, t_new
    return x


def _project(v) -> np.ndarray:
    """Euclidean projection onto the probability simplex."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    rho = np.nonzero(u * np.arange(1, len(v) + 1) > (css - 1))[0][-1]
    theta = (css[rho] - 1) / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def stacking_weights(oof, y, importance=None) -> np.ndarray:
    """``[M]`` simplex weights minimizing the squared relative out-of-fold error of the
    combined prediction (``oof [M, R, K]``, entries weighted by ``importance [K]``)."""
    seen = np.isfinite(y) & np.all(np.isfinite(oof), axis=0)
    imp = np.ones(y.shape[1]) if importance is None else np.asarray(importance, float)
    w = np.sqrt(np.broadcast_to(imp, y.shape)[seen])
    a = (oof[:, seen] / y[seen] - 1.0).T * w[:, None]  # [N, M] relative errors
    a = np.clip(a, -1.0, 1.0)  # a wild held-out prediction counts as a 100% error
    return simplex_lsq(a, np.zeros(len(w)))


def combine(
    amounts,
    y,
    laws=DEFAULT_LAWS,
    importance=None,
    groups=None,
    delta: float | None = None,
    seed: int = 0,
    given: dict | None = None,
) -> Combination:
    """Fit every law on every cross-validation fold and stack their out-of-fold predictions.

    ``amounts [R, K]``, per-domain losses ``y [R, K]`` (NaN: not observed), ``groups [R]``
    (runs held out together; default: same proportions). ``given``: ``{law: (params,
    status)}`` fold fits already made on the folds of :func:`cv_masks` (see
    :func:`fold_fits`)."""
    amounts, y = np.asarray(amounts, float), np.asarray(y, float)
    groups = proportion_groups(amounts) if groups is None else np.asarray(groups)
    held = cv_masks(groups, seed)
    seen = np.isfinite(y)
    k = amounts.shape[1]
    names, params, folds, oofs, statuses, skipped, deltas = _fold_every_law(
        amounts, y, laws, held, delta, given or {}
    )
    if not names:
        raise ValueError("no law can be cross-validated on these pilots (too few runs)")
    oof = np.stack(oofs)
    # A law whose held-out predictions fail anywhere is not stacked.
    usable = np.array([np.all(np.isfinite(o[seen])) for o in oof])
    stack = np.zeros(len(names))
    imp = np.ones(k) if importance is None else np.asarray(importance, float)
    if usable.any():
        stack[usable] = stacking_weights(oof[usable], y, imp)
    else:
        stack[:] = 1.0 / len(names)
    stack = np.where(stack < MIN_STACK, 0.0, stack)
    stack /= stack.sum()
    errs = np.array([_rel_error(o, y) for o in oof])
    comb = np.tensordot(stack, np.where(np.isfinite(oof), oof, 0.0), 1)
    d_err = diff_error(stack, np.where(np.isfinite(oof), oof, 0.0), y, amounts, imp)
    return Combination(
        laws=tuple(names),
        stack=stack,
        params=tuple(params),
        fold_params=tuple(folds),
        held=held,
        oof=oof,
        cv_error=errs,
        combined_error=_rel_error(comb, y),
        status=np.stack(statuses),
        skipped=skipped,
        diff_err=d_err,
        delta=tuple(deltas),
    )


def _fold_every_law(amounts, y, laws, held, delta, given):
    """``(names, params, fold params, out-of-fold predictions, statuses, skipped, full-fit
    thresholds)`` of the laws that every fold leaves enough runs to fit."""
    names, params, folds, oofs, statuses, skipped, deltas = [], [], [], [], [], {}, []
    prepare_fold_fits(amounts, y, [n for n in laws if n not in given], held, delta)
    for name in laws:
        why = _too_few(name, y, held)
        if why is not None:
            skipped[name] = why
            continue
        p, status, pred, thresholds = fold_fits(
            amounts, y, name, held, delta, given=given.get(name)
        )
        oof = np.full(y.shape, np.nan)
        for f, h in enumerate(held):
            oof[h] = pred[1 + f][h]
        names.append(name)
        params.append(jax.tree.map(lambda x: x[0], p))
        folds.append(jax.tree.map(lambda x: x[1:], p))
        oofs.append(oof)
        statuses.append(status)
        deltas.append(thresholds[0])
    return names, params, folds, oofs, statuses, skipped, deltas


def _rel_error(pred, y) -> float:
    m = np.isfinite(y) & np.isfinite(pred)
    return float(np.mean(np.abs(pred[m] / y[m] - 1.0))) if m.any() else float("nan")


def _pruned(comb: Combination):
    keep = [i for i, a in enumerate(comb.stack) if a > 0]
    return keep, tuple(comb.laws[i] for i in keep), comb.stack[keep] / comb.stack[keep].sum()


def ensemble_params(comb: Combination, k: int, fold: int | None = None):
    """``(law name, EnsembleParams)`` of the combination (members with weight > 0): the full
    fit, or fold ``fold``'s fit."""
    keep, names, a = _pruned(comb)
    src = comb.params if fold is None else comb.fold_params
    members = []
    for i in keep:
        p = src[i]
        members.append(p if fold is None else jax.tree.map(lambda x: x[fold], p))  # noqa: B023
    name = ensemble_name(names)
    ensure_registered(name)
    stack = np.broadcast_to(a, (k, len(names))).copy()
    return name, EnsembleParams(stack=stack, members=tuple(members))


def fold_ensembles(comb: Combination, k: int):
    """``(law name, EnsembleParams with leaves [F, ...])``: the combination of every fold."""
    keep, names, a = _pruned(comb)
    name = ensemble_name(names)
    ensure_registered(name)
    f = comb.held.shape[0]
    stack = np.broadcast_to(a, (f, k, len(names))).copy()
    return name, EnsembleParams(stack=stack, members=tuple(comb.fold_params[i] for i in keep))


def fold_predictions(comb: Combination, k: int, amounts) -> np.ndarray:
    """``[F, J, K]`` every fold's combination predicted at runs ``amounts [J, K]``."""
    name, folds = fold_ensembles(comb, k)
    dt = jnp.result_type(float)
    folds = jax.tree.map(lambda x: jnp.asarray(x, dt), folds)
    return np.asarray(
        aot.call(_predict_many, "predict_many", folds, jnp.asarray(amounts, dt), law_name=name)
    )


def diff_error(comb_stack, oof, y, amounts, importance) -> float:
    """Held-out error of the predicted objective *difference* between two pilot mixtures,
    relative to the objective, per unit of their total-variation distance:
    ``sqrt(2) sd(oof - observed) / mean(observed) / mean TV`` over the pilots with every
    weighted loss observed (the model's bias cancels in a difference)."""
    y = np.asarray(y, float)
    imp = np.asarray(importance, float)
    cols = imp > 0
    pred_all = np.tensordot(comb_stack, oof, 1)
    full = np.all(np.isfinite(y[:, cols]) & np.isfinite(pred_all[:, cols]), axis=1)
    if full.sum() < 3:
        return 0.0
    obs = y[full][:, cols] @ imp[cols]
    pred = pred_all[full][:, cols] @ imp[cols]
    w = amounts[full] / amounts[full].sum(axis=1, keepdims=True)
    tv = 0.5 * np.abs(w[:, None] - w[None]).sum(axis=-1)
    mean_tv = tv[np.triu_indices(len(w), 1)].mean()
    if not mean_tv > 0:
        return 0.0
    return float(np.sqrt(2.0) * np.std(pred - obs, ddof=1) / np.mean(obs) / mean_tv)
