"""Pilots drawn from a known law: the paper's 1+4K design at base n = 1 per domain, the
budget 10x the base run, multiplicative Gaussian loss noise. True regret = the true
objective at the recommendation over the true optimum, in %."""

from __future__ import annotations

import numpy as np

import jaxmix
from jaxmix.fitting import combined, stacking
from jaxmix.optimization import decision


def true_fit(k: int, rng) -> jaxmix.FitResult:
    rows = {
        f"d{i}": dict(
            C=rng.uniform(0.5, 2.0),
            k=rng.uniform(0.05, 0.5),
            alpha=rng.uniform(0.2, 0.8),
            beta=rng.uniform(0.1, 0.5),
            E=rng.uniform(0.5, 1.5),
        )
        for i in range(k)
    }
    return jaxmix.from_params(rows)


def true_objective(fit, w, budget) -> np.ndarray:
    w = np.atleast_2d(w)
    return np.asarray(jaxmix.predict(fit, w * budget)).sum(axis=1)


def trial(k: int, noise: float, seed: int, laws=stacking.DEFAULT_LAWS) -> dict:
    rng = np.random.default_rng(seed)
    truth = true_fit(k, rng)
    amounts = jaxmix.plan([f"d{i}" for i in range(k)], 1.0).amounts
    y = np.asarray(jaxmix.predict(truth, amounts)) * np.exp(
        noise * rng.standard_normal((len(amounts), k))
    )
    budget = 10.0 * k
    best = jaxmix.optimize(truth, budget)
    f_opt = float(true_objective(truth, best.weights, budget)[0])
    regret = lambda w: 100 * (float(true_objective(truth, w, budget)[0]) / f_opt - 1)  # noqa: E731
    out = {"uniform": regret(np.full(k, 1 / k))}
    comb = stacking.combine(amounts, y, laws=laws)
    domains = tuple(f"d{i}" for i in range(k))
    for i, law in enumerate(comb.laws):
        fit = jaxmix.FitResult(law=law, domains=domains, params=comb.params[i])
        out[f"law {law}"] = regret(jaxmix.optimize(fit, budget).weights)
    w_e = jaxmix.optimize(combined.to_fit_result(comb, domains), budget).weights
    out["combination optimum"] = regret(w_e)
    dec = decision.decide(comb, amounts, y, budget, w_e)
    out["default (combination + decision)"] = regret(dec.weights)
    return out
