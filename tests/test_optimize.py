import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_on_simplex, random_law
from scipy.optimize import minimize as scipy_minimize

import jaxmix
from jaxmix.laws.transfer import TRANSFER
from jaxmix.optimization.exact import solve_exact


def test_published_parameters_give_published_weights(llama):
    fit = jaxmix.from_params(llama["reference_params"])
    for n, ref in llama["exact_weights_from_params"].items():
        mix = jaxmix.optimize(fit, float(n))
        exact = np.array([ref["weights"][d] for d in fit.domains])
        published = np.array(
            [llama["reference_weights_from_params"][n]["weights"][d] for d in fit.domains]
        )
        assert_on_simplex(mix.weights)
        np.testing.assert_allclose(mix.weights, exact, atol=1e-5)
        np.testing.assert_allclose(mix.weights, published, atol=5e-4)
        assert mix.objective == pytest.approx(ref["objective"], abs=1e-5)
        grad_w = np.array(list(mix.certificate["exact_weights"].values()))
        assert_on_simplex(grad_w)
        np.testing.assert_allclose(grad_w, exact, atol=1e-5)
        assert mix.certificate["max_weight_diff"] < 1e-6


def _solve(fit, budget, lower, upper, capped, seed=0):
    k = len(fit.domains)
    return jaxmix.solve(
        fit.params,
        jnp.asarray(budget),
        jnp.ones(k),
        jnp.asarray(lower),
        jnp.asarray(upper),
        jax.random.key(seed),
        capped=capped,
    )


@pytest.mark.parametrize("seed", range(6))
def test_gradient_solver_matches_exact_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    k = 4
    fit = jaxmix.from_params(random_law(rng, k))
    budget = float(rng.uniform(5, 500))
    sol = _solve(fit, budget, np.zeros(k), np.ones(k), False, seed)
    for w in (sol.weights, sol.exact_weights, sol.restart_weights):
        assert_on_simplex(w)
    np.testing.assert_allclose(sol.weights, sol.exact_weights, atol=1e-6)
    assert np.all(np.asarray(sol.restart_status) == 0)
    # With caps: force the unconstrained optimum out of bounds.
    w0 = np.asarray(sol.exact_weights)
    upper = np.ones(k)
    upper[np.argmax(w0)] = w0.max() * 0.8
    lower = np.zeros(k)
    lower[np.argmin(w0)] = min(w0.min() * 1.3, 0.2)
    capped = _solve(fit, budget, lower, upper, True, seed)
    np.testing.assert_allclose(capped.weights, capped.exact_weights, atol=1e-6)
    for w in (capped.weights, capped.exact_weights, capped.restart_weights):
        assert_on_simplex(w, lower, upper, atol=1e-12)
    w = np.asarray(capped.exact_weights)
    assert w[np.argmax(w0)] == pytest.approx(upper[np.argmax(w0)], abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_exact_solver_against_scipy_slsqp(seed):
    rng = np.random.default_rng(100 + seed)
    k = 5
    fit = jaxmix.from_params(random_law(rng, k))
    budget = 50.0
    upper = np.full(k, 0.5)
    w, _ = solve_exact(
        lambda w: TRANSFER.predict_weights(fit.params, w, budget), jnp.zeros(k), jnp.asarray(upper)
    )
    f = jax.jit(lambda w: jnp.sum(TRANSFER.predict_weights(fit.params, w, budget)))
    g = jax.jit(jax.grad(lambda w: jnp.sum(TRANSFER.predict_weights(fit.params, w, budget))))
    ref = scipy_minimize(
        lambda x: float(f(x)),
        np.full(k, 1 / k),
        jac=lambda x: np.asarray(g(x)),
        method="SLSQP",
        bounds=[(1e-9, u) for u in upper],
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert ref.success
    assert_on_simplex(w, upper=upper, atol=1e-12)
    assert float(f(w)) <= ref.fun + 1e-12
    np.testing.assert_allclose(w, ref.x, atol=1e-5)


def test_constraints_bind_and_are_reported():
    rng = np.random.default_rng(7)
    fit = jaxmix.from_params(random_law(rng, 3))
    free = jaxmix.optimize(fit, 100.0)
    top, low = int(np.argmax(free.weights)), int(np.argmin(free.weights))
    cap = float(free.weights[top]) - 0.05
    floor = float(free.weights[low]) + 0.05
    names = fit.domains
    mix = jaxmix.optimize(fit, 100.0, max_weight={names[top]: cap}, min_weight={names[low]: floor})
    assert_on_simplex(free.weights)
    assert_on_simplex(mix.weights, mix.lower, mix.upper)
    assert mix.weights[top] == pytest.approx(cap, abs=1e-9)
    assert mix.weights[low] == pytest.approx(floor, abs=1e-9)
    assert mix.binding[top] == "max" and mix.binding[low] == "min"
    assert mix.objective >= free.objective
    fixed = jaxmix.optimize(fit, 100.0, fix={names[0]: 0.5})
    assert_on_simplex(fixed.weights, fixed.lower, fixed.upper)
    assert fixed.weights[0] == pytest.approx(0.5, abs=1e-12) and fixed.binding[0] == "fixed"
    avail = jaxmix.optimize(fit, 100.0, available={names[top]: 10.0}, max_epochs=2.0)
    assert_on_simplex(avail.weights, avail.lower, avail.upper)
    assert_on_simplex(list(avail.certificate["exact_weights"].values()), avail.lower, avail.upper)
    assert avail.amounts[top] == pytest.approx(20.0, rel=1e-9)


def test_importance_on_one_domain_favours_it():
    fit = jaxmix.from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "abc"})
    mix = jaxmix.optimize(fit, 10.0, importance={"a": 1.0, "b": 0.0, "c": 0.0})
    assert_on_simplex(mix.weights)
    assert_on_simplex(list(mix.certificate["exact_weights"].values()))
    assert mix.weights[0] > 0.5
    # b and c do not count, so only w_a is determined: certify by the objective.
    assert abs(mix.certificate["gap"]) < 1e-10
    assert mix.certificate["exact_weights"]["a"] == pytest.approx(mix.weights[0], abs=1e-6)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(min_weight={"a": 0.6, "b": 0.6}), "minimum weights sum"),
        (dict(max_weight={"a": 0.2, "b": 0.2, "c": 0.2}), "maximum weights"),
        (dict(min_weight={"a": 0.5}, max_weight={"a": 0.4}), "needs weight"),
        (dict(max_weight={"zzz": 0.4}), "unknown domain 'zzz'"),
        (dict(importance={"a": -1.0}), "importance"),
        (dict(available={"a": 1.0, "b": 1.0, "c": 1.0}), "availability"),
        (dict(fix={"a": 1.5}), "^fix: "),  # Python names the argument, not the flag
    ],
)
def test_infeasible_or_bad_constraints(kwargs, message):
    fit = jaxmix.from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "abc"})
    with pytest.raises(jaxmix.InputError, match=message):
        jaxmix.optimize(fit, 10.0, **kwargs)


@pytest.mark.parametrize("budget", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_budget(budget):
    fit = jaxmix.from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "ab"})
    with pytest.raises(jaxmix.InputError, match="budget"):
        jaxmix.optimize(fit, budget)


def test_no_recompile_for_new_numbers():
    rng = np.random.default_rng(3)
    fit1 = jaxmix.from_params(random_law(rng, 3))
    fit2 = jaxmix.from_params(random_law(rng, 3))
    jaxmix.optimize(fit1, 10.0)
    before = jaxmix.solve._cache_size()
    jaxmix.optimize(fit2, 77.0, importance={"d0": 2.0}, min_weight={"d1": 0.1}, seed=5)
    assert jaxmix.solve._cache_size() == before


def test_vmapped_over_budgets_equals_one_by_one():
    fit = jaxmix.from_params(random_law(np.random.default_rng(9), 3))
    budgets = jnp.array([5.0, 50.0, 5000.0])
    batch = jax.vmap(lambda n: _solve(fit, n, np.zeros(3), np.ones(3), False))(budgets)
    for i, n in enumerate(budgets):
        one = _solve(fit, n, np.zeros(3), np.ones(3), False)
        np.testing.assert_allclose(batch.weights[i], one.weights, atol=1e-10)
    assert_on_simplex(batch.weights)
    assert_on_simplex(batch.exact_weights)


def test_float32_agrees_with_float64(llama):
    fit = jaxmix.from_params(llama["reference_params"])
    w64 = _solve(fit, 20.0, np.zeros(3), np.ones(3), False).weights
    p32 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), fit.params)
    sol = jaxmix.solve(
        p32,
        jnp.float32(20.0),
        jnp.ones(3, jnp.float32),
        jnp.zeros(3, jnp.float32),
        jnp.ones(3, jnp.float32),
        jax.random.key(0),
    )
    assert sol.weights.dtype == jnp.float32
    assert_on_simplex(sol.weights, atol=1e-6)
    assert_on_simplex(sol.exact_weights, atol=1e-6)
    np.testing.assert_allclose(sol.weights, w64, atol=1e-4)
    np.testing.assert_allclose(sol.exact_weights, w64, atol=1e-4)
