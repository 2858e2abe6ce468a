"""``validate``: which law do the pilots support? Cross-validation of every law family.

Each law is refitted with pilot runs held out — leave-one-mixture-out (replicate seeds of a
mixture leave together) and k-fold — all folds of one law in a single batched call
(``fit_many`` vmapped over observation weights). Held-out runs are then predicted and scored:

- ``cv_error``: mean relative error ``|pred / obs - 1|`` of held-out per-domain losses;
- ``rank_corr``: Spearman correlation of predicted and observed held-out losses, averaged
  over domains;
- ``extrapolation_error``: refitted without each domain's largest pilots, the error of
  predicting them (the jump to the budget, in miniature);
- ``regret_pct``: among pilot runs of the same total budget, the run with the best
  *held-out predicted* objective, against the best observed one (in %), averaged over such
  groups: would the law have picked the right mixture?

The law named is the simplest one whose held-out error is within one standard error of the
lowest (so a law that nests another must earn its extra parameters). A log-linear
regression ``log L_i = a_i + sum_j b_ij log(1 + n_j / s)`` (K + 1 coefficients
per domain, ridge-regularized) is scored on the same folds as a baseline. A law is called
trustworthy when it beats that baseline on held-out error and ranks held-out runs
(correlation >= ``MIN_RANK_CORR``). ``converged`` (the share of fold fits that met the
solver's tolerance rather than its step cap) is reported, not judged: noisy pilots often
stop at the cap with a good fit.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.fitting.batched import fit_weighted
from jaxmix.fitting.checks import measured_runs
from jaxmix.fitting.extrapolate import holdout_rows
from jaxmix.fitting.result import predict_params
from jaxmix.laws.base import row_names
from jaxmix.laws.registry import available_laws, get_law
from jaxmix.status import InputError
from jaxmix.table import PilotTable

MIN_RANK_CORR = 0.6
BASELINE = "loglinear"


class LawScore(NamedTuple):
    """Cross-validation scores of one law (NaN where not computable).

    Attributes:
      law: law name (or ``"loglinear"`` for the baseline).
      params_per_domain: free parameters per domain.
      fit_error: mean relative error on the runs it was fitted to (all runs).
      cv_error: held-out mean relative error, leave-one-mixture-out.
      cv_error_se: its standard error over the held-out entries.
      kfold_error: held-out mean relative error, k-fold.
      extrapolation_error: error on each domain's largest pilots, fitted without them.
      rank_corr: Spearman correlation of held-out predictions, mean over domains.
      regret_pct: selection regret of held-out predictions among equal-budget runs.
      converged: fraction of (fold, domain) fits that converged.
      note: why a law was not scored, or "".
    """

    law: str
    params_per_domain: int
    fit_error: float
    cv_error: float
    cv_error_se: float
    kfold_error: float
    extrapolation_error: float
    rank_corr: float
    regret_pct: float
    converged: float
    note: str = ""


class Validation(NamedTuple):
    """Output of :func:`validate`: one :class:`LawScore` per law plus the baseline, the law
    the data supports (or None) and one line saying why."""

    scores: tuple
    best: str | None
    verdict: str
    folds: int
    regret_groups: int = 0  # groups of 2+ equal-budget pilot mixtures the regret is over


def mixture_groups(table: PilotTable) -> np.ndarray:
    """``[R]`` group id per run: runs with identical amounts (replicates) share one."""
    _, ids = np.unique(np.round(table.amounts, 12), axis=0, return_inverse=True)
    return ids.reshape(-1)


def fold_masks(table: PilotTable, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``[F, R]`` held-out masks: leave-one-mixture-out, and ``folds``-fold over mixtures."""
    groups = mixture_groups(table)
    n = groups.max() + 1
    loo = np.stack([groups == g for g in range(n)])
    order = np.random.default_rng(seed).permutation(n)
    assign = np.empty(n, int)
    assign[order] = np.arange(n) % folds
    kfold = np.stack([assign[groups] == f for f in range(folds)])
    return loo, kfold


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _equal_budget_groups(table, full) -> list:
    """Row indices of each set of runs (``full``: every domain measured) that share a total
    budget and hold at least two distinct mixtures: where picking one can be scored."""
    totals = np.round(table.amounts.sum(axis=1), 9)
    out = []
    for t in np.unique(totals[full]):
        rows = np.where(full & (totals == t))[0]
        if len(np.unique(np.round(table.amounts[rows], 12), axis=0)) >= 2:
            out.append(rows)
    return out


def _scores(table, y, held_pred, importance) -> tuple[float, float]:
    """(rank_corr, regret_pct) from pooled held-out predictions ``[R, K]``."""
    seen = np.isfinite(y) & np.isfinite(held_pred)
    corr = [_spearman(held_pred[seen[:, i], i], y[seen[:, i], i]) for i in range(y.shape[1])]
    corr = float(np.nanmean(corr)) if np.any(np.isfinite(corr)) else np.nan
    full = np.all(seen, axis=1)
    obs_obj = y @ importance
    pred_obj = held_pred @ importance
    regrets = []
    for rows in _equal_budget_groups(table, full):
        pick = rows[np.argmin(pred_obj[rows])]
        best = obs_obj[rows].min()
        regrets.append(100.0 * (obs_obj[pick] - best) / best)
    return corr, float(np.mean(regrets)) if regrets else np.nan


def _rel_errors(pred, y) -> np.ndarray:
    """``|pred / y - 1|`` over the observed entries."""
    m = np.isfinite(y) & np.isfinite(pred)
    return np.abs(pred[m] / y[m] - 1.0)


def _rel_error(pred, y) -> float:
    """Mean ``|pred / y - 1|`` over observed entries (NaN when there are none)."""
    e = _rel_errors(pred, y)
    return float(np.mean(e)) if e.size else np.nan


def _pooled(fold_pred, held_masks) -> np.ndarray:
    """``[R, K]`` each run's prediction from the fold that held it out (NaN if none)."""
    out = np.full(fold_pred.shape[1:], np.nan)
    for f, held in enumerate(held_masks):
        out[held] = fold_pred[f][held]
    return out


def _law_folds(table, y, law_name, masks, delta):
    """``[F, R, K]`` predictions and ``[F, K]`` status of a law refitted on each mask
    (``masks [F, R]``: True = held out; F = 0 is the full fit)."""
    dt = jnp.result_type(float)
    seen = np.isfinite(y)
    weights = (seen[None] & ~masks[:, :, None]).astype(float)
    out = fit_weighted(
        table.amounts,
        np.broadcast_to(np.where(seen, y, 1.0), weights.shape),
        weights,
        0.0 if delta is None else delta,
        1.0,
        law_name=law_name,
    )
    params, status = out.params, out.status
    amounts = jnp.asarray(table.amounts, dt)
    predict = jax.vmap(functools.partial(predict_params, law_name=law_name), in_axes=(0, None))
    pred = np.asarray(predict(params, amounts))
    return pred, np.asarray(status)


def _loglinear_folds(table, y, masks, ridge=1e-6):
    """The baseline's ``[F, R, K]`` predictions, one ridge regression per (fold, domain)."""
    scale = np.exp(np.mean(np.log(table.amounts[table.amounts > 0])))
    x = np.hstack([np.ones((len(y), 1)), np.log1p(table.amounts / scale)])  # [R, K+1]
    preds = np.empty((masks.shape[0],) + y.shape)
    for f, held in enumerate(masks):
        for i in range(y.shape[1]):
            train = ~held & np.isfinite(y[:, i])
            xt = x[train]
            coef = np.linalg.solve(
                xt.T @ xt + ridge * np.eye(x.shape[1]), xt.T @ np.log(y[train, i])
            )
            preds[f, :, i] = np.exp(x @ coef)
    return preds


def _extrapolation_error(table, y, pred, held) -> float:
    """Mean relative error on each domain's largest-amount runs, predicted by a fit
    without them (``held [R]``), as in ``fit``'s extrapolation check."""
    if pred is None:
        return np.nan
    top = table.amounts.max(axis=0)
    own = held[:, None] & (table.amounts == top) & np.isfinite(y)
    return float(np.mean(np.abs(pred[own] / y[own] - 1.0))) if own.any() else np.nan


def _score(name, n_params, table, y, preds, status, loo, kfold, importance, held) -> LawScore:
    nl, nk = loo.shape[0], kfold.shape[0]
    full, loo_pred = preds[0], preds[1 : 1 + nl]
    kf_pred = preds[1 + nl : 1 + nl + nk]
    extra = preds[1 + nl + nk] if preds.shape[0] > 1 + nl + nk else None
    pooled = _pooled(loo_pred, loo)
    corr, regret = _scores(table, y, pooled, importance)
    errors = _rel_errors(pooled, y)
    return LawScore(
        law=name,
        params_per_domain=n_params,
        fit_error=_rel_error(full, y),
        cv_error=_rel_error(pooled, y),
        cv_error_se=float(np.std(errors, ddof=1) / np.sqrt(errors.size))
        if errors.size > 1
        else 0.0,
        kfold_error=_rel_error(_pooled(kf_pred, kfold), y),
        extrapolation_error=_extrapolation_error(table, y, extra, held),
        rank_corr=corr,
        regret_pct=regret,
        converged=float(np.mean(status == 0)) if status is not None else 1.0,
    )


def _skipped(name, n_params, note) -> LawScore:
    nan = float("nan")
    return LawScore(name, n_params, nan, nan, nan, nan, nan, nan, nan, nan, note)


def _verdict(scores) -> tuple[str | None, str]:
    base = next(s for s in scores if s.law == BASELINE)
    laws = [s for s in scores if s.law != BASELINE and np.isfinite(s.cv_error)]
    if not laws:
        return None, "no law could be cross-validated on these pilots (too few runs)"
    lowest = min(laws, key=lambda s: s.cv_error)
    # One-standard-error rule: the simplest law within one standard error of the lowest
    # held-out error (a law that nests another fits noise a little better).
    close = [s for s in laws if s.cv_error <= lowest.cv_error + lowest.cv_error_se]
    best = min(close, key=lambda s: (s.params_per_domain, s.cv_error))
    why = []
    if not best.cv_error < base.cv_error:
        why.append(
            f"its held-out error {percent(best.cv_error, '.3g')} does not beat the "
            f"log-linear baseline's {percent(base.cv_error, '.3g')}"
        )
    if not best.rank_corr >= MIN_RANK_CORR:
        why.append(f"it ranks held-out runs poorly (rank correlation {best.rank_corr:.2f})")
    if why:
        return None, f"no law is trustworthy: the best, {best.law}, " + "; ".join(why)
    return best.law, (
        f"the pilots support {best.law}: held-out error {percent(best.cv_error, '.3g')} "
        f"(baseline {percent(base.cv_error, '.3g')}), rank correlation {best.rank_corr:.2f}"
    )


def validate(
    table: PilotTable,
    laws=None,
    folds: int = 5,
    seed: int = 0,
    importance=None,
    delta: float | None = None,
) -> Validation:
    """Cross-validate law families on a pilot table with per-domain losses.

    Args:
      table: pilots with ``loss:<domain>`` columns.
      laws: law names (default: every registered law).
      folds: k of the k-fold split over mixtures (capped at the number of mixtures).
      seed: seed of the k-fold assignment.
      importance: ``[K]`` weights of the objective used for the selection regret.
      delta: Huber threshold of the fits (None: from the pilots, as ``fit`` does).

    >>> from jaxmix import example_pilots, read_pilots
    >>> v = validate(read_pilots(example_pilots()), laws=["transfer"], folds=3)
    >>> [s.law for s in v.scores]
    ['transfer', 'loglinear']
    """
    laws = list(available_laws() if laws is None else laws)
    for name in laws:
        get_law(name)  # unknown names raise here, before any work
    table = measured_runs(table)[0]  # runs not trained yet hold no fold
    y, n_mix = _checked_losses(table)
    folds = int(min(max(folds, 2), n_mix))
    loo, kfold = fold_masks(table, folds, seed)
    masks = np.concatenate([np.zeros((1, len(y)), bool), loo, kfold])
    held = holdout_rows(table)  # some domain at its largest amount
    imp = np.ones(len(table.domains)) if importance is None else np.asarray(importance, float)
    seen = np.isfinite(y)
    scores = []
    for name in laws:
        need = len(row_names(get_law(name), table.domains, 0))
        train_counts = (seen[None] & ~masks[:, :, None]).sum(axis=1)  # [F, K]
        if np.any(train_counts < need):
            scores.append(
                _skipped(name, need, f"a fold leaves fewer than {need} runs for some domain")
            )
            continue
        law_masks = masks
        if held.any() and np.all((seen & ~held[:, None]).sum(axis=0) >= need):
            law_masks = np.concatenate([masks, held[None]])  # + the extrapolation fold
        preds, status = _law_folds(table, y, name, law_masks, delta)
        scores.append(_score(name, need, table, y, preds, status[1:], loo, kfold, imp, held))
    k = len(table.domains)
    base = _loglinear_folds(table, y, np.concatenate([masks, held[None]]))
    scores.append(_score(BASELINE, k + 1, table, y, base, None, loo, kfold, imp, held))
    best, verdict = _verdict(scores)
    groups = len(_equal_budget_groups(table, np.all(np.isfinite(y), axis=1)))
    return Validation(
        scores=tuple(scores), best=best, verdict=verdict, folds=folds, regret_groups=groups
    )


DIVERGED = 1e3  # a relative error this large (100000%) is a fold whose fit diverged
CAPPED = 10.0  # above this relative error (1000%) the number says nothing more


def _checked_losses(table: PilotTable):
    """``(losses [R, K], number of distinct mixtures)``, after validation's input checks."""
    y = table.domain_losses()
    missing = [d for d in table.domains if d not in table.losses]
    if missing:
        raise InputError(
            f"validation needs per-domain losses; no loss:{missing[0]} column", table.path, 1
        )
    groups = mixture_groups(table)
    n_mix = int(groups.max()) + 1
    if n_mix < 3:
        raise InputError("validation needs at least 3 distinct mixtures", table.path)
    return y, n_mix


def percent(x: float, digits: str = ".3f") -> str:
    """A relative error ``x`` as a percentage of bounded width: ``-`` when missing,
    ``diverged`` or ``>1000%`` when too large to mean more.

    >>> percent(0.01234), percent(25.0), percent(3.3e27), percent(float("nan"))
    ('1.234%', '>1000%', 'diverged', '-')
    """
    if not np.isfinite(x):
        return "diverged" if x == np.inf else "-"
    if abs(x) >= DIVERGED:
        return "diverged"
    if abs(x) > CAPPED:
        return ">1000%"
    return f"{100 * x:{digits}}%"


def validation_to_dict(v: Validation) -> dict:
    """JSON-ready form (NaN as None)."""
    clean = lambda x: None if isinstance(x, float) and not np.isfinite(x) else x  # noqa: E731
    return {
        "scores": [{k: clean(val) for k, val in s._asdict().items()} for s in v.scores],
        "best": v.best,
        "verdict": v.verdict,
        "folds": v.folds,
    }
