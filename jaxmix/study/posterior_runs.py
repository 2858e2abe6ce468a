"""The runs to train next from the default fit, as :func:`jaxmix.propose` makes them.

The combined fit gives the law part of the posterior (:mod:`jaxmix.study.thompson`), the runs
at the budget its residual process (:mod:`jaxmix.study.residual_gp`); the candidates are the
user's or a cloud around the optimum. Before any law can be fitted, the runs vary the
domains not varied yet. Domains that no candidate varies (a swarm's unused source) are left
out of the fit.
"""

from __future__ import annotations

import numpy as np

from jaxmix.study.thompson import (
    CLOUD,
    NEAR,
    candidate_cloud,
    thompson_picks,
    unlocking_picks,
)

# With runs at the budget: Monte Carlo q-expected improvement over the best of them ("qei",
# lower regret than batch Thompson sampling in `python -m benchmarks.loop`); "thompson".
ACQUISITION = "qei"


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
    with ``embed(weights [R, K']) -> [R, K]``; None with weight bounds (they would change
    meaning on the rescaled shares) or an availability of a settled domain."""
    keep = ~settled
    names = [d for d, s in zip(table.domains, settled) if s]
    kw = dict(optimize_kw)
    if kw.get("min_weight") or kw.get("max_weight") or kw.get("fix"):
        return None  # the shares of the rest are rescaled: bounds would change meaning
    if kw.get("available") and any(d in kw["available"] for d in names):
        return None
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


def _observed(y, rows, importance) -> np.ndarray:
    """``[len(rows)]`` the observed objective of the runs ``rows`` (domains in it only)."""
    imp = np.asarray(importance, float)
    return (np.asarray(y, float)[rows][:, imp > 0] * imp[imp > 0]).sum(axis=1)


def _incumbent(y, rows, importance) -> float | None:
    """The best observed objective among the runs ``rows`` at the budget (None: none)."""
    obs = _observed(y, rows, importance)
    obs = obs[np.isfinite(obs)]
    return float(obs.min()) if len(obs) else None


def _residual_process(f_seen, y, rows, amounts, importance):
    """The Gaussian process (:mod:`jaxmix.study.residual_gp`) of the relative residuals
    ``y / f - 1`` of the runs ``rows`` at the budget against the combined fit's objective
    ``f_seen [len(rows)]`` there, or None with too few of them. At a run, the posterior mean
    is then its observed objective, up to the fitted noise."""
    from jaxmix.study.residual_gp import fit_residual_gp

    w = amounts[rows] / amounts[rows].sum(axis=1, keepdims=True)
    return fit_residual_gp(w, _observed(y, rows, importance) / np.asarray(f_seen, float) - 1.0)


def _points(amounts, y, budget, mix, optimum, candidates, rng):
    """``(points [J, K], rows at the budget, their mixtures, blocked [J])``: the candidates
    or a cloud around the optimum, and which of them were already run."""
    from jaxmix.optimization import decision

    given = candidates is not None
    if given:
        pts = candidates
    else:
        pilot, _ = decision.best_pilot(amounts, y, mix.importance, budget)
        safe = pilot if pilot is not None else np.full(len(optimum), 1.0 / len(optimum))
        pts = candidate_cloud(optimum, safe, mix.lower, mix.upper, rng)
    tot = amounts.sum(axis=1)
    rows = np.flatnonzero(np.isclose(tot, budget, rtol=1e-6))
    seen = amounts[rows] / tot[rows, None]
    blocked = np.zeros(len(pts), bool)
    for w in seen:  # a mixture already run at the budget is evidence, not a proposal
        blocked |= np.abs(pts - w).sum(axis=1) <= (1e-9 if given else NEAR)
    return pts, rows, seen, blocked


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
    given = candidates is not None
    pts, rows, seen, blocked = _points(amounts, y, budget, mix, optimum, candidates, rng)
    both = np.vstack([pts, seen])  # one evaluation: the candidates and the runs at the budget
    padded = _padded(both, 0 if given else 2 * CLOUD + 4 + len(seen))
    f_full, f_folds = decision.objectives(comb, len(optimum), padded, budget, mix.importance)
    n = len(pts)
    gp = _residual_process(f_full[n : len(both)], y, rows, amounts, mix.importance)
    f_full, f_folds = f_full[:n], f_folds[:, :n]
    best = _incumbent(y, rows, mix.importance) if ACQUISITION == "qei" else None
    picks = thompson_picks(f_full, f_folds, pts, runs, rng, blocked,
                           near=0.0 if given else NEAR, gp=gp, incumbent=best)
    if len(picks.index) == 0:
        return None, None, None
    return pts[picks.index], _reasons(picks, given, best, gp is not None), picks.p_best


def _reasons(picks, given: bool, best, residuals: bool) -> list[str]:
    """One line per pick: the rule that chose it and how likely it is the best."""
    where = "candidate" if given else "mixture"
    prob = "P(best)" if given else "P(the best is nearest it)"
    model = "law + residuals of the runs at the budget" if residuals else "law"
    if picks.rule == "qei":
        return [
            f"largest expected improvement over the best run ({100 * g / best:.3f}%, "
            f"{model}; {prob} {p:.2f})"
            for g, p in zip(picks.gain, picks.p_best)
        ]
    return [f"the {where} with the lowest expected objective ({model}; {prob} "
            f"{picks.p_best[0]:.2f})"] + [
        f"best {where} of a posterior draw ({prob} {p:.2f}, expected "
        f"{100 * (m / picks.mean[0] - 1):+.2f}% vs run 1)"
        for p, m in zip(picks.p_best[1:], picks.mean[1:])
    ]
