"""The effective-data law per target: its Jacobian, recovery of a known law, the choice
between the two families, its optimum, and fit files with and without it."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import scipy_simplex_minimum

from jaxmix.fitting import effective_targets as eff
from jaxmix.fitting.targets import fit_targets
from jaxmix.io.targetfitfile import OLD_TARGET_LAW, target_fit_from_dict, target_fit_to_dict
from jaxmix.laws.targets import EPS, LAWS, objective, predict
from jaxmix.objective import parse_objective
from jaxmix.optimization.targets import solve_targets
from jaxmix.status import InputError
from jaxmix.table import PilotTable

K, R = 5, 40


def _truth(w, pi, gamma=0.4, alpha=0.7, floor=1.8, scale=0.6):
    d = ((w + EPS) ** gamma) @ pi
    return floor + scale * d**-alpha


@pytest.fixture(scope="module")
def swarm():
    """A fixed-budget swarm whose one loss follows a known effective-data law."""
    rng = np.random.default_rng(4)
    w = rng.dirichlet(np.full(K, 0.5), R)
    pi = rng.dirichlet(np.full(K, 1.0))
    loss = _truth(w, pi) * (1 + 0.001 * rng.standard_normal(R))
    table = PilotTable(tuple(f"d{j}" for j in range(K)), tuple(f"r{i}" for i in range(R)),
                       np.round(1e6 * w), {"bench": loss})
    fit = fit_targets(table, parse_objective("loss:bench", table.targets()))
    return table, pi, fit, rng


def test_jacobian_is_the_derivative_of_the_prediction():
    rng = np.random.default_rng(0)
    props = jnp.asarray(rng.dirichlet(np.ones(K), 7))
    for s in (1.0, -1.0):
        x = jnp.asarray(rng.normal(0, 0.5, K + 4))
        _, jac = eff.prediction(x, props, 0.3, s)
        want = jax.jacfwd(lambda v, s=s: eff.prediction(v, props, 0.3, s)[0])(x)
        np.testing.assert_allclose(jac, want, rtol=1e-9, atol=1e-12)


def test_written_out_hessian_is_the_second_derivative_of_the_prediction():
    rng = np.random.default_rng(1)
    props = jnp.asarray(rng.dirichlet(np.full(K, 0.3), 9))  # near-zero shares included
    for s in (1.0, -1.0):
        x = jnp.asarray(rng.normal(0, 0.7, K + 4))
        c = jnp.asarray(rng.normal(size=9))
        want = jax.hessian(lambda v, s=s, c=c: c @ eff.prediction(v, props, 0.3, s)[0])(x)
        np.testing.assert_allclose(eff.weighted_hessian(x, props, s, c), want, rtol=1e-9,
                                   atol=1e-11)


def test_long_fits_finish_in_the_compacted_batches(swarm):
    """A first cap too short for any fit: every problem goes on in the compacted rounds,
    converges there, and lands where the uncapped fit does."""
    table = swarm[0]
    props = table.amounts / table.amounts.sum(axis=1, keepdims=True)
    y = np.asarray(table.targets()["loss:bench"], float)[:, None]
    args = (jnp.asarray(props), jnp.asarray((y - y.mean()) / y.std()),
            jnp.asarray(np.isfinite(y)), jnp.ones(1), jnp.ones((2, len(y))).at[1, :4].set(0.0),
            jnp.asarray(eff.RIDGES))
    x_ref, status_ref = eff.fit_every(*args)
    x, status = eff.fit_every(*args, first_steps=2)
    assert np.all(status_ref == 0) and np.all(status == 0)
    np.testing.assert_allclose(x, x_ref, atol=1e-5)


def test_recovers_a_known_effective_data_law_out_of_sample(swarm):
    table, pi, fit, rng = swarm
    assert LAWS[int(fit.law[0])] == "effective_data"
    assert int(fit.status[0]) == 0 and np.all(fit.fold_status == 0)
    new = rng.dirichlet(np.full(K, 0.5), 200)
    got = np.asarray(predict(fit.params, np.ones(1), jnp.asarray(new)))[:, 0]
    spread = np.std(_truth(new, pi))
    assert np.sqrt(np.mean((got - _truth(new, pi)) ** 2)) < 0.1 * spread
    assert fit.cv_rmse[0] < 0.2 * np.std(table.losses["bench"])  # out of fold, 35 runs


def test_the_mixing_law_is_kept_where_it_made_the_data():
    rng = np.random.default_rng(2)
    w = rng.dirichlet(np.full(K, 0.5), R)
    theta = rng.normal(0, 1.5, K)
    loss = 1.5 + np.exp(-0.5 + w @ theta) + 0.001 * rng.standard_normal(R)
    table = PilotTable(tuple(f"d{j}" for j in range(K)), tuple(f"r{i}" for i in range(R)),
                       np.round(1e6 * w), {"bench": loss})
    fit = fit_targets(table, parse_objective("loss:bench", table.targets()))
    assert LAWS[int(fit.law[0])] == "mixing_law"


def test_optimum_matches_scipy_on_the_simplex(swarm):
    _, _, fit, _ = swarm
    w, gap, status = solve_targets(fit)
    signs, coef = fit.objective.signs, fit.objective.weights
    f = lambda x: float(objective(fit.params, signs, coef, jnp.asarray(x)))  # noqa: E731
    ref = scipy_simplex_minimum(f, K, ftol=1e-15, maxiter=1000)
    assert status == 0 and gap < 1e-9
    assert f(w) <= ref.fun + 1e-9
    np.testing.assert_allclose(w, ref.x, atol=1e-4)


def test_fit_files_keep_the_family_and_old_files_read_as_mixing_laws(swarm):
    table, _, fit, _ = swarm
    data = json.loads(json.dumps(target_fit_to_dict(fit, table.runs)))
    assert data["targets"]["loss:bench"]["law"] == "effective_data"
    back, _ = target_fit_from_dict(data)
    np.testing.assert_array_equal(back.law, fit.law)
    for a, b in zip(back.params + back.fold_params, fit.params + fit.fold_params):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # A file written before the effective-data law: no family, no alpha/gamma/log_weight.
    old = json.loads(json.dumps(data))
    old["law"] = OLD_TARGET_LAW
    for entry in [old["targets"]["loss:bench"]] + [f["params"]["loss:bench"]
                                                    for f in old["folds"]]:
        for key in ("law", "alpha", "gamma", "log_weight"):
            entry.pop(key, None)
    mixing, _ = target_fit_from_dict(old)
    assert np.all(mixing.law == 0) and np.all(mixing.params.alpha == 0)
    bad = json.loads(json.dumps(data))
    bad["targets"]["loss:bench"]["gamma"] = 1.5
    with pytest.raises(InputError, match=r"targets\.loss:bench\.gamma"):
        target_fit_from_dict(bad, "fit.json")
    bad["targets"]["loss:bench"]["gamma"] = 0.5
    bad["targets"]["loss:bench"]["law"] = "nope"
    with pytest.raises(InputError, match=r"targets\.loss:bench\.law"):
        target_fit_from_dict(bad, "fit.json")
