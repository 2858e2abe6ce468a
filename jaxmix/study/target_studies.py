"""Studies of a target objective: how well the target law predicts and ranks held-out runs
(:func:`validate_targets`), and which runs to train next (:func:`propose_targets`).

Both use the fold fits of :func:`~jaxmix.fitting.targets.fit_targets`: each fold's fit never
saw its held-out runs (validation), and the spread of the fold fits' optima is the law's
uncertainty about where the best mixture lies (the proposals).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxmix.fitting.targets import TargetFit, fit_targets
from jaxmix.optimization.targets import (
    best_run,
    choose,
    covered_by_runs,
    covered_fraction,
    evaluate,
    solve_targets,
)
from jaxmix.status import InputError
from jaxmix.study.propose import Proposal, _proposal_table
from jaxmix.study.targets import as_objective
from jaxmix.table import PilotTable


class TargetValidation(NamedTuple):
    """Out-of-fold errors of the target law next to a constant (the training runs' mean).

    Attributes:
      columns: ``T`` targets; folds: number of folds.
      law_rmse: ``[T]`` the law's out-of-fold RMSE; mean_rmse: ``[T]`` the constant's.
      objective_law_rmse, objective_mean_rmse: the same for the objective.
      rank_corr: Spearman correlation of the held-out runs' predicted and observed objective.
      better: whether the law's objective RMSE is below the constant's.
    """

    columns: tuple
    folds: int
    law_rmse: np.ndarray
    mean_rmse: np.ndarray
    objective_law_rmse: float
    objective_mean_rmse: float
    rank_corr: float
    better: bool


def validate_targets(table: PilotTable, objective=None, seed: int = 0) -> TargetValidation:
    """Cross-validate the target law on ``table`` for ``objective`` (text or Objective).

    >>> rng = np.random.default_rng(1)
    >>> w = rng.dirichlet(np.ones(3), 20)
    >>> acc = 0.7 - 0.4 * np.exp(-3.0 * w[:, 2]) + 0.002 * rng.standard_normal(20)
    >>> t = PilotTable(("a", "b", "c"), tuple(map(str, range(20))), 1e6 * w, {},
    ...                scores={"acc": acc})
    >>> v = validate_targets(t, "score:acc")
    >>> bool(v.better), bool(v.law_rmse[0] < 0.2 * v.mean_rmse[0])
    (True, True)
    """
    fit = fit_targets(table, as_objective(table, objective), seed=seed)
    _, _, _, pred = evaluate(fit, fit.weights)  # [F, R, T]
    y, held, obj = fit.values, fit.held, fit.objective
    law = np.full_like(y, np.nan)
    const = np.full_like(y, np.nan)
    for f in range(held.shape[0]):
        train = ~held[f]
        law[held[f]] = pred[f][held[f]]
        const[held[f]] = np.nanmean(y[train], axis=0)
    ok = np.isfinite(y)
    rmse = lambda p: np.sqrt(np.nanmean(np.where(ok, (p - y) ** 2, np.nan), axis=0))  # noqa: E731
    f_obs, f_law, f_const = obj.value(y), obj.value(law), obj.value(const)
    use = np.isfinite(f_obs)
    o_law = float(np.sqrt(np.mean((f_law - f_obs)[use] ** 2)))
    o_const = float(np.sqrt(np.mean((f_const - f_obs)[use] ** 2)))
    rank = lambda v: np.argsort(np.argsort(v)).astype(float)  # noqa: E731
    corr = float(np.corrcoef(rank(f_law[use]), rank(f_obs[use]))[0, 1]) if use.sum() > 2 else np.nan
    return TargetValidation(obj.columns, int(held.shape[0]), rmse(law), rmse(const), o_law,
                            o_const, corr, bool(o_law < o_const))


def propose_targets(
    table: PilotTable, budget: float, runs: int = 3, objective=None, candidates=None,
    seed: int = 0,
) -> Proposal:
    """The next ``runs`` mixtures to train for a target objective, at ``budget``.

    The first is the decision's mixture when it moves, else the mixture the law predicts best
    within the runs' coverage (the best run itself is never proposed again). The others are
    the optima of the fold fits (draws of where the best mixture may lie), each taken from
    the best run toward it as far as the runs cover, farthest from those already chosen
    first. With ``candidates [J, K]`` every run is a covered candidate instead.

    >>> rng = np.random.default_rng(1)
    >>> w = rng.dirichlet(np.ones(3), 20)
    >>> acc = 0.7 - 0.4 * np.exp(-3.0 * w[:, 2]) + 0.002 * rng.standard_normal(20)
    >>> t = PilotTable(("a", "b", "c"), tuple(map(str, range(20))), 1e6 * w, {},
    ...                scores={"acc": acc})
    >>> p = propose_targets(t, 1e6, runs=3, objective="score:acc")
    >>> p.weights.shape, p.table.runs
    ((3, 3), ('next1', 'next2', 'next3'))
    """
    if runs < 1:
        raise InputError(f"--runs must be >= 1, got {runs}")
    if not budget > 0:
        raise InputError(f"--budget must be > 0, got {budget}")
    fit = fit_targets(table, as_objective(table, objective), seed=seed)
    choice = choose(fit, candidates)
    ref = fit.weights[best_run(fit)]
    if candidates is not None:
        pool = np.asarray(candidates, float)
        pool = pool[covered_by_runs(fit, pool)]
        if not len(pool):
            raise InputError("--candidates: every candidate has a share beyond the runs' "
                             "largest, where the law is unchecked")
    else:
        pool = np.vstack([choice.candidates, _fold_points(fit, ref)])
    pool = pool[np.linalg.norm(pool - ref, axis=1) > 1e-9]  # not the best run again
    if not len(pool):
        raise InputError("no mixture other than the best run is within the runs' coverage")
    gain = evaluate(fit, np.vstack([ref, pool]))[0]
    gain = gain[0] - gain[1:]
    picked = [int(np.argmax(gain))] if choice.index < 0 else [
        int(np.argmin(np.linalg.norm(pool - choice.weights, axis=1)))]
    reasons = ["the decision's mixture" if choice.index >= 0 else
               "the law's best mixture within the runs' coverage (the decision keeps the best "
               "run, which needs no new run)"]
    while len(picked) < min(runs, len(pool)):
        d = np.min(np.linalg.norm(pool[:, None] - pool[picked][None], axis=2), axis=1)
        d[picked] = -1.0
        picked.append(int(np.argmax(d)))
        reasons.append("a fold fit's best mixture, farthest from those proposed"
                       if candidates is None else "a covered candidate, farthest from those "
                       "proposed")
    weights = pool[picked]
    out = _proposal_table(table, weights, budget)
    out = out._replace(losses={n: np.full(len(weights), np.nan) for n in table.losses},
                       scores={n: np.full(len(weights), np.nan) for n in table.scores})
    return Proposal(out, weights, tuple(reasons), np.zeros(0))


def _fold_points(fit: TargetFit, ref) -> np.ndarray:
    """``[F, K]`` each fold fit's optimum, moved from ``ref`` only as far as the runs cover."""
    top = fit.weights.max(axis=0)
    points = []
    for f in range(fit.held.shape[0]):
        one = fit._replace(params=type(fit.params)(*(np.asarray(v)[f] for v in fit.fold_params)))
        opt = solve_targets(one)[0]
        points.append(ref + covered_fraction(ref, opt, top) * (opt - ref))
    return np.asarray(points)
