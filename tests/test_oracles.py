"""Oracles that hold for every law family: the three prediction paths agree, the objective
is convex on the simplex wherever a mixture says so, and the repetition constant is the
published one. Each test here was checked to fail under a mutation of the code it guards."""

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import RANDOM_LAWS, assert_on_simplex

import jaxmix
from jaxmix.laws.registry import available_laws
from jaxmix.laws.repetition import effective_amounts
from jaxmix.optimization.solve import convex_problem, objective_terms

DOMAINS = ("a", "b", "c")
UNIQUE = np.array([0.3, 1.0, np.inf])  # a and b repeat at the budgets below


def test_every_law_has_a_random_generator():
    assert set(RANDOM_LAWS) == set(available_laws())


def _simplex_points(rng, n):
    """``[n, 3]`` points on the simplex: interior, near faces and near vertices."""
    return np.concatenate(
        [rng.dirichlet(np.ones(3), n), rng.dirichlet(np.full(3, 0.3), n)], axis=0
    )


@pytest.mark.parametrize("law_name", sorted(RANDOM_LAWS))
def test_predict_weights_amounts_and_domain_agree(law_name):
    law = jaxmix.get_law(law_name)
    rng = np.random.default_rng(11)
    w = _simplex_points(rng, 16)

    @jax.jit
    def three_ways(p, budget):
        by_w = jax.vmap(lambda x: law.predict_weights(p, x, budget))(w)
        by_n = jax.vmap(lambda x: law.predict_amounts(p, x))(w * budget)
        rows = [jax.tree.map(lambda x, i=i: x[i], p) for i in range(3)]
        by_d = jnp.stack([law.predict_domain(r, w * budget, i) for i, r in enumerate(rows)], 1)
        return by_w, by_n, by_d

    for _ in range(3):
        fit = jaxmix.from_params(RANDOM_LAWS[law_name](rng, DOMAINS), law=law_name)
        for budget in (0.5, 7.0, 300.0):
            by_w, by_n, by_d = three_ways(fit.params, budget)
            np.testing.assert_allclose(by_w, by_n, rtol=1e-12)
            np.testing.assert_allclose(by_d, by_n, rtol=1e-12)


def _midpoint_excess(law, unique):
    """``(params, budget, x, y) -> F((x + y) / 2) - (F(x) + F(y)) / 2`` per pair, relative to
    the objective's size; one compile per law and option."""
    r_star = None if unique is None else jnp.asarray(15.4)
    u = None if unique is None else jnp.asarray(unique)

    @jax.jit
    def excess(params, budget, x, y):
        terms = objective_terms(law, params, budget, jnp.ones(3), u, r_star)
        f = jax.vmap(lambda w: jnp.sum(terms(w)))
        fx, fy, fm = f(x), f(y), f(0.5 * (x + y))
        return (fm - 0.5 * (fx + fy)) / (1.0 + 0.5 * jnp.abs(fx + fy))

    return excess


@pytest.mark.parametrize("repetition", [False, True], ids=["plain", "repetition"])
@pytest.mark.parametrize("law_name", sorted(RANDOM_LAWS))
def test_convex_on_the_simplex_wherever_a_mixture_claims_it(law_name, repetition):
    """Midpoint convexity at random pairs of simplex points, for every law and option whose
    mixture reports ``"convex": true``; where it reports false, a counterexample exists."""
    law = jaxmix.get_law(law_name)
    claimed = convex_problem(law, repetition)
    excess = _midpoint_excess(law, UNIQUE if repetition else None)
    rng = np.random.default_rng(5)
    worst = -np.inf
    for _ in range(4):
        truth = RANDOM_LAWS[law_name](rng, DOMAINS)
        for row in truth.values():  # strong interactions make non-convexity visible
            for name in row:
                if name[:2] in ("g:", "t:"):
                    row[name] *= 6.0
        params = jaxmix.from_params(truth, law=law_name).params
        x, y = _simplex_points(rng, 2000), _simplex_points(rng, 2000)
        for budget in (3.0, 30.0):
            worst = max(worst, float(np.max(excess(params, budget, x, y))))
    if claimed:
        assert worst <= 1e-12, f"{law_name} claims convex but a midpoint is {worst:.2g} above"
    else:
        assert worst > 1e-4, f"{law_name} reports non-convex but looks convex ({worst:.2g})"


def test_repetition_convexity_flags():
    flag = {n: convex_problem(jaxmix.get_law(n), True) for n in available_laws()}
    assert flag == dict(
        transfer=True, broken=True, pairwise=True, mixing_law=False, interference=False
    )
    assert all(convex_problem(jaxmix.get_law(n), False) for n in available_laws())


def test_non_convex_certificate_says_so():
    from jaxmix.report.text import certificate_line

    truth = RANDOM_LAWS["mixing_law"](np.random.default_rng(1), DOMAINS)
    fit = jaxmix.from_params(truth, "mixing_law")
    mix = jaxmix.optimize(fit, 10.0, available={"a": 0.3}, repetition=True)
    cert = mix.certificate
    assert cert["convex"] is False and 1 <= cert["restarts_at_best"] <= cert["restarts"] == 8
    line = certificate_line(cert)
    assert "stationarity only" in line and "restarts" in line and "within the gap" not in line
    assert_on_simplex(mix.weights)


def _muennighoff(n, u, r_star=15.4):
    """Effective data of n tokens over u unique ones (Muennighoff et al. 2023, eq. 5)."""
    if n <= u:
        return n
    return u + u * r_star * (1.0 - math.exp(-(n / u - 1.0) / r_star))


def test_repetition_constant_is_the_published_one():
    n = np.array([0.5, 1.0, 2.0, 5.0, 40.0, 1e4])
    got = np.asarray(effective_amounts(jnp.asarray(n), 1.0))  # the library's default R*
    np.testing.assert_allclose(got, [_muennighoff(x, 1.0) for x in n], rtol=1e-12)
    # 4 epochs are worth about 3.52 fresh ones beyond the first: the paper's headline number
    assert _muennighoff(5.0, 1.0) - 1.0 == pytest.approx(3.52, abs=5e-3)
    for fn in (jaxmix.optimize, effective_amounts):
        assert inspect.signature(fn).parameters["r_star"].default == 15.4
