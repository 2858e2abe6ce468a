"""Runs to train next from the combined fit's posterior: batch Thompson sampling.

The combined fit's fold fits are a grouped jackknife of the whole fit
(:mod:`jaxmix.optimization.decision`). Its predicted objectives at candidate mixtures,
``f [J]`` from the full fit and ``f_f [F, J]`` from the fold fits, give a Gaussian posterior
over the objective surface with mean ``f`` and the jackknife covariance
``(F - 1) / F * sum_f (f_f - mean)(f_f - mean)^T``. A draw is
``f + sqrt((F - 1) / F) * sum_f z_f (f_f - mean)``, ``z ~ N(0, I_F)``.

The first proposed run is the candidate with the lowest posterior mean (the exploit run);
each further run is the best candidate of a fresh draw, among those not yet proposed (batch
Thompson sampling). A candidate's probability of being the best is the share of draws it
wins. Candidates are the user's (``--candidates``) or, for a continuous answer, the model's
optimum, the path to it from the safe mixture and a cloud of random mixtures inside the
bounds, mixtures already observed at the budget excluded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DRAWS = 512  # posterior draws behind P(best)
CLOUD = 512  # random mixtures of the continuous candidate set (twice: near and spread)
# With runs at the budget: Monte Carlo q-expected improvement over the best of them ("qei",
# lower regret than batch Thompson sampling in `python -m benchmarks.loop`); "thompson".
ACQUISITION = "qei"
NEAR = 0.02  # L1 distance under which a mixture counts as already run or proposed


class Picks(NamedTuple):
    """Proposed candidates.

    Attributes:
      index: ``[R]`` indices into the candidates, in proposal order.
      p_best: ``[R]`` the share of posterior draws each one wins (with ``near > 0``, a
        continuous cloud: whose best point is nearer to it than to the other picks).
      mean: ``[R]`` their posterior mean objective.
    """

    index: np.ndarray
    p_best: np.ndarray
    mean: np.ndarray


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


def thompson_picks(
    f_full,
    f_folds,
    points,
    runs: int,
    rng,
    blocked=None,
    draws: int = DRAWS,
    near: float = 0.0,
    gp=None,
    incumbent: float | None = None,
) -> Picks:
    """Up to ``runs`` of the ``points [J, K]``: the lowest posterior mean, then each fresh
    draw's best among those not yet picked; a point within L1 ``near`` of a picked one (or
    ``blocked [J]`` True) is never picked. ``gp``: a
    :class:`~jaxmix.study.residual_gp.ResidualGP` of the relative residuals at the budget;
    the objective is then ``f (1 + r)`` with ``r`` its draws. ``incumbent``: the best
    objective observed at the budget; the picks then maximize the expected improvement over
    it, greedily for the batch (Monte Carlo q-EI), instead.

    >>> f = np.array([1.0, 0.9, 2.0]); ff = np.array([[1.0, 0.8, 2.0], [1.0, 1.0, 2.0]])
    >>> p = thompson_picks(f, ff, np.eye(3), 2, np.random.default_rng(0))
    >>> p.index.tolist(), float(p.p_best.sum())
    ([1, 0], 1.0)
    """
    f_full = np.asarray(f_full, float)
    points = np.asarray(points, float)
    mean = f_full
    if gp is not None:
        from jaxmix.study.residual_gp import gp_draws, gp_posterior

        mean = f_full * (1.0 + gp_posterior(gp, points)[0])

    def sample(n):
        out = objective_draws(f_full, f_folds, n, rng)
        if gp is not None:
            out = out * (1.0 + gp_draws(gp, points, n, rng))
        return np.where(np.isfinite(out), out, np.inf)

    d = sample(draws)
    wins = np.bincount(np.argmin(d, axis=1), minlength=len(f_full)) / len(d)
    free = np.isfinite(mean) & (True if blocked is None else ~np.asarray(blocked, bool))
    order = []

    def take(j):
        order.append(j)
        free[np.abs(points - points[j]).sum(axis=1) <= near] = False
        free[j] = False

    if incumbent is not None and np.isfinite(incumbent):
        # greedy Monte Carlo q-expected improvement over the best run so far, each pick's
        # draws then joining the incumbent (the same draws throughout)
        best = np.full(len(d), float(incumbent))
        while len(order) < runs and free.any():
            gain = np.maximum(best[:, None] - d, 0.0).mean(axis=0)
            gain = np.where(free, gain, -np.inf)
            j = int(np.argmax(gain))
            if not np.isfinite(gain[j]):
                break
            if gain[j] <= 0:  # no draw improves: the lowest mean left
                j = int(np.argmin(np.where(free, mean, np.inf)))
            take(j)
            best = np.minimum(best, d[:, j])
    if free.any() and not order:
        take(int(np.argmin(np.where(free, mean, np.inf))))
    extra = iter(sample(64 * max(runs, 1)))
    while len(order) < runs and free.any():
        draw = next(extra, None)
        if draw is None:  # draws exhausted: the lowest means left
            take(int(np.argmin(np.where(free, mean, np.inf))))
            continue
        draw = np.where(free, draw, np.inf)
        j = int(np.argmin(draw))
        if np.isfinite(draw[j]):
            take(j)
    idx = np.array(order, int)
    if near > 0 and len(idx):  # a continuous cloud: credit each draw's best to the nearest pick
        winners = points[np.argmin(d, axis=1)]
        dist = np.abs(winners[:, None, :] - points[idx][None]).sum(axis=2)
        p_best = np.bincount(np.argmin(dist, axis=1), minlength=len(idx)) / len(d)
    else:
        p_best = wins[idx]
    return Picks(idx, p_best, mean[idx])


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


def settled_domains(table, budget: float, candidates) -> np.ndarray:
    """``[K]`` domains whose amount never varied and cannot vary: every candidate gives them
    the same amount as every run so far (for a continuous answer, none)."""
    fixed = np.ptp(table.amounts, axis=0) <= 0
    if candidates is None:
        return np.zeros_like(fixed)
    same = np.all(np.abs(candidates * budget - table.amounts[0]) <= 1e-9 * budget, axis=0)
    return fixed & same


def too_few_runs(table, budget: float = 1.0, candidates=None) -> bool:
    """Whether no model can be fitted yet: some domain's amount never varied (and a
    candidate can vary it), or some measured loss column has fewer values than the transfer
    law (the default fit's first) has parameters per domain."""
    from jaxmix.laws.base import row_names
    from jaxmix.laws.registry import get_law

    need = len(row_names(get_law("transfer"), table.domains, 0))
    counts = [np.isfinite(table.losses[d]).sum() for d in table.domains if d in table.losses]
    fixed = np.ptp(table.amounts, axis=0) <= 0
    fixed &= ~settled_domains(table, budget, candidates)
    return bool(fixed.any()) or (bool(counts) and min(c for c in counts if c > 0) < need)


def _without_settled(table, budget, candidates, optimize_kw, settled):
    """The problem on the other domains: ``(table, budget, candidates, optimize_kw, embed)``
    with ``embed(weights [R, K']) -> [R, K]``; None where bounds name a settled domain."""
    keep = ~settled
    names = [d for d, s in zip(table.domains, settled) if s]
    kw = dict(optimize_kw)
    for key in ("min_weight", "max_weight", "fix", "available"):
        if kw.get(key) and any(d in kw[key] for d in names):
            return None
    if kw.get("min_weight") or kw.get("max_weight") or kw.get("fix"):
        return None  # the shares of the rest are rescaled: bounds would change meaning
    if kw.get("importance"):
        kw["importance"] = {d: v for d, v in kw["importance"].items() if d not in names}
    const = table.amounts[0, settled]
    rest = budget - float(const.sum())
    if not rest > 0:
        return None
    sub = table._replace(
        domains=tuple(d for d, k in zip(table.domains, keep) if k),
        amounts=table.amounts[:, keep],
        losses={d: v for d, v in table.losses.items() if d not in names},
    )
    cands = candidates[:, keep] * budget / rest

    def embed(w):
        out = np.zeros((len(w), len(table.domains)))
        out[:, keep] = np.asarray(w) * rest / budget
        out[:, settled] = const / budget
        return out

    return sub, rest, cands, kw, embed


def unlocking_proposal(table, budget: float, runs: int, seed: int, candidates):
    """``(weights [R, K], reasons)`` while no model can be fitted: the candidates (or random
    mixtures) that vary the most domains never varied yet, else random ones."""
    k = len(table.domains)
    rng = np.random.default_rng(seed)
    pts = (
        candidates
        if candidates is not None
        else np.vstack([np.full((1, k), 1.0 / k), rng.dirichlet(np.ones(k), CLOUD)])
    )
    tot = table.amounts.sum(axis=1)
    seen = table.amounts / np.where(tot > 0, tot, 1.0)[:, None]
    fresh = np.all(np.abs(pts[:, None] - seen[None]).sum(axis=2) > 1e-9, axis=1)
    fixed = (np.ptp(table.amounts, axis=0) <= 0) & ~settled_domains(table, budget, candidates)
    idx = np.flatnonzero(fresh)[unlocking_picks(pts[fresh], fixed, runs, rng)]
    names = [d for d, f in zip(table.domains, fixed) if f]
    why = (
        "too few runs to fit a model yet: a random mixture"
        if not names
        else f"no model yet: {len(names)} domain(s) never varied ({', '.join(names[:4])}"
        f"{', ...' if len(names) > 4 else ''}); a mixture that varies them"
    )
    return pts[idx], [why] * len(idx)


def _padded(points: np.ndarray, at_least: int = 0) -> np.ndarray:
    """``points`` padded to a bucketed row count (at least ``at_least``) with copies of its
    first row, so that the compiled evaluation is shared by calls with about as many
    candidates (and by every continuous cloud, whatever the bounds kept of it)."""
    from jaxmix.study.batch import chunk_bucket

    n = chunk_bucket(max(len(points), at_least))
    return np.vstack([points, np.repeat(points[:1], n - len(points), axis=0)])


def _incumbent(y, rows, importance) -> float | None:
    """The best observed objective among the runs ``rows`` at the budget (None: none)."""
    imp = np.asarray(importance, float)
    obs = (np.asarray(y, float)[rows][:, imp > 0] * imp[imp > 0]).sum(axis=1)
    obs = obs[np.isfinite(obs)]
    return float(obs.min()) if len(obs) else None


def _residual_process(f_seen, y, rows, amounts, importance):
    """The Gaussian process (:mod:`jaxmix.study.residual_gp`) of the relative residuals
    ``y / f - 1`` of the runs ``rows`` at the budget against the combined fit's objective
    ``f_seen [len(rows)]`` there, or None with too few of them. At a run, the posterior mean
    is then its observed objective, up to the fitted noise."""
    from jaxmix.study.residual_gp import fit_residual_gp

    imp = np.asarray(importance, float)
    use = imp > 0
    obs = (np.asarray(y, float)[rows][:, use] * imp[use]).sum(axis=1)
    w = amounts[rows] / amounts[rows].sum(axis=1, keepdims=True)
    return fit_residual_gp(w, obs / np.asarray(f_seen, float) - 1.0)


def posterior_proposal(table, budget: float, runs: int, seed: int, candidates, optimize_kw):
    """``(weights [R, K], reasons, p_best [R])`` of the runs to train next from the default
    (combined) fit's posterior; ``(None, None, None)`` when the fit is not a combination with
    fold fits (too few pilots: the caller falls back to one law's bootstrap)."""
    from jaxmix.fitting.api import fit
    from jaxmix.fitting.combined import stored_combination
    from jaxmix.optimization import decision
    from jaxmix.optimization.api import optimize

    settled = settled_domains(table, budget, candidates)
    if settled.any():  # e.g. a swarm's source no candidate uses: fit the other domains
        reduced = _without_settled(table, budget, candidates, optimize_kw, settled)
        if reduced is None:
            return None, None, None
        sub, rest, cands, kw, embed = reduced
        weights, reasons, p_best = posterior_proposal(sub, rest, runs, seed, cands, kw)
        return (None if weights is None else embed(weights)), reasons, p_best
    fitted = fit(table)
    stored = stored_combination(fitted)
    if stored is None:
        return None, None, None
    comb, amounts, y = stored
    mix = optimize(fitted, budget, **optimize_kw)
    optimum = np.asarray(
        [mix.decision["optimum"][d] for d in table.domains] if mix.decision else mix.weights,
        float,
    )
    rng = np.random.default_rng(seed)
    pilot, _ = decision.best_pilot(amounts, y, mix.importance, budget)
    safe = pilot if pilot is not None else np.full(len(optimum), 1.0 / len(optimum))
    given = candidates is not None
    pts = candidates if given else candidate_cloud(optimum, safe, mix.lower, mix.upper, rng)
    tot = amounts.sum(axis=1)
    rows = np.flatnonzero(np.isclose(tot, budget, rtol=1e-6))
    seen = amounts[rows] / tot[rows, None]
    blocked = np.zeros(len(pts), bool)
    for w in seen:  # a mixture already run at the budget is evidence, not a proposal
        blocked |= np.abs(pts - w).sum(axis=1) <= (1e-9 if given else NEAR)
    both = np.vstack([pts, seen])  # one evaluation: the candidates and the runs at the budget
    padded = _padded(both, 0 if given else 2 * CLOUD + 4 + len(seen))
    f_full, f_folds = decision.objectives(comb, len(optimum), padded, budget, mix.importance)
    n = len(pts)
    gp = _residual_process(f_full[n : len(both)], y, rows, amounts, mix.importance)
    f_full, f_folds = f_full[:n], f_folds[:, :n]
    picks = thompson_picks(
        f_full,
        f_folds,
        pts,
        runs,
        rng,
        blocked,
        near=0.0 if given else NEAR,
        gp=gp,
        incumbent=_incumbent(y, rows, mix.importance) if ACQUISITION == "qei" else None,
    )
    if len(picks.index) == 0:
        return None, None, None
    where = "candidate" if given else "mixture"
    prob = "P(best)" if given else "P(the best is nearest it)"
    reasons = [f"the {where} with the lowest expected objective ({prob} {picks.p_best[0]:.2f})"] + [
        f"best {where} of a posterior draw ({prob} {p:.2f}, expected "
        f"{100 * (m / picks.mean[0] - 1):+.2f}% vs run 1)"
        for p, m in zip(picks.p_best[1:], picks.mean[1:])
    ]
    return pts[picks.index], reasons, picks.p_best
