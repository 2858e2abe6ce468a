import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import TRUE3, random_law, synthetic_table

import jaxmix


@pytest.fixture(scope="module")
def llama_table():
    return jaxmix.read_pilots(jaxmix.example_pilots("llama32_3b"))


def test_reference_fit_reproduces_published_stage1_beta(llama, llama_table):
    fit = jaxmix.fit(llama_table)  # aggregate-only pilots: reference on loss:total
    assert fit.method == "reference" and fit.target == "loss:total"
    assert "reference procedure" in fit.warnings[0]
    stage1 = fit.diagnostics["stage1"]
    for d, beta in llama["reference_stage1_beta"].items():
        assert abs(stage1[d]["beta"] - beta) <= 1e-3, (d, stage1[d]["beta"], beta)
        assert abs(fit.natural()[d]["beta"] - beta) <= 1e-3
    assert stage1["if"]["A"] == pytest.approx(llama["reference_stage1_A_if"], rel=0.01)
    # Stage 2 must reproduce the pilots closely (they are smooth).
    assert np.nanmax(np.abs(fit.residuals)) < 2e-3


def test_reference_unit_keeps_the_authors_millions(llama, llama_table):
    tokens = llama_table._replace(amounts=llama_table.amounts * 1e6)
    fit = jaxmix.fit(tokens, reference_unit=1e6)
    for d, beta in llama["reference_stage1_beta"].items():
        assert abs(fit.diagnostics["stage1"][d]["beta"] - beta) <= 1e-3
    millions = jaxmix.fit(llama_table)
    np.testing.assert_allclose(
        jaxmix.predict(fit, tokens.amounts),
        jaxmix.predict(millions, llama_table.amounts),
        rtol=1e-9,
    )


def test_reference_design_leaves_k_alpha_unidentified(llama_table):
    fit = jaxmix.fit(llama_table, method="reference", target="loss:total")
    for d in fit.domains:
        dirs = fit.diagnostics["identifiability"][d]["directions"]
        kinds = [x for x in dirs if x["kind"] == "unidentified"]
        assert len(kinds) == 1
        assert set(kinds[0]["vector"]) == {"log_k", "alpha_logit"}
    assert any("do not determine" in w for w in fit.warnings)


def test_joint_recovers_parameters_exactly_without_noise():
    table = synthetic_table(scales=(0.25, 1.0, 4.0))
    fit = jaxmix.fit(table, law="transfer")
    assert fit.method == "joint" and list(fit.status) == [0, 0, 0]
    for d, true in TRUE3.items():
        for name, value in true.items():
            assert fit.natural()[d][name] == pytest.approx(value, rel=1e-3), (d, name)


def test_joint_recovers_parameters_with_noise():
    table = synthetic_table(scales=(0.25, 1.0, 4.0), noise=3e-4, seed=1)
    fit = jaxmix.fit(table, law="transfer")
    nat = fit.natural()
    for d, true in TRUE3.items():
        assert nat[d]["alpha"] == pytest.approx(true["alpha"], abs=0.06), d
        assert nat[d]["beta"] == pytest.approx(true["beta"], rel=0.06), d
        assert nat[d]["E"] == pytest.approx(true["E"], rel=0.02), d
        assert nat[d]["k"] == pytest.approx(true["k"], rel=0.3), d
    # Held-out prediction at a budget 10x the largest pilot.
    truth = jaxmix.from_params(TRUE3)
    a = np.array([[20.0, 30.0, 50.0]])
    np.testing.assert_allclose(jaxmix.predict(fit, a), jaxmix.predict(truth, a), rtol=3e-3)


def test_joint_fit_is_unit_free():
    t1 = synthetic_table(scales=(0.25, 1.0, 4.0), noise=1e-4)
    t2 = t1._replace(amounts=t1.amounts * 1e6)
    f1, f2 = jaxmix.fit(t1, law="transfer"), jaxmix.fit(t2, law="transfer")
    for d in TRUE3:
        for name in ("alpha", "beta", "E"):
            assert f1.natural()[d][name] == pytest.approx(f2.natural()[d][name], rel=1e-6)
    np.testing.assert_allclose(
        jaxmix.predict(f1, t1.amounts), jaxmix.predict(f2, t2.amounts), rtol=1e-8
    )


def test_paper_design_with_noise_reports_weak_directions():
    table = synthetic_table(noise=2e-3, seed=3)
    fit = jaxmix.fit(table, law="transfer")
    flagged = [d for d in fit.domains if fit.diagnostics["identifiability"][d]["directions"]]
    assert flagged, "noisy 1+4K pilots should leave some direction weakly determined"
    assert all(np.isfinite(v) for v in np.asarray(jaxmix.predict(fit, table.amounts)).ravel())


def _arrays(table):
    y = table.domain_losses()
    return jnp.asarray(table.amounts), jnp.asarray(y), jnp.ones(y.shape, bool)


def test_strategies_agree():
    a, y, m = _arrays(synthetic_table(scales=(0.25, 1.0, 4.0), noise=1e-4, seed=2))
    screen = jaxmix.joint_fit_arrays(a, y, m, strategy="screen")
    mapped = jaxmix.joint_fit_arrays(a, y, m, strategy="map")
    np.testing.assert_allclose(screen.objective, mapped.objective, rtol=1e-6, atol=1e-14)


def test_vmapped_fit_equals_one_by_one():
    tables = [synthetic_table(scales=(0.25, 1.0, 4.0), noise=1e-4, seed=s) for s in (4, 5)]
    stacked = [jnp.stack(x) for x in zip(*(_arrays(t) for t in tables))]
    batch = jax.vmap(jaxmix.joint_fit_arrays)(*stacked)
    for i, t in enumerate(tables):
        one = jaxmix.joint_fit_arrays(*_arrays(t))
        np.testing.assert_allclose(batch.objective[i], one.objective, rtol=1e-6, atol=1e-14)
        row = jax.tree.map(lambda x, i=i: x[i], batch.params)
        pred_b = jaxmix.predict(jaxmix.FitResult("transfer", t.domains, row), t.amounts)
        pred_1 = jaxmix.predict(jaxmix.FitResult("transfer", t.domains, one.params), t.amounts)
        np.testing.assert_allclose(pred_b, pred_1, rtol=1e-7)


def test_fit_errors(llama_table):
    with pytest.raises(jaxmix.InputError, match="joint fit needs a loss:if"):
        jaxmix.fit(llama_table, method="joint")
    with pytest.raises(jaxmix.InputError, match="no such loss column"):
        jaxmix.fit(llama_table, method="reference", target="loss:nope")
    table = synthetic_table()
    few = table._replace(
        losses={d: np.where(np.arange(13) < 3, v, np.nan) for d, v in table.losses.items()}
    )
    with pytest.raises(jaxmix.InputError, match="only 3 runs") as err:
        jaxmix.fit(few)
    assert err.value.column == "loss:a"
    flat = table._replace(losses={**table.losses, "b": np.full(13, 2.0)})
    with pytest.raises(jaxmix.InputError, match="all losses are equal") as err:
        jaxmix.fit(flat)
    assert err.value.column == "loss:b"
    fixed = table._replace(amounts=table.amounts.copy())
    fixed.amounts[:, 2] = 1.0
    with pytest.raises(jaxmix.InputError, match="never varies") as err:
        jaxmix.fit(fixed)
    assert err.value.column == "n:c"
    odd = table._replace(
        amounts=table.amounts[:11],
        runs=table.runs[:11],
        losses={d: v[:11] for d, v in table.losses.items()},
    )
    with pytest.raises(jaxmix.InputError, match="5 levels of n:c"):
        jaxmix.fit(odd, method="reference")


def test_nonmonotone_pilots_warn_not_fail(llama_table):
    losses = llama_table.losses["total"].copy()
    losses[4] = losses[0] + 0.001  # ifx3 worse than the base run
    fit = jaxmix.fit(llama_table._replace(losses={"total": losses}))
    assert any("loss rises" in w for w in fit.warnings)
    assert any("skipped" in w for w in fit.warnings)
    assert np.all(np.isfinite(np.asarray(jax.tree.leaves(fit.params))))


@pytest.mark.parametrize("amount_scale,loss_scale", [(1e-6, 1e-3), (1e9, 1e4)])
def test_tiny_and_huge_values_give_finite_results(amount_scale, loss_scale):
    t = synthetic_table(noise=1e-3, seed=6)
    scaled = t._replace(
        amounts=t.amounts * amount_scale, losses={d: v * loss_scale for d, v in t.losses.items()}
    )
    fit = jaxmix.fit(scaled, law="transfer")
    pred = np.asarray(jaxmix.predict(fit, scaled.amounts))
    assert np.all(np.isfinite(pred))
    assert np.max(np.abs(pred / scaled.domain_losses() - 1)) < 1e-2
    mix = jaxmix.optimize(fit, 30 * amount_scale)
    assert np.all(np.isfinite(mix.weights)) and mix.weights.sum() == pytest.approx(1.0)
    ref = jaxmix.optimize(jaxmix.fit(t, law="transfer"), 30.0)
    np.testing.assert_allclose(mix.weights, ref.weights, atol=1e-4)


@pytest.mark.filterwarnings("ignore::UserWarning")  # trust-constr's quasi-Newton notices
def test_reference_stage1_matches_scipy_trust_constr(llama_table):
    """The authors' stage 1 written with scipy (benchmarks/scipy_reference.py) agrees."""
    from benchmarks.scipy_reference import stage1

    fit = jaxmix.fit(llama_table)
    y = llama_table.losses["total"]
    for i, d in enumerate(fit.domains):
        others = [j for j in range(3) if j != i]
        rows = np.where(np.all(llama_table.amounts[:, others] == 0.66, axis=1))[0]
        rows = rows[np.argsort(llama_table.amounts[rows, i])]
        beta, a = stage1(llama_table.amounts[rows, i], y[rows], 1.32)
        assert fit.diagnostics["stage1"][d]["beta"] == pytest.approx(beta, abs=2e-4), d
        assert fit.diagnostics["stage1"][d]["A"] == pytest.approx(a, rel=2e-2), d


@pytest.mark.parametrize("noise", [0.01, 0.03])
def test_joint_fit_converges_on_noisy_pilots(noise):
    """Noisy 1+4K pilots: every domain's fit ends with SUCCESS in few Newton steps, at a
    finite minimizer."""
    rng = np.random.default_rng(11)
    steps = []
    for seed in range(3):
        truth = random_law(rng, 3)
        table = synthetic_table(truth, noise=noise, seed=seed)
        fit = jaxmix.fit(table, law="transfer")
        conv = fit.diagnostics["convergence"]
        assert fit.status.tolist() == [0, 0, 0], conv
        assert conv["converged_share"] == 1.0
        steps += list(conv["steps"].values())
        assert np.all(np.isfinite(np.asarray(jax.tree.leaves(fit.params))))
    assert np.median(steps) <= 30 and max(steps) < 300, steps


def test_row_order_does_not_change_the_mixture():
    table = synthetic_table(noise=0.01, seed=12)
    perm = np.random.default_rng(0).permutation(len(table.runs))
    shuffled = table._replace(
        runs=tuple(table.runs[i] for i in perm),
        amounts=table.amounts[perm],
        losses={d: v[perm] for d, v in table.losses.items()},
    )
    w1 = jaxmix.optimize(jaxmix.fit(table, law="transfer"), 30.0).weights
    w2 = jaxmix.optimize(jaxmix.fit(shuffled, law="transfer"), 30.0).weights
    np.testing.assert_allclose(w1, w2, atol=1e-4)


def test_fit_file_reports_convergence_and_bounds(tmp_path):
    fit = jaxmix.fit(synthetic_table(noise=0.01, seed=13), law="transfer")
    path = tmp_path / "fit.json"
    jaxmix.write_fit(fit, path)
    data = json.loads(path.read_text())
    assert data["converged_share"] == 1.0
    assert set(data["at_bound"]) == set(fit.domains)
    assert set(data["diagnostics"]["huber_delta"]) == set(fit.domains)
    assert all(v >= 1e-4 for v in data["diagnostics"]["huber_delta"].values())
    back = jaxmix.read_fit(path)
    assert back.at_bound == fit.at_bound
    old = {k: data[k] for k in ("law", "domains", "params")}  # hand-written / older files
    path.write_text(json.dumps(old))
    assert jaxmix.read_fit(path).at_bound is None
