"""Shared test helpers: synthetic laws and pilot tables with known parameters."""

import numpy as np

import jaxmix

TRUE3 = {
    "a": dict(C=1.2, k=0.2, alpha=0.5, beta=0.3, E=1.1),
    "b": dict(C=0.8, k=0.05, alpha=0.4, beta=0.5, E=1.5),
    "c": dict(C=1.0, k=0.5, alpha=0.7, beta=0.2, E=0.8),
}


def synthetic_table(true=TRUE3, scales=(1.0,), noise=0.0, seed=0, base=1.0, law="transfer"):
    """Pilot table of the 1+4K design at each base ``scale``, losses from ``true`` (natural
    parameters of ``law``) with multiplicative Gaussian noise of relative size ``noise``."""
    fit = jaxmix.from_params(true, law=law)
    amounts = np.concatenate([jaxmix.plan(list(true), base * s).amounts for s in scales])
    y = np.asarray(jaxmix.predict(fit, amounts))
    y = y * (1 + noise * np.random.default_rng(seed).standard_normal(y.shape))
    runs = tuple(f"r{i}" for i in range(len(amounts)))
    return jaxmix.PilotTable(
        domains=tuple(true),
        runs=runs,
        amounts=amounts,
        losses={d: y[:, i] for i, d in enumerate(true)},
    )


def random_law(rng, k):
    """Natural parameters of a random transfer law with K domains (amounts of order 1-100)."""
    return {
        f"d{i}": dict(
            C=float(rng.uniform(0.3, 3)),
            k=float(rng.uniform(0.01, 1)),
            alpha=float(rng.uniform(0.05, 0.95)),
            beta=float(rng.uniform(0.05, 0.8)),
            E=float(rng.uniform(0.5, 2)),
        )
        for i in range(k)
    }


def random_pairwise(rng, domains):
    """Natural parameters of a random ``pairwise`` law (one (k, alpha) per source)."""
    out = {}
    for d in domains:
        row = dict(
            C=float(rng.uniform(0.5, 2)),
            beta=float(rng.uniform(0.1, 0.6)),
            E=float(rng.uniform(0.5, 2)),
        )
        for s in domains:
            if s != d:
                row[f"k:{s}"] = float(rng.uniform(0.05, 0.8))
                row[f"alpha:{s}"] = float(rng.uniform(0.2, 0.8))
        out[d] = row
    return out


def random_mixing(rng, domains):
    """Natural parameters of a random ``mixing_law`` (sources help: t < 0, or hurt: t > 0)."""
    return {
        d: dict(
            c=float(rng.uniform(0.5, 2)),
            k=float(rng.uniform(0.2, 1)),
            **{f"t:{s}": float(rng.uniform(-2, 1)) for s in domains if s != d},
        )
        for d in domains
    }


def random_interference(rng, domains):
    """Natural parameters of a random ``interference`` law (signed g per source)."""
    law = random_law(rng, len(domains))
    return {
        d: dict(
            **law[f"d{i}"],
            **{f"g:{s}": float(rng.uniform(-0.3, 0.3)) for s in domains if s != d},
        )
        for i, d in enumerate(domains)
    }


def random_broken(rng, domains):
    """Natural parameters of a random ``broken`` law, its break inside amounts of 1-100."""
    law = random_law(rng, len(domains))
    return {
        d: dict(**law[f"d{i}"], gamma=float(rng.uniform(0.2, 0.8)), B=float(rng.uniform(1, 50)))
        for i, d in enumerate(domains)
    }


def random_transfer(rng, domains):
    """:func:`random_law` under the given domain names."""
    law = random_law(rng, len(domains))
    return {d: law[f"d{i}"] for i, d in enumerate(domains)}


RANDOM_LAWS = {
    "transfer": random_transfer,
    "broken": random_broken,
    "pairwise": random_pairwise,
    "mixing_law": random_mixing,
    "interference": random_interference,
}


def assert_on_simplex(w, lower=None, upper=None, atol=1e-9):
    """Weights ``[..., K]`` are finite, sum to one and respect ``lower``/``upper`` (within
    ``atol``): the check every optimizer test makes on every weight vector it gets."""
    w = np.asarray(w, dtype=float)
    assert np.all(np.isfinite(w)), w
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=0, atol=atol)
    lower = np.zeros(w.shape[-1]) if lower is None else np.asarray(lower, dtype=float)
    upper = np.ones(w.shape[-1]) if upper is None else np.asarray(upper, dtype=float)
    assert np.all(w >= lower - atol), (w, lower)
    assert np.all(w <= upper + atol), (w, upper)


def scipy_simplex_minimum(f, k, ftol=1e-14, maxiter=500):
    """scipy SLSQP's minimizer of ``f`` over the simplex of ``k`` weights, from uniform (the
    reference the certified optimizers are checked against)."""
    from scipy.optimize import minimize

    return minimize(f, np.full(k, 1 / k), method="SLSQP", bounds=[(0, 1)] * k,
                    constraints={"type": "eq", "fun": lambda x: x.sum() - 1},
                    options={"ftol": ftol, "maxiter": maxiter})
