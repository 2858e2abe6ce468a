"""Picking runs from the combined fit's posterior: q-EI or batch Thompson sampling.

The combined fit's fold fits are a grouped jackknife of the whole fit
(:mod:`jaxmix.optimization.decision`). Its predicted objectives at candidate mixtures,
``f [J]`` from the full fit and ``f_f [F, J]`` from the fold fits, give a Gaussian posterior
over the objective surface with mean ``f`` and the jackknife covariance
``(F - 1) / F * sum_f (f_f - mean)(f_f - mean)^T``. A draw is
``f + sqrt((F - 1) / F) * sum_f z_f (f_f - mean)``, ``z ~ N(0, I_F)``.

With runs at the budget, the picks greedily maximize the expected improvement over the
best of them on the same draws (Monte Carlo q-EI). Without, the first pick is the candidate
with the lowest posterior mean (the exploit run) and each further one the best candidate of a
fresh draw, among those not yet picked (batch Thompson sampling). A candidate's probability
of being the best is the share of draws it wins. Candidates are the user's
(``--candidates``) or, for a continuous answer, the model's optimum, the path to it from the
safe mixture and a cloud of random mixtures inside the bounds, mixtures already observed at
the budget excluded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DRAWS = 512  # posterior draws behind P(best)
CLOUD = 512  # random mixtures of the continuous candidate set (twice: near and spread)
NEAR = 0.02  # L1 distance under which a mixture counts as already run or proposed


class Picks(NamedTuple):
    """Proposed candidates.

    Attributes:
      index: ``[R]`` indices into the candidates, in proposal order.
      p_best: ``[R]`` the share of posterior draws each one wins (with ``near > 0``, a
        continuous cloud: whose best point is nearer to it than to the other picks).
      mean: ``[R]`` their posterior mean objective.
      rule: ``"qei"`` or ``"thompson"``.
      gain: ``[R]`` under q-EI, each pick's expected improvement over the best so far (its
        predecessors included); zeros otherwise.
    """

    index: np.ndarray
    p_best: np.ndarray
    mean: np.ndarray
    rule: str = "thompson"
    gain: np.ndarray | None = None


def objective_draws(f_full, f_folds, draws: int, rng) -> np.ndarray:
    """``[S, J]`` Gaussian draws of the objective at J candidates from the full fit's
    ``f_full [J]`` and the fold fits' ``f_folds [F, J]`` (grouped-jackknife covariance).

    >>> f = np.array([1.0, 2.0]); ff = np.array([[0.9, 2.0], [1.1, 2.0]])
    >>> d = objective_draws(f, ff, 4000, np.random.default_rng(0))
    >>> bool(abs(d[:, 0].std() - np.sqrt(0.5 * 0.02)) < 0.01), float(d[:, 1].std())
    (True, 0.0)
    """
    f_full = np.asarray(f_full, float)
    f_folds = np.asarray(f_folds, float)
    ok = np.all(np.isfinite(f_folds), axis=1)
    if ok.sum() < 2:
        return np.repeat(f_full[None], draws, axis=0)
    dev = f_folds[ok] - f_folds[ok].mean(axis=0)
    nf = len(dev)
    z = rng.standard_normal((draws, nf))
    return f_full[None] + np.sqrt((nf - 1) / nf) * (z @ dev)


def _sampler(f_full, f_folds, points, gp, rng):
    """``(mean [J], sample(n) -> [n, J])`` of the posterior objective (law draws, times the
    residual process' draws when ``gp`` is given)."""
    mean, residual = f_full, None
    if gp is not None:
        from jaxmix.study.residual_gp import gp_sampler

        r_mean, residual = gp_sampler(gp, points)
        mean = f_full * (1.0 + r_mean)

    def sample(n):
        out = objective_draws(f_full, f_folds, n, rng)
        if residual is not None:
            out = out * (1.0 + residual(n, rng))
        return np.where(np.isfinite(out), out, np.inf)

    return mean, sample


def _greedy_qei(d, mean, free, take, runs: int, incumbent: float, order, gains):
    """Monte Carlo q-EI on the draws ``d [S, J]``: each pick maximizes the mean improvement
    over the per-draw best so far, which it then joins (the same draws throughout)."""
    best = np.full(len(d), float(incumbent))
    while len(order) < runs and free.any():
        gain = np.where(free, np.maximum(best[:, None] - d, 0.0).mean(axis=0), -np.inf)
        j = int(np.argmax(gain))
        if gain[j] <= 0:  # no draw improves: the lowest mean left
            j = int(np.argmin(np.where(free, mean, np.inf)))
        gains.append(max(float(gain[j]), 0.0))
        take(j)
        best = np.minimum(best, d[:, j])


def thompson_picks(
    f_full, f_folds, points, runs: int, rng, blocked=None, draws: int = DRAWS,
    near: float = 0.0, gp=None, incumbent: float | None = None,
) -> Picks:
    """Up to ``runs`` of the ``points [J, K]``: the lowest posterior mean, then each fresh
    draw's best among those not yet picked (batch Thompson sampling); a point within L1
    ``near`` of a picked one (or ``blocked [J]`` True) is never picked. ``gp``: a
    :class:`~jaxmix.study.residual_gp.ResidualGP` of the relative residuals at the budget;
    the objective is then ``f (1 + r)`` with ``r`` its draws. ``incumbent``: the best
    objective observed at the budget; the picks then maximize the expected improvement over
    it, greedily for the batch (Monte Carlo q-EI), instead.

    >>> f = np.array([1.0, 0.9, 2.0]); ff = np.array([[1.0, 0.8, 2.0], [1.0, 1.0, 2.0]])
    >>> p = thompson_picks(f, ff, np.eye(3), 2, np.random.default_rng(0))
    >>> p.index.tolist(), float(p.p_best.sum()), p.rule
    ([1, 0], 1.0, 'thompson')
    """
    f_full, points = np.asarray(f_full, float), np.asarray(points, float)
    mean, sample = _sampler(f_full, f_folds, points, gp, rng)
    d = sample(draws)
    free = np.isfinite(mean) & (True if blocked is None else ~np.asarray(blocked, bool))
    order, gains = [], []

    def take(j):
        order.append(j)
        free[np.abs(points - points[j]).sum(axis=1) <= near] = False
        free[j] = False

    qei = incumbent is not None and bool(np.isfinite(incumbent))
    if qei:
        _greedy_qei(d, mean, free, take, runs, incumbent, order, gains)
    elif free.any():
        take(int(np.argmin(np.where(free, mean, np.inf))))
    for draw in sample(64 * max(runs, 1)):
        if len(order) >= runs or not free.any():
            break
        j = int(np.argmin(np.where(free, draw, np.inf)))
        if np.isfinite(draw[j]) and free[j]:
            take(j)
    while len(order) < runs and free.any():  # draws exhausted: the lowest means left
        take(int(np.argmin(np.where(free, mean, np.inf))))
    idx = np.array(order, int)
    return Picks(idx, _p_best(d, points, idx, near), mean[idx], "qei" if qei else "thompson",
                 np.array(gains + [0.0] * (len(idx) - len(gains))))


def _p_best(d, points, idx, near: float) -> np.ndarray:
    """``[R]`` the share of the draws ``d [S, J]`` whose best point is pick ``idx[r]`` (with
    ``near > 0``, a continuous cloud: nearer to it than to the other picks)."""
    if not len(idx):
        return np.zeros(0)
    winners = np.argmin(d, axis=1)
    if near <= 0:
        return np.bincount(winners, minlength=d.shape[1])[idx] / len(d)
    dist = np.abs(points[winners][:, None, :] - points[idx][None]).sum(axis=2)
    return np.bincount(np.argmin(dist, axis=1), minlength=len(idx)) / len(d)


def candidate_cloud(optimum, safe, lower, upper, rng, size: int = CLOUD) -> np.ndarray:
    """``[J, K]`` mixtures inside ``lower <= w <= upper``: the optimum, the path to it from
    ``safe``, random mixtures near the optimum and uniformly spread ones.

    >>> c = candidate_cloud(np.array([0.5, 0.3, 0.2]), np.ones(3) / 3, np.zeros(3),
    ...                     np.ones(3), np.random.default_rng(0), 64)
    >>> c.shape[1], bool(np.allclose(c.sum(axis=1), 1.0)), c[0].tolist()
    (3, True, [0.5, 0.3, 0.2])
    """
    optimum, safe = np.asarray(optimum, float), np.asarray(safe, float)
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    k = len(optimum)
    path = [safe + t * (optimum - safe) for t in (0.25, 0.5, 0.75)]
    free = max(1.0 - lower.sum(), 0.0)
    spread = lower + free * rng.dirichlet(np.ones(k), size)
    near = optimum + rng.uniform(0.02, 0.5, (size, 1)) * (spread[rng.permutation(size)] - optimum)
    pts = np.vstack([optimum[None], np.array(path), near, spread])
    inside = np.all((pts >= lower - 1e-12) & (pts <= upper + 1e-12), axis=1)
    pts = np.clip(pts[inside], lower, upper)
    return pts / pts.sum(axis=1, keepdims=True)


def unlocking_picks(points, fixed, runs: int, rng) -> np.ndarray:
    """``[<= runs]`` indices of ``points [J, K]``: greedily the point giving a share to the
    most ``fixed [K]`` domains (whose amount never varied yet), each counted once, ties in
    random order; with no such domain left, random points.

    >>> unlocking_picks(np.eye(3), np.array([False, True, False]), 1,
    ...                 np.random.default_rng(0)).tolist()
    [1]
    """
    points = np.asarray(points, float)
    fixed = np.asarray(fixed, bool).copy()
    order = rng.permutation(len(points))
    out = []
    for _ in range(min(runs, len(points))):
        score = (points[order][:, fixed] > 1e-9).sum(axis=1)
        i = int(np.argmax(score))  # the first in random order among the best
        j = int(order[i])
        out.append(j)
        fixed &= ~(points[j] > 1e-9)
        order = np.delete(order, i)
    return np.array(out, int)
