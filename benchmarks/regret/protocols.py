"""Every protocol of the regret benchmark on one set of pilots.

A protocol returns ``("weights", w)`` (a continuous recommendation, scored on a lattice by the
nearest observed mixture), ``("cand", j)`` (unseen candidate j) or ``("pilot", r)`` (keep
pilot run r). The jaxmix laws are fitted once per trial: the default's cross-validated fold
fits (one batched call per law) give every single law's full fit too.
"""

from __future__ import annotations

import types

import numpy as np

import jaxmix
from benchmarks.realdata.common import lgbm_fit
from jaxmix.fitting import combined, stacking
from jaxmix.optimization import decision
from jaxmix.study import validate as _validate

LAWS = stacking.DEFAULT_LAWS


def _validate_pick(comb, amounts, y, imp) -> str | None:
    """validate's rule on the same folds: the simplest law within one standard error of the
    lowest held-out error, if it beats the log-linear baseline and ranks held-out runs."""
    table = types.SimpleNamespace(amounts=amounts)
    masks = np.concatenate([np.zeros((1, len(y)), bool), comb.held])
    base = _validate._loglinear_folds(table, y, masks)
    base_oof = _validate._pooled(base[1:], comb.held)
    base_err = _validate._rel_error(base_oof, y)
    scores = []
    k = amounts.shape[1]
    for i, law in enumerate(comb.laws):
        errs = _validate._rel_errors(comb.oof[i], y)
        if not errs.size or not np.all(np.isfinite(errs)):
            continue
        se = float(np.std(errs, ddof=1) / np.sqrt(errs.size)) if errs.size > 1 else 0.0
        corr, _ = _validate._scores(table, y, comb.oof[i], imp)
        need = len(jaxmix.laws.base.row_names(jaxmix.get_law(law), [f"d{j}" for j in range(k)], 0))
        scores.append((law, float(np.mean(errs)), se, corr, need))
    if not scores:
        return None
    lowest = min(scores, key=lambda s: s[1])
    close = [s for s in scores if s[1] <= lowest[1] + lowest[2]]
    best = min(close, key=lambda s: (s[4], s[1]))
    if not (best[1] < base_err and best[3] >= _validate.MIN_RANK_CORR):
        return None
    return best[0]


def _pilot_best(amounts, y, imp, budget):
    tot = amounts.sum(axis=1)
    at = np.isclose(tot, budget, rtol=1e-6)
    obj = np.where(at, np.where(imp > 0, y, 0.0) @ imp, np.inf)
    return int(np.argmin(obj))


def _law_pick(fit, budget, imp, lower, upper, cands, domains):
    if cands is None:
        mix = jaxmix.optimize(
            fit,
            budget,
            importance=dict(zip(domains, imp)),
            min_weight=dict(zip(domains, lower)),
            max_weight=dict(zip(domains, upper)),
        )
        return ("weights", mix.weights), mix.weights
    pred = np.asarray(jaxmix.predict(fit, cands * budget))
    obj = np.where(imp > 0, pred, 0.0) @ imp
    obj = np.where(np.isfinite(obj), obj, np.inf)
    return ("cand", int(np.argmin(obj))), None


def _lgbm_pick(amounts, y, imp, budget, lower, upper, cands, rng):
    w = amounts / amounts.sum(axis=1, keepdims=True)
    varying = np.ptp(np.log(amounts.sum(axis=1))) > 1e-9

    def feats(ww, tot):
        return np.concatenate([ww, np.log(tot)[:, None]], axis=1) if varying else ww

    cols = np.where(imp > 0)[0]
    predict = lgbm_fit(feats(w, amounts.sum(axis=1)), y[:, cols])

    def obj(ww):
        return predict(feats(ww, np.full(len(ww), budget))) @ imp[cols]

    if cands is not None:
        return ("cand", int(np.argmin(obj(cands))))
    # RegMix's search: many random mixtures within the bounds, the mean of the top 100.
    k = amounts.shape[1]
    s = rng.dirichlet(np.ones(k), 20000)
    s = s[np.all((s >= lower - 1e-12) & (s <= upper + 1e-12), axis=1)]
    if len(s) < 100:
        s = np.clip(rng.dirichlet(np.ones(k), 20000), lower, upper)
        s /= s.sum(axis=1, keepdims=True)
    top = s[np.argsort(obj(s))[:100]]
    return ("weights", top.mean(axis=0))


def _posterior_pick(comb, amounts, y, budget, imp, lower, upper, cands, w_opt, rng):
    """The lowest posterior mean of the objective (the combination times the residual
    process of the pilots at the budget) among the candidates (or a cloud around the
    optimum), against the best observed pilot."""
    from jaxmix.study.posterior_runs import _residual_process
    from jaxmix.study.residual_gp import gp_posterior
    from jaxmix.study.thompson import candidate_cloud

    k = amounts.shape[1]
    tot = amounts.sum(axis=1)
    rows = np.flatnonzero(np.isclose(tot, budget, rtol=1e-6))
    seen = amounts[rows] / tot[rows, None]
    pts = cands if cands is not None else candidate_cloud(
        np.asarray(w_opt, float), np.full(k, 1.0 / k), lower, upper, rng
    )
    f_full, _ = decision.objectives(comb, k, np.vstack([pts, seen]), budget, imp)
    n = len(pts)
    gp = _residual_process(f_full[n:], y, rows, amounts, imp) if len(rows) else None
    mean = f_full[:n] * (1.0 + gp_posterior(gp, pts)[0]) if gp is not None else f_full[:n]
    obs = np.where(imp > 0, y[rows], 0.0) @ imp if len(rows) else np.array([])
    j = int(np.nanargmin(np.where(np.isfinite(mean), mean, np.nan)))
    if len(obs) and np.nanmin(obs) <= mean[j]:
        return ("pilot", int(rows[int(np.nanargmin(obs))]))
    return ("cand", j) if cands is not None else ("weights", pts[j])


def protocols(amounts, y, budget, imp, lower, upper, cands=None, seed=0, laws=LAWS, z=None):
    """``{protocol: pick}`` for pilots ``amounts [R, K]``, ``y [R, K]`` at ``budget``;
    ``cands [J, K]``: unseen candidates (None: a lattice, continuous picks)."""
    k = amounts.shape[1]
    domains = tuple(f"d{j}" for j in range(k))
    y = np.where(imp[None] > 0, y, np.nan)
    out = {}
    comb = stacking.combine(amounts, y, laws=laws, importance=imp)
    opt = {}
    for i, law in enumerate(comb.laws):
        fit = jaxmix.FitResult(law=law, domains=domains, params=comb.params[i])
        out[f"law {law}"], opt[law] = _law_pick(fit, budget, imp, lower, upper, cands, domains)
    for law in laws:
        if law not in comb.laws:
            out[f"law {law}"] = None  # too few runs to fit: n/a
    fit = combined.to_fit_result(comb, domains)
    out["combination optimum"], w_e = _law_pick(fit, budget, imp, lower, upper, cands, domains)
    best = _pilot_best(amounts, y, imp, budget)
    pick = _validate_pick(comb, amounts, y, imp)
    out["validate -> law"] = out[f"law {pick}"] if pick else ("pilot", best)
    out["best of pilots"] = ("pilot", best)
    uni = np.full(k, 1.0 / k)
    out["uniform"] = (
        ("weights", uni)
        if cands is None
        else ("cand", int(np.argmin(np.abs(cands - uni).sum(axis=1))))
    )
    if w_e is None:  # candidates: rank them by the lower confidence bound of the gain
        w_e = cands[out["combination optimum"][1]]
    kw = {} if z is None else {"z": z}
    dec = decision.decide(comb, amounts, y, budget, w_e, imp, candidates=cands, **kw)
    if cands is None:
        out["default (combination + decision)"] = ("weights", dec.weights)
    elif dec.index < 0:
        out["default (combination + decision)"] = (
            ("pilot", best) if dec.safe_kind == "best pilot" else out["uniform"]
        )
    else:
        out["default (combination + decision)"] = ("cand", dec.index)
    w_opt = out["combination optimum"][1] if cands is None else None
    out["posterior mean (law + residual GP)"] = _posterior_pick(
        comb, amounts, y, budget, imp, lower, upper, cands, w_opt, np.random.default_rng(seed)
    )
    out["LightGBM"] = _lgbm_pick(
        amounts, y, imp, budget, lower, upper, cands, np.random.default_rng(seed)
    )
    info = {
        "stack": dict(zip(comb.laws, np.round(comb.stack, 3).tolist())),
        "validate": pick,
        "action": dec.action,
        "p_beats_safe": float(
            dec.p_beats_safe[-1] if cands is None else dec.p_beats_safe[max(dec.index, 0)]
        ),
    }
    return out, info
