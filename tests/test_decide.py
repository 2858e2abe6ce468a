"""The default recommendation: a stacked combination of law families, and the decision
against the safe mixture."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import TRUE3, synthetic_table

import jaxmix
from jaxmix.fitting import combined, stacking
from jaxmix.optimization import decision

LAWS = ("transfer", "mixing_law")  # two families that do not nest each other: fast, distinct


def _swarm(y_of_w, n=12, k=3, budget=30.0, noise=0.0, seed=0):
    """A fixed-budget swarm: ``n`` random mixtures, losses ``y_of_w(w) [n, K]`` with noise."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k) * 2.0, n)
    y = y_of_w(w) * (1 + noise * rng.standard_normal((n, k)))
    return jaxmix.PilotTable(
        domains=tuple(f"d{i}" for i in range(k)),
        runs=tuple(f"r{i}" for i in range(n)),
        amounts=w * budget,
        losses={f"d{i}": y[:, i] for i in range(k)},
    )


def _mixing_truth(w):
    t = np.array([[-2.0, 1.0, 0.5], [0.8, -1.5, 0.3], [0.2, 0.6, -1.0]])
    return 1.0 + 0.5 * np.exp(w @ t.T)


def test_stack_weights_sum_to_one_and_optimum_is_certified():
    table = synthetic_table(scales=(1.0, 3.0), noise=2e-3, seed=1)
    fit = combined.fit_combined(table, laws=LAWS)
    stack = np.asarray(fit.params.stack)
    assert np.all(stack >= 0) and np.allclose(stack.sum(axis=1), 1.0)
    mix = jaxmix.optimize(fit, 30.0)
    assert mix.certificate["convex"] is True
    assert mix.certificate["frank_wolfe_gap"] <= 1e-6 * max(1.0, abs(mix.objective))
    assert mix.weights.sum() == pytest.approx(1.0)


def test_combination_of_convex_laws_is_convex_along_random_segments():
    table = synthetic_table(scales=(1.0, 3.0), noise=2e-3, seed=3)
    fit = combined.fit_combined(table, laws=LAWS)
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.dirichlet(np.ones(3), 2)
        ts = np.linspace(0, 1, 11)
        ws = np.array([a + t * (b - a) for t in ts])
        f = np.asarray(jaxmix.predict(fit, ws * 30.0)).sum(axis=1)
        assert np.all(f[1:-1] <= 0.5 * (f[:-2] + f[2:]) + 1e-9)  # midpoint convexity


def test_recovers_the_law_that_made_the_data():
    # Budget-dependent data from the transfer law: the budget-free mixing law cannot fit it.
    transfer = stacking.combine(
        synthetic_table(scales=(1.0, 4.0), noise=1e-3).amounts,
        synthetic_table(scales=(1.0, 4.0), noise=1e-3).domain_losses(),
        laws=LAWS,
    )
    assert dict(zip(transfer.laws, transfer.stack))["transfer"] >= 0.8
    # A fixed-budget swarm from the mixing law (cross-domain help and harm).
    mixing = _swarm(_mixing_truth, n=14, noise=1e-3)
    comb = stacking.combine(mixing.amounts, mixing.domain_losses(), laws=LAWS)
    assert dict(zip(comb.laws, comb.stack))["mixing_law"] >= 0.8


def test_decision_keeps_the_best_pilot_on_pure_noise():
    flat = lambda w: np.full((len(w), 3), 2.0)  # noqa: E731
    table = _swarm(flat, n=12, noise=5e-3, seed=4)
    fit = combined.fit_combined(table, laws=LAWS)
    mix = jaxmix.optimize(fit, 30.0)
    d = mix.decision
    assert d["action"] == "keep" and d["safe"]["kind"] == "best pilot"
    best = np.argmin(table.domain_losses().sum(axis=1))
    assert np.allclose(mix.weights, table.amounts[best] / 30.0)
    assert "keep the best pilot" in d["line"]


def test_decision_moves_when_the_evidence_is_strong():
    table = _swarm(_mixing_truth, n=12, noise=1e-4, seed=5)
    fit = combined.fit_combined(table, laws=LAWS)
    mix = jaxmix.optimize(fit, 30.0)
    assert mix.decision["action"] in ("move", "shrink")
    assert mix.decision["p_beats_best_pilot"] > 0.8


def test_combined_fit_file_round_trip(tmp_path):
    table = synthetic_table(scales=(1.0, 3.0), noise=2e-3, seed=1)
    fit = combined.fit_combined(table, laws=LAWS)
    path = tmp_path / "fit.json"
    jaxmix.write_fit(fit, path)
    data = json.loads(path.read_text())
    assert data["law"] == "ensemble" and {m["law"] for m in data["members"]} <= set(LAWS)
    back = jaxmix.read_fit(path)
    a, b = jaxmix.optimize(fit, 30.0), jaxmix.optimize(back, 30.0)
    assert np.allclose(a.weights, b.weights, atol=1e-6)
    assert a.decision["action"] == b.decision["action"]
    # A hand-written combination without fold fits still optimizes (no decision).
    del data["diagnostics"]
    path.write_text(json.dumps(data))
    assert jaxmix.optimize(jaxmix.read_fit(path), 30.0).decision is None


def test_true_transfer_parameters_make_the_transfer_member_exact():
    fit = jaxmix.from_params(TRUE3)
    both = combined.from_members({"transfer": (1.0, fit.natural())}, fit.domains)
    a = np.asarray(jaxmix.predict(fit, [[1.0, 2.0, 3.0]]))
    assert np.allclose(np.asarray(jaxmix.predict(both, [[1.0, 2.0, 3.0]])), a)


def test_a_source_without_a_validation_set_leaves_the_objective_finite():
    """A domain with no losses (a source only, importance 0) has no law; the objective of
    the decision and of the bootstrap is the other domains' sum, not NaN (which made every
    decision on such data keep the safe mixture)."""
    from jaxmix.study.sweeps import objective_many

    table = synthetic_table(scales=(1.0, 3.0), noise=2e-3, seed=1)  # the file's shapes
    y = table.domain_losses().copy()
    y[:, 2] = np.nan
    imp = np.array([1.0, 1.0, 0.0])
    comb = stacking.combine(table.amounts, y, importance=imp)
    pts = np.array([[0.2, 0.3, 0.5], [0.5, 0.3, 0.2]])
    f_full, f_folds = decision.objectives(comb, 3, pts, 30.0, imp)
    assert np.all(np.isfinite(f_full)) and np.all(np.isfinite(f_folds))
    name, full = decision.ensemble_params(comb, 3)
    pred = np.asarray(jaxmix.predict(jaxmix.FitResult(name, table.domains, full), pts * 30.0))
    np.testing.assert_allclose(f_full, pred[:, :2].sum(axis=1), rtol=1e-10)
    batched = jax.tree.map(lambda x: jnp.stack([x, x]), full)
    obj, _ = objective_many(batched, jnp.asarray(pts), 30.0, jnp.asarray(imp), law_name=name)
    np.testing.assert_allclose(np.asarray(obj), f_full, rtol=1e-10)


# --- candidates: the answer is one of the given mixtures -----------------------------------


def test_candidates_on_the_default_path_give_the_default_decision():
    table = _swarm(_mixing_truth, n=12, noise=1e-4, seed=5)
    fit = combined.fit_combined(table, laws=LAWS)
    free = jaxmix.optimize(fit, 30.0)
    d = free.decision
    safe = np.array([d["safe"]["weights"][k] for k in fit.domains])
    opt = np.array([d["optimum"][k] for k in fit.domains])
    path = np.stack([safe + t * (opt - safe) for t in decision.PATH[1:]])
    mix = jaxmix.optimize(fit, 30.0, candidates=path)
    np.testing.assert_allclose(mix.weights, free.weights, atol=1e-12)
    assert mix.decision["action"] == "move"  # a given candidate, never "shrink"
    row = mix.decision["candidate"]
    assert row is not None and np.allclose(path[row], mix.weights)
    assert mix.decision["optimum_gain_pct"] == pytest.approx(d["optimum_gain_pct"], rel=1e-9)


def test_candidates_outside_the_bounds_are_never_chosen_and_rows_stay_the_callers():
    table = _swarm(_mixing_truth, n=12, noise=1e-4, seed=5)
    fit = combined.fit_combined(table, laws=LAWS)
    opt = np.array(list(jaxmix.optimize(fit, 30.0).decision["optimum"].values()))
    near = 0.9 * opt + 0.1 / 3
    cands = np.stack([opt, near, np.full(3, 1 / 3)])
    cap = {fit.domains[int(np.argmax(opt))]: float(opt.max()) - 1e-3}  # rules out row 0 only
    mix = jaxmix.optimize(fit, 30.0, candidates=cands, max_weight=cap)
    row = mix.decision["candidate"]
    assert row in (1, 2) and np.allclose(mix.weights, cands[row])
    with pytest.raises(jaxmix.InputError, match="none of the 1 candidates"):
        jaxmix.optimize(fit, 30.0, candidates=opt[None], max_weight=cap)
    for bad, message in ((np.ones((2, 2)) / 2, r"\[J, 3\]"),
                         (np.array([[0.5, 0.6, -0.1]]), "shares >= 0")):
        with pytest.raises(jaxmix.InputError, match=message):
            jaxmix.optimize(fit, 30.0, candidates=bad)


def test_single_law_takes_the_candidate_with_the_lowest_predicted_objective():
    fit = jaxmix.from_params({d: dict(C=c, k=0.3, alpha=0.5, beta=0.3, E=1)
                              for d, c in zip("abc", (1.0, 2.0, 3.0))})
    cands = np.random.default_rng(0).dirichlet(np.ones(3), 6)
    each = [jaxmix.optimize(fit, 10.0, candidates=c[None]).objective for c in cands]
    mix = jaxmix.optimize(fit, 10.0, candidates=cands)
    assert mix.decision is None
    np.testing.assert_allclose(mix.weights, cands[int(np.argmin(each))])
    assert mix.objective == pytest.approx(min(each), rel=1e-12)
