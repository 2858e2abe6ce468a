"""The authors' reference procedure (SPEC section 3) written with scipy, as they ran it:
trust-constr for the two fitting stages, SLSQP for the weights. A benchmark and test
baseline only; jaxmix itself never imports scipy.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import NonlinearConstraint, minimize

BASE_PAIRS = [(0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (2, 4)]
PAIR_PAIRS = list(itertools.permutations(range(6), 2))


def huber(r, delta=1e-3):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def stage1(x, y, a_max, delta=1e-3):
    """(beta, A) from the 30 ratio-of-log-difference terms; ``x, y [5]`` ascending."""
    dl = np.array([y[i] - y[j] for i, j in BASE_PAIRS])

    def objective(v):
        beta, a = v
        m = (x + a) ** (-beta)
        dm = np.array([m[i] - m[j] for i, j in BASE_PAIRS])
        total = 0.0
        for p, q in PAIR_PAIRS:
            if min(dl[p], dl[q], dm[p], dm[q]) <= 0:
                continue
            r = np.log(dl[p]) / np.log(dl[q]) - np.log(dm[p]) / np.log(dm[q])
            total += huber(r, delta)
        return total

    res = minimize(
        objective,
        [0.5, min(0.5, a_max)],
        method="trust-constr",
        bounds=[(0.0, np.inf), (0.0, a_max)],
    )
    return res.x


def stage2(x, y, beta, n_other, delta=1e-3):
    """(C, k, alpha, E) with beta fixed and k * N_o^alpha <= N_o."""

    def unpack(v):
        return np.exp(v[0]), np.exp(v[1]), v[2], np.exp(v[3])

    def objective(v):
        c, k, alpha, e = unpack(v)
        pred = c * (x + k * n_other**alpha) ** (-beta) + e
        return np.sum(huber(pred - y, delta))

    cons = NonlinearConstraint(lambda v: np.exp(v[1]) * n_other ** v[2] - n_other, -np.inf, 0.0)
    res = minimize(
        objective,
        [np.log(3.0), np.log(0.5), 0.5, 0.0],
        method="trust-constr",
        bounds=[(None, None), (None, None), (0.0, 1.0), (None, None)],
        constraints=[cons],
    )
    return unpack(res.x)


def fit(levels, losses, n_other):
    """Per-domain natural parameters from ``levels [K, 5]`` and ``losses [K, 5]``."""
    out = []
    for x, y, no in zip(levels, losses, n_other):
        beta, _ = stage1(x, y, no)
        c, k, alpha, e = stage2(x, y, beta, no)
        out.append(dict(C=c, k=k, alpha=alpha, beta=beta, E=e))
    return out


def weights(params, budget):
    """SLSQP on the simplex from uniform (the authors' solver)."""
    kk = len(params)

    def objective(w):
        total = 0.0
        for p, wi in zip(params, w):
            eff = wi * budget + p["k"] * ((1 - wi) * budget) ** p["alpha"]
            total += p["C"] * eff ** (-p["beta"]) + p["E"]
        return total

    res = minimize(
        objective,
        np.full(kk, 1 / kk),
        method="SLSQP",
        bounds=[(0, 1)] * kk,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
    )
    return res.x
