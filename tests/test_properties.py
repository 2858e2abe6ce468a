"""Property-based tests (hypothesis) over random valid laws, constraints and pilot tables.

Shapes are fixed (K = 3 domains, the 13-run design) so jit compiles once per program, not
once per example; examples are derandomized so CI sees the same cases every run.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from helpers import assert_on_simplex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxmix
from jaxmix.optimization.solve import solve

K = 3
DOMAINS = ("a", "b", "c")
SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _f(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


law_rows = st.fixed_dictionaries(
    dict(C=_f(0.3, 3.0), k=_f(0.01, 1.0), alpha=_f(0.05, 0.95), beta=_f(0.05, 0.8), E=_f(0.5, 2.0))
)
laws = st.lists(law_rows, min_size=K, max_size=K).map(lambda rows: dict(zip(DOMAINS, rows)))


@st.composite
def bounds(draw):
    """Feasible ``(min_weight, max_weight)`` dicts: a floor on one domain, a cap on another."""
    lo_d, hi_d = draw(st.permutations(DOMAINS).map(lambda p: p[:2]))
    lo = draw(st.sampled_from([0.0, 0.05, 0.2, 0.4]))
    hi = draw(st.sampled_from([1.0, 0.6, 0.3, 0.1]))
    return {lo_d: lo} if lo else None, {hi_d: hi} if hi < 1 else None


def _check_mixture(mix, min_w, max_w):
    w = mix.weights
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(mix.predicted))
    assert math.isfinite(mix.objective)
    assert_on_simplex(w, mix.lower, mix.upper)
    for d, v in (min_w or {}).items():
        assert w[DOMAINS.index(d)] >= v - 1e-9
    for d, v in (max_w or {}).items():
        assert w[DOMAINS.index(d)] <= v + 1e-9
    # nothing the constraints allow beats it: the uniform mixture, when feasible
    if np.all(mix.lower <= 1 / K) and np.all(1 / K <= mix.upper):
        assert mix.objective <= mix.uniform_objective + 1e-9


@settings(max_examples=40, **SETTINGS)
@given(laws, _f(1.0, 1e4), bounds())
def test_optimum_is_finite_feasible_and_float32_agrees(law, budget, bnd):
    min_w, max_w = bnd
    fit = jaxmix.from_params(law)
    mix = jaxmix.optimize(fit, budget, min_weight=min_w, max_weight=max_w)
    _check_mixture(mix, min_w, max_w)
    with jax.enable_x64(False):  # the library follows the caller's precision
        mix32 = jaxmix.optimize(fit, budget, min_weight=min_w, max_weight=max_w)
    np.testing.assert_allclose(mix32.weights, mix.weights, atol=1e-4)
    np.testing.assert_allclose(mix32.predicted, mix.predicted, rtol=1e-4)


def test_float32_context_really_computes_in_float32():
    fit = jaxmix.from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in DOMAINS})
    with jax.enable_x64(False):
        dt = jnp.result_type(float)
        params = jax.tree.map(lambda x: jnp.asarray(x, dt), fit.params)
        lo, hi = jnp.zeros(K, dt), jnp.ones(K, dt)
        key = jax.random.PRNGKey(0)  # the key type optimize uses: one compiled program
        sol = solve(params, jnp.asarray(10.0, dt), jnp.ones(K, dt), lo, hi, key)
    assert dt == jnp.float32 and sol.weights.dtype == jnp.float32
    assert jnp.result_type(float) == jnp.float64  # and x64 is back on after the block


@settings(max_examples=12, **SETTINGS)
@given(laws, st.sampled_from([1e-3, 1e-2]), st.integers(0, 2**16), _f(3.0, 3e3))
def test_fit_on_random_pilots_gives_finite_laws_and_mixtures(law, noise, seed, budget):
    fit0 = jaxmix.from_params(law)
    amounts = jaxmix.plan(DOMAINS, 10.0).amounts
    y = np.asarray(jaxmix.predict(fit0, amounts))
    y = y * (1 + noise * np.random.default_rng(seed).standard_normal(y.shape))
    table = jaxmix.PilotTable(
        domains=DOMAINS,
        runs=tuple(f"r{i}" for i in range(len(amounts))),
        amounts=amounts,
        losses={d: y[:, i] for i, d in enumerate(DOMAINS)},
    )
    fit = jaxmix.fit(table, law="transfer")
    for d, row in fit.natural().items():
        assert all(math.isfinite(v) for v in row.values()), (d, row)
        assert 0 <= row["alpha"] <= 1 and row["C"] > 0 and row["beta"] > 0 and row["E"] > 0
    pred = np.asarray(jaxmix.predict(fit, amounts))
    assert np.all(np.isfinite(pred))
    # the law explains the pilots to within a few noise levels
    assert np.sqrt(np.mean((pred / y - 1) ** 2)) < 5 * noise + 1e-4
    _check_mixture(jaxmix.optimize(fit, budget), None, None)


names = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zs", "Zl", "Zp"),
        blacklist_characters=",",
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, **SETTINGS)
@given(
    st.lists(names, min_size=2, max_size=4, unique=True),
    st.integers(1, 6),
    st.data(),
)
def test_pilot_tables_round_trip_through_csv_and_json(tmp_path_factory, domains, runs, data):
    k = len(domains)
    pos = st.floats(1e-6, 1e12, allow_nan=False, allow_infinity=False)
    amounts = np.array(
        data.draw(st.lists(st.lists(pos, min_size=k, max_size=k), min_size=runs, max_size=runs))
    )
    loss = st.one_of(st.just(math.nan), st.floats(1e-6, 1e6, allow_nan=False))
    losses = {d: np.array(data.draw(st.lists(loss, min_size=runs, max_size=runs))) for d in domains}
    table = jaxmix.PilotTable(
        domains=tuple(domains),
        runs=tuple(f"run {i}" for i in range(runs)),
        amounts=amounts,
        losses=losses,
    )
    folder = tmp_path_factory.mktemp("rt")
    for name in ("p.csv", "p.json"):
        jaxmix.write_pilots(table, folder / name)
        back = jaxmix.read_pilots(folder / name)
        assert back.domains == table.domains and back.runs == table.runs
        np.testing.assert_array_equal(back.amounts, amounts)
        for d in domains:
            np.testing.assert_array_equal(back.losses[d], losses[d])
