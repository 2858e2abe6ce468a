"""The pairwise and mixing_law families and repetition-aware data: recovery of known
parameters, optimizer certificates against scipy, files and the CLI."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    TRUE3,
    assert_on_simplex,
    random_interference,
    random_mixing,
    random_pairwise,
    synthetic_table,
)
from scipy.optimize import minimize as scipy_minimize

import jaxmix
from jaxmix.cli.main import main
from jaxmix.laws.base import row_names
from jaxmix.laws.repetition import effective_amounts

DOMAINS = ("a", "b", "c")
RANDOM = {
    "pairwise": random_pairwise,
    "mixing_law": random_mixing,
    "interference": random_interference,
}


def _close(fit, truth, rtol):
    got = fit.natural()
    for d in truth:
        for name, value in truth[d].items():
            assert got[d][name] == pytest.approx(value, rel=rtol, abs=rtol), (d, name)


@pytest.mark.parametrize("law", ["pairwise", "mixing_law", "interference"])
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_known_parameters(law, seed):
    truth = RANDOM[law](np.random.default_rng(seed), DOMAINS)
    table = synthetic_table(truth, scales=(1.0, 3.0), law=law)
    fit = jaxmix.fit_joint(table, law=law)
    assert fit.status.tolist() == [0, 0, 0]
    _close(fit, truth, 2e-3)
    assert np.nanmax(np.abs(fit.residuals)) < 1e-7


def _scipy_optimum(fit, budget, lower, upper, unique=None):
    """SLSQP on the simplex with bounds, many starts: the reference optimum."""
    law = jaxmix.get_law(fit.law)

    def f(w):
        w = jnp.asarray(w)
        amounts = w * budget
        if unique is not None:
            amounts = effective_amounts(amounts, jnp.asarray(unique))
        return float(jnp.sum(law.predict_amounts(fit.params, amounts)))

    best = None
    rng = np.random.default_rng(0)
    for _ in range(6):
        x0 = rng.dirichlet(np.ones(len(lower)))
        x0 = np.clip(x0, lower, upper)
        x0 /= x0.sum()
        res = scipy_minimize(
            f,
            x0,
            method="SLSQP",
            bounds=list(zip(lower, upper)),
            constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if best is None or res.fun < best.fun:
            best = res
    return best


@pytest.mark.parametrize("law", ["pairwise", "mixing_law", "interference"])
def test_optimizer_certified_and_matches_scipy(law):
    truth = RANDOM[law](np.random.default_rng(3), DOMAINS)
    fit = jaxmix.from_params(truth, law=law)
    mix = jaxmix.optimize(fit, 5.0, max_weight={"a": 0.7})
    cert = mix.certificate
    assert_on_simplex(mix.weights, upper=[0.7, 1, 1])
    # The gap is >= 0 in exact arithmetic; at the optimum it is rounding-sized, of either
    # sign (jax 0.10.2 gives -2.9e-18), so the lower bound is a rounding margin.
    assert cert["convex"] and -1e-12 * abs(mix.objective) <= cert["frank_wolfe_gap"] < 1e-8
    ref = _scipy_optimum(fit, 5.0, np.zeros(3), np.array([0.7, 1, 1]))
    assert mix.objective <= ref.fun + 1e-9
    np.testing.assert_allclose(mix.weights, ref.x, atol=2e-4)


def test_frank_wolfe_gap_detects_a_suboptimal_mixture():
    from jaxmix.optimization.exact import frank_wolfe_gap
    from jaxmix.optimization.solve import objective_terms

    fit = jaxmix.from_params(random_pairwise(np.random.default_rng(4), DOMAINS), law="pairwise")
    law = jaxmix.get_law("pairwise")
    terms = objective_terms(law, fit.params, 5.0, jnp.ones(3))
    mix = jaxmix.optimize(fit, 5.0)
    lo, hi = jnp.zeros(3), jnp.ones(3)
    at_opt = float(frank_wolfe_gap(terms, jnp.asarray(mix.weights), lo, hi))
    off = jnp.asarray(mix.weights) + jnp.array([0.1, -0.05, -0.05])
    gap_off = float(frank_wolfe_gap(terms, off, lo, hi))
    excess = float(jnp.sum(terms(off)) - mix.objective)
    assert at_opt < 1e-8 and gap_off >= excess > 1e-5  # the gap bounds the excess


def test_effective_amounts_properties():
    n = jnp.linspace(0.0, 50.0, 501)
    d = effective_amounts(n, 2.0, 10.0)
    np.testing.assert_allclose(d[n <= 2.0], n[n <= 2.0])  # no repeats: unchanged
    slope = np.diff(np.asarray(d)) / np.diff(np.asarray(n))
    assert np.all(slope <= 1 + 1e-9) and np.all(np.diff(slope) <= 1e-9)  # concave, <= n
    assert float(effective_amounts(jnp.asarray(1e9), 2.0, 10.0)) == pytest.approx(2.0 * 11.0)
    assert float(effective_amounts(jnp.asarray(7.0), jnp.inf)) == 7.0  # unlimited data


def test_repetition_moves_weight_off_a_small_domain_and_matches_scipy():
    fit = jaxmix.from_params(TRUE3)
    budget = 30.0
    plain = jaxmix.optimize(fit, budget)
    small = {"a": 0.2 * plain.amounts[0]}  # a's optimum would repeat its data 5 times
    rep = jaxmix.optimize(fit, budget, available=small, repetition=True)
    assert rep.weights[0] < plain.weights[0] - 0.02
    assert_on_simplex(rep.weights)
    assert rep.certificate["convex"]  # transfer stays convex with repeated data
    assert rep.certificate["frank_wolfe_gap"] < 1e-8
    assert any(w.startswith("a: ") and "epochs" in w for w in rep.warnings)
    unique = np.array([small["a"], np.inf, np.inf])
    ref = _scipy_optimum(fit, budget, np.zeros(3), np.ones(3), unique=unique)
    np.testing.assert_allclose(rep.weights, ref.x, atol=2e-4)
    capped = jaxmix.optimize(fit, budget, available=small)  # hard cap at one epoch
    assert_on_simplex(capped.weights, capped.lower, capped.upper)
    assert capped.weights[0] == pytest.approx(small["a"] / budget, abs=1e-6)


def test_repetition_needs_available():
    with pytest.raises(jaxmix.InputError, match="--available"):
        jaxmix.optimize(jaxmix.from_params(TRUE3), 10.0, repetition=True)


def test_zero_amounts_are_transfer_only_runs():
    table = synthetic_table(TRUE3, scales=(1.0, 3.0))
    amounts = np.vstack([table.amounts, [[0.0, 1.0, 1.0], [1.0, 0.0, 2.0], [2.0, 1.0, 0.0]]])
    y = np.asarray(jaxmix.predict(jaxmix.from_params(TRUE3), amounts))
    table = table._replace(
        runs=table.runs + ("z1", "z2", "z3"),
        amounts=amounts,
        losses={d: y[:, i] for i, d in enumerate(DOMAINS)},
    )
    fit = jaxmix.fit_joint(table)
    _close(fit, TRUE3, 2e-3)


def test_per_source_parameters_in_fit_files(tmp_path):
    truth = random_pairwise(np.random.default_rng(5), DOMAINS)
    fit = jaxmix.from_params(truth, law="pairwise")
    path = tmp_path / "fit.json"
    jaxmix.write_fit(fit, path)
    data = json.loads(path.read_text())
    assert set(data["params"]["b"]) == set(row_names(jaxmix.get_law("pairwise"), DOMAINS, 1))
    back = jaxmix.read_fit(path)
    _close(back, truth, 1e-12)
    del data["params"]["b"]["k:c"]
    path.write_text(json.dumps(data))
    with pytest.raises(jaxmix.InputError, match="k:c"):
        jaxmix.read_fit(path)
    data["params"]["b"]["k:c"] = -1.0
    path.write_text(json.dumps(data))
    with pytest.raises(jaxmix.InputError, match="k:c must be > 0"):
        jaxmix.read_fit(path)


def test_cli_fit_with_a_law_and_optimize_with_repetition(tmp_path, capsys):
    truth = random_pairwise(np.random.default_rng(6), DOMAINS)
    pilots = tmp_path / "pilots.csv"
    jaxmix.write_pilots(synthetic_table(truth, scales=(1.0, 3.0), law="pairwise"), pilots)
    fit_path, mix_path = tmp_path / "fit.json", tmp_path / "mix.json"
    assert main(["-q", "fit", str(pilots), "--law", "pairwise", "-o", str(fit_path)]) == 0
    assert json.loads(fit_path.read_text())["law"] == "pairwise"
    args = ["-q", "optimize", str(fit_path), "--budget", "20", "-o", str(mix_path)]
    assert main(args + ["--available", "a=1", "--repetition"]) == 0
    mix = json.loads(mix_path.read_text())
    assert mix["amounts"]["a"] > 1.0  # repeats allowed, not capped at one epoch
    assert main(args + ["--repetition"]) == 2
    assert "--available" in capsys.readouterr().err


def test_interference_with_zero_g_is_the_transfer_law():
    rows = {d: dict(TRUE3[d], **{f"g:{s}": 0.0 for s in DOMAINS if s != d}) for d in DOMAINS}
    amounts = synthetic_table(TRUE3, scales=(1.0, 3.0)).amounts
    inter = jaxmix.predict(jaxmix.from_params(rows, law="interference"), amounts)
    np.testing.assert_allclose(inter, jaxmix.predict(jaxmix.from_params(TRUE3), amounts))


BROKEN3 = {d: dict(TRUE3[d], gamma=0.4, B=3.0) for d in TRUE3}


def test_broken_law_recovers_its_break_and_is_certified():
    table = synthetic_table(BROKEN3, scales=(1.0, 3.0, 10.0), law="broken")
    fit = jaxmix.fit_joint(table, law="broken")
    _close(fit, BROKEN3, 2e-3)
    mix = jaxmix.optimize(fit, 30.0)  # separable: the exact solver certifies it
    assert_on_simplex(mix.weights)
    assert_on_simplex(list(mix.certificate["exact_weights"].values()))
    assert mix.certificate["max_weight_diff"] < 1e-6 and mix.certificate["gap"] < 1e-9


def test_broken_law_without_a_bend_is_the_transfer_law():
    flat = {d: dict(TRUE3[d], gamma=1e-12, B=1.0) for d in TRUE3}
    amounts = synthetic_table(TRUE3, scales=(1.0, 3.0)).amounts
    bent = jaxmix.predict(jaxmix.from_params(flat, law="broken"), amounts)
    np.testing.assert_allclose(bent, jaxmix.predict(jaxmix.from_params(TRUE3), amounts))


def test_validate_picks_the_broken_law_only_where_the_data_bends():
    def winner(truth, law):
        table = synthetic_table(truth, scales=(1.0, 3.0, 10.0), law=law, noise=1e-4, seed=3)
        return jaxmix.validate(table, laws=["transfer", "broken"], folds=4).best

    assert winner(BROKEN3, "broken") == "broken"
    assert winner(TRUE3, "transfer") == "transfer"
