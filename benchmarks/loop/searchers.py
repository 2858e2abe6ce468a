"""The protocols of the loop benchmark: each picks ``q`` unrun pool members from the runs so
far.

- ``jaxmix loop``: :func:`jaxmix.propose` with the default model (the combined fit's
  posterior times the residual process of the runs so far; Monte Carlo q-EI) and the unrun
  pool members as its candidates; ``(Thompson)``: batch Thompson sampling instead.
- ``jaxmix loop (transfer, axes)``: ``propose(law="transfer")`` (the transfer law's
  recommendation and moves along its bootstrap axes); each proposal is trained as the
  nearest unrun pool member.
- ``random search``: unrun pool members drawn uniformly.
- ``GP-EI``: a Gaussian process (scikit-learn; Matern 5/2 with one length scale per domain,
  plus a noise term, hyperparameters by marginal likelihood) on the mixtures' objectives;
  expected improvement over the best run so far, q picks per round by the kriging believer
  (each pick's predicted mean is added as a pseudo-observation before the next).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import norm

import jaxmix
from jaxmix.table import PilotTable


def random_search(pool, observed, q, rng):
    free = np.setdiff1d(np.arange(len(pool.weights)), observed)
    return rng.choice(free, min(q, len(free)), replace=False).tolist()


def _gp(kernel, optimize=True, seed=0):
    from sklearn.gaussian_process import GaussianProcessRegressor

    return GaussianProcessRegressor(
        kernel=kernel,
        normalize_y=True,
        optimizer="fmin_l_bfgs_b" if optimize else None,
        n_restarts_optimizer=2 if optimize else 0,
        random_state=seed,
    )


def _ard_kernel(k: int):
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.full(k, 0.3), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-3, (1e-8, 1.0))


def gp_ei(pool, observed, q, rng):
    w, obj = pool.weights, pool.objective
    free = list(np.setdiff1d(np.arange(len(w)), observed))
    x, y = w[observed], obj[observed]
    picks = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hyperparameters at their bounds on tiny data
        gp = _gp(_ard_kernel(w.shape[1]), seed=int(rng.integers(1 << 31))).fit(x, y)
        kernel = gp.kernel_
        for _ in range(min(q, len(free))):
            mu, sd = gp.predict(w[free], return_std=True)
            best = y.min()
            sd = np.maximum(sd, 1e-12)
            z = (best - mu) / sd
            ei = (best - mu) * norm.cdf(z) + sd * norm.pdf(z)
            j = int(np.argmax(ei))
            picks.append(int(free[j]))
            x, y = np.vstack([x, w[free[j]]]), np.append(y, mu[j])  # kriging believer
            del free[j]
            gp = _gp(kernel, optimize=False).fit(x, y)
    return picks


def _table(pool, observed) -> PilotTable:
    k = pool.weights.shape[1]
    domains = tuple(f"d{j}" for j in range(k))
    y = pool.losses[observed]
    losses = {d: y[:, j] for j, d in enumerate(domains) if np.isfinite(y[:, j]).any()}
    return PilotTable(
        domains=domains,
        runs=tuple(f"r{i}" for i in observed),
        amounts=pool.weights[observed] * pool.budget,
        losses=losses,
    )


def _importance(pool):
    k = pool.weights.shape[1]
    finite = np.isfinite(pool.losses).any(axis=0)
    return {f"d{j}": float(pool.importance[j]) for j in range(k) if finite[j]} | {
        f"d{j}": 0.0 for j in range(k) if not finite[j]
    }


def jaxmix_loop(pool, observed, q, rng):
    free = np.setdiff1d(np.arange(len(pool.weights)), observed)
    prop = jaxmix.propose(
        _table(pool, observed),
        pool.budget,
        runs=min(q, len(free)),
        seed=int(rng.integers(1 << 31)),
        candidates=pool.weights[free],
        importance=_importance(pool),
    )
    return _nearest_unrun(pool, free, prop.weights)


def jaxmix_thompson(pool, observed, q, rng):
    from jaxmix.study import posterior_runs

    posterior_runs.ACQUISITION = "thompson"
    try:
        return jaxmix_loop(pool, observed, q, rng)
    finally:
        posterior_runs.ACQUISITION = "qei"


def jaxmix_axes(pool, observed, q, rng):
    from jaxmix.study.posterior_runs import too_few_runs

    table = _table(pool, observed)
    if too_few_runs(table):  # the law cannot be fitted yet: the default's first runs
        return jaxmix_loop(pool, observed, q, rng)
    free = np.setdiff1d(np.arange(len(pool.weights)), observed)
    prop = jaxmix.propose(
        table,
        pool.budget,
        runs=min(q, len(free)),
        law="transfer",
        resamples=32,
        seed=int(rng.integers(1 << 31)),
        importance=_importance(pool),
    )
    return _nearest_unrun(pool, free, prop.weights)


def _nearest_unrun(pool, free, weights):
    """Each proposed mixture as the nearest (L1) pool member not yet run or picked."""
    free = list(free)
    picks = []
    for wv in weights:
        if not free:
            break
        j = int(np.argmin(np.abs(pool.weights[free] - wv).sum(axis=1)))
        picks.append(int(free.pop(j)))
    return picks


MAX_K = {"jaxmix loop (transfer, axes)": 8}  # its bootstrap is too slow to loop on more domains

PROTOCOLS = {
    "jaxmix loop": jaxmix_loop,
    "jaxmix loop (Thompson)": jaxmix_thompson,
    "jaxmix loop (transfer, axes)": jaxmix_axes,
    "GP-EI": gp_ei,
    "random search": random_search,
}
